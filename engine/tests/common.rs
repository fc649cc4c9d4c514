//! Shared helpers for the engine's integration tests (and, included by
//! path, the harness's): a fresh disk image in a temporary directory,
//! mounted with a chosen build and knobs.
#![allow(dead_code)]

use lockline_engine::disk::{mkfs, MkfsOptions};
use lockline_engine::probe::recorder::Recorder;
use lockline_engine::{Build, Fs, Knobs, MountOptions};
use std::path::PathBuf;
use std::sync::Arc;

pub struct TestDisk {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn disk(size: u64) -> TestDisk {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("disk.img");
    mkfs(
        &path,
        &MkfsOptions {
            size: Some(size),
            force: false,
        },
    )
    .expect("mkfs");
    TestDisk { dir, path }
}

pub fn mount(d: &TestDisk, build: Build, knobs: Knobs) -> Arc<Fs> {
    Fs::mount(
        &d.path,
        MountOptions {
            build,
            knobs,
            recorder: None,
        },
    )
    .expect("mount")
}

pub fn mount_recorded(d: &TestDisk, build: Build, knobs: Knobs) -> (Arc<Fs>, Arc<Recorder>) {
    let rec = Recorder::new(1 << 22);
    let fs = Fs::mount(
        &d.path,
        MountOptions {
            build,
            knobs,
            recorder: Some(rec.clone()),
        },
    )
    .expect("mount");
    (fs, rec)
}

/// A deterministic byte pattern distinct per (tag, offset).
pub fn pattern(tag: u8, offset: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| ((offset + i).wrapping_mul(31) as u8) ^ tag.wrapping_mul(0x5b))
        .collect()
}

pub fn read_all(fs: &Fs, ino: u64) -> Vec<u8> {
    let size = fs.size(ino).unwrap() as usize;
    let mut buf = vec![0u8; size];
    let n = fs.read(ino, 0, &mut buf).unwrap();
    assert_eq!(n, size, "short read of the whole file");
    buf
}

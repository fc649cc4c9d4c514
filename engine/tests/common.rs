//! Shared helpers for the engine's integration tests (and, included by
//! path, the harness's): a fresh disk image in a temporary directory,
//! mounted with a chosen build and knobs.
#![allow(dead_code)]

use lockline_engine::disk::{mkfs, MkfsOptions};
use lockline_engine::probe::recorder::Recorder;
use lockline_engine::{Build, Fs, Knobs, MountOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct TestDisk {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn disk(size: u64) -> TestDisk {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = image(dir.path(), size);
    TestDisk { dir, path }
}

/// A fresh lockline disk image of `size` bytes in `dir`.
pub fn image(dir: &Path, size: u64) -> PathBuf {
    let p = dir.join("disk.img");
    mkfs(
        &p,
        &MkfsOptions {
            size: Some(size),
            force: false,
        },
    )
    .expect("mkfs");
    p
}

/// `blocks` 4 KiB blocks of bytes distinct per seed and block.
pub fn block_pattern(seed: u64, blocks: usize) -> Vec<u8> {
    const B: usize = lockline_engine::disk::BLOCK_SIZE as usize;
    (0..blocks * B)
        .map(|i| {
            (seed
                .wrapping_mul(131)
                .wrapping_add(i as u64 * 13 + (i / B) as u64)) as u8
        })
        .collect()
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

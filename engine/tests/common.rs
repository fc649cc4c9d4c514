//! Shared helpers for the engine's integration tests: a fresh disk image in
//! a temporary directory, mounted with a chosen build and knobs.
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

/// Knobs with every background thread off, so tests decide when things
/// happen.
#[allow(unused_imports)]
pub use lockline_engine::scenario::quiet_knobs;

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

// --- checked sessions, shared by the statistical tests -------------------

use lockline_engine::check::Counts;
use lockline_engine::session::{quiet_progress, run_session, SessionReport, SessionSpec};
use lockline_engine::workload::{RunSpec, Stop, WorkloadKind};

pub fn session(build: Build, workload: WorkloadKind, knobs: Knobs, seconds: f64) -> SessionReport {
    session_with(build, workload, knobs, Stop::Seconds(seconds), 32 << 20, 7)
}

pub fn session_with(
    build: Build,
    workload: WorkloadKind,
    knobs: Knobs,
    stop: Stop,
    file_size: u64,
    seed: u64,
) -> SessionReport {
    session_reading(build, workload, knobs, stop, file_size, seed, 0)
}

pub fn session_reading(
    build: Build,
    workload: WorkloadKind,
    knobs: Knobs,
    stop: Stop,
    file_size: u64,
    seed: u64,
    readers: u32,
) -> SessionReport {
    let d = disk(256 << 20);
    let run = RunSpec {
        workload,
        threads: 4,
        stop,
        seed,
        file: "/w.dat".into(),
        file_size,
        write_size: 64 << 10,
        readers,
    };
    // Injected allocation failures and read errors fail some writes.
    let faults = knobs.alloc_fail_rate > 0.0 || knobs.read_error_rate > 0.0;
    let spec = SessionSpec::new(d.path.clone(), build, knobs, run);
    let (r, events) = run_session(&spec, &quiet_progress()).expect("session");
    assert!(!events.is_empty());
    if !faults {
        assert_eq!(r.summary.op_errors, 0, "{:?}", r.summary.first_error);
    }
    let fsck = lockline_engine::disk::fsck(&d.path).unwrap();
    assert!(fsck.problems.is_empty(), "{:?}", fsck.problems);
    r
}

/// Short bursts with different seeds until one leaves evidence: a later
/// write over the same sectors erases it, so many short runs find more
/// than one long one. Returns the first report with a violation.
pub fn hunt(
    build: Build,
    workload: WorkloadKind,
    knobs: &Knobs,
    tries: u64,
    ops: u64,
) -> Option<SessionReport> {
    (1..=tries)
        .map(|seed| {
            let knobs = Knobs {
                seed,
                ..knobs.clone()
            };
            session_with(build, workload, knobs, Stop::Ops(ops), 4 << 20, seed)
        })
        .inspect(|_| {
            TRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .find(|r| worst(r).total() > 0)
}

pub static TRIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn worst(r: &SessionReport) -> Counts {
    let mut c = Counts::default();
    for k in &r.summary.checks {
        c.dropped = c.dropped.max(k.counts.dropped);
        c.stale = c.stale.max(k.counts.stale);
        c.torn = c.torn.max(k.counts.torn);
    }
    c
}

/// A busy mm: migration, compaction, reclaim and writeback all running.
pub fn busy_knobs() -> Knobs {
    Knobs {
        writeback_interval_ms: 10,
        reclaim_limit_bytes: 16 << 20,
        migration_interval_us: 200,
        compaction_interval_ms: 20,
        short_copy_rate: 0.05,
        ..Knobs::default()
    }
}

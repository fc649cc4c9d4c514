//! Shared helpers for the harness's integration tests: the engine's model
//! fixtures, and checked sessions for the statistical tests.
#![allow(dead_code)]

#[path = "../../engine/tests/common.rs"]
mod model;
pub use model::*;

use lockline_engine::{Build, Knobs};
use lockline_harness::check::Counts;
use lockline_harness::session::{quiet_progress, run_session, SessionReport, SessionSpec};
use lockline_harness::workload::{RunSpec, Stop, WorkloadKind};

pub fn session(build: Build, workload: WorkloadKind, knobs: Knobs, seconds: f64) -> SessionReport {
    session_reading(
        build,
        workload,
        knobs,
        Stop::Seconds(seconds),
        32 << 20,
        7,
        0,
    )
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
            session_reading(build, workload, knobs, Stop::Ops(ops), 4 << 20, seed, 0)
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

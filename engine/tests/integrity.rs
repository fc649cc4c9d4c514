//! End-to-end integrity runs: stamped workloads on a real image, checked
//! after the run, after fsync and after remount.

mod common;

use common::*;
use lockline_engine::check::Counts;
use lockline_engine::config::Inject;
use lockline_engine::session::{quiet_progress, run_session, SessionReport, SessionSpec};
use lockline_engine::workload::{RunSpec, Stop, WorkloadKind};
use lockline_engine::{Build, Knobs};

fn session(build: Build, workload: WorkloadKind, knobs: Knobs, seconds: f64) -> SessionReport {
    let d = disk(256 << 20);
    let run = RunSpec {
        workload,
        threads: 4,
        stop: Stop::Seconds(seconds),
        seed: 7,
        file: "/w.dat".into(),
        file_size: 32 << 20,
        write_size: 64 << 10,
    };
    let spec = SessionSpec::new(d.path.clone(), build, knobs, run);
    let (r, events) = run_session(&spec, &quiet_progress()).expect("session");
    assert!(!events.is_empty());
    assert_eq!(r.op_errors, 0, "{:?}", r.first_error);
    let fsck = lockline_engine::disk::fsck(&d.path).unwrap();
    assert!(fsck.problems.is_empty(), "{:?}", fsck.problems);
    r
}

fn worst(r: &SessionReport) -> Counts {
    let mut c = Counts::default();
    for k in &r.checks {
        c.dropped = c.dropped.max(k.counts.dropped);
        c.stale = c.stale.max(k.counts.stale);
        c.torn = c.torn.max(k.counts.torn);
    }
    c
}

/// A busy mm: migration, compaction, reclaim and writeback all running.
fn busy_knobs() -> Knobs {
    Knobs {
        writeback_interval_ms: 10,
        reclaim_limit_bytes: 16 << 20,
        migration_interval_us: 200,
        compaction_interval_ms: 20,
        short_copy_rate: 0.05,
        ..Knobs::default()
    }
}

#[test]
fn locked_build_is_clean_on_every_workload() {
    for w in WorkloadKind::ALL {
        let r = session(Build::Locked, w, busy_knobs(), 2.0);
        assert!(r.ops > 50, "{w}: only {} ops", r.ops);
        assert_eq!(
            worst(&r).total(),
            0,
            "{w}: {:#?}",
            r.checks.last().unwrap().violations.first()
        );
    }
}

#[test]
fn lockless_min_tears_overlapping_writes() {
    // Writes over 1 MiB take several passes, and lockless-min holds no lock
    // across passes: concurrent writers interleave inside each other.
    let r = session(Build::LocklessMin, WorkloadKind::Overlap, busy_knobs(), 4.0);
    assert!(
        worst(&r).torn > 0,
        "lockless-min should tear overlapping writes: {:?}",
        r.checks.iter().map(|c| c.counts).collect::<Vec<_>>()
    );
}

fn inject(name: &str, base: Knobs) -> Knobs {
    let mut inject = Inject::default();
    inject.enable(name).unwrap();
    Knobs { inject, ..base }
}

#[test]
fn planted_writeback_clear_after_copy_is_found() {
    let knobs = Knobs {
        writeback_interval_ms: 2,
        ..quiet_knobs()
    };
    let r = session(
        Build::Locked,
        WorkloadKind::Overlap,
        inject("writeback-clear-after-copy", knobs),
        6.0,
    );
    let c = r.checks.last().unwrap().counts;
    assert!(c.stale + c.dropped > 0, "{c:?}");
}

#[test]
fn planted_migrate_without_folio_lock_is_found() {
    let knobs = Knobs {
        migration_interval_us: 20,
        ..quiet_knobs()
    };
    let r = session(
        Build::Locked,
        WorkloadKind::Overlap,
        inject("migrate-without-folio-lock", knobs),
        6.0,
    );
    assert!(worst(&r).total() > 0, "{:?}", worst(&r));
}

#[test]
fn planted_isize_before_copy_is_found() {
    let knobs = Knobs {
        short_copy_rate: 0.3,
        ..quiet_knobs()
    };
    let r = session(
        Build::Lockless,
        WorkloadKind::AppendMix,
        inject("isize-before-copy", knobs),
        6.0,
    );
    assert!(worst(&r).total() > 0, "{:?}", worst(&r));
}

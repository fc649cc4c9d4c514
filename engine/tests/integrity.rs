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
    session_with(build, workload, knobs, Stop::Seconds(seconds), 32 << 20, 7)
}

fn session_with(
    build: Build,
    workload: WorkloadKind,
    knobs: Knobs,
    stop: Stop,
    file_size: u64,
    seed: u64,
) -> SessionReport {
    session_reading(build, workload, knobs, stop, file_size, seed, 0)
}

fn session_reading(
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
fn hunt(
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

static TRIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn worst(r: &SessionReport) -> Counts {
    let mut c = Counts::default();
    for k in &r.summary.checks {
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
        assert!(r.summary.ops > 50, "{w}: only {} ops", r.summary.ops);
        assert_eq!(
            worst(&r).total(),
            0,
            "{w}: {:#?}",
            r.summary.checks.last().unwrap().violations.first()
        );
    }
}

#[test]
fn lockless_min_tears_overlapping_writes() {
    // lockless-min holds no lock across the passes of one write, so a
    // writer waiting on a folio lock slips into the gap a short copy opens.
    let knobs = Knobs {
        short_copy_rate: 0.6,
        ..quiet_knobs()
    };
    let found = hunt(Build::LocklessMin, WorkloadKind::Overlap, &knobs, 40, 200)
        .expect("lockless-min should tear overlapping writes within 40 short runs");
    assert!(worst(&found).torn > 0);
    eprintln!(
        "found after {} runs",
        TRIES.load(std::sync::atomic::Ordering::Relaxed)
    );
    // The same seeds on the locked build stay clean.
    assert!(hunt(Build::Locked, WorkloadKind::Overlap, &knobs, 4, 200).is_none());
}

fn inject(name: &str, base: Knobs) -> Knobs {
    let mut inject = Inject::default();
    inject.enable(name).unwrap();
    Knobs { inject, ..base }
}

fn found_planted(name: &str, build: Build, workload: WorkloadKind, base: Knobs) -> SessionReport {
    let knobs = inject(name, base.clone());
    // Timing decides how often a planted race bites: alone it takes a run
    // or two, but next to other tests on a loaded 2-core machine 12 runs
    // once found nothing. 40 makes a miss mean the checker is blind.
    let found = hunt(build, workload, &knobs, 40, 400)
        .unwrap_or_else(|| panic!("{name}: no violation in 40 short runs"));
    // Without the planted bug the same runs are clean.
    assert!(
        hunt(build, workload, &base, 3, 400).is_none(),
        "{name}: violations without the bug"
    );
    found
}

#[test]
fn planted_writeback_clear_after_copy_is_found() {
    let knobs = Knobs {
        writeback_interval_ms: 1,
        ..quiet_knobs()
    };
    let r = found_planted(
        "writeback-clear-after-copy",
        Build::Locked,
        WorkloadKind::Overlap,
        knobs,
    );
    // What reached the disk is wrong, whatever the cache said.
    assert!(
        r.summary.checks.last().unwrap().counts.total() > 0,
        "{:?}",
        r.summary.checks.last().unwrap().counts
    );
}

#[test]
fn planted_migrate_without_folio_lock_is_found() {
    let knobs = Knobs {
        migration_interval_us: 10,
        ..quiet_knobs()
    };
    found_planted(
        "migrate-without-folio-lock",
        Build::Locked,
        WorkloadKind::Overlap,
        knobs,
    );
}

// isize-before-copy is driven deterministically in tests/torn.rs: its only
// effect is on other writers' lock decisions, a narrow window for a workload.

/// The reduced patch's lost writes (issue 13): with folio allocations
/// failing now and then, a non-extending writer of lockless-min leaves its
/// pass early holding no inode lock and truncates the page cache at an
/// i_size an extending writer is about to move: acknowledged writes drop.
/// The schedule is driven deterministically in tests/hazard.rs.
#[test]
fn lockless_min_drops_writes_when_folio_allocations_fail() {
    let knobs = Knobs {
        alloc_fail_rate: 0.2,
        ..Knobs::default()
    };
    // Tears are lockless-min's everyday loss; look for a drop. At 20%
    // allocation failures a round drops with about a one-in-three chance
    // here (14/40 release rounds; at 5%, 2-7%); 200 short rounds make a miss
    // mean the mechanism is gone.
    let dropped = (1..=200u64).position(|seed| {
        let knobs = Knobs {
            seed,
            ..knobs.clone()
        };
        let r = session_with(
            Build::LocklessMin,
            WorkloadKind::AppendMix,
            knobs,
            Stop::Ops(300),
            4 << 20,
            seed,
        );
        worst(&r).dropped > 0
    });
    let runs = dropped.expect("lockless-min dropped no write in 200 short runs") + 1;
    eprintln!("dropped after {runs} runs");
    // Without allocation failures the same rounds tear but never drop.
    for seed in 1..=runs.min(40) as u64 {
        let r = session_with(
            Build::LocklessMin,
            WorkloadKind::AppendMix,
            Knobs {
                seed,
                ..Knobs::default()
            },
            Stop::Ops(300),
            4 << 20,
            seed,
        );
        assert_eq!(worst(&r).dropped, 0, "seed {seed} dropped without faults");
    }
    // locked takes the inode lock for every write: the cleanup cannot run
    // while an extending writer has unpublished folios.
    assert!(
        hunt(Build::Locked, WorkloadKind::AppendMix, &knobs, 6, 300).is_none(),
        "locked: violations with allocation failures"
    );
}

#[test]
fn locked_stays_clean_with_every_fault_knob() {
    let knobs = Knobs {
        alloc_fail_rate: 0.02,
        fragmentation: 0.3,
        read_error_rate: 0.02,
        ..busy_knobs()
    };
    for w in WorkloadKind::ALL {
        // Two verifying readers too: every read sees what had completed.
        let r = session_reading(
            Build::Locked,
            w,
            knobs.clone(),
            Stop::Seconds(1.0),
            32 << 20,
            7,
            2,
        );
        assert_eq!(
            worst(&r).total(),
            0,
            "{w}: {:#?}",
            r.summary.checks.last().unwrap().violations.first()
        );
        let reads = &r.summary.reads;
        assert!(reads.reads > 10, "{w}: only {} reads", reads.reads);
        assert_eq!(reads.bad_reads, 0, "{w}: {:#?}", reads.violations.first());
    }
}

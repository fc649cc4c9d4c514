//! End-to-end integrity runs: stamped workloads on a real image, checked
//! after the run, after fsync and after remount.

mod common;

use common::*;
use lockline_engine::config::Inject;
use lockline_engine::{Build, Knobs};
use lockline_harness::session::SessionReport;
use lockline_harness::workload::WorkloadKind;

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
        ..Knobs::quiet()
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
        ..Knobs::quiet()
    };
    // fsx-mix finds it too: one writer cutting and extending, in-place
    // writers beside it.
    for w in [WorkloadKind::Overlap, WorkloadKind::FsxMix] {
        let r = found_planted(
            "writeback-clear-after-copy",
            Build::Locked,
            w,
            knobs.clone(),
        );
        // What reached the disk is wrong, whatever the cache said.
        assert!(
            r.summary.checks.last().unwrap().counts.total() > 0,
            "{w}: {:?}",
            r.summary.checks.last().unwrap().counts
        );
    }
}

#[test]
fn planted_migrate_without_folio_lock_is_found() {
    let knobs = Knobs {
        migration_interval_us: 10,
        ..Knobs::quiet()
    };
    for w in [WorkloadKind::Overlap, WorkloadKind::FsxMix] {
        found_planted(
            "migrate-without-folio-lock",
            Build::Locked,
            w,
            knobs.clone(),
        );
    }
}

// Issue 21's planted bug (cut-to-recorded-size) needs a truncate to land
// inside a writeback IO of a few microseconds, which free-running rounds
// rarely hit: the explorer finds and replays it (tests/explore.rs).

// isize-before-copy is driven deterministically in tests/torn.rs: its only
// effect is on other writers' lock decisions, a narrow window for a workload.

#[test]
fn locked_stays_clean_with_every_migrate_mode() {
    use lockline_engine::config::MigrateMode;
    use lockline_harness::workload::Stop;
    for mode in [MigrateMode::SyncLight, MigrateMode::Sync] {
        let knobs = Knobs {
            migration_interval_us: 20,
            compaction_interval_ms: 2,
            writeback_interval_ms: 2,
            migrate_mode: mode,
            ..busy_knobs()
        };
        for w in WorkloadKind::ALL {
            let r = session_reading(
                Build::Locked,
                w,
                knobs.clone(),
                Stop::Seconds(0.5),
                8 << 20,
                7,
                1,
            );
            assert_eq!(
                worst(&r).total(),
                0,
                "{mode:?} {w}: {:#?}",
                r.summary.checks.last().unwrap().violations.first()
            );
            // The one bad read truncate-mix once showed here was issue 21:
            // a truncate down racing a writeback IO (scenario::writeback_cut).
            assert_eq!(
                r.summary.reads.bad_reads,
                0,
                "{mode:?} {w}: {:#?}",
                r.summary.reads.violations.first()
            );
        }
    }
}

//! The culprit of a violation, named on real engine traces: the
//! deterministic hazard schedule, the torn writes of lockless-min and of the
//! planted isize-before-copy bug, and the planted writeback and migration
//! bugs found by short seeded runs.

use lockline_analysis::consistency;
use lockline_analysis::culprit::{culprits, Culprit, Fate};
use lockline_analysis::{blame, Trace, TraceMeta};
use lockline_engine::config::Inject;
use lockline_engine::probe::{Event, LockClass, LockMode};
use lockline_engine::{Build, Knobs};
use lockline_harness::check::CheckReport;
use lockline_harness::scenario::{self, EarlyExit, HazardRun};
use lockline_harness::session::{quiet_progress, run_session, SessionSpec};
use lockline_harness::workload::{RunSpec, Stop, WorkloadKind};
use std::collections::BTreeMap;

#[path = "../../engine/tests/common.rs"]
mod engine_common;
use engine_common::disk;

fn trace(events: Vec<Event>, checks: &[CheckReport]) -> Trace {
    Trace::from_run(TraceMeta::default(), events, checks, Vec::new())
}

fn only(t: &Trace) -> Culprit {
    let c = culprits(t);
    assert!(
        !c.is_empty(),
        "no culprit for {:#?}",
        t.final_violations().collect::<Vec<_>>()
    );
    c.into_values().next().unwrap()
}

/// The culprit of an early-exit hazard run, on its consistent trace: N,
/// truncating E's dirty folio without the inode lock, holding nothing that
/// excludes E.
fn truncating_writer(t: &Trace, run: &HazardRun, what: &str) -> Culprit {
    assert!(consistency::check(t).is_clean());
    let c = only(t);
    assert_eq!((c.tid, c.op), (run.n_tid, run.n_op), "{what}: {}", c.line);
    assert_eq!(c.victim_op, run.e_op, "{}", c.line);
    assert_eq!(c.fate, Fate::TruncatedWhileDirty, "{}", c.line);
    assert!(
        !c.locks.iter().any(|l| l.class == LockClass::Inode),
        "{}",
        c.line
    );
    assert!(c.common_exclusive.is_empty(), "{}", c.line);
    c
}

#[test]
fn hazard_culprit_is_the_truncating_writer() {
    let d = disk(64 << 20);
    let run =
        scenario::early_exit_truncate(&d.path, Build::Lockless, EarlyExit::NeedInodeLock).unwrap();
    assert!(run.schedule_reached);
    let t = trace(run.events.clone(), &run.checks);
    let c = truncating_writer(&t, &run, "hazard");
    // N truncated under the shared add lock alone.
    assert!(
        c.locks
            .iter()
            .any(|l| l.class == LockClass::PagecacheAdd && l.mode == LockMode::Shared),
        "{}",
        c.line
    );
    assert_eq!(c.thread, "worker 1");
    // The window reaches the truncation, which came after E returned.
    let w = blame::windows(&t, &consistency::check(&t));
    let w = w.iter().find(|w| w.violation == c.violation).unwrap();
    assert!(w.begin_ns <= c.ts_ns && c.ts_ns <= w.end_ns);
    assert!(!w.inconclusive);
    assert!(w.events.contains(&c.event));
}

fn torn(build: Build, knobs: Knobs, initial: u64) {
    let d = disk(64 << 20);
    let run = scenario::two_writers(&d.path, build, knobs, initial).unwrap();
    let t = trace(run.events, std::slice::from_ref(&run.check));
    assert!(consistency::check(&t).is_clean());
    let c = only(&t);
    assert_eq!(c.fate, Fate::Interleaved, "{}", c.line);
    // The interloper B dirtied a folio A also dirtied while A was in flight.
    assert_eq!((c.op, c.victim_op), (run.b_op, run.a_op), "{}", c.line);
    assert_ne!(c.fid, 0);
    assert!(c.common_exclusive.is_empty(), "{}", c.line);
    assert!(
        !c.victim_locks
            .iter()
            .any(|l| l.class == LockClass::Inode && l.mode == LockMode::Exclusive)
            || !c.locks.iter().any(|l| l.class == LockClass::Inode),
        "{}",
        c.line
    );
}

#[test]
fn lockless_min_torn_write_names_both_writers_and_their_folio() {
    torn(Build::LocklessMin, Knobs::quiet(), 4 << 20);
}

#[test]
fn planted_isize_before_copy_torn_write_is_explained() {
    let mut inject = Inject::default();
    inject.enable("isize-before-copy").unwrap();
    torn(
        Build::Lockless,
        Knobs {
            inject,
            ..Knobs::quiet()
        },
        0,
    );
}

/// Short seeded runs with a planted bug until one leaves a violation after
/// remount; its trace.
fn hunt_planted(name: &str, knobs: Knobs) -> Trace {
    let mut inject = Inject::default();
    inject.enable(name).unwrap();
    for seed in 1..=40 {
        let d = disk(256 << 20);
        let run = RunSpec {
            workload: WorkloadKind::Overlap,
            threads: 4,
            stop: Stop::Ops(400),
            seed,
            file: "/w.dat".into(),
            file_size: 4 << 20,
            write_size: 64 << 10,
            readers: 0,
        };
        let knobs = Knobs {
            seed,
            inject,
            ..knobs.clone()
        };
        let spec = SessionSpec::new(d.path.clone(), Build::Locked, knobs, run);
        let (r, events) = run_session(&spec, &quiet_progress()).unwrap();
        if r.summary.violations.total() > 0 {
            return trace(events, &r.summary.checks);
        }
    }
    panic!("{name}: no violation in 40 short runs");
}

/// A hunted trace of a planted bug, consistent, and its culprits (some).
fn planted_culprits(name: &str, knobs: Knobs) -> (Trace, BTreeMap<u32, Culprit>) {
    let t = hunt_planted(name, knobs);
    assert!(consistency::check(&t).is_clean());
    let found = culprits(&t);
    assert!(!found.is_empty(), "{}", dump(&t));
    (t, found)
}

#[test]
fn planted_migration_without_folio_lock_is_named() {
    let (t, found) = planted_culprits(
        "migrate-without-folio-lock",
        Knobs {
            migration_interval_us: 10,
            ..Knobs::quiet()
        },
    );
    for c in found.values() {
        let v = t.violations.iter().find(|v| v.id == c.violation).unwrap();
        let ops: Vec<_> = t.ops.iter().filter(|o| v.ops.contains(&o.op)).collect();
        assert_eq!(c.thread, "migrate", "{}\n{v:?}\n{ops:?}", c.line);
        // The migration held no lock of the folio the writer was filling,
        // and the verdict says so, whether the migration came before the
        // write's dirtying of the folio (the write went into the old copy)
        // or after it (the copy raced the write).
        assert_eq!(c.fate, Fate::MigratedUnlocked, "{}", c.line);
        assert!(!c.locks.iter().any(|l| l.fid == c.fid), "{}", c.line);
        assert!(c.common_exclusive.is_empty(), "{}", c.line);
    }
}

#[test]
fn planted_writeback_clear_after_copy_is_named() {
    let (_t, found) = planted_culprits(
        "writeback-clear-after-copy",
        Knobs {
            writeback_interval_ms: 1,
            ..Knobs::quiet()
        },
    );
    assert!(
        found
            .values()
            .any(|c| c.thread == "flusher" && c.fate == Fate::CleanedUnwritten),
        "{:#?}",
        found.values().map(|c| &c.line).collect::<Vec<_>>()
    );
}

/// The final violations and every folio event on their pages, for a
/// failure message.
fn dump(t: &Trace) -> String {
    let mut s = String::new();
    for v in t.final_violations() {
        s += &format!("{v:?}\n");
        let (lo, hi) = (
            v.first_sector / 8,
            (v.first_sector + v.nr_sectors).div_ceil(8),
        );
        for (i, e) in t.events.iter().enumerate() {
            if e.inode == v.ino
                && e.folio != u64::MAX
                && e.folio < hi
                && e.folio + 16 > lo
                && e.kind()
                    .is_some_and(|k| k != lockline_engine::probe::EventKind::LockWait)
            {
                s += &format!(
                    "  {i} {} tid {} op {} {:?} idx {} fid {} a {} b {}\n",
                    e.ts_ns,
                    e.tid,
                    e.op,
                    e.kind().unwrap(),
                    e.folio,
                    e.fid,
                    e.a,
                    e.b
                );
            }
        }
    }
    s
}

#[test]
fn a_window_over_an_impossibility_is_inconclusive() {
    let d = disk(64 << 20);
    let run =
        scenario::early_exit_truncate(&d.path, Build::Lockless, EarlyExit::NeedInodeLock).unwrap();
    let mut t = trace(run.events, &run.checks);
    let c = only(&t);
    // A release nobody acquired, just before the culprit's event: what a
    // lost event looks like to the consistency check.
    let at = c.event as usize;
    let mut fake = t.events[at];
    fake.code = lockline_engine::probe::Code::pack(
        lockline_engine::probe::EventKind::LockReleased,
        LockClass::ILock as u8,
        LockMode::Exclusive as u8,
    );
    fake.folio = u64::MAX;
    fake.fid = 0;
    t.events.insert(at, fake);
    let cons = consistency::check(&t);
    assert_eq!(cons.total(), 1, "{}", cons.summary_line(t.events.len()));
    let a = lockline_analysis::report::analyze(&t, &Default::default());
    let w = a.blame.iter().find(|w| w.violation == c.violation).unwrap();
    assert!(w.inconclusive);
    let text = a.text();
    assert!(
        text.contains("INCONSISTENT: 1 release-without-acquire"),
        "{text}"
    );
    assert!(text.contains("INCONCLUSIVE"), "{text}");
}

#[test]
fn reduced_patch_drop_names_the_failed_writers_truncation() {
    for cause in [EarlyExit::AllocFailure, EarlyExit::ReadError] {
        let d = disk(64 << 20);
        let run = scenario::early_exit_truncate(&d.path, Build::LocklessMin, cause).unwrap();
        let t = trace(run.events.clone(), &run.checks);
        truncating_writer(&t, &run, &format!("{cause:?}"));
    }
}

#[test]
fn cut_data_that_came_back_is_traced_to_the_writeback_io_across_the_cut() {
    use lockline_engine::config::Inject;
    let d = disk(64 << 20);
    let inject = Inject {
        cut_to_recorded_size: true,
        ..Inject::default()
    };
    let run = scenario::writeback_cut(&d.path, Build::Locked, inject).unwrap();
    assert!(run.schedule_reached);
    let t = trace(run.events, &run.checks);
    let c = only(&t);
    eprintln!("{}", c.line);
    assert_eq!(c.fate, Fate::WrittenBackAcrossCut, "{}", c.line);
    assert_eq!(c.victim_op, run.t_op, "{}", c.line);
    assert!(
        c.line
            .contains(&format!("op {}'s bytes came back", run.w_op)),
        "{}",
        c.line
    );
    // The flusher held nothing; the truncate held the inode and block locks.
    assert!(c.locks.is_empty(), "{}", c.line);
    assert!(
        c.victim_locks
            .iter()
            .any(|l| l.class == LockClass::PagecacheBlock),
        "{}",
        c.line
    );
    assert!(c.common_exclusive.is_empty(), "{}", c.line);
}

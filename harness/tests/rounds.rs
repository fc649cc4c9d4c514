//! Checked rounds (`rounds::run_rounds`): one trace with a round_begin
//! marker per round, a fresh file per round, every op in its round, three
//! checks per round seen live in order, and the stop flag honoured.

mod common;
use common::*;
use lockline_engine::probe::{Event, EventKind};
use lockline_engine::{Build, Knobs};
use lockline_harness::check;
use lockline_harness::history::History;
use lockline_harness::rounds::{run_rounds, Live, RoundsReport, RoundsSpec};
use lockline_harness::session::{quiet_progress, SessionSpec};
use lockline_harness::workload::{RunSpec, Stop, WorkloadKind};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

fn spec(d: &TestDisk, build: Build, stop: Stop, readers: u32) -> SessionSpec {
    let run = RunSpec {
        workload: WorkloadKind::Overlap,
        threads: 4,
        stop,
        seed: 5,
        file: "/w.dat".into(),
        file_size: 4 << 20,
        write_size: 64 << 10,
        readers,
    };
    SessionSpec::new(d.path.clone(), build, Knobs::busy(5), run)
}

/// What the live callback saw, in order.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Events(usize),
    Check(u64, String),
    Done(u64),
}

fn run(
    s: &SessionSpec,
    r: &RoundsSpec,
    stop: &AtomicBool,
    on: impl Fn(&Live) + Sync,
) -> (RoundsReport, Vec<Event>, Vec<Seen>, Vec<Event>) {
    let seen = Mutex::new(Vec::new());
    let live_events = Mutex::new(Vec::new());
    let live = |l: Live| {
        on(&l);
        let mut seen = seen.lock();
        match l {
            Live::Events(batch) => {
                assert!(
                    batch
                        .windows(2)
                        .all(|w| (w[0].ts_ns, w[0].tid) <= (w[1].ts_ns, w[1].tid)),
                    "a live batch is not sorted"
                );
                seen.push(Seen::Events(batch.len()));
                live_events.lock().extend(batch);
            }
            Live::Check { round, check } => {
                assert_eq!(check.round, round);
                seen.push(Seen::Check(round, check.label));
            }
            Live::RoundDone { round, .. } => seen.push(Seen::Done(round)),
        }
    };
    let (report, events) =
        run_rounds(s, r, &quiet_progress(), None, Some(&live), stop).expect("rounds");
    (report, events, seen.into_inner(), live_events.into_inner())
}

/// The last check or round end seen (the final unmount's events may come
/// after it).
fn last_not_events(seen: &[Seen]) -> Option<&Seen> {
    seen.iter().rev().find(|s| !matches!(s, Seen::Events(_)))
}

#[test]
fn three_rounds_one_trace() {
    let d = disk(256 << 20);
    let s = spec(&d, Build::Locked, Stop::Seconds(1.0), 1);
    let r = RoundsSpec {
        rounds: Some(3),
        seconds: None,
        round_ops: 150,
    };
    let stop = AtomicBool::new(false);
    let (report, events, seen, live_events) = run(&s, &r, &stop, |_| {});
    assert_eq!(report.rounds, 3);
    assert!(!report.interrupted);
    assert_eq!(report.session.summary.ops, 450);
    assert_eq!(
        report.session.summary.op_errors, 0,
        "{:?}",
        report.session.summary.first_error
    );

    // One marker per round, in order, on the round's own file.
    let marks: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind() == Some(EventKind::RoundBegin))
        .collect();
    assert_eq!(marks.len(), 3);
    let inos: Vec<u64> = report.per_round.iter().map(|r| r.ino).collect();
    for (i, (m, r)) in marks.iter().zip(&report.per_round).enumerate() {
        assert_eq!(m.a, i as u64 + 1);
        assert_eq!(r.round, i as u64 + 1);
        assert_eq!(m.inode, r.ino);
        assert_eq!(r.seed, 5 + i as u64);
        assert_eq!(r.ops, 150);
    }
    let mut distinct = inos.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "a fresh inode per round: {inos:?}");

    // Every op of a round's file is in that round; every op's round is the
    // last marker at or before its begin.
    let h = History::from_events(&events);
    let mut per_round = [0u64; 3];
    for o in h.ops() {
        let want = marks
            .iter()
            .rev()
            .find(|m| m.ts_ns <= o.begin_ns)
            .map_or(0, |m| m.a as u32);
        assert_eq!(o.round, want, "{o:?}");
        // A round's file is created just before its marker, which names it.
        let created = o.kind == lockline_engine::probe::OpKind::Create;
        if let Some(i) = inos.iter().position(|&ino| ino == o.ino && !created) {
            assert_eq!(o.round, i as u32 + 1, "{o:?}");
            if o.kind.name() == "write" && o.thread.is_some() {
                per_round[i] += 1;
            }
        }
    }
    assert!(per_round.iter().all(|&n| n > 0), "{per_round:?}");

    // Three checks per round, each with its round; readers checked per round.
    let rounds: Vec<u64> = report
        .session
        .summary
        .checks
        .iter()
        .map(|c| c.round)
        .collect();
    assert_eq!(rounds, [1, 1, 1, 2, 2, 2, 3, 3, 3]);
    for c in &report.session.summary.checks {
        assert_eq!(c.ino, inos[c.round as usize - 1]);
    }
    assert!(report.session.summary.reads.reads > 0);
    assert_eq!(report.session.summary.reads.bad_reads, 0);
    assert_eq!(
        report.session.summary.violations.total(),
        0,
        "locked lost data"
    );
    assert_eq!(report.rounds_with_violations, 0);

    // Live: every event once, each round's checks in order, then its end.
    assert_eq!(live_events.len(), events.len());
    let mut sorted = live_events;
    sorted.sort_by_key(|e| (e.ts_ns, e.tid, e.code, e.op, e.a));
    let mut all = events.clone();
    all.sort_by_key(|e| (e.ts_ns, e.tid, e.code, e.op, e.a));
    assert_eq!(sorted, all);
    let shape: Vec<Seen> = seen
        .iter()
        .filter(|s| !matches!(s, Seen::Events(_)))
        .cloned()
        .collect();
    let mut want = Vec::new();
    for round in 1..=3 {
        for label in [check::AFTER_RUN, check::AFTER_FSYNC, check::AFTER_REMOUNT] {
            want.push(Seen::Check(round, label.to_string()));
        }
        want.push(Seen::Done(round));
    }
    assert_eq!(shape, want);
    assert!(
        seen.iter()
            .take_while(|s| !matches!(s, Seen::Check(..)))
            .any(|s| matches!(s, Seen::Events(_))),
        "events reach the live consumer before the first check: {seen:?}"
    );

    // Events are sorted and the disk is consistent.
    assert!(events
        .windows(2)
        .all(|w| (w[0].ts_ns, w[0].tid) <= (w[1].ts_ns, w[1].tid)));
    let fsck = lockline_engine::disk::fsck(&d.path).unwrap();
    assert!(fsck.problems.is_empty(), "{:?}", fsck.problems);
}

#[test]
fn stop_ends_the_run_after_the_round() {
    let d = disk(256 << 20);
    let s = spec(&d, Build::Locked, Stop::Seconds(1.0), 0);
    let r = RoundsSpec {
        rounds: Some(10),
        seconds: None,
        round_ops: 100,
    };
    let stop = AtomicBool::new(false);
    let (report, _, seen, _) = run(&s, &r, &stop, |l| {
        if let Live::RoundDone { round: 2, .. } = l {
            stop.store(true, Ordering::Relaxed);
        }
    });
    assert_eq!(report.rounds, 2);
    assert!(report.interrupted);
    assert_eq!(report.session.summary.checks.len(), 6);
    assert_eq!(last_not_events(&seen), Some(&Seen::Done(2)));
}

#[test]
fn stop_interrupts_a_round_and_still_checks_it() {
    let d = disk(256 << 20);
    let s = spec(&d, Build::Locked, Stop::Seconds(1.0), 0);
    let r = RoundsSpec {
        rounds: Some(5),
        seconds: None,
        round_ops: 100_000_000,
    };
    let stop = AtomicBool::new(false);
    // The first events handed over mean the workload is running.
    let (report, events, seen, _) = run(&s, &r, &stop, |l| {
        if let Live::Events(_) = l {
            stop.store(true, Ordering::Relaxed);
        }
    });
    assert_eq!(report.rounds, 1);
    assert!(report.interrupted);
    assert!(report.session.summary.ops < 100_000_000);
    let labels: Vec<&str> = report
        .session
        .summary
        .checks
        .iter()
        .map(|c| c.label.as_str())
        .collect();
    assert_eq!(
        labels,
        [check::AFTER_RUN, check::AFTER_FSYNC, check::AFTER_REMOUNT]
    );
    assert_eq!(
        report.session.summary.violations.total(),
        0,
        "locked lost data"
    );
    assert_eq!(last_not_events(&seen), Some(&Seen::Done(1)));
    assert!(!events.is_empty());
}

#[test]
fn ops_in_total_split_into_rounds() {
    let d = disk(256 << 20);
    // Neither rounds nor seconds: the session's stop is the total.
    let s = spec(&d, Build::Locked, Stop::Ops(500), 0);
    let r = RoundsSpec {
        rounds: None,
        seconds: None,
        round_ops: 200,
    };
    let stop = AtomicBool::new(false);
    let (report, _, _) = run_rounds(&s, &r, &quiet_progress(), None, None, &stop)
        .map(|(r, e)| (r, e, ()))
        .expect("rounds");
    let ops: Vec<u64> = report.per_round.iter().map(|r| r.ops).collect();
    assert_eq!(ops, [200, 200, 100]);
    assert_eq!(report.session.summary.ops, 500);
    assert_eq!(report.session.summary.violations.total(), 0);
    assert_eq!(report.first_violation_round, None);

    // Rounds until a deadline: at least one.
    let r = RoundsSpec {
        rounds: None,
        seconds: Some(0.01),
        round_ops: 50,
    };
    let (report, _) = run_rounds(&s, &r, &quiet_progress(), None, None, &stop).unwrap();
    assert!(report.rounds >= 1);

    // Refused before anything is touched.
    for bad in [
        RoundsSpec {
            rounds: Some(0),
            ..r.clone()
        },
        RoundsSpec {
            round_ops: 0,
            ..r.clone()
        },
    ] {
        assert!(run_rounds(&s, &bad, &quiet_progress(), None, None, &stop).is_err());
    }
}

/// lockless-min tears overlapping writes; short rounds keep the evidence.
#[test]
fn rounds_find_lockless_min_tearing() {
    let d = disk(256 << 20);
    // As integrity.rs's hunt: short copies split writes into passes.
    let mut s = SessionSpec {
        knobs: Knobs {
            short_copy_rate: 0.6,
            seed: 1,
            ..Knobs::quiet()
        },
        ..spec(&d, Build::LocklessMin, Stop::Seconds(1.0), 0)
    };
    s.run.seed = 1;
    let r = RoundsSpec {
        rounds: Some(40),
        seconds: None,
        round_ops: 200,
    };
    // The hunt ends at the first round that loses data.
    let stop = AtomicBool::new(false);
    let (report, _, _, _) = run(&s, &r, &stop, |l| {
        if let Live::RoundDone { violations, .. } = l {
            if violations.total() > 0 {
                stop.store(true, Ordering::Relaxed);
            }
        }
    });
    let first = report
        .first_violation_round
        .expect("no violation in 40 rounds");
    assert_eq!(report.rounds, first);
    assert!(report.interrupted);
    assert_eq!(report.rounds_with_violations, 1);
    assert!(report.first_violation_s.unwrap() > 0.0);
    let c = report.first_violating_check().unwrap();
    assert_eq!(c.round, first);
    assert_eq!(c.label, check::AFTER_REMOUNT);
    assert!(c.counts.torn > 0);
    eprintln!("torn in round {first} of 40");
    assert_eq!(report.session.summary.violations, c.counts);
}

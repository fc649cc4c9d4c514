//! Who blocked whom on the deterministic schedules: the hazard's truncating
//! writer waits for the extending writer's folio lock and gets it from
//! that writer's release (step 4 of the hazard, ARCHITECTURE.md); on `locked`, the second of two writers waits for
//! the first's inode lock; a violation's critical path names that hand-off.
//! No lock-order cycle on any of them.

use lockline_analysis::blocked_by::{blocked_by, BlockedBy};
use lockline_analysis::report::{analyze, AnalyzeOptions};
use lockline_analysis::{holds_from_events, Hold, Trace, TraceMeta};
use lockline_engine::probe::{Event, LockClass};
use lockline_engine::{Build, Knobs};
use lockline_harness::check::CheckReport;
use lockline_harness::scenario::{self, EarlyExit};

#[path = "../../engine/tests/common.rs"]
mod engine_common;
use engine_common::disk;

fn trace(events: Vec<Event>, checks: &[CheckReport]) -> Trace {
    Trace::from_run(TraceMeta::default(), events, checks, Vec::new())
}

/// The hand-offs of a trace as (waiter op, class, holder op).
fn handoffs(holds: &[Hold], b: &BlockedBy) -> Vec<(u64, LockClass, u64)> {
    b.waits
        .iter()
        .filter_map(|w| {
            let g = &holds[w.handoff?];
            let h = &holds[w.hold];
            Some((h.op, h.class, g.op))
        })
        .collect()
}

fn no_cycle(t: &Trace, what: &str) {
    let a = analyze(t, &AnalyzeOptions::default());
    let cycles: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.lint == "lock-order-cycle")
        .collect();
    assert!(cycles.is_empty(), "{what}: {cycles:#?}");
}

#[test]
fn the_hazard_writer_is_handed_the_folio_lock_by_the_writer_it_truncates() {
    let d = disk(64 << 20);
    let run =
        scenario::early_exit_truncate(&d.path, Build::Lockless, EarlyExit::NeedInodeLock).unwrap();
    assert!(run.schedule_reached);
    let t = trace(run.events.clone(), &run.checks);
    let holds = holds_from_events(&t.events);
    let b = blocked_by(&holds);
    let h = handoffs(&holds, &b);
    // N's truncation waited for the lock of the folio E had locked and
    // copied into, and E's unlock (after publishing i_size and dirtying
    // it) handed the folio over: nothing else.
    assert_eq!(
        h,
        vec![(run.n_op, LockClass::Folio, run.e_op)],
        "hand-offs {h:?}, N op {}, E op {}",
        run.n_op,
        run.e_op
    );
    // The violation's critical path goes through that hand-off.
    let a = analyze(&t, &AnalyzeOptions::default());
    let path = a
        .blocked_by
        .critical_paths
        .first()
        .expect("a critical path for the hazard's violation");
    assert_eq!((path.victim_op, path.culprit_op), (run.e_op, run.n_op));
    assert!(
        path.waits.iter().any(|w| w.waiter_op == run.n_op
            && w.class == LockClass::Folio
            && w.holder_op == Some(run.e_op)),
        "{path:#?}"
    );
    let text = a.text();
    assert!(text.contains("on the way: worker 1"), "{text}");
    no_cycle(&t, "hazard");
}

#[test]
fn on_locked_the_second_writer_waits_for_the_first_ones_inode_lock() {
    let d = disk(64 << 20);
    let run = scenario::two_writers(&d.path, Build::Locked, Knobs::quiet(), 4 << 20).unwrap();
    let t = trace(run.events.clone(), std::slice::from_ref(&run.check));
    let holds = holds_from_events(&t.events);
    let b = blocked_by(&holds);
    let h = handoffs(&holds, &b);
    assert!(
        h.contains(&(run.b_op, LockClass::Inode, run.a_op)),
        "hand-offs {h:?}, A op {}, B op {}",
        run.a_op,
        run.b_op
    );
    no_cycle(&t, "two writers, locked");
    // lockless-min lets B into A's gap: B never waits on A's inode lock.
    let d = disk(64 << 20);
    let run = scenario::two_writers(&d.path, Build::LocklessMin, Knobs::quiet(), 4 << 20).unwrap();
    let t = trace(run.events.clone(), std::slice::from_ref(&run.check));
    let holds = holds_from_events(&t.events);
    let h = handoffs(&holds, &blocked_by(&holds));
    assert!(
        !h.contains(&(run.b_op, LockClass::Inode, run.a_op)),
        "{h:?}"
    );
    no_cycle(&t, "two writers, lockless-min");
}

//! The controlled scheduler: a schedule id is a pure function of its
//! inputs (events and verdicts equal run after run, for every strategy),
//! `locked` survives exploration, planted bugs are found and replay, shards
//! split the space exactly, and minimization keeps the loss.

use lockline_harness::check::Class;
use lockline_harness::explore::id::{ScheduleId, StrategySpec};
use lockline_harness::explore::minimize::minimize;
use lockline_harness::explore::round::{canonical, run_schedule, ScheduleRun};
use lockline_harness::explore::{self, ExploreSpec, StrategyKind};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

fn scratch() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir_in(explore::scratch_parent()).unwrap();
    let img = d.path().join("explore.img");
    (d, img)
}

fn spec(template: &str, strategy: StrategyKind, img: &Path) -> ExploreSpec {
    let template = format!("{template}/explicit:").parse().unwrap();
    ExploreSpec {
        max_schedules: Some(60),
        ..ExploreSpec::new(template, strategy, img.to_path_buf())
    }
}

#[test]
fn every_strategy_replays_bit_for_bit() {
    let (_d, img) = scratch();
    let base = "v1/lockless-min/qemu-snapshot/t3/k6/w3/e77/short=0.2";
    for strategy in [
        "random:s9",
        "pct:d3:h40:s9",
        "bounded:b2:h40:i777",
        "explicit:s>2,0@0.3>1,4.1>0",
    ] {
        let id: ScheduleId = format!("{base}/{strategy}").parse().unwrap();
        let a = run_schedule(&id, &img).unwrap();
        let b = run_schedule(&id, &img).unwrap();
        assert!(a.lost_control.is_none(), "{id}: {:?}", a.lost_control);
        assert!(a.events.len() > 50, "{id}: {} events", a.events.len());
        assert_eq!(canonical(&a.events), canonical(&b.events), "{id}");
        assert_eq!(a.verdict(), b.verdict(), "{id}");
        assert_eq!(a.switches, b.switches, "{id}");
        // The switches it took are the whole schedule.
        let c = run_schedule(&a.explicit_id(), &img).unwrap();
        assert_eq!(
            canonical(&a.events),
            canonical(&c.events),
            "{id} as explicit"
        );
    }
}

#[test]
fn schedules_differ_from_each_other() {
    // Determinism must not come from ignoring the strategy.
    let (_d, img) = scratch();
    let base = "v1/lockless/claim-mix/t3/k6/w2/e5";
    let runs: Vec<_> = ["random:s1", "random:s2", "pct:d3:h40:s1", "explicit:"]
        .iter()
        .map(|s| {
            let id: ScheduleId = format!("{base}/{s}").parse().unwrap();
            canonical(&run_schedule(&id, &img).unwrap().events)
        })
        .collect();
    for i in 0..runs.len() {
        for j in i + 1..runs.len() {
            assert_ne!(runs[i], runs[j], "schedules {i} and {j} ran alike");
        }
    }
}

#[test]
fn locked_explores_clean() {
    let (_d, img) = scratch();
    for (template, strategy) in [
        (
            "v1/locked/claim-mix/t3/k6/w1/e1/short=0.2",
            StrategyKind::Pct,
        ),
        (
            "v1/locked/qemu-snapshot/t3/k6/w1/e1/short=0.2/afail=0.05",
            StrategyKind::Random,
        ),
        ("v1/locked/truncate-mix/t2/k6/w1/e1", StrategyKind::Bounded),
    ] {
        let s = ExploreSpec {
            all: true,
            ..spec(template, strategy, &img)
        };
        let (r, _) = explore::explore(&s, &AtomicBool::new(false), |_| {}).unwrap();
        assert_eq!(r.schedules, 60);
        assert_eq!(r.violating, 0, "{template}: {:?}", r.first);
        assert_eq!(r.lost_control, 0, "{template}");
    }
}

#[test]
fn planted_migration_bug_is_found_and_replays() {
    let (_d, img) = scratch();
    for strategy in [
        StrategyKind::Pct,
        StrategyKind::Random,
        StrategyKind::Bounded,
    ] {
        let s = spec(
            "v1/locked/overlap/t2/k4/w1/e1/inject=migrate-without-folio-lock",
            strategy,
            &img,
        );
        let (r, run) = explore::explore(&s, &AtomicBool::new(false), |_| {}).unwrap();
        let f = r
            .first
            .unwrap_or_else(|| panic!("{strategy}: not found in 60"));
        let run = run.unwrap();
        assert_eq!(f.id, run.id.to_string());
        for _ in 0..3 {
            let again = run_schedule(&f.id.parse().unwrap(), &img).unwrap();
            assert!(again.violating(), "{}", f.id);
            assert_eq!(canonical(&again.events), canonical(&run.events));
            assert_eq!(again.verdict(), run.verdict());
        }
        let explicit = run_schedule(&f.explicit.parse().unwrap(), &img).unwrap();
        assert_eq!(explicit.verdict(), run.verdict(), "{}", f.explicit);
    }
}

#[test]
fn shards_split_the_space_exactly() {
    let (_d, img) = scratch();
    let base = spec(
        "v1/locked/overlap/t2/k4/w1/e1/inject=migrate-without-folio-lock",
        StrategyKind::Random,
        &img,
    );
    let whole = ExploreSpec {
        all: true,
        max_schedules: Some(48),
        ..base.clone()
    };
    let (w, _) = explore::explore(&whole, &AtomicBool::new(false), |_| {}).unwrap();
    let mut parts = Vec::new();
    let mut ids = Vec::new();
    for k in 1..=3 {
        let s = ExploreSpec {
            shard: (k, 3),
            max_schedules: Some(16),
            ..whole.clone()
        };
        let (r, _) = explore::explore(&s, &AtomicBool::new(false), |p| {
            let explore::Progress::Schedule { index, run } = p;
            ids.push((index, run.id.to_string()));
        })
        .unwrap();
        parts.push(r);
    }
    let m = explore::merge(parts.clone()).unwrap();
    assert_eq!(m.schedules, 48);
    assert_eq!(m.violating, w.violating);
    assert!(w.violating > 0, "the planted bug shows in 48 schedules");
    assert_eq!(
        m.first.as_ref().map(|f| &f.id),
        w.first.as_ref().map(|f| &f.id)
    );
    let mut idx: Vec<u64> = ids.iter().map(|i| i.0).collect();
    idx.sort();
    assert_eq!(idx, (0..48).collect::<Vec<_>>());
    assert!(explore::missing_shards(&m).is_empty());
    // A shard twice, or of another exploration, is refused.
    assert!(explore::merge(vec![parts[0].clone(), parts[0].clone()]).is_err());
    let mut other = parts[1].clone();
    other.template = other.template.replace("/locked/", "/lockless/");
    assert!(explore::merge(vec![parts[0].clone(), other]).is_err());
    let two = explore::merge(vec![parts[0].clone(), parts[2].clone()]).unwrap();
    assert_eq!(explore::missing_shards(&two), vec!["2/3".to_string()]);
}

#[test]
fn minimized_schedule_still_loses_data_and_is_smaller() {
    let (_d, img) = scratch();
    let s = spec(
        "v1/locked/overlap/t2/k4/w1/e1/inject=migrate-without-folio-lock",
        StrategyKind::Random,
        &img,
    );
    let (_, run) = explore::explore(&s, &AtomicBool::new(false), |_| {}).unwrap();
    let run = run.expect("found");
    let m = minimize(&run, &img, &mut |_| {}).unwrap();
    assert!(m.run.violating());
    let kept = |r: &ScheduleRun| (0..r.id.ops as usize).filter(|&i| r.id.kept(i)).count();
    assert!(m.run.switches.len() <= run.switches.len());
    assert!(kept(&m.run) <= kept(&run));
    assert!(
        (m.run.switches.len(), kept(&m.run)) < (run.switches.len(), kept(&run)),
        "nothing shrank: {} switches, {} ops",
        run.switches.len(),
        kept(&run)
    );
    // The printed id is the minimal schedule.
    let again = run_schedule(&m.run.explicit_id(), &img).unwrap();
    assert!(again.violating(), "{}", m.run.explicit_id());
    assert!(matches!(
        m.run.explicit_id().strategy,
        StrategySpec::Explicit { .. }
    ));
}

#[test]
fn hazard_minimizes_to_the_hand_written_schedule() {
    // harness/tests/hazard.rs forces, by hand, two writes E and N into one
    // interleaving, after a truncate that sets i_size: E (extending)
    // stopped holding its folio before it publishes i_size, N's early exit
    // truncating the page cache from the old i_size and waiting for E's
    // folio. Its schedule is two choices: E goes first, and E is stopped
    // there while N runs. The explorer must find that loss on its own (an
    // allocation failure as N's early exit) and shrink it to no more
    // choices, and no more ops than E, N and one that sets i_size (here a
    // cluster allocated out of order, as qcow2 does, may play the
    // truncate's part).
    let (_d, img) = scratch();
    let s = ExploreSpec {
        max_schedules: Some(2000),
        ..spec(
            "v1/lockless/qemu-snapshot/t2/k4/w1/e1/afail=0.1",
            StrategyKind::Random,
            &img,
        )
    };
    let (r, run) = explore::explore(&s, &AtomicBool::new(false), |_| {}).unwrap();
    let run = run.unwrap_or_else(|| panic!("not found in {} schedules", r.schedules));
    let m = minimize(&run, &img, &mut |_| {}).unwrap();
    let kept = (0..m.run.id.ops as usize)
        .filter(|&i| m.run.id.kept(i))
        .count();
    assert!(
        m.run.switches.len() <= 2 && kept <= 3,
        "{}: {} switches, {kept} ops",
        m.run.explicit_id(),
        m.run.switches.len()
    );
    assert!(
        !m.run.id.flusher && !m.run.id.migrate,
        "{}",
        m.run.explicit_id()
    );
    let last = m.run.checks.last().unwrap();
    assert!(
        last.violations.iter().any(|v| v.class == Class::Dropped),
        "{last}"
    );
    // The same schedule on locked keeps every byte.
    let mut on_locked = m.run.explicit_id();
    on_locked.build = lockline_engine::Build::Locked;
    let l = run_schedule(&on_locked, &img).unwrap();
    assert!(!l.violating(), "{}", l.checks.last().unwrap());
}

/// Issue 21's bug, planted back (cut-to-recorded-size), as the explorer's
/// random walk found it on fsx-mix and `replay --minimize` shrank it: the
/// first op writes past EOF, the flusher's pass is preempted right after it
/// builds the IO, the truncate down runs and waits for that IO, and a later
/// write past EOF brings the cut bytes back. Without the planted bug the
/// same schedule is clean on every build.
#[test]
fn cut_data_coming_back_replays_from_its_minimal_schedule() {
    let (_d, img) = scratch();
    let tail = "fsx-mix/t1/k8/w1036818320190/eb67227b850e67bb0";
    let sched = "bg=flusher/ops=10100010/explicit:0@2.2>1,1.3>0";
    let id: ScheduleId = format!("v1/locked/{tail}/inject=cut-to-recorded-size/{sched}")
        .parse()
        .unwrap();
    let run = run_schedule(&id, &img).unwrap();
    assert!(run.violating(), "{id}");
    let v = &run.checks.last().unwrap().violations[0];
    assert_eq!(v.class, Class::Stale);
    assert!(
        v.explanation.starts_with("truncated data came back"),
        "{}",
        v.explanation
    );
    for build in ["locked", "lockless", "lockless-min"] {
        let id: ScheduleId = format!("v1/{build}/{tail}/{sched}").parse().unwrap();
        let run = run_schedule(&id, &img).unwrap();
        assert!(!run.violating(), "{id}: {:?}", run.checks.last());
    }
}

//! `analyze` on a hand-built trace whose statistics are known, and on real
//! engine runs: the protocol lints stay silent on the locked build, name the
//! lockless build's post-EOF truncate under the add lock alone, and catch
//! the planted migration bug.

use lockline_analysis::report::{analyze, AnalyzeOptions};
use lockline_analysis::{Trace, TraceMeta};
use lockline_engine::probe::{Code, Event, EventKind, LockClass, LockMode, NO_FOLIO};
use lockline_engine::{Build, Knobs};
use lockline_harness::session::{quiet_progress, run_session, SessionSpec};
use lockline_harness::workload::{RunSpec, Stop, WorkloadKind};

fn ev(ts: u64, tid: u32, kind: EventKind, class: LockClass, folio: u64) -> Event {
    Event {
        ts_ns: ts,
        tid,
        code: Code::pack(kind, class as u8, LockMode::Exclusive as u8),
        inode: 3,
        folio,
        op: 0,
        a: 0,
        b: 0,
        fid: 0,
    }
}

#[test]
fn statistics_by_hand() {
    use EventKind::*;
    use LockClass::*;
    let events = vec![
        ev(10, 1, LockAcquired, Inode, NO_FOLIO),
        ev(15, 2, LockWait, Inode, NO_FOLIO),
        ev(30, 1, LockReleased, Inode, NO_FOLIO),
        ev(30, 2, LockAcquired, Inode, NO_FOLIO),
        ev(40, 1, LockAcquired, Folio, 0),
        ev(41, 2, LockAcquired, Folio, 16),
        ev(45, 1, LockReleased, Folio, 0),
        ev(49, 2, LockReleased, Folio, 16),
        ev(50, 2, LockReleased, Inode, NO_FOLIO),
    ];
    let t = Trace {
        meta: TraceMeta::default(),
        events,
        ..Trace::default()
    };
    let a = analyze(&t, &AnalyzeOptions::default());
    let inode = a.locks.iter().find(|l| l.class == Inode).unwrap();
    assert_eq!(
        (
            inode.hold.count,
            inode.hold.p50_ns,
            inode.hold.max_ns,
            inode.hold.total_ns
        ),
        (2, 20, 20, 40)
    );
    assert_eq!((inode.wait.count, inode.wait.total_ns), (1, 15));
    assert_eq!(inode.contention_ratio, 0.5);
    let folio = a.locks.iter().find(|l| l.class == Folio).unwrap();
    assert_eq!(
        (
            folio.hold.count,
            folio.hold.p50_ns,
            folio.hold.p99_ns,
            folio.hold.total_ns
        ),
        (2, 5, 8, 13)
    );
    let th = |tid| a.threads.iter().find(|t| t.tid == tid).unwrap();
    assert_eq!(th(1).held_ns["inode"], 20);
    assert_eq!(th(1).held_ns["folio"], 5);
    assert_eq!(th(2).held_ns["inode"], 20);
    assert_eq!(th(2).held_ns["folio"], 8);
    assert_eq!(th(2).waited_ns["inode"], 15);
    assert!(!th(1).waited_ns.contains_key("inode"));
    assert_eq!(a.events_by_kind["lock_acquired"], 4);
    assert!(a.findings.is_empty(), "{:?}", a.findings);
    assert!(a.text().contains("pagecache") || a.text().contains("inode"));
    // Thread 2 waited for thread 1's inode lock and had it from its release.
    assert_eq!((a.blocked_by.waits, a.blocked_by.handed_off), (1, 1));
    let w = &a.blocked_by.longest[0];
    assert_eq!((w.waiter_tid, w.holder_tid), (2, Some(1)));
    assert_eq!((w.wait_ns, w.released_ns, w.granted_ns), (15, Some(30), 30));
}

#[test]
fn rounds_of_threads_are_summed_by_role_unless_asked() {
    use lockline_engine::probe::ThreadRole;
    // Two rounds, each with its own worker 0 thread.
    let role = |ts, tid| Event {
        code: Code::pack(EventKind::ThreadRole, ThreadRole::Worker as u8, 0),
        ..ev(ts, tid, EventKind::ThreadRole, LockClass::Inode, NO_FOLIO)
    };
    let events = vec![
        role(1, 7),
        ev(2, 7, EventKind::LockAcquired, LockClass::Inode, NO_FOLIO),
        ev(4, 7, EventKind::LockReleased, LockClass::Inode, NO_FOLIO),
        role(10, 8),
        ev(11, 8, EventKind::LockAcquired, LockClass::Inode, NO_FOLIO),
        ev(14, 8, EventKind::LockReleased, LockClass::Inode, NO_FOLIO),
    ];
    let t = Trace {
        events,
        ..Trace::default()
    };
    let a = analyze(&t, &AnalyzeOptions::default());
    assert_eq!(a.threads.len(), 2);
    assert_eq!(a.roles.len(), 1);
    let r = &a.roles[0];
    assert_eq!(
        (r.name.as_str(), r.threads, r.held_ns["inode"]),
        ("worker 0", 2, 5)
    );
    let text = a.text();
    assert!(text.contains("per role, 2 threads"), "{text}");
    assert!(!text.contains("tid 7"), "{text}");
    let each = analyze(
        &t,
        &AnalyzeOptions {
            per_thread: true,
            ..AnalyzeOptions::default()
        },
    )
    .text();
    assert!(each.contains("tid 7") && each.contains("tid 8"), "{each}");
}

/// A run of `workload` on `build` with the demo's busy mm, as a trace.
fn run(build: Build, workload: WorkloadKind, seed: u64, inject: Option<&str>) -> Trace {
    let dir = tempfile::tempdir().unwrap();
    let mut knobs = Knobs {
        writeback_interval_ms: 5,
        reclaim_limit_bytes: 4 << 20,
        migration_interval_us: 500,
        short_copy_rate: 0.05,
        seed,
        ..Knobs::default()
    };
    if let Some(bug) = inject {
        knobs.inject.enable(bug).unwrap();
    }
    let spec = RunSpec {
        workload,
        threads: 4,
        stop: Stop::Ops(600),
        seed,
        file: "/f".into(),
        file_size: 16 << 20,
        write_size: 65536,
        readers: 0,
    };
    let mut s = SessionSpec::new(dir.path().join("d.img"), build, knobs, spec);
    s.mkfs = Some(256 << 20);
    let (report, events) = run_session(&s, &quiet_progress()).unwrap();
    Trace::from_run(TraceMeta::default(), events, &report.summary.checks, vec![])
}

fn findings(t: &Trace, lint: &str) -> u64 {
    let a = analyze(t, &AnalyzeOptions::default());
    a.lints.iter().find(|l| l.name == lint).unwrap().findings
}

const PROTOCOL: [&str; 4] = [
    "dirty-without-add-lock",
    "isize-without-inode-lock",
    "truncate-without-block-lock",
    "remove-without-folio-lock",
];

#[test]
fn locked_build_keeps_the_protocol() {
    for w in [
        WorkloadKind::AppendMix,
        WorkloadKind::TruncateMix,
        WorkloadKind::QemuSnapshot,
    ] {
        let t = run(Build::Locked, w, 1, None);
        for lint in PROTOCOL {
            assert_eq!(findings(&t, lint), 0, "{lint} on locked {w}");
        }
        assert_eq!(findings(&t, "unreleased-lock"), 0);
    }
}

#[test]
fn lockless_truncates_post_eof_under_the_add_lock_alone() {
    // The cleanup runs with the add lock alone after a non-extending write
    // bails out (need-inode-lock): claim-mix's large fills of regions that
    // a later fill already put inside i_size. Hunt seeds until one shows it.
    let hit = (1..=15).find(|&seed| {
        let t = run(Build::Lockless, WorkloadKind::ClaimMix, seed, None);
        assert_eq!(findings(&t, "dirty-without-add-lock"), 0);
        findings(&t, "truncate-without-block-lock") > 0
    });
    assert!(
        hit.is_some(),
        "no post-EOF truncate without the block lock in 15 seeds"
    );
}

#[test]
fn planted_migration_bug_is_named() {
    let t = run(
        Build::Locked,
        WorkloadKind::QemuSnapshot,
        2,
        Some("migrate-without-folio-lock"),
    );
    assert!(findings(&t, "remove-without-folio-lock") > 0);
}

#[test]
fn engine_rules_do_not_apply_to_a_kernel_trace() {
    use EventKind::*;
    // What a kernel ext4 trace holds: dirtied folios and lock contention,
    // none of the engine's own lock events.
    let mut dirty = ev(10, 1, FolioDirtied, LockClass::Inode, 4);
    dirty.code = Code::pack(FolioDirtied, 0, 0);
    let events = vec![
        ev(5, 1, LockWait, LockClass::Kernel, 0xffff_8880),
        ev(6, 1, LockAcquired, LockClass::Kernel, 0xffff_8880),
        dirty,
    ];
    let t = Trace {
        events,
        ..Trace::default()
    };
    let a = analyze(&t, &AnalyzeOptions::default());
    for l in &a.lints {
        let engine = l.name != "unreleased-lock";
        assert_eq!(l.applies, !engine, "{}", l.name);
        assert_eq!(l.findings, 0, "{}", l.name);
    }
    assert!(a.text().contains("n/a"));
}

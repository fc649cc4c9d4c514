//! The consistency rules on hand-built traces, each impossibility named,
//! and on real engine runs, where none may appear.

use super::*;
use lockline_engine::probe::{Code, OpKind, NO_FOLIO};
use lockline_harness::history::{OpRecord, UNFINISHED};

const INO: u64 = 5;

fn lock_ev(ts: u64, tid: u32, kind: EventKind, class: LockClass, mode: LockMode) -> Event {
    Event {
        ts_ns: ts,
        tid,
        code: Code::pack(kind, class as u8, mode as u8),
        inode: INO,
        folio: NO_FOLIO,
        op: 0,
        a: 0,
        b: 0,
        fid: NO_FID,
    }
}

fn default_mode(class: LockClass) -> LockMode {
    match class {
        LockClass::PagecacheAdd | LockClass::PagecacheBlock => LockMode::Shared,
        _ => LockMode::Exclusive,
    }
}

fn acq(ts: u64, tid: u32, class: LockClass) -> Event {
    lock_ev(ts, tid, EventKind::LockAcquired, class, default_mode(class))
}

fn rel(ts: u64, tid: u32, class: LockClass) -> Event {
    lock_ev(ts, tid, EventKind::LockReleased, class, default_mode(class))
}

fn shared(e: Event) -> Event {
    Event {
        code: Code::pack(
            e.kind().unwrap(),
            e.lock_class().unwrap() as u8,
            LockMode::Shared as u8,
        ),
        ..e
    }
}

fn folio(e: Event, index: u64, fid: u64) -> Event {
    Event {
        folio: index,
        fid,
        ..e
    }
}

fn trace(events: Vec<Event>) -> Trace {
    Trace {
        events,
        ..Trace::default()
    }
}

fn count(c: &Consistency, rule: &str) -> u64 {
    c.counts.iter().find(|(r, _)| *r == rule).unwrap().1
}

#[test]
fn exclusive_overlap_on_i_lock() {
    use LockClass::ILock;
    let c = check(&trace(vec![
        acq(100, 10, ILock),
        acq(120, 11, ILock),
        rel(172, 10, ILock),
        rel(200, 11, ILock),
    ]));
    assert_eq!(c.total(), 1, "{c:?}");
    let f = &c.findings[0];
    assert_eq!(f.rule, "exclusive-overlap");
    assert_eq!((f.begin_ns, f.end_ns), (120, 172));
    assert_eq!(f.tids, vec![10, 11]);
    assert_eq!(f.events, vec![0, 1, 2]);
    assert_eq!(
        f.message,
        "i_lock of inode 5 held by tids 10 and 11 at once for 52 ns"
    );
    assert_eq!(c.untrusted, vec![(120, 172)]);
    assert_eq!(c.summary_line(4), "INCONSISTENT: 1 exclusive-overlap");
}

#[test]
fn exclusive_overlap_on_inode_and_folio_locks() {
    use LockClass::{Folio, Inode};
    let c = check(&trace(vec![
        // Exclusive against shared.
        shared(acq(10, 1, Inode)),
        acq(15, 2, Inode),
        shared(rel(18, 1, Inode)),
        rel(30, 2, Inode),
        // Folio by index (no identity), never released by tid 4.
        folio(acq(40, 3, Folio), 16, NO_FID),
        folio(acq(45, 4, Folio), 16, NO_FID),
        folio(rel(50, 3, Folio), 16, NO_FID),
        lock_ev(
            60,
            9,
            EventKind::OpBegin,
            LockClass::Inode,
            LockMode::Exclusive,
        ),
    ]));
    assert_eq!(count(&c, "exclusive-overlap"), 2, "{c:?}");
    let [inode, folio_f] = &c.findings[..] else {
        panic!("{c:?}")
    };
    assert_eq!(
        (inode.begin_ns, inode.end_ns, &inode.tids[..]),
        (15, 18, &[1, 2][..])
    );
    assert!(
        inode
            .message
            .contains("exclusively by tid 2 and shared by tid 1"),
        "{}",
        inode.message
    );
    assert_eq!((folio_f.begin_ns, folio_f.end_ns), (45, 50));
    assert_eq!((folio_f.folio, folio_f.fid), (Some(16), None));
    assert_eq!(folio_f.tids, vec![3, 4]);

    // Never released by either: the window runs to the trace's end.
    let c = check(&trace(vec![
        folio(acq(40, 3, Folio), 16, 7),
        folio(acq(45, 4, Folio), 16, 7),
        acq(90, 3, LockClass::ILock),
    ]));
    let f = &c.findings[0];
    assert_eq!((f.begin_ns, f.end_ns, f.fid), (45, 90, Some(7)));
    assert!(
        f.message.contains("until") || f.message.contains("ends"),
        "{}",
        f.message
    );
}

#[test]
fn add_block_overlap() {
    use LockClass::{PagecacheAdd, PagecacheBlock};
    let c = check(&trace(vec![
        acq(10, 1, PagecacheAdd),
        acq(12, 2, PagecacheAdd),
        acq(20, 3, PagecacheBlock),
        rel(30, 1, PagecacheAdd),
        rel(35, 3, PagecacheBlock),
        rel(40, 2, PagecacheAdd),
        // One thread holding both sides.
        acq(50, 4, PagecacheBlock),
        acq(55, 4, PagecacheAdd),
        rel(56, 4, PagecacheAdd),
        rel(57, 4, PagecacheBlock),
    ]));
    assert_eq!(count(&c, "add-block-overlap"), 3, "{c:?}");
    assert_eq!(count(&c, "exclusive-overlap"), 0);
    let w: Vec<_> = c
        .findings
        .iter()
        .map(|f| (f.begin_ns, f.end_ns, f.tids.clone()))
        .collect();
    assert_eq!(
        w,
        vec![
            (20, 30, vec![1, 3]),
            (20, 35, vec![2, 3]),
            (55, 56, vec![4]),
        ]
    );
    assert!(c.findings[0]
        .message
        .contains("for add by tid 1 and for block by tid 3"));
    assert!(c.findings[2]
        .message
        .contains("both add and block by tid 4"));
    assert_eq!(c.untrusted, vec![(20, 35), (55, 56)]);
}

#[test]
fn release_without_acquire() {
    use LockClass::{Folio, ILock};
    let c = check(&trace(vec![
        acq(10, 1, ILock),
        // Another thread's hold is not this thread's.
        rel(20, 2, ILock),
        rel(30, 1, ILock),
        rel(40, 1, ILock),
        folio(acq(50, 1, Folio), 0, 3),
        // Same index, other folio.
        folio(rel(60, 1, Folio), 0, 4),
    ]));
    assert_eq!(c.total(), 3, "{c:?}");
    let got: Vec<_> = c
        .findings
        .iter()
        .map(|f| (f.rule, f.begin_ns, f.tids[0], f.events.clone()))
        .collect();
    let r = "release-without-acquire";
    assert_eq!(
        got,
        vec![
            (r, 20, 2, vec![1]),
            (r, 40, 1, vec![3]),
            (r, 60, 1, vec![5])
        ]
    );
    assert_eq!(c.findings[2].fid, Some(4));
    assert_eq!(
        c.findings[0].message,
        "tid 2 releases the i_lock of inode 5 without holding it"
    );
}

#[test]
fn op_ends_before_begins() {
    let op = |op: u64, begin_ns: u64, end_ns: u64| OpRecord {
        op,
        tid: 8,
        kind: OpKind::Write,
        ino: INO,
        offset: 0,
        len: 4096,
        begin_ns,
        end_ns,
        result: 4096,
        thread: None,
        round: 0,
    };
    let mut t = trace(vec![]);
    t.ops = vec![op(1, 100, 150), op(2, 200, 180), op(3, 300, UNFINISHED)];
    let c = check(&t);
    assert_eq!(c.total(), 1, "{c:?}");
    let f = &c.findings[0];
    assert_eq!(f.rule, "op-ends-before-begins");
    assert_eq!(
        (f.begin_ns, f.end_ns, f.op, &f.tids[..]),
        (180, 200, Some(2), &[8][..])
    );
    assert_eq!(f.message, "op 2 (write, tid 8) ends 20 ns before it begins");
}

#[test]
fn time_backwards() {
    let ev = |ts, tid| {
        lock_ev(
            ts,
            tid,
            EventKind::OpBegin,
            LockClass::Inode,
            LockMode::Exclusive,
        )
    };
    let c = check(&trace(vec![
        ev(10, 1),
        ev(50, 1),
        ev(30, 2),
        ev(40, 1),
        ev(45, 1),
    ]));
    assert_eq!(c.total(), 1, "{c:?}");
    let f = &c.findings[0];
    assert_eq!(f.rule, "time-backwards");
    assert_eq!((f.begin_ns, f.end_ns, &f.tids[..]), (40, 50, &[1][..]));
    assert_eq!(f.events, vec![1, 3]);
}

#[test]
fn clean_handoffs_and_shared_holders() {
    use LockClass::*;
    let f = |e, fid| folio(e, 32, fid);
    let events = vec![
        shared(acq(1, 1, Inode)),
        shared(acq(2, 2, Inode)),
        acq(3, 1, PagecacheAdd),
        acq(4, 2, PagecacheAdd),
        // A recursive add hold.
        acq(5, 2, PagecacheAdd),
        f(acq(6, 1, Folio), 9),
        acq(7, 1, ILock),
        rel(8, 1, ILock),
        f(rel(9, 1, Folio), 9),
        f(acq(10, 2, Folio), 9),
        acq(11, 2, ILock),
        rel(12, 2, ILock),
        f(rel(13, 2, Folio), 9),
        f(acq(14, 1, Folio), 9),
        acq(15, 1, ILock),
        rel(16, 1, ILock),
        f(rel(17, 1, Folio), 9),
        rel(18, 2, PagecacheAdd),
        rel(19, 2, PagecacheAdd),
        rel(20, 1, PagecacheAdd),
        shared(rel(21, 1, Inode)),
        shared(rel(22, 2, Inode)),
        acq(23, 3, PagecacheBlock),
        acq(24, 4, PagecacheBlock),
        rel(25, 3, PagecacheBlock),
        rel(26, 4, PagecacheBlock),
        acq(27, 1, Inode),
        rel(28, 1, Inode),
        // Kernel contention says nothing about exclusivity.
        acq(29, 5, Kernel),
        acq(30, 6, Kernel),
        rel(31, 7, Kernel),
        // Held at the end: another lint's business.
        acq(32, 2, Inode),
    ];
    let c = check(&trace(events));
    assert!(c.is_clean(), "{c:?}");
    assert!(c.findings.is_empty() && c.untrusted.is_empty());
    assert_eq!(c.counts.len(), RULES.len());
    assert_eq!(
        c.summary_line(32),
        "consistent: 0 impossibilities in 32 events"
    );
}

#[test]
fn tie_release_and_acquire_at_one_ns_is_clean() {
    use LockClass::{Folio, ILock};
    // Stored by (ts, tid): tid 1's acquire sorts before tid 2's release.
    let c = check(&trace(vec![
        acq(10, 2, ILock),
        acq(20, 1, ILock),
        rel(20, 2, ILock),
        rel(30, 1, ILock),
        // A thread's own release and re-acquire at one ns.
        folio(acq(40, 3, Folio), 0, 5),
        folio(rel(50, 3, Folio), 0, 5),
        folio(acq(50, 3, Folio), 0, 5),
        // And an acquire and release at one ns by one thread.
        folio(rel(60, 3, Folio), 0, 5),
        folio(acq(70, 4, Folio), 0, 5),
        folio(rel(70, 4, Folio), 0, 5),
        // A lower tid's hold that outlasts the instant, a higher tid's
        // that begins and ends within it.
        folio(acq(80, 5, Folio), 0, 5),
        folio(acq(80, 6, Folio), 0, 5),
        folio(rel(80, 6, Folio), 0, 5),
        folio(rel(90, 5, Folio), 0, 5),
    ]));
    assert!(c.is_clean(), "{c:?}");
}

#[test]
fn migration_two_fids_at_one_index_is_clean() {
    use LockClass::Folio;
    let c = check(&trace(vec![
        folio(acq(10, 1, Folio), 48, 100),
        // The migrator holds old and new at one index.
        folio(acq(11, 2, Folio), 48, 101),
        folio(acq(12, 2, Folio), 48, 102),
        folio(rel(13, 2, Folio), 48, 102),
        folio(rel(14, 1, Folio), 48, 100),
        folio(rel(15, 2, Folio), 48, 101),
    ]));
    assert!(c.is_clean(), "{c:?}");
}

#[test]
fn overlaps_around_a_window() {
    let c = Consistency {
        untrusted: vec![(100, 200), (300, 300)],
        ..Consistency::default()
    };
    assert!(!c.overlaps(0, 99));
    assert!(c.overlaps(0, 100));
    assert!(c.overlaps(150, 160));
    assert!(c.overlaps(200, 250));
    assert!(!c.overlaps(201, 299));
    assert!(c.overlaps(250, 1000));
    assert!(c.overlaps(300, 300));
    assert!(!c.overlaps(301, u64::MAX));
}

#[test]
fn counts_go_past_the_cap() {
    let n = MAX_PER_RULE as u64 + 5;
    let events = (0..n).map(|i| rel(i * 10, 1, LockClass::ILock)).collect();
    let mut t = trace(events);
    t.meta.lost_events = 12;
    let c = check(&t);
    assert_eq!(c.findings.len(), MAX_PER_RULE);
    assert_eq!(count(&c, "release-without-acquire"), n);
    assert_eq!(c.untrusted.len(), n as usize);
    assert!(c.overlaps((n - 1) * 10, (n - 1) * 10));
    assert_eq!(
        c.summary_line(n as usize),
        format!("INCONSISTENT: {n} release-without-acquire (12 lost events)")
    );
}

#[test]
fn synthetic_trace_is_clean() {
    let mut t = crate::synth::generate(200_000, 4, 3);
    let c = check(&t);
    assert!(c.is_clean(), "{:?}", &c.findings[..c.findings.len().min(5)]);
    // Through a 1 us clock: hundreds of events per instant, stored by
    // tid, hand-offs inside each.
    for e in &mut t.events {
        e.ts_ns /= 1000;
    }
    t.events.sort_by_key(|e| (e.ts_ns, e.tid));
    let c = check(&t);
    assert!(c.is_clean(), "{:?}", &c.findings[..c.findings.len().min(5)]);
    // A block hold from before an instant to the end meets every add
    // hold from that instant on, those inside instants included.
    let at = t.events[t.events.len() / 2].ts_ns;
    let from = t.events.partition_point(|e| e.ts_ns < at);
    let later = t.events[from..]
        .iter()
        .filter(|e| {
            e.lock_class() == Some(LockClass::PagecacheAdd)
                && e.kind() == Some(EventKind::LockAcquired)
        })
        .count() as u64;
    assert!(later > 1000);
    // And the add holds it finds already open.
    let open = t.events[..from]
        .iter()
        .filter(|e| e.lock_class() == Some(LockClass::PagecacheAdd))
        .fold(0i64, |n, e| match e.kind() {
            Some(EventKind::LockAcquired) => n + 1,
            _ => n - 1,
        }) as u64;
    let held = Event {
        ts_ns: at - 1,
        inode: crate::synth::INO,
        ..acq(0, 1, LockClass::PagecacheBlock)
    };
    t.events.insert(from, held);
    let c = check(&t);
    assert_eq!(
        c.total(),
        later + open,
        "{}",
        c.summary_line(t.events.len())
    );
    assert_eq!(count(&c, "add-block-overlap"), later + open);
    assert_eq!(c.findings.len(), MAX_PER_RULE);
    assert!(c.findings.iter().all(|f| f.tids.contains(&1)));
    let end = t.events.last().unwrap().ts_ns;
    let first = if open > 0 { at - 1 } else { at };
    assert_eq!(c.untrusted.first().map(|w| w.0), Some(first));
    assert!(c.overlaps(end, end) && !c.overlaps(0, first - 1));
}

#[test]
fn engine_runs_are_clean() {
    use lockline_engine::{Build, Knobs};
    use lockline_harness::session::{quiet_progress, run_session, SessionSpec};
    use lockline_harness::workload::{RunSpec, Stop, WorkloadKind};
    for (build, workload) in [
        (Build::Lockless, WorkloadKind::QemuSnapshot),
        (Build::Locked, WorkloadKind::TruncateMix),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let run = RunSpec {
            workload,
            threads: 4,
            stop: Stop::Ops(400),
            seed: 5,
            file: "/c".into(),
            file_size: 8 << 20,
            write_size: 65536,
            readers: 0,
        };
        let mut s = SessionSpec::new(dir.path().join("d.img"), build, Knobs::busy(5), run);
        s.mkfs = Some(128 << 20);
        let (report, events) = run_session(&s, &quiet_progress()).unwrap();
        let t = Trace::from_run(
            crate::trace::TraceMeta::default(),
            events,
            &report.summary.checks,
            vec![],
        );
        assert!(t.events.len() > 1000);
        let c = check(&t);
        assert!(
            c.is_clean(),
            "{build:?} {workload}: {}: {:?}",
            c.summary_line(t.events.len()),
            &c.findings[..c.findings.len().min(5)]
        );
        // A lost acquire, as a kernel trace's lost events leave one.
        let mut t = t;
        let folio_locks = |t: &Trace| {
            t.events
                .iter()
                .filter(|e| {
                    e.kind() == Some(EventKind::LockAcquired)
                        && e.lock_class() == Some(LockClass::Folio)
                })
                .count()
        };
        assert!(folio_locks(&t) > 10);
        assert!(t.events.iter().any(|e| e.fid != NO_FID));
        let lost = t
            .events
            .iter()
            .position(|e| {
                e.kind() == Some(EventKind::LockAcquired)
                    && e.lock_class() == Some(LockClass::Folio)
            })
            .unwrap();
        t.events.remove(lost);
        let c = check(&t);
        assert_eq!(c.total(), 1, "{:?}", c.findings);
        assert_eq!(count(&c, "release-without-acquire"), 1);
    }
}

//! The store round-trips a trace exactly (nulls, lists and empty tables
//! included) and turns every kind of bad input into its own one-line error.

use lockline_analysis::{synth, CounterSample, Trace, ViolationRow};
use lockline_store::{read, read_meta, write, write_csv, StoreError};
use std::path::Path;

fn sample() -> Trace {
    let mut t = synth::generate(20_000, 3, 9);
    // An unfinished op: its end_ns is written as null.
    if let Some(o) = t.ops.last_mut() {
        o.end_ns = lockline_harness::history::UNFINISHED;
        o.result = 0;
    }
    // Workload threads' ops carry their stamp index; others null.
    // and their checked round.
    for (i, o) in t.ops.iter_mut().enumerate() {
        o.thread = (i % 3 != 0).then_some(i as u32 % 4);
        o.round = i as u32 / 100;
    }
    t.meta.clock = "tsc-rdtscp".into();
    t.meta.clock_note = "TSC via rdtscp".into();
    // Content digests of every kind, one extent empty (a check of an
    // empty file).
    use lockline_engine::probe::{provenance::Extent, ExtentKind};
    t.extents = ExtentKind::ALL
        .iter()
        .enumerate()
        .map(|(i, &kind)| Extent {
            ts_ns: 1000 + i as u64,
            tid: 7,
            kind,
            op: 3 + i as u64,
            inode: 2,
            tag: i as u64,
            first_sector: 8 * i as u64,
            len: 512 * i as u64,
            digests: (0..i as u32).map(|d| d.wrapping_mul(0x9e37_79b9)).collect(),
        })
        .collect();
    t.violations = vec![
        ViolationRow {
            id: 0,
            round: 1,
            check: "after-run".into(),
            class: "dropped".into(),
            ino: 2,
            first_sector: 8,
            nr_sectors: 8,
            folio_index: 1,
            folio_first: Some(0),
            folio_order: Some(4),
            ops: vec![3, 17],
            explanation: "op 3 returned and nothing later covers it".into(),
        },
        ViolationRow {
            id: 1,
            round: 2,
            check: "after-remount".into(),
            class: "torn".into(),
            ino: 2,
            first_sector: 100,
            nr_sectors: 1,
            folio_index: 12,
            folio_first: None,
            folio_order: None,
            ops: vec![],
            explanation: "mixed".into(),
        },
    ];
    t.counters = vec![
        CounterSample {
            ts_ns: 5,
            track: "dirty_folios".into(),
            tid: 0,
            value: 3.0,
        },
        CounterSample {
            ts_ns: 9,
            track: "perf.page_faults".into(),
            tid: 1001,
            value: 1.5e9,
        },
    ];
    t
}

/// An order-sensitive digest of every field of every table.
fn checksum(t: &Trace) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |v: u64| {
        h ^= v;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for e in &t.events {
        for v in [
            e.ts_ns,
            e.tid as u64,
            e.code as u64,
            e.inode,
            e.folio,
            e.op,
            e.a,
            e.b,
            e.fid,
        ] {
            mix(v);
        }
    }
    for o in &t.ops {
        for v in [
            o.op,
            o.tid as u64,
            o.kind as u64,
            o.ino,
            o.offset,
            o.len,
            o.begin_ns,
            o.end_ns,
            o.result as u64,
            o.thread.map_or(u64::MAX, u64::from),
            o.round as u64,
        ] {
            mix(v);
        }
    }
    for v in &t.violations {
        mix(v.id as u64);
        mix(v.round as u64);
        mix(v.first_sector);
        v.ops.iter().for_each(|&o| mix(o));
        mix(v.folio_first.unwrap_or(u64::MAX));
    }
    for c in &t.counters {
        mix(c.ts_ns);
        mix(c.value.to_bits());
    }
    h
}

#[test]
fn round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let t = sample();
    let p = dir.path().join("trace");
    write(&p, &t).unwrap();
    let back = read(&p).unwrap();
    assert_eq!(back.events.len(), t.events.len());
    assert_eq!(back.ops.len(), t.ops.len());
    assert_eq!(checksum(&back), checksum(&t));
    assert_eq!(back, t);
    // Any table file names the trace too.
    assert_eq!(read(&p.join("ops.parquet")).unwrap(), t);
    assert_eq!(read_meta(&p).unwrap(), t.meta);
    // Overwriting an earlier trace is allowed and leaves no temporaries.
    let mut t2 = t.clone();
    t2.violations.clear();
    t2.counters.clear();
    write(&p, &t2).unwrap();
    assert_eq!(read(&p).unwrap(), t2);
    let names: Vec<String> = std::fs::read_dir(&p)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), lockline_store::TABLES.len(), "{names:?}");
}

#[test]
fn csv_export_has_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let t = sample();
    write_csv(dir.path(), &t).unwrap();
    let v = std::fs::read_to_string(dir.path().join("violations.csv")).unwrap();
    assert!(v.lines().next().unwrap().contains("ops"));
    assert!(v.contains("3 17"), "{v}");
    let e = std::fs::read_to_string(dir.path().join("events.csv")).unwrap();
    assert_eq!(e.lines().count(), t.events.len() + 1);
}

fn expect_err(p: &Path) -> StoreError {
    let e = read(p).expect_err("bad input read as a trace");
    let msg = e.to_string();
    assert_eq!(msg.lines().count(), 1, "{msg}");
    assert!(e.is_user_error(), "{msg}");
    e
}

#[test]
fn bad_input_gets_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(matches!(
        expect_err(&d.join("nope")),
        StoreError::Missing(_)
    ));

    let csv = d.join("events.csv");
    std::fs::write(&csv, "ts_ns,tid\n1,2\n").unwrap();
    let e = expect_err(&csv);
    assert!(e.to_string().contains("CSV"), "{e}");

    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(matches!(expect_err(&empty), StoreError::NotATrace { .. }));

    let t = sample();
    let good = d.join("good");
    write(&good, &t).unwrap();

    // Truncated events table.
    let cut = d.join("cut");
    write(&cut, &t).unwrap();
    let ev = cut.join("events.parquet");
    let bytes = std::fs::read(&ev).unwrap();
    std::fs::write(&ev, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(expect_err(&cut), StoreError::Corrupt { .. }));

    // Garbage throughout: never a panic, and either an error or (if the
    // damage hit only values) a trace that reads.
    for seed in 0..16u64 {
        let bad = d.join(format!("flip{seed}"));
        write(&bad, &t).unwrap();
        let ev = bad.join("events.parquet");
        let mut b = std::fs::read(&ev).unwrap();
        let n = b.len();
        for i in 0..64 {
            let at = ((seed * 7919 + i * 104_729) as usize) % n;
            b[at] ^= 0x5a;
        }
        std::fs::write(&ev, &b).unwrap();
        if let Err(e) = read(&bad) {
            assert_eq!(e.to_string().lines().count(), 1, "{e}");
        }
    }

    // Another schema version: version 1 had no folio identities and
    // repeated op ids, and is refused in one line.
    let v1 = d.join("v1");
    let mut t1 = t.clone();
    t1.meta.schema_version = 1;
    write(&v1, &t1).unwrap();
    let e = expect_err(&v1);
    assert!(matches!(e, StoreError::Version { found: 1, .. }), "{e}");
    assert_eq!(e.to_string().lines().count(), 1, "{e}");

    // A table with a column of the wrong type: ops.parquet swapped in as events.
    let wrong = d.join("wrong");
    write(&wrong, &t).unwrap();
    std::fs::copy(good.join("ops.parquet"), wrong.join("events.parquet")).unwrap();
    assert!(matches!(expect_err(&wrong), StoreError::Column { .. }));

    // Writing into someone's directory is refused and touches nothing.
    let busy = d.join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    assert!(matches!(write(&busy, &t), Err(StoreError::Occupied(_))));
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);
}

#[test]
fn a_real_run_round_trips() {
    use lockline_engine::{Build, Knobs};
    use lockline_harness::session::{quiet_progress, run_session, SessionSpec};
    use lockline_harness::workload::{RunSpec, Stop, WorkloadKind};
    let dir = tempfile::tempdir().unwrap();
    let run = RunSpec {
        workload: WorkloadKind::TruncateMix,
        threads: 3,
        stop: Stop::Ops(300),
        seed: 4,
        file: "/t".into(),
        file_size: 8 << 20,
        write_size: 65536,
        readers: 0,
    };
    let mut spec = SessionSpec::new(
        dir.path().join("d.img"),
        Build::Lockless,
        Knobs::default(),
        run,
    );
    spec.mkfs = Some(128 << 20);
    let (report, events) = run_session(&spec, &quiet_progress()).unwrap();
    let n = events.len();
    let t = Trace::from_run(
        lockline_analysis::TraceMeta::default(),
        events,
        &report.summary.checks,
        lockline_analysis::counters::derive(&[]),
    );
    let p = dir.path().join("trace");
    write(&p, &t).unwrap();
    let back = read(&p).unwrap();
    assert_eq!(back.events.len(), n);
    assert_eq!(checksum(&back), checksum(&t));
    assert_eq!(back, t);
}

//! Traces from the command line: `run --trace DIR` writes a Parquet
//! dataset, `export` turns it into Parquet, CSV tables or Chrome JSON,
//! `analyze` reads it (text, JSON, plots), and every kind of bad trace input
//! gets one line and exit 2.

mod common;
use common::*;
use std::path::Path;

/// A short checked run on `build` with its trace in `dir/trace`.
fn traced_run(dir: &Path, build: &str, seed: &str) -> std::path::PathBuf {
    let img = dir.join(format!("{build}.img"));
    let trace = dir.join(format!("{build}-trace"));
    let more = [
        "--threads",
        "2",
        "--ops",
        "300",
        "--file-size",
        "8M",
        "--seed",
        seed,
        "--json",
    ];
    let o = run_traced(&img, build, "append-mix", &more, "inproc", &trace);
    assert_ok(&o);
    trace
}

#[test]
fn run_trace_exports_and_analyzes() {
    let dir = tempfile::tempdir().unwrap();
    let trace = traced_run(dir.path(), "lockless", "5");
    for t in ["meta", "events", "ops", "violations", "counters"] {
        assert!(trace.join(format!("{t}.parquet")).is_file(), "{t}");
    }

    // Chrome JSON: the object form with events in it.
    let json = dir.path().join("t.json");
    assert_ok(&export(&trace, "chrome", &json));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).expect("Chrome JSON");
    let evs = v["traceEvents"].as_array().expect("traceEvents");
    assert!(evs.iter().any(|e| e["ph"] == "M"));
    assert!(evs.iter().any(|e| e["ph"] == "X"));

    // CSV: one file per table, with a header.
    let csv = dir.path().join("csv");
    assert_ok(&export(&trace, "csv", &csv));
    let events = std::fs::read_to_string(csv.join("events.csv")).unwrap();
    assert!(
        events.starts_with("ts_ns,"),
        "{}",
        &events[..80.min(events.len())]
    );

    // Parquet again: the copy analyzes the same as the original.
    let copy = dir.path().join("copy");
    assert_ok(&export(&trace, "parquet", &copy));
    let a = lockline(["analyze", &s(&trace), "--json"]);
    let b = lockline(["analyze", &s(&copy), "--json"]);
    assert_ok(&a);
    assert_ok(&b);
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(a.stdout.trim()).expect("analyze --json"),
        serde_json::from_str(b.stdout.trim()).expect("analyze --json"),
    );
    assert_eq!(a, b);

    // Text and plots.
    let plots = dir.path().join("plots");
    let o = lockline(["analyze", &s(&trace), "--plots", &s(&plots)]);
    assert_ok(&o);
    let pngs = std::fs::read_dir(&plots)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert!(pngs >= 2, "{pngs} PNGs: {o:?}");
    assert!(o.stdout.contains("plot: "), "{o:?}");
}

#[test]
fn bad_trace_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let trace = traced_run(d, "locked", "1");

    let missing = d.join("nope");
    assert_error(&lockline(["analyze", &s(&missing)]), &[2]);

    let csv = d.join("events.csv");
    let img = d.join("locked.img");
    let more = [
        "--ops",
        "20",
        "--file-size",
        "4M",
        "--probe",
        "inproc",
        "--trace",
        &s(&csv),
    ];
    assert_ok(&lockline(run_args(&img, "locked", "overlap", &more)));
    let o = lockline(["analyze", &s(&csv)]);
    assert_error(&o, &[2]);
    assert!(o.stderr.contains("CSV"), "{o:?}");

    // Truncated and corrupted event tables.
    let bad = d.join("bad");
    assert_ok(&export(&trace, "parquet", &bad));
    let ev = bad.join("events.parquet");
    let bytes = std::fs::read(&ev).unwrap();
    std::fs::write(&ev, &bytes[..bytes.len() / 2]).unwrap();
    assert_error(&lockline(["analyze", &s(&bad)]), &[2]);
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 64] {
        *b ^= 0xa5;
    }
    std::fs::write(&ev, &flipped).unwrap();
    let o = lockline(["analyze", &s(&bad)]);
    assert!(o.code == 2 || o.code == 0, "{o:?}");
    if o.code == 2 {
        assert_error(&o, &[2]);
    }

    // A meta table whose data page claims -2 values (the trace reader's fuzz
    // target found it: polars reserved 2^61 bytes and the process aborted,
    // exit 134, about one run in three). Several runs, as polars decodes
    // the columns in parallel and the abort depended on which went first.
    let neg = d.join("negative-page");
    assert_ok(&export(&trace, "parquet", &neg));
    let input = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions/trace_reader/validity-claims-2-61-bytes");
    let table = std::fs::read(input).unwrap();
    std::fs::write(neg.join("meta.parquet"), &table[3..]).unwrap();
    for _ in 0..3 {
        let o = lockline(["analyze", &s(&neg)]);
        assert_error(&o, &[2]);
        assert!(o.stderr.contains("a data page claims -2 values"), "{o:?}");
    }

    // Exports refuse to write into a directory that is not a trace.
    let busy = d.join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    assert_error(&export(&trace, "parquet", &busy), &[2]);
    assert_eq!(
        std::fs::read_to_string(busy.join("notes.txt")).unwrap(),
        "mine"
    );

    assert_error(
        &lockline(["analyze", &s(&trace), "--lint", "no-such-lint"]),
        &[2],
    );
}

/// Rounds find what one long run hides: lockless-min's torn writes, in
/// some round of a few short ones (short copies split writes into passes,
/// as engine/tests/integrity.rs hunts them; 8 writers tear in about a
/// quarter of the rounds), reported as they happen, in the summary, and in
/// the trace, whose ops and violations carry their round.
#[test]
fn rounds_find_lockless_min_tearing_and_trace_their_round() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = d.join("min.img");
    let mut found = None;
    for seed in TEAR_SEEDS {
        let trace = d.join(format!("min-{seed}"));
        let more = [&TEAR_HUNT[..], &["--force", "--seed", seed]].concat();
        let o = run_traced(&img, "lockless-min", "overlap", &more, "inproc", &trace);
        assert_ok(&o);
        if o.stdout.contains("with violations, first in round") {
            found = Some((o, trace, seed.parse::<u64>().unwrap()));
            break;
        }
        assert!(o.stdout.contains("10 rounds of 200 ops"), "{o:?}");
    }
    let (o, trace, seed) = found.expect("no torn write in 40 rounds of lockless-min");

    // A line per round that lost data, as it ended, then the summary.
    let first_line = o
        .stdout
        .lines()
        .find(|l| l.starts_with("round "))
        .unwrap_or_else(|| panic!("no round line: {o:?}"));
    let round: u64 = first_line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{first_line}"));
    assert!(
        first_line.starts_with(&format!("round {round} (seed {}): ", seed + round - 1))
            && first_line.contains("torn sectors: "),
        "{first_line}"
    );
    assert!(
        o.stdout
            .contains(&format!("with violations, first in round {round} after ")),
        "{o:?}"
    );

    // The trace: one round_begin per round, every op and violation in one.
    let t = lockline_store::read(&trace).unwrap();
    let marks: Vec<_> = t
        .events
        .iter()
        .filter(|e| e.kind() == Some(lockline_engine::probe::EventKind::RoundBegin))
        .collect();
    assert_eq!(marks.len(), 10);
    let inos: Vec<u64> = marks.iter().map(|m| m.inode).collect();
    // A round's file is created just before its marker, which names it.
    let in_round = |o: &&lockline_harness::history::OpRecord| {
        inos.contains(&o.ino) && o.kind != lockline_engine::probe::OpKind::Create
    };
    for op in t.ops.iter().filter(in_round) {
        let i = inos.iter().position(|&ino| ino == op.ino).unwrap();
        assert_eq!(op.round as usize, i + 1, "{op:?}");
    }
    let first = t
        .final_violations()
        .next()
        .expect("violations in the trace");
    assert_eq!(first.round as u64, round);
    assert_eq!(first.ino, inos[round as usize - 1]);
    assert!(t.violations.iter().all(|v| v.round >= 1 && v.round <= 10));

    // The round columns, as any reader sees them.
    let csv = d.join("csv");
    assert_ok(&export(&trace, "csv", &csv));
    for table in ["ops", "violations"] {
        let text = std::fs::read_to_string(csv.join(format!("{table}.csv"))).unwrap();
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        assert!(header.contains(&"round"), "{table}: {header:?}");
    }
}

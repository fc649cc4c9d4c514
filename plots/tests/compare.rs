//! `lockline compare`'s plots from repetitions reduced from synthetic
//! traces: four PNG + SVG pairs with the columns' names and the panels'
//! labels; a comparison with no lock events and no violations still draws,
//! saying so.

mod common;
use common::{out_dir, svg_with};
use lockline_analysis::compare::{Column, Comparison, Kind, RepBuilder, RunFacts, Setup};
use lockline_analysis::report::{analyze, AnalyzeOptions};
use lockline_analysis::{synth, Trace};
use lockline_plots::compare_all;

fn rep(trace: &Trace, i: u32, mib: u64, torn: u64) -> lockline_analysis::compare::RepSample {
    let facts = RunFacts {
        ops: trace.ops.len() as u64,
        bytes: mib << 20,
        seconds: 1.0,
        rounds: 10,
        rounds_with_violations: u64::from(torn > 0),
        ..RunFacts::default()
    };
    let mut facts = facts;
    facts.violations.torn = torn;
    facts.rounds_with.torn = u64::from(torn > 0);
    let mut b = RepBuilder::new();
    b.add(
        &facts,
        0.0,
        trace,
        &analyze(trace, &AnalyzeOptions::default()),
    );
    b.finish(i)
}

fn setup() -> Setup {
    Setup {
        workload: "overlap".into(),
        threads: 3,
        seed: 1,
        plan: "10 rounds of 600 ops".into(),
        repeat: 3,
        knobs: serde_json::Value::Null,
    }
}

fn png_size(p: &std::path::Path) -> (u32, u32) {
    let b = std::fs::read(p).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{}", p.display());
    (
        u32::from_be_bytes(b[16..20].try_into().unwrap()),
        u32::from_be_bytes(b[20..24].try_into().unwrap()),
    )
}

#[test]
fn every_compare_plot_as_png_and_svg() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = out_dir(tmp.path(), "compare");
    let mut t = synth::generate(20_000, 3, 2);
    // The synthetic workers announce no role; as workload threads their
    // ops count as the workload's.
    for o in &mut t.ops {
        o.thread = Some(0);
    }
    let columns = vec![
        Column {
            name: "locked".into(),
            kind: Kind::Engine,
            reps: (1..=3).map(|i| rep(&t, i, 100 + u64::from(i), 0)).collect(),
        },
        Column {
            name: "lockless-min".into(),
            kind: Kind::Engine,
            reps: (1..=3)
                .map(|i| rep(&t, i, 150 + u64::from(i), 40))
                .collect(),
        },
    ];
    let c = Comparison::new(setup(), &columns, "locked", false);
    let files = compare_all(&c, &dir).unwrap();
    assert_eq!(files.len(), 8);
    for p in files.iter().filter(|p| p.extension().unwrap() == "png") {
        assert_eq!(png_size(p), (1600, 900));
    }
    for (name, labels) in [
        (
            "compare_throughput",
            vec!["median 102 MiB/s", "lockless-min", "IQR"],
        ),
        (
            "compare_latency_cdf",
            vec!["write latency", "writes of all repetitions, p50"],
        ),
        ("compare_locks", vec!["held, ms", "waited, ms", "folio"]),
        (
            "compare_violations",
            vec![
                "torn sectors",
                "rounds with violations: locked 0/30, lockless-min 3/30",
                "120",
            ],
        ),
    ] {
        let svg = svg_with(&dir, &format!("{name}.svg"), &labels);
        assert!(svg.starts_with("<svg"), "{name}");
    }
}

#[test]
fn empty_comparisons_still_draw() {
    let dir = tempfile::tempdir().unwrap();
    let t = Trace::default();
    let columns = vec![Column {
        name: "kernel-ext4".into(),
        kind: Kind::Kernel,
        reps: vec![rep(&t, 1, 10, 0)],
    }];
    let c = Comparison::new(setup(), &columns, "locked", false);
    compare_all(&c, dir.path()).unwrap();
    for (name, note) in [
        ("compare_locks", "no lock events in these traces"),
        ("compare_violations", "no violations in any column"),
        ("compare_latency_cdf", "no finished writes"),
    ] {
        svg_with(dir.path(), &format!("{name}.svg"), &[note]);
    }
}

//! Every plot of a trace with a violation is written as a decodable PNG
//! and an SVG carrying its labels; a missing violation is an error.

mod common;
use common::{out_dir, svg_with};
use lockline_analysis::{synth, Trace, ViolationRow};
use lockline_engine::probe::EventKind;
use lockline_plots::{all, violation_timeline, PlotError};

fn trace() -> Trace {
    let mut t = synth::generate(30_000, 3, 2);
    t.meta.final_check = "after-remount".into();
    let (a, b) = (t.ops[40].op, t.ops[44].op);
    t.violations.push(ViolationRow {
        id: 0,
        round: 0,
        check: "after-remount".into(),
        class: "stale".into(),
        ino: synth::INO,
        first_sector: 64,
        nr_sectors: 8,
        folio_index: 8,
        folio_first: Some(0),
        folio_order: Some(4),
        ops: vec![a, b],
        explanation: "stale".into(),
    });
    t
}

#[test]
fn writes_png_and_svg_with_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = out_dir(tmp.path(), "synth");
    let t = trace();
    let files = all(&t, &dir).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for n in [
        "hold_cdf.png",
        "hold_cdf.svg",
        "throughput.png",
        "throughput.svg",
        "violation_0.png",
        "violation_0.svg",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    for p in &files {
        let bytes = std::fs::read(p).unwrap();
        if p.extension().unwrap() == "png" {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", p.display());
            // IHDR: width and height.
            let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
            let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
            assert_eq!((w, h), (1600, 900));
        } else {
            let s = String::from_utf8(bytes).unwrap();
            assert!(
                s.starts_with("<svg") && s.trim_end().ends_with("</svg>"),
                "{}",
                p.display()
            );
        }
    }
    let cdf = ["hold time (", "folio: ", "pagecache_add: "];
    svg_with(&dir, "hold_cdf.svg", &cdf);
    let tl = [
        "time since the first involved op began (µs)",
        "stale",
        "involved op",
    ];
    svg_with(&dir, "violation_0.svg", &tl);
    // The synthetic clock is fast: hundreds of GiB/s over a fraction of a ms.
    let tp = [
        "write throughput (GiB/s)",
        "time since the first write began (µs)",
        "mean over the run",
    ];
    svg_with(&dir, "throughput.svg", &tp);
}

#[test]
fn unknown_violation_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = violation_timeline(&trace(), 99, dir.path()).unwrap_err();
    assert!(matches!(e, PlotError::NoViolation(99)));
    assert_eq!(e.to_string().lines().count(), 1);
}

/// An empty trace plots as empty charts that say so, not as an error: a
/// run with the probes off is still a run.
#[test]
fn a_trace_without_events_still_plots() {
    let dir = tempfile::tempdir().unwrap();
    let files = all(&Trace::default(), dir.path()).unwrap();
    assert_eq!(files.len(), 4);
    svg_with(
        dir.path(),
        "hold_cdf.svg",
        &["no finished lock holds in this trace"],
    );
    svg_with(
        dir.path(),
        "throughput.svg",
        &["no completed writes in this trace"],
    );
}

/// Without lock events a violation's timeline still shows its ops.
#[test]
fn a_timeline_without_holds_shows_the_ops() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = trace();
    t.events.retain(|e| {
        !matches!(
            e.kind(),
            Some(EventKind::LockWait | EventKind::LockAcquired | EventKind::LockReleased)
        )
    });
    let files = violation_timeline(&t, 0, dir.path()).unwrap();
    assert_eq!(files.len(), 2);
    let svg = std::fs::read_to_string(&files[1]).unwrap();
    let (a, b) = (t.violations[0].ops[0], t.violations[0].ops[1]);
    assert!(svg.contains(&format!("op {a} write")), "op {a} unlabelled");
    assert!(svg.contains(&format!("op {b} write")), "op {b} unlabelled");
    assert!(
        !svg.contains(" held<"),
        "a lock class in the legend of no holds"
    );
}

/// A violation whose ops are not in the trace has no window to draw.
#[test]
fn a_violation_without_its_ops_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = trace();
    t.violations[0].ops = vec![u64::MAX];
    let e = violation_timeline(&t, 0, dir.path()).unwrap_err();
    assert!(matches!(e, PlotError::NoWindow(0)), "{e}");
}

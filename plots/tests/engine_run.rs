//! Plots of a real engine run: lockless sessions with a busy mm, hunted
//! over builds, workloads and seeds until a final check reports a violation.
//! LOCKLINE_PLOTS_OUT keeps the files in that directory for a look by eye.

use lockline_analysis::{Trace, TraceMeta};
use lockline_engine::probe::Event;
use lockline_engine::{Build, Knobs};
use lockline_harness::session::SessionSpec;
use lockline_harness::session::{quiet_progress, run_session, SessionReport};
use lockline_harness::workload::{RunSpec, Stop, WorkloadKind};
use std::path::PathBuf;

/// The demo's busy knobs with more short copies, so that a few hundred
/// ops lose data often enough for a test.
fn knobs(seed: u64) -> Knobs {
    Knobs {
        short_copy_rate: 0.3,
        ..Knobs::busy(seed)
    }
}

/// Where violations turn up most often in a short debug-build run: each
/// hits in roughly one seed of ten, so the hunt cycles through all three.
const SETUPS: [(Build, WorkloadKind); 3] = [
    (Build::LocklessMin, WorkloadKind::ClaimMix),
    (Build::Lockless, WorkloadKind::ClaimMix),
    (Build::LocklessMin, WorkloadKind::QemuSnapshot),
];

/// Runs (about 0.2 s each) before the hunt gives up.
const TRIES: u64 = 60;

fn session(dir: &std::path::Path, seed: u64) -> (SessionReport, Vec<Event>) {
    let (build, workload) = SETUPS[seed as usize % SETUPS.len()];
    let run = RunSpec {
        workload,
        threads: 3,
        stop: Stop::Ops(400),
        seed,
        file: "/w.dat".into(),
        file_size: 4 << 20,
        write_size: 64 << 10,
        readers: 0,
    };
    let img = dir.join(format!("disk-{seed}.img"));
    let mut spec = SessionSpec::new(img.clone(), build, knobs(seed), run);
    spec.mkfs = Some(256 << 20);
    let out = run_session(&spec, &quiet_progress()).expect("session");
    let _ = std::fs::remove_file(img);
    out
}

fn trace(report: &SessionReport, events: Vec<Event>) -> Trace {
    let s = &report.summary;
    let meta = TraceMeta {
        build: report.build.name().to_string(),
        workload: s.workload.clone(),
        seed: s.seed,
        threads: s.threads,
        seconds: s.seconds,
        ..TraceMeta::default()
    };
    Trace::from_run(meta, events, &s.checks, vec![])
}

#[test]
fn plots_a_lockless_run_with_violations() {
    let scratch = tempfile::tempdir().unwrap();
    // Races are timing-bound: without a violation in TRIES runs the last
    // run still plots, and only the timeline part goes unchecked.
    let mut found = None;
    for seed in 1..=TRIES {
        let (r, events) = session(scratch.path(), seed);
        let t = trace(&r, events);
        let has = t.final_violations().next().is_some();
        found = Some(t);
        if has {
            break;
        }
    }
    let t = found.unwrap();
    if t.final_violations().next().is_none() {
        eprintln!("no violation in {TRIES} runs: timelines not exercised");
    }
    let out: PathBuf = match std::env::var_os("LOCKLINE_PLOTS_OUT") {
        Some(d) => d.into(),
        None => scratch.path().join("plots"),
    };
    let files = lockline_plots::all(&t, &out).unwrap();
    let timelines = t
        .final_violations()
        .take(lockline_plots::MAX_TIMELINES)
        .count();
    let note = usize::from(lockline_plots::timelines_left_out(&t) > 0);
    assert_eq!(files.len(), 4 + 2 * timelines + note);
    for p in &files {
        let bytes = std::fs::read(p).unwrap();
        assert!(bytes.len() > 1000, "{} is nearly empty", p.display());
        if p.extension().unwrap() == "png" {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", p.display());
        }
    }
    let first = t.final_violations().next().cloned();
    if let Some(v) = first {
        let svg = std::fs::read_to_string(out.join(format!("violation_{}.svg", v.id))).unwrap();
        assert!(svg.contains(&v.class), "timeline does not name {}", v.class);
        assert!(svg.contains("worker"), "lanes are not named after threads");
    }
}

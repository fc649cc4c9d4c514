//! `--trace PATH` for run and kernel: the run as a trace — a Parquet
//! dataset directory by default, the events as one CSV when PATH ends in
//! `.csv` — with the metadata every later `export`, `analyze` or notebook
//! needs to know what it is looking at.

use crate::exit::usage;
use crate::trace_csv;
use anyhow::{Context, Result};
use lockline_analysis::{CounterSample, Trace, TraceMeta};
use lockline_engine::probe::Event;
use lockline_harness::check::CheckReport;
use lockline_harness::explore::round::ScheduleRun;
use lockline_harness::kernel::KernelReport;
use lockline_harness::perf::PerfSample;
use lockline_harness::rounds::RoundsReport;
use lockline_harness::session::RunSummary;
use std::path::Path;

fn uname() -> (String, String) {
    // SAFETY: zeroed utsname is a valid out-buffer.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: valid buffer.
    if unsafe { libc::uname(&mut u) } != 0 {
        return (String::new(), String::new());
    }
    // SAFETY: uname NUL-terminates both fields.
    let s = |p: *const libc::c_char| {
        unsafe { std::ffi::CStr::from_ptr(p) }
            .to_string_lossy()
            .into_owned()
    };
    (s(u.nodename.as_ptr()), s(u.release.as_ptr()))
}

/// What every trace's metadata says of where and when it was made.
fn base_meta(build: &str) -> TraceMeta {
    let (host, kernel) = uname();
    TraceMeta {
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        build: build.to_string(),
        host,
        kernel,
        created_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        ..TraceMeta::default()
    }
}

/// The metadata of a run: `build` and `knobs_json` from the front end,
/// the rest from the summary every run shares.
fn meta(build: &str, s: &RunSummary, knobs_json: String, summary_json: String) -> TraceMeta {
    TraceMeta {
        workload: s.workload.clone(),
        seed: s.seed,
        threads: s.threads,
        knobs_json,
        probe_source: s.probe_source.clone(),
        clock: s.clock.clone(),
        clock_note: s.clock_note.clone(),
        lost_events: s.lost_events,
        seconds: s.seconds,
        summary_json,
        ..base_meta(build)
    }
}

/// perf readings as `perf.<counter>` tracks, one per thread.
fn perf_tracks(samples: &[PerfSample]) -> Vec<CounterSample> {
    samples
        .iter()
        .flat_map(|s| {
            s.counts.named().map(move |(name, v)| CounterSample {
                ts_ns: s.ts_ns,
                track: format!("perf.{name}"),
                tid: s.tid,
                value: v as f64,
            })
        })
        .collect()
}

/// Builds the trace of a finished run.
fn trace(
    meta: TraceMeta,
    events: Vec<Event>,
    checks: &[CheckReport],
    perf: Vec<CounterSample>,
) -> Trace {
    let mut counters = lockline_analysis::counters::derive(&events);
    counters.extend(perf);
    counters.sort_by_key(|c| c.ts_ns);
    Trace::from_run(meta, events, checks, counters)
}

/// The trace of an engine run's rounds (`run`, `demo`): one trace for the
/// whole run, ops and violations carrying their round.
pub fn rounds_trace(report: &RoundsReport, events: Vec<Event>) -> Result<Trace> {
    let meta = meta(
        report.build.name(),
        &report.summary,
        serde_json::to_string(&report.knobs)?,
        serde_json::to_string(report)?,
    );
    let perf = perf_tracks(&report.perf_samples);
    Ok(trace(meta, events, &report.summary.checks, perf))
}

/// The trace of a kernel run, perf counter tracks included.
pub fn kernel_trace(report: &KernelReport, events: Vec<Event>) -> Result<Trace> {
    let meta = meta(
        &report.build,
        &report.summary,
        "{}".to_string(),
        serde_json::to_string(report)?,
    );
    let perf = perf_tracks(&report.perf_samples);
    Ok(trace(meta, events, &report.summary.checks, perf))
}

/// The trace of a FUSE mount's lifetime: every request the clients made,
/// as the engine's ops; no checks (the clients judge their own data).
pub fn mount_trace(
    build: &str,
    knobs: &lockline_engine::Knobs,
    threads: u32,
    clock: &str,
    lost_events: u64,
    seconds: f64,
    events: Vec<Event>,
) -> Result<Trace> {
    let meta = TraceMeta {
        workload: "fuse-mount".to_string(),
        seed: knobs.seed,
        threads,
        knobs_json: serde_json::to_string(knobs)?,
        probe_source: "inproc".to_string(),
        clock: clock.to_string(),
        lost_events,
        seconds,
        ..base_meta(build)
    };
    Ok(trace(meta, events, &[], Vec::new()))
}

/// The trace of one explored schedule: its events in the order the
/// scheduler ran them, its checks; the summary names the schedule id, so
/// `replay --trace` can check that a replay is this run again.
pub fn schedule_trace(run: &ScheduleRun) -> Result<Trace> {
    let id = &run.id;
    let summary = ScheduleSummary::of(run);
    let meta = TraceMeta {
        workload: id.workload.name().to_string(),
        seed: id.wseed,
        threads: id.threads,
        knobs_json: serde_json::to_string(&id.knobs())?,
        probe_source: "inproc (explore scheduler)".to_string(),
        clock: "monotonic".to_string(),
        clock_note: "one thread ran at a time; events are in schedule order".to_string(),
        summary_json: serde_json::to_string(&summary)?,
        ..base_meta(id.build.name())
    };
    Ok(trace(meta, run.events.clone(), &run.checks, Vec::new()))
}

/// What a schedule's trace says of the schedule (its `summary_json`).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct ScheduleSummary {
    pub schedule: String,
    pub explicit: String,
    pub steps: u64,
    /// Per check: its label and (dropped, stale, torn) sectors.
    pub verdict: Vec<(String, u64, u64, u64)>,
}

impl ScheduleSummary {
    pub fn of(run: &ScheduleRun) -> ScheduleSummary {
        ScheduleSummary {
            schedule: run.id.to_string(),
            explicit: run.explicit_id().to_string(),
            steps: run.steps,
            verdict: verdict(run),
        }
    }
}

/// A schedule's verdict: each check's label and counts.
pub fn verdict(run: &ScheduleRun) -> Vec<(String, u64, u64, u64)> {
    run.checks
        .iter()
        .map(|c| {
            (
                c.label.clone(),
                c.counts.dropped,
                c.counts.stale,
                c.counts.torn,
            )
        })
        .collect()
}

/// Writes the trace where `--trace` asked: a Parquet dataset directory, or
/// the events as CSV for a `.csv` path.
pub fn write(path: &Path, trace: &Trace) -> Result<()> {
    if is_csv(path) {
        trace_csv::write(path, &trace.events)
    } else {
        lockline_store::write(path, trace).map_err(anyhow::Error::from)
    }
    .with_context(|| format!("writing trace {}", path.display()))
}

/// Reads a trace for `export` and `analyze`; what is wrong with the input
/// (missing, not a trace, damaged, another schema version) is the user's
/// to fix (exit 2), a failing disk is not (exit 3).
pub fn load(path: &Path) -> Result<Trace> {
    lockline_store::read(path).map_err(store_error)
}

fn store_error(e: lockline_store::StoreError) -> anyhow::Error {
    if e.is_user_error() {
        usage(e.to_string())
    } else {
        anyhow::Error::from(e)
    }
}

/// What an output path will hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// One file (Chrome JSON, an events CSV).
    File,
    /// A directory of tables with this extension ("parquet", "csv").
    Tables(&'static str),
}

/// Fails early, before a long run or export, when the output cannot go
/// there: its parent directory must exist, a file must not land on a
/// directory, and tables only go where the store would write them.
pub fn check_output(path: &Path, out: Output) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(usage(format!("directory {} does not exist", dir.display())));
    }
    match out {
        Output::File if path.is_dir() => Err(usage(format!("{} is a directory", path.display()))),
        Output::File => Ok(()),
        Output::Tables(ext) => lockline_store::check_dir(path, ext).map_err(store_error),
    }
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// `check_output` for `--trace`: a `.csv` path is one events file, anything
/// else a Parquet dataset directory.
pub fn check_trace_path(path: &Path) -> Result<()> {
    let out = if is_csv(path) {
        Output::File
    } else {
        Output::Tables("parquet")
    };
    check_output(path, out)
}

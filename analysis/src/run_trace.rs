//! The trace of a finished run (rounds, a kernel run, a FUSE mount's
//! lifetime, an explored schedule): its events, ops, violations and
//! counter tracks, with the metadata every later `export`, `analyze` or
//! notebook needs to know what it is looking at.

use crate::{CounterSample, Trace, TraceMeta};
use lockline_engine::probe::provenance::Extent;
use lockline_engine::probe::Event;
use lockline_harness::check::{provenance, CheckReport, Counts};
use lockline_harness::explore::round::ScheduleRun;
use lockline_harness::explore::saved::ScheduleSummary;
use lockline_harness::kernel::KernelReport;
use lockline_harness::perf::PerfSample;
use lockline_harness::rounds::RoundsReport;
use lockline_harness::session::RunSummary;

/// A report that would not serialise (it always does: plain data).
pub type Result<T> = std::result::Result<T, serde_json::Error>;

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
    let mut counters = crate::counters::derive(&events);
    counters.extend(perf);
    counters.sort_by_key(|c| c.ts_ns);
    Trace::from_run(meta, events, checks, counters)
}

/// The trace of an engine run's rounds (`run`, `demo`): one trace for the
/// whole run, ops and violations carrying their round.
pub fn rounds_trace(report: &RoundsReport, events: Vec<Event>) -> Result<Trace> {
    let meta = meta(
        report.session.build.name(),
        &report.session.summary,
        serde_json::to_string(&report.session.knobs)?,
        serde_json::to_string(report)?,
    );
    let perf = perf_tracks(&report.session.perf_samples);
    let mut t = trace(meta, events, &report.session.summary.checks, perf);
    t.extents = report.extents.clone();
    Ok(t)
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
    let mut t = trace(meta, events, &report.summary.checks, perf);
    t.extents = report.extents.clone();
    Ok(t)
}

/// What a trace of real programs on the engine says of how they ran:
/// through a FUSE mount ("fuse-mount") or preloaded ("exec").
pub struct ServedRun<'a> {
    pub workload: &'a str,
    pub build: &'a str,
    pub knobs: &'a lockline_engine::Knobs,
    pub threads: u32,
    pub clock: &'a str,
    pub lost_events: u64,
    pub seconds: f64,
}

/// The trace of a FUSE mount's or an exec run's lifetime: every request
/// the programs made, as the engine's ops, and, when digests were taken,
/// the checks they allow (`check::provenance::judge`): every file the
/// disk kept, read back at unmount, and every read a program made,
/// against every write.
pub fn mount_trace(run: &ServedRun, events: Vec<Event>, extents: Vec<Extent>) -> Result<Trace> {
    let judged = provenance::judge(&events, &extents);
    // The reads first: the trace's final check is the last one, at unmount.
    let mut checks: Vec<CheckReport> = provenance::reads_report(&judged.reads)
        .into_iter()
        .collect();
    checks.extend(judged.checks);
    let mut violations = Counts::default();
    for c in checks.iter().filter(|c| c.label == provenance::AT_UNMOUNT) {
        violations += c.counts;
    }
    let mut summary = serde_json::json!({
        "violations": violations,
        "files_checked": checks.iter().filter(|c| c.label == provenance::AT_UNMOUNT).count(),
        "reads": judged.reads,
        "digests": extents.iter().map(|x| x.digests.len()).sum::<usize>(),
    });
    let meta = TraceMeta {
        workload: run.workload.to_string(),
        seed: run.knobs.seed,
        threads: run.threads,
        knobs_json: serde_json::to_string(run.knobs)?,
        probe_source: "inproc".to_string(),
        clock: run.clock.to_string(),
        lost_events: run.lost_events,
        seconds: run.seconds,
        ..base_meta(run.build)
    };
    let mut t = trace(meta, events, &checks, Vec::new());
    t.extents = extents;
    // Which writes ran beside which, for the seed's question: did an
    // extending write ever meet another inside the engine?
    let overlap = crate::overlap::write_overlap(&t.ops, &t.events);
    summary["write_overlap"] = serde_json::to_value(overlap)?;
    t.meta.summary_json = summary.to_string();
    Ok(t)
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

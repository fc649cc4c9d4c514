//! The spec and report types of a checked run ([`SessionSpec`],
//! [`RunSummary`], [`SessionReport`]) and [`run_session`], which is one
//! round of [`crate::rounds`]: mount a disk with a build and knobs, run a
//! seeded workload with the in-process recorder on, then classify every
//! sector of the file three times — after the run, after fsync, and after
//! unmount and remount. `lockline run`, `demo` and the TUI drive
//! [`crate::rounds`] for many rounds.

use crate::check::{self, CheckReport, Counts};
use crate::perf::{PerfReport, PerfSample};
use crate::workload::{Progress, RunOutcome, RunSpec};
use lockline_engine::config::{Build, Knobs};
use lockline_engine::error::Result;
use lockline_engine::fs::CountersSnapshot;
use lockline_engine::probe::recorder::DEFAULT_CAPACITY;
use lockline_engine::probe::{Event, ExternalTracer};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct SessionSpec {
    pub disk: PathBuf,
    /// Format the disk first with this size (creating an image if absent).
    pub mkfs: Option<u64>,
    /// Format even a target that looks in use.
    pub mkfs_force: bool,
    pub build: Build,
    pub knobs: Knobs,
    pub run: RunSpec,
    /// In-process recorder budget, events.
    pub record_capacity: u64,
    /// Count perf events per worker thread.
    pub perf: bool,
    /// Keep every round's events for the run's trace (true). False drops
    /// each round's events once its checks are done and gives their room
    /// back to the recorder, so rounds never run out of budget: for runs
    /// that only want verdicts (sweep, compare).
    pub keep_events: bool,
    /// Take content digests of every write, read and check (the trace's
    /// extents; `check::provenance` judges them): costs a crc32c of every
    /// byte moved, so only runs that keep a trace ask for it.
    pub digests: bool,
}

impl SessionSpec {
    pub fn new(disk: PathBuf, build: Build, knobs: Knobs, run: RunSpec) -> SessionSpec {
        SessionSpec {
            disk,
            mkfs: None,
            mkfs_force: false,
            build,
            knobs,
            run,
            record_capacity: DEFAULT_CAPACITY,
            perf: true,
            keep_events: true,
            digests: false,
        }
    }
}

/// What every checked run reports, whatever its target; flattened into the
/// engine's and the kernel's reports so both emit the same JSON keys.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub workload: String,
    pub seed: u64,
    pub threads: u32,
    pub ops: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub throughput_mib_s: f64,
    pub op_errors: u64,
    pub first_error: Option<String>,
    /// Violations of the final check (after remount): what a user keeps.
    pub violations: Counts,
    pub events: u64,
    /// Events the source dropped (recorder budget or ring full). When not
    /// zero the checker may have missed ops: its verdict is then suspect.
    pub lost_events: u64,
    /// inproc, ebpf, or inproc+ebpf (kernel runs: op events in process,
    /// kernel tracepoints through eBPF).
    pub probe_source: String,
    /// How events were stamped: `tsc-rdtscp` or `monotonic` (in-process
    /// recorder, see probe::clock), `ktime` (eBPF's bpf_ktime_get_ns); both
    /// joined by `+` when a trace mixes sources. All map to CLOCK_MONOTONIC.
    pub clock: String,
    /// Why that clock, one line.
    pub clock_note: String,
    /// Which source and why, one line (set by the front end that chose).
    pub probe_reason: String,
    /// What the source skipped or did differently: one line each.
    pub probe_notes: Vec<String>,
    /// The three checks, in order.
    pub checks: Vec<CheckReport>,
    /// The verifying readers' reads, each checked against the history as
    /// it stood during the read (`--readers`).
    pub reads: check::ReadChecks,
}

impl RunSummary {
    pub fn new(
        run: &RunSpec,
        outcome: RunOutcome,
        checks: Vec<CheckReport>,
        events: u64,
        lost_events: u64,
    ) -> RunSummary {
        RunSummary {
            workload: run.workload.name().to_string(),
            seed: run.seed,
            threads: run.threads,
            ops: outcome.ops,
            bytes: outcome.bytes,
            seconds: outcome.seconds,
            throughput_mib_s: outcome.bytes as f64 / (1 << 20) as f64 / outcome.seconds.max(1e-9),
            op_errors: outcome.errors,
            first_error: outcome.first_error,
            violations: checks.last().map(|c| c.counts).unwrap_or_default(),
            events,
            lost_events,
            probe_source: "inproc".to_string(),
            clock: String::new(),
            clock_note: String::new(),
            probe_reason: String::new(),
            probe_notes: Vec::new(),
            checks,
            reads: check::ReadChecks::default(),
        }
    }

    pub fn final_check(&self) -> Option<&CheckReport> {
        self.checks.last()
    }
}

/// The summary `lockline run` prints (and `--json` emits as one object).
#[derive(Clone, Debug, Serialize)]
pub struct SessionReport {
    pub build: Build,
    #[serde(flatten)]
    pub summary: RunSummary,
    pub knobs: Knobs,
    pub injected: Vec<&'static str>,
    pub engine: CountersSnapshot,
    /// Per worker thread perf counters and their totals.
    pub perf: PerfReport,
    /// The perf counters read every perf::PERIOD, for the trace's counter
    /// tracks (too many for the summary).
    #[serde(skip)]
    pub perf_samples: Vec<PerfSample>,
}

/// Runs the session with the in-process recorder; returns the report and
/// every recorded event.
pub fn run_session(spec: &SessionSpec, progress: &Progress) -> Result<(SessionReport, Vec<Event>)> {
    run_session_with(spec, progress, None)
}

/// Runs the session with `tracer` as its event source when given (the
/// in-process recorder otherwise); returns the report and every event. One
/// round of [`crate::rounds`]: the workload stops as `spec.run.stop` says,
/// on the file `spec.run.file`.
pub fn run_session_with(
    spec: &SessionSpec,
    progress: &Progress,
    tracer: Option<Box<dyn ExternalTracer>>,
) -> Result<(SessionReport, Vec<Event>)> {
    let (report, events) = crate::rounds::run_single(spec, progress, tracer)?;
    Ok((report.into_session(), events))
}

/// Convenience for tests and the demo: a shared progress with no display.
pub fn quiet_progress() -> Arc<Progress> {
    Arc::new(Progress::default())
}

//! One checked run: mount a disk with a build and knobs, run a seeded
//! workload with the in-process recorder on, then classify every sector of
//! the file three times — after the run, after fsync, and after unmount and
//! remount. Front ends (`lockline run`, `demo`, later the TUI) sit on this.

use crate::check::{self, CheckReport, Counts};
use crate::config::{Build, Knobs};
use crate::disk::{self, MkfsOptions};
use crate::error::Result;
use crate::fs::{CountersSnapshot, Fs, MountOptions};
use crate::history::History;
use crate::perf::{run_counted, PerfReport, PerfSample};
use crate::probe::recorder::{Recorder, RecorderStats, DEFAULT_CAPACITY};
use crate::probe::{Event, ExternalTracer, ThreadRole};
use crate::workload::{FsFile, Progress, RunOutcome, RunSpec};
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

fn read_whole(fs: &Fs, ino: u64) -> Result<Vec<u8>> {
    let size = fs.size(ino)? as usize;
    let mut buf = vec![0u8; size];
    let n = fs.read(ino, 0, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// Runs the session with the in-process recorder; returns the report and
/// every recorded event.
pub fn run_session(spec: &SessionSpec, progress: &Progress) -> Result<(SessionReport, Vec<Event>)> {
    run_session_with(spec, progress, None)
}

/// Where a session's events come from: the in-process recorder, or an
/// external tracer (then the recorder stays off so events are not paid
/// for twice).
enum Source {
    Inproc(Arc<Recorder>),
    External(Box<dyn ExternalTracer>),
}

impl Source {
    fn take(&mut self) -> Result<Vec<Event>> {
        match self {
            Source::Inproc(r) => Ok(r.drain()),
            Source::External(t) => t
                .take()
                .map_err(|e| crate::Error::Invalid(format!("{} trace: {e}", t.name()))),
        }
    }
}

/// Runs the session with `tracer` as its event source when given (the
/// in-process recorder otherwise); returns the report and every event.
pub fn run_session_with(
    spec: &SessionSpec,
    progress: &Progress,
    tracer: Option<Box<dyn ExternalTracer>>,
) -> Result<(SessionReport, Vec<Event>)> {
    spec.knobs.validate().map_err(crate::Error::Invalid)?;
    spec.run.validate()?;
    if let Some(size) = spec.mkfs {
        disk::mkfs(
            &spec.disk,
            &MkfsOptions {
                size: Some(size),
                force: spec.mkfs_force,
            },
        )?;
    }
    let mut source = match tracer {
        Some(t) => Source::External(t),
        None => Source::Inproc(Recorder::new(spec.record_capacity)),
    };
    let opts = MountOptions {
        build: spec.build,
        knobs: spec.knobs.clone(),
        recorder: match &source {
            Source::Inproc(r) => Some(r.clone()),
            Source::External(_) => None,
        },
    };
    let fs = Fs::mount(&spec.disk, opts.clone())?;
    fs.attach_thread(ThreadRole::Main, 0);
    let (outcome, perf, perf_samples) =
        match FsFile::create(&fs, &spec.run.file, spec.run.file_size)
            .and_then(|f| run_counted(&f, &spec.run, progress, spec.perf))
        {
            Ok(o) => o,
            Err(e) => {
                let _ = fs.unmount();
                return Err(e);
            }
        };
    let mut events = source.take()?;
    // External sources deliver in per-CPU ring order.
    events.sort_by_key(|e| (e.ts_ns, e.tid));
    let history = History::from_events(&events);
    let ino = outcome.ino;
    let reads = check::check_reads(&history, ino, &outcome.reads, outcome.reads_not_kept);

    let mut checks = Vec::new();
    let content = read_whole(&fs, ino)?;
    checks.push(check::check(&history, ino, &content, check::AFTER_RUN));
    fs.fsync(ino)?;
    let content = read_whole(&fs, ino)?;
    checks.push(check::check(&history, ino, &content, check::AFTER_FSYNC));
    let counters = fs.counters.snapshot();
    fs.unmount()?;
    drop(fs);

    let fs = Fs::mount(&spec.disk, opts)?;
    let content = read_whole(&fs, ino)?;
    checks.push(check::check(&history, ino, &content, check::AFTER_REMOUNT));
    fs.unmount()?;
    drop(fs);
    events.extend(source.take()?);
    events.sort_by_key(|e| (e.ts_ns, e.tid));
    for c in &mut checks {
        check::annotate_folios(c, &events);
    }

    let (lost, name, notes, clock) = match &source {
        Source::Inproc(r) => {
            let st: RecorderStats = r.stats();
            (st.dropped, "inproc", Vec::new(), r.clock().name())
        }
        Source::External(t) => (t.lost(), t.name(), t.notes(), "ktime"),
    };
    let mut summary = RunSummary::new(&spec.run, outcome, checks, events.len() as u64, lost);
    summary.probe_source = name.to_string();
    summary.reads = reads;
    summary.clock = clock.to_string();
    summary.clock_note = match &source {
        Source::Inproc(_) => crate::probe::clock::choice_note(),
        Source::External(_) => "bpf_ktime_get_ns: CLOCK_MONOTONIC from the kernel".to_string(),
    };
    summary.probe_notes = notes;
    let report = SessionReport {
        build: spec.build,
        summary,
        knobs: spec.knobs.clone(),
        injected: spec.knobs.inject.enabled(),
        engine: counters,
        perf,
        perf_samples,
    };
    Ok((report, events))
}

/// Convenience for tests and the demo: a shared progress with no display.
pub fn quiet_progress() -> Arc<Progress> {
    Arc::new(Progress::default())
}

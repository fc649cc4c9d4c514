//! Checked rounds: many short seeded workloads on one mount and one trace, each on a fresh file and checked three times.
//!
//! A later write over the same sectors erases the evidence of an earlier
//! loss, so many short checked rounds find what one long run hides. Each
//! round unlinks the previous round's file and creates its own
//! (`/overlap.r7.dat`: a new inode, so the rounds' histories stay apart),
//! marks its start with a round_begin event, runs `round_ops` ops seeded
//! with the session's seed + round - 1, and checks the file three times;
//! the remount of the last check is the mount the next round runs on.
//! While a round runs, a pump thread takes events from the source every
//! [`PUMP_PERIOD`] and, when asked, hands a copy to a live consumer (the
//! TUI). [`crate::session::run_session_with`] is one round of this.

use crate::check::{self, CheckReport, Counts, EngineFile, ReadChecks};
use crate::history::History;
use crate::perf::{run_counted, PerfReport, PerfSample};
use crate::session::{RunSummary, SessionReport, SessionSpec};
use crate::workload::{FsFile, Progress, RunOutcome, RunSpec, Stop};
use lockline_engine::disk::{self, MkfsOptions};
use lockline_engine::error::{Error, Result};
use lockline_engine::fs::{CountersSnapshot, Fs, MountOptions};
use lockline_engine::probe::provenance::Extent;
use lockline_engine::probe::recorder::{self, Recorder};
use lockline_engine::probe::{points, Event, ExternalTracer, ThreadRole};
use parking_lot::Mutex;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Ops per round unless told otherwise: short enough that a later write
/// rarely erases a loss, long enough that writers overlap (the demo's).
pub const DEFAULT_ROUND_OPS: u64 = 600;

/// How often the pump takes events from the source while a round runs.
pub const PUMP_PERIOD: Duration = Duration::from_millis(50);

/// How many rounds, and how long each.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundsSpec {
    /// Exactly this many rounds.
    pub rounds: Option<u64>,
    /// Without `rounds`: rounds until this much wall time has passed (at
    /// least one round). With neither, the session's `run.stop` says:
    /// `Stop::Ops(n)` is n ops in all, in rounds of `round_ops` (the last
    /// one shorter); `Stop::Seconds(s)` is rounds for s seconds.
    pub seconds: Option<f64>,
    /// Ops per round.
    pub round_ops: u64,
}

impl RoundsSpec {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.round_ops == 0 {
            return bad("--round-ops must be at least 1".into());
        }
        if self.rounds == Some(0) {
            return bad("--rounds must be at least 1".into());
        }
        if let Some(s) = self.seconds {
            if !(s > 0.0 && s.is_finite()) {
                return bad(format!("--seconds {s} is not a positive duration"));
            }
        }
        Ok(())
    }
}

/// What a live consumer is handed while the run goes on, in order: a
/// round's events come before its checks, its checks before its end (the
/// final unmount's events come after the last round's end).
#[derive(Clone, Debug)]
pub enum Live {
    /// Events as they are taken from the source during the run (ts already CLOCK_MONOTONIC ns, each batch sorted by (ts_ns, tid)).
    Events(Vec<Event>),
    /// One check of one round finished (after-run, after-fsync, after-remount), violations annotated with folios as far as known.
    Check { round: u64, check: CheckReport },
    /// A round ended: its number (1-based) and its final check's counts.
    RoundDone {
        round: u64,
        violations: Counts,
        ops: u64,
    },
}

/// One round, for the report.
#[derive(Clone, Debug, Serialize)]
pub struct RoundInfo {
    /// 1-based.
    pub round: u64,
    /// The workload's seed (and the knobs' seed) in this round.
    pub seed: u64,
    /// The round's file.
    pub ino: u64,
    pub ops: u64,
    pub bytes: u64,
    /// Wall time of the round's workload.
    pub seconds: f64,
    /// Its final check's violations (after remount).
    pub violations: Counts,
    /// Seconds from the start of the run to the end of its final check.
    pub end_s: f64,
    /// Events the source lost during the round: its verdicts are suspect
    /// (an op missing from the history looks like a lost write).
    pub lost_events: u64,
}

/// What [`run_rounds`] reports: one checked run's report (totals over the
/// rounds; `checks` holds every round's three checks, each with its
/// `round`) and the rounds' own keys beside it.
#[derive(Clone, Debug, Serialize)]
pub struct RoundsReport {
    /// ops, bytes, seconds (the workloads' wall time) and throughput
    /// summed over the rounds; `violations` summed over the rounds' final
    /// checks; `seed` the first round's; engine counters summed over the
    /// rounds' mounts; perf per workload thread index, summed.
    #[serde(flatten)]
    pub session: SessionReport,
    /// Rounds run (the last one possibly cut short by a stop).
    pub rounds: u64,
    /// Ops per round asked for (None for a single run stopped otherwise).
    pub round_ops: Option<u64>,
    pub rounds_with_violations: u64,
    pub first_violation_round: Option<u64>,
    /// Seconds from the start of the run to the end of the first violating
    /// round's final check.
    pub first_violation_s: Option<f64>,
    /// The whole run's wall time, checks and remounts included.
    pub wall_seconds: f64,
    /// The stop flag ended the run early.
    pub interrupted: bool,
    pub per_round: Vec<RoundInfo>,
    /// Content digests of the kept rounds, when the spec asked for them.
    #[serde(skip)]
    pub extents: Vec<Extent>,
}

impl RoundsReport {
    /// The report as a single session's (the rounds' own keys dropped).
    pub fn into_session(self) -> SessionReport {
        self.session
    }

    /// The checks of one round, in order.
    pub fn round_checks(&self, round: u64) -> impl Iterator<Item = &CheckReport> + '_ {
        self.session
            .summary
            .checks
            .iter()
            .filter(move |c| c.round == round)
    }

    /// The final check (after remount) of the first round with a violation.
    pub fn first_violating_check(&self) -> Option<&CheckReport> {
        self.round_checks(self.first_violation_round?).last()
    }

    /// The final check of the first round with a violation, or of the last
    /// round when none had one: what a summary shows.
    pub fn shown_check(&self) -> Option<&CheckReport> {
        self.first_violating_check()
            .or_else(|| self.session.summary.checks.last())
    }
}

/// Runs checked rounds as `rounds` says (see [`RoundsSpec`]); `live`, when
/// given, sees events, checks and round ends as they happen (from the pump
/// thread and the calling thread; it should return quickly). `stop` ends
/// the workload of the current round early; its checks still run, and the
/// report holds every round that ran. Returns the report and every event,
/// sorted by (ts_ns, tid).
pub fn run_rounds(
    spec: &SessionSpec,
    rounds: &RoundsSpec,
    progress: &Progress,
    tracer: Option<Box<dyn ExternalTracer>>,
    live: Option<&(dyn Fn(Live) + Sync)>,
    stop: &AtomicBool,
) -> Result<(RoundsReport, Vec<Event>)> {
    rounds.validate()?;
    if rounds.rounds.is_none() && rounds.seconds.is_none() {
        // The session's own stop says how long.
        spec.run.validate()?;
    }
    let plan = match (rounds.rounds, rounds.seconds, spec.run.stop) {
        (Some(n), _, _) => Plan::Count(n),
        (None, Some(s), _) | (None, None, Stop::Seconds(s)) => Plan::Until(s),
        (None, None, Stop::Ops(n)) => Plan::TotalOps(n),
    };
    run_plan(
        spec,
        plan,
        Some(rounds.round_ops),
        progress,
        tracer,
        live,
        stop,
    )
}

/// One round on `spec.run.file`, stopped as `spec.run.stop` says: what
/// [`crate::session::run_session_with`] runs.
pub(crate) fn run_single(
    spec: &SessionSpec,
    progress: &Progress,
    tracer: Option<Box<dyn ExternalTracer>>,
) -> Result<(RoundsReport, Vec<Event>)> {
    let never = AtomicBool::new(false);
    run_plan(spec, Plan::Single, None, progress, tracer, None, &never)
}

#[derive(Clone, Copy, Debug)]
enum Plan {
    /// One round as `spec.run` says, on its file, with its seeds.
    Single,
    Count(u64),
    /// Rounds until this many seconds have passed.
    Until(f64),
    /// This many ops in all.
    TotalOps(u64),
}

/// Where a session's events come from: the in-process recorder, or an
/// external tracer (then the recorder stays off so events are not paid
/// for twice).
enum Source {
    Inproc(Arc<Recorder>),
    External(Box<dyn ExternalTracer>),
}

impl Source {
    /// Every event handed over so far and not yet taken; the recorder's
    /// threads keep their partly filled buffers (see [`Recorder::take`]).
    fn take(&mut self) -> Result<Vec<Event>> {
        match self {
            Source::Inproc(r) => Ok(r.take()),
            Source::External(t) => t
                .take()
                .map_err(|e| Error::Invalid(format!("{} trace: {e}", t.name()))),
        }
    }
}

/// The run's events: taken from the source by the pump thread while a
/// round runs and by the main thread at its checks.
struct Pump<'a> {
    source: Mutex<Source>,
    events: Mutex<Vec<Event>>,
    live: Option<&'a (dyn Fn(Live) + Sync)>,
    error: Mutex<Option<Error>>,
}

impl Pump<'_> {
    /// Events the source has lost so far.
    fn lost(&self) -> u64 {
        match &*self.source.lock() {
            Source::Inproc(r) => r.stats().dropped,
            Source::External(t) => t.lost(),
        }
    }

    /// Drops the events from `start` on (a checked round's), returning
    /// their room to the recorder, and the digests taken so far.
    fn forget_from(&self, start: usize) {
        if let Source::Inproc(r) = &*self.source.lock() {
            r.forget_extents();
        }
        // One lock at a time: pump() takes the source, then the events.
        let n = {
            let mut ev = self.events.lock();
            let n = ev.len().saturating_sub(start) as u64;
            ev.truncate(start);
            ev.shrink_to(start + (1 << 16));
            n
        };
        if let Source::Inproc(r) = &*self.source.lock() {
            r.give_back(n);
        }
    }

    /// Takes what the source has, appends it, shows it to the live consumer.
    fn pump(&self) -> Result<()> {
        let mut source = self.source.lock();
        let mut batch = source.take()?;
        if batch.is_empty() {
            return Ok(());
        }
        // External sources deliver in per-CPU ring order.
        batch.sort_by_key(|e| (e.ts_ns, e.tid));
        if let Some(live) = self.live {
            live(Live::Events(batch.clone()));
        }
        self.events.lock().append(&mut batch);
        Ok(())
    }

    /// `pump` from the session's main thread, its own buffered events
    /// included.
    fn pump_own(&self) -> Result<()> {
        recorder::flush_current_thread();
        self.pump()
    }

    fn len(&self) -> usize {
        self.events.lock().len()
    }

    fn send(&self, l: Live) {
        if let Some(live) = self.live {
            live(l);
        }
    }
}

/// `/dir/name.ext` as round `round`'s file: `/dir/name.r<round>.ext`.
pub fn round_file(path: &str, round: u64) -> String {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{dir}/{stem}.r{round}.{ext}"),
        _ => format!("{dir}/{name}.r{round}"),
    }
}

/// Whether `name` (a directory entry) is a round file of `path`.
fn is_round_file(path: &str, name: &str) -> bool {
    let base = path.rsplit_once('/').map_or(path, |(_, n)| n);
    let (stem, ext) = match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, Some(ext)),
        _ => (base, None),
    };
    let Some(rest) = name.strip_prefix(stem).and_then(|r| r.strip_prefix(".r")) else {
        return false;
    };
    let digits = match ext {
        Some(ext) => rest.strip_suffix(ext).and_then(|r| r.strip_suffix('.')),
        None => Some(rest),
    };
    digits.is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Removes round files an earlier run left beside `path`, so the disk does
/// not fill up with them.
fn remove_old_round_files(fs: &Fs, path: &str) -> Result<()> {
    let dir = match path.rsplit_once('/') {
        Some((d, _)) if !d.is_empty() => d,
        _ => "/",
    };
    let Ok(entries) = fs.readdir(dir) else {
        return Ok(());
    };
    let mut removed = false;
    for e in entries.iter().filter(|e| is_round_file(path, &e.name)) {
        let p = format!("{}/{}", dir.trim_end_matches('/'), e.name);
        fs.unlink(&p)?;
        removed = true;
    }
    if removed {
        // Freed blocks are reusable once a commit without them is durable.
        fs.sync_all()?;
    }
    Ok(())
}

/// What the rounds leave for the report.
#[derive(Default)]
struct Totals {
    rounds: Vec<RoundInfo>,
    checks: Vec<CheckReport>,
    reads: ReadChecks,
    ops: u64,
    bytes: u64,
    errors: u64,
    first_error: Option<String>,
    seconds: f64,
    last_ino: u64,
    engine: CountersSnapshot,
    perf: PerfReport,
    perf_samples: Vec<PerfSample>,
}

struct Rounds<'a, 'p> {
    spec: &'a SessionSpec,
    plan: Plan,
    round_ops: Option<u64>,
    progress: &'a Progress,
    stop: &'a AtomicBool,
    pump: &'a Pump<'p>,
    t0: Instant,
    opts: MountOptions,
}

impl Rounds<'_, '_> {
    /// The next round's workload stop, or None when the plan is done.
    fn next(&self, done: &Totals, asked: u64) -> Option<Stop> {
        let n = done.rounds.len() as u64;
        let per = Stop::Ops(self.round_ops.unwrap_or(1));
        match self.plan {
            Plan::Single => (n == 0).then_some(self.spec.run.stop),
            Plan::Count(c) => (n < c).then_some(per),
            Plan::Until(s) => (n == 0 || self.t0.elapsed().as_secs_f64() < s).then_some(per),
            Plan::TotalOps(total) => {
                let left = total.saturating_sub(asked);
                (left > 0).then(|| Stop::Ops(left.min(self.round_ops.unwrap_or(left))))
            }
        }
    }

    /// Runs the rounds on `fs` (replaced by each round's remount); on an
    /// error `mounted` says whether `fs` still needs unmounting.
    fn run(&mut self, fs: &mut Arc<Fs>, mounted: &mut bool, t: &mut Totals) -> Result<()> {
        let single = matches!(self.plan, Plan::Single);
        if !single {
            remove_old_round_files(fs, &self.spec.run.file)?;
        }
        let mut asked = 0u64;
        let mut prev: Option<String> = None;
        while !self.stop.load(Ordering::Relaxed) {
            let Some(stop) = self.next(t, asked) else {
                break;
            };
            if let Stop::Ops(n) = stop {
                asked += n;
            }
            let round = t.rounds.len() as u64 + 1;
            let file = if single {
                self.spec.run.file.clone()
            } else {
                round_file(&self.spec.run.file, round)
            };
            if let Some(p) = prev.take() {
                if fs.open(&p, false).is_ok() {
                    fs.unlink(&p)?;
                    fs.sync_all()?;
                }
            }
            let run = RunSpec {
                stop,
                seed: self.spec.run.seed + round - 1,
                file: file.clone(),
                ..self.spec.run.clone()
            };
            self.round(fs, mounted, &run, round, t)?;
            prev = Some(file);
        }
        Ok(())
    }

    fn round(
        &mut self,
        fs: &mut Arc<Fs>,
        mounted: &mut bool,
        run: &RunSpec,
        round: u64,
        t: &mut Totals,
    ) -> Result<()> {
        let pump = self.pump;
        let f = FsFile::create(fs, &run.file, run.file_size)?.with_stop(Some(self.stop));
        let ino = f.ino;
        let start = pump.len();
        let lost_before = pump.lost();
        points::round_begin(round, ino);
        recorder::flush_current_thread();
        let (outcome, perf, samples) = run_counted(&f, run, self.progress, self.spec.perf)?;
        pump.pump_own()?;
        let history = History::from_events(&pump.events.lock()[start..]);
        t.reads.merge(check::check_reads(
            &history,
            ino,
            &outcome.reads,
            outcome.reads_not_kept,
        ));

        if !matches!(self.plan, Plan::Single) {
            // The next round runs on the remount: its knobs' seed.
            self.opts.knobs.seed = self.spec.knobs.seed + round;
        }
        let mut file = EngineFile {
            fs,
            mounted,
            disk: &self.spec.disk,
            opts: &self.opts,
            ino,
            retired: None,
        };
        let checked = check::check_round(&mut file, &history, ino, round, |c| {
            if pump.live.is_some() && c.label != check::AFTER_REMOUNT {
                let mut shown = c.clone();
                check::annotate_folios(&mut shown, &pump.events.lock()[start..]);
                pump.send(Live::Check {
                    round,
                    check: shown,
                });
            }
        });
        if let Some(c) = file.retired {
            t.engine += c;
        }
        let mut checks = checked?.checks;
        // The old mount's background threads have exited and handed over.
        pump.pump_own()?;
        {
            let events = pump.events.lock();
            for c in &mut checks {
                check::annotate_folios(c, &events[start..]);
            }
        }
        let violations = checks.last().map(|c| c.counts).unwrap_or_default();
        if let Some(c) = checks.last() {
            pump.send(Live::Check {
                round,
                check: c.clone(),
            });
        }
        pump.send(Live::RoundDone {
            round,
            violations,
            ops: outcome.ops,
        });

        if !self.spec.keep_events {
            pump.forget_from(start);
        }
        t.rounds.push(RoundInfo {
            round,
            seed: run.seed,
            ino,
            ops: outcome.ops,
            bytes: outcome.bytes,
            seconds: outcome.seconds,
            violations,
            end_s: self.t0.elapsed().as_secs_f64(),
            lost_events: pump.lost() - lost_before,
        });
        t.checks.extend(checks);
        t.ops += outcome.ops;
        t.bytes += outcome.bytes;
        t.errors += outcome.errors;
        if t.first_error.is_none() {
            t.first_error = outcome.first_error;
        }
        t.seconds += outcome.seconds;
        t.last_ino = ino;
        t.perf.merge(perf);
        t.perf_samples.extend(samples);
        Ok(())
    }
}

fn run_plan(
    spec: &SessionSpec,
    plan: Plan,
    round_ops: Option<u64>,
    progress: &Progress,
    tracer: Option<Box<dyn ExternalTracer>>,
    live: Option<&(dyn Fn(Live) + Sync)>,
    stop: &AtomicBool,
) -> Result<(RoundsReport, Vec<Event>)> {
    spec.knobs.validate().map_err(Error::Invalid)?;
    RunSpec {
        stop: round_ops.map_or(spec.run.stop, Stop::Ops),
        ..spec.run.clone()
    }
    .validate()?;
    if let Some(size) = spec.mkfs {
        disk::mkfs(
            &spec.disk,
            &MkfsOptions {
                size: Some(size),
                force: spec.mkfs_force,
            },
        )?;
    }
    let source = match tracer {
        Some(t) => Source::External(t),
        None => {
            let r = Recorder::new(spec.record_capacity);
            r.record_digests(spec.digests);
            Source::Inproc(r)
        }
    };
    let opts = MountOptions {
        build: spec.build,
        knobs: spec.knobs.clone(),
        recorder: match &source {
            Source::Inproc(r) => Some(r.clone()),
            Source::External(_) => None,
        },
    };
    let pump = Pump {
        source: Mutex::new(source),
        events: Mutex::new(Vec::new()),
        live,
        error: Mutex::new(None),
    };
    let t0 = Instant::now();
    let mut fs = Fs::mount(&spec.disk, opts.clone())?;
    fs.attach_thread(ThreadRole::Main, 0);
    let mut totals = Totals::default();
    let done = AtomicBool::new(false);
    let r = std::thread::scope(|s| {
        let pumper = s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                std::thread::park_timeout(PUMP_PERIOD);
                if done.load(Ordering::Acquire) {
                    break;
                }
                if let Err(e) = pump.pump() {
                    pump.error.lock().get_or_insert(e);
                    break;
                }
            }
        });
        let mut rounds = Rounds {
            spec,
            plan,
            round_ops,
            progress,
            stop,
            pump: &pump,
            t0,
            opts,
        };
        let mut mounted = true;
        let mut r = rounds.run(&mut fs, &mut mounted, &mut totals);
        if mounted {
            let u = fs.unmount();
            if r.is_ok() {
                r = u;
            }
        }
        done.store(true, Ordering::Release);
        pumper.thread().unpark();
        r
    });
    drop(fs);
    r?;
    pump.pump_own()?;
    if let Some(e) = pump.error.lock().take() {
        return Err(e);
    }
    let wall_seconds = t0.elapsed().as_secs_f64();
    let source = pump.source.into_inner();
    let mut events = pump.events.into_inner();
    // Batches are sorted; the pump's and the main thread's interleave.
    events.sort_by_key(|e| (e.ts_ns, e.tid));

    let (lost, name, notes, clock, clock_note) = match &source {
        Source::Inproc(r) => (
            r.stats().dropped,
            "inproc",
            Vec::new(),
            r.clock().name(),
            lockline_engine::probe::clock::choice_note(),
        ),
        Source::External(t) => (
            t.lost(),
            t.name(),
            t.notes(),
            "ktime",
            "bpf_ktime_get_ns: CLOCK_MONOTONIC from the kernel".to_string(),
        ),
    };
    let extents = match &source {
        Source::Inproc(r) => r.drain_extents(),
        Source::External(_) => Vec::new(),
    };
    let t = totals;
    let outcome = RunOutcome {
        ino: t.last_ino,
        ops: t.ops,
        bytes: t.bytes,
        errors: t.errors,
        first_error: t.first_error,
        seconds: t.seconds,
        reads: Vec::new(),
        reads_not_kept: 0,
    };
    let mut summary = RunSummary::new(&spec.run, outcome, t.checks, events.len() as u64, lost);
    summary.violations = Counts::default();
    for r in &t.rounds {
        summary.violations += r.violations;
    }
    summary.probe_source = name.to_string();
    summary.reads = t.reads;
    summary.clock = clock.to_string();
    summary.clock_note = clock_note;
    summary.probe_notes = notes;
    let first = t.rounds.iter().find(|r| r.violations.total() > 0);
    let report = RoundsReport {
        session: SessionReport {
            build: spec.build,
            summary,
            knobs: spec.knobs.clone(),
            injected: spec.knobs.inject.enabled(),
            engine: t.engine,
            perf: t.perf,
            perf_samples: t.perf_samples,
        },
        rounds: t.rounds.len() as u64,
        round_ops,
        rounds_with_violations: t.rounds.iter().filter(|r| r.violations.total() > 0).count() as u64,
        first_violation_round: first.map(|r| r.round),
        first_violation_s: first.map(|r| r.end_s),
        wall_seconds,
        interrupted: stop.load(Ordering::Relaxed),
        per_round: t.rounds,
        extents,
    };
    Ok((report, events))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_file_names() {
        assert_eq!(round_file("/overlap.dat", 7), "/overlap.r7.dat");
        assert_eq!(round_file("/overlay.qcow2", 1), "/overlay.r1.qcow2");
        assert_eq!(round_file("/d/x", 2), "/d/x.r2");
        assert!(is_round_file("/overlap.dat", "overlap.r12.dat"));
        assert!(!is_round_file("/overlap.dat", "overlap.dat"));
        assert!(!is_round_file("/overlap.dat", "overlap.r.dat"));
        assert!(!is_round_file("/overlap.dat", "overlap.r1x.dat"));
        assert!(!is_round_file("/overlap.dat", "other.r1.dat"));
        assert!(is_round_file("/d/x", "x.r3"));
    }

    #[test]
    fn bad_specs_are_refused() {
        let ok = RoundsSpec {
            rounds: None,
            seconds: Some(1.0),
            round_ops: 10,
        };
        assert!(ok.validate().is_ok());
        for bad in [
            RoundsSpec {
                rounds: Some(0),
                ..ok.clone()
            },
            RoundsSpec {
                round_ops: 0,
                ..ok.clone()
            },
            RoundsSpec {
                seconds: Some(f64::NAN),
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}

//! `lockline run`: seeded checked rounds of a workload on one build, each
//! round's file checked after the run, after fsync and after remount; a
//! line per round that lost data, then a summary, or one JSON object.

use crate::exit::{self, parse_size, usage};
use crate::probe_choice::{self, Probe};
use crate::trace_out;
use anyhow::Result;
use lockline_analysis::run_trace;
use lockline_engine::config::{Inject, MigrateMode, SourceFaultMode, SourceFaults};
use lockline_engine::probe::{Event, ExternalTracer};
use lockline_engine::{Build, Knobs};
use lockline_harness::check::{self, CheckReport};
use lockline_harness::perf::Counts;
use lockline_harness::rounds::{run_rounds, Live, RoundsReport, RoundsSpec, DEFAULT_ROUND_OPS};
use lockline_harness::session::{RunSummary, SessionSpec};
use lockline_harness::workload::{Progress, RunSpec, Stop, WorkloadKind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The engine's "kernel config" knobs, shared by run and demo.
#[derive(clap::Args, Clone, Debug)]
pub struct KnobArgs {
    /// Allow large folios (on|off).
    // Set, not clap's flag default for a bool: the value is on or off.
    #[arg(long, default_value = "on", value_parser = on_off, action = clap::ArgAction::Set)]
    pub large_folios: bool,
    /// Largest folio order (0 = 4 KiB pages, 4 = 64 KiB, max 9).
    #[arg(long, default_value_t = 4)]
    pub max_folio_order: u8,
    /// Flusher period in ms (0 = write back only on fsync/unmount).
    #[arg(long, default_value_t = 100)]
    pub writeback_ms: u64,
    /// Page-cache size above which clean folios are reclaimed (0 = off).
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    pub reclaim: u64,
    /// Migrate a random folio every N µs (0 = off; CONFIG_MIGRATION).
    #[arg(long, default_value_t = 0)]
    pub migration_us: u64,
    /// Compact one inode's folios every N ms (0 = off; CONFIG_COMPACTION).
    #[arg(long, default_value_t = 0)]
    pub compaction_ms: u64,
    /// How migration and compaction migrate: async (trylock, skip
    /// writeback), sync-light (sleep on the folio lock) or sync (also wait
    /// for writeback).
    #[arg(long, default_value = "async", value_parser = |s: &str| s.parse::<MigrateMode>())]
    pub migrate_mode: MigrateMode,
    /// Probability that the fault-disabled user copy stops short (0..0.9).
    #[arg(long, default_value_t = 0.0)]
    pub short_copy_rate: f64,
    /// iovec segments per write, as QEMU's pwritev of guest memory
    /// (1..64; 1 = one buffer).
    #[arg(long, default_value_t = 1)]
    pub iov_segments: u32,
    /// Probability that a source page is unmapped again between a write
    /// pass's fault-in and its atomic copy (0..0.9; per page when
    /// scattered, per pass when migrating).
    #[arg(long, default_value_t = 0.0)]
    pub source_fault_rate: f64,
    /// Which source pages go: scattered (each page alone: reclaim) or
    /// migrating (a run of pages: compaction or migration of the caller's
    /// memory).
    #[arg(long, default_value = "scattered", value_parser = |s: &str| s.parse::<SourceFaultMode>())]
    pub source_fault_mode: SourceFaultMode,
    /// Probability that a write's folio allocation fails at every order
    /// (0..0.5; fail_page_alloc, memory or memcg pressure).
    #[arg(long, default_value_t = 0.0)]
    pub alloc_fail_rate: f64,
    /// Probability that each large-order folio allocation falls back one
    /// order (0..1; fragmentation).
    #[arg(long, default_value_t = 0.0)]
    pub fragmentation: f64,
    /// Probability that the write path's single-folio read fails with EIO
    /// (0..0.5).
    #[arg(long, default_value_t = 0.0)]
    pub read_error_rate: f64,
    /// Plant a known bug (test-only): writeback-clear-after-copy,
    /// migrate-without-folio-lock, isize-before-copy, cut-to-recorded-size.
    /// Repeatable.
    #[arg(long = "inject", value_name = "BUG")]
    pub inject: Vec<String>,
}

fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err(format!("'{s}' is not on or off")),
    }
}

impl KnobArgs {
    pub fn knobs(&self, seed: u64) -> Result<Knobs> {
        let mut inject = Inject::default();
        for name in &self.inject {
            inject.enable(name).map_err(usage)?;
        }
        let k = Knobs {
            large_folios: self.large_folios,
            max_folio_order: self.max_folio_order,
            writeback_interval_ms: self.writeback_ms,
            reclaim_limit_bytes: self.reclaim,
            migration_interval_us: self.migration_us,
            compaction_interval_ms: self.compaction_ms,
            migrate_mode: self.migrate_mode,
            short_copy_rate: self.short_copy_rate,
            iov_segments: self.iov_segments,
            source_faults: SourceFaults {
                rate: self.source_fault_rate,
                mode: self.source_fault_mode,
            },
            alloc_fail_rate: self.alloc_fail_rate,
            fragmentation: self.fragmentation,
            read_error_rate: self.read_error_rate,
            seed,
            inject,
        };
        k.validate().map_err(usage)?;
        Ok(k)
    }
}

/// The workload options `run` and `kernel` share.
#[derive(clap::Args, Clone, Debug)]
pub struct WorkloadArgs {
    /// overlap, qemu-snapshot, append-mix, claim-mix, truncate-mix, disjoint
    /// or fsx-mix.
    #[arg(long, value_parser = |s: &str| s.parse::<WorkloadKind>())]
    pub workload: WorkloadKind,
    #[arg(long, default_value_t = 4)]
    pub threads: u32,
    /// Run for this long (default 5 s unless --ops is given; `run`: rounds
    /// until this long has passed).
    #[arg(long, conflicts_with = "ops", allow_hyphen_values = true)]
    pub seconds: Option<f64>,
    /// Run this many ops in total (`run`: in rounds of --round-ops).
    #[arg(long)]
    pub ops: Option<u64>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Size of the workload's file.
    #[arg(long, default_value = "64M", value_parser = parse_size)]
    pub file_size: u64,
    /// Write size of the disjoint workload.
    #[arg(long, default_value = "64K", value_parser = parse_size)]
    pub write_size: u64,
    /// Verifying readers beside the writers: each read is checked against
    /// the history as it stood during the read (stale or dropped reads are
    /// findings even when a later write erases the evidence).
    #[arg(long, default_value_t = 0)]
    pub readers: u32,
}

impl WorkloadArgs {
    /// The run these options describe (not yet validated).
    pub fn spec(&self) -> RunSpec {
        let stop = match (self.seconds, self.ops) {
            (_, Some(n)) => Stop::Ops(n),
            (Some(s), None) => Stop::Seconds(s),
            (None, None) => Stop::Seconds(5.0),
        };
        RunSpec {
            workload: self.workload,
            threads: self.threads,
            stop,
            seed: self.seed,
            file: format!("/{}.dat", self.workload.name()),
            file_size: self.file_size,
            write_size: self.write_size,
            readers: self.readers,
        }
    }
}

#[derive(clap::Args)]
#[command(after_help = "\
Rounds: a later write over the same sectors erases the evidence of an earlier \
loss, so `run` checks many short rounds instead of one long run. Each round \
writes a fresh file (/<workload>.r<N>.dat), runs --round-ops ops seeded with \
--seed + N - 1, and checks the file after the run, after fsync and after \
remount; all rounds share one mount and one trace. --seconds S runs rounds \
until S seconds have passed (5 s by default), --ops N runs N ops in all, \
--rounds N exactly N rounds. One long run: --rounds 1 --round-ops 100000.")]
pub struct Args {
    /// Lockline disk: image file or block device.
    #[arg(long)]
    disk: PathBuf,
    /// Write path: locked, lockless or lockless-min.
    #[arg(long, value_parser = |s: &str| s.parse::<Build>())]
    build: Build,
    #[command(flatten)]
    work: WorkloadArgs,
    /// Run exactly this many checked rounds (instead of --seconds or --ops).
    #[arg(long, conflicts_with_all = ["seconds", "ops"])]
    rounds: Option<u64>,
    /// Ops per round (--rounds 1 --round-ops 100000: one long run).
    #[arg(long, default_value_t = DEFAULT_ROUND_OPS)]
    round_ops: u64,
    /// Format the disk first (creating the image when absent).
    #[arg(long)]
    mkfs: bool,
    /// Size for --mkfs.
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    size: u64,
    /// With --mkfs: format even a target that looks in use (another file
    /// system, a lockline disk).
    #[arg(long, requires = "mkfs")]
    force: bool,
    /// Write the run's trace: a Parquet dataset directory (events, ops,
    /// violations, counters, meta), or only the events as CSV when the path
    /// ends in .csv.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Event source: ebpf (uprobes on the probe symbols), inproc (the
    /// in-process recorder), or auto (ebpf when BPF loads here).
    #[arg(long, value_enum, default_value = "auto")]
    probe: Probe,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// After the summary, draw the lock holdership (one lane per thread)
    /// around the first violation (of the first round with one).
    #[arg(long, conflicts_with = "json")]
    timeline: bool,
    /// Show the run live in the terminal UI (lock timeline, verdicts as
    /// each round's checks finish); it stays open on the whole trace when
    /// the run ends, until q. q before the end stops after the current
    /// round's checks. The summary prints when the UI closes.
    #[arg(long, conflicts_with_all = ["json", "timeline"])]
    tui: bool,
    #[command(flatten)]
    knobs: KnobArgs,
}

pub fn run(a: Args) -> Result<u8> {
    if let Some(t) = &a.trace {
        trace_out::check_trace_path(t)?;
        let abs = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        if abs(&a.disk).starts_with(abs(t)) {
            return Err(usage(format!(
                "--trace {} would hold the disk {}; give the trace its own directory",
                t.display(),
                a.disk.display()
            )));
        }
    }
    let knobs = a.knobs.knobs(a.work.seed)?;
    let run = a.work.spec();
    run.validate().map_err(|e| usage(e.to_string()))?;
    // --ops N: the session's stop is the total; otherwise rounds until
    // --seconds (5 s by default), or exactly --rounds.
    let rounds = RoundsSpec {
        rounds: a.rounds,
        seconds: match (a.rounds, a.work.ops) {
            (None, None) => Some(a.work.seconds.unwrap_or(5.0)),
            _ => None,
        },
        round_ops: a.round_ops,
    };
    rounds.validate().map_err(|e| usage(e.to_string()))?;
    let mut spec = SessionSpec::new(a.disk.clone(), a.build, knobs, run);
    spec.mkfs = a.mkfs.then_some(a.size);
    spec.mkfs_force = a.force;
    let choice = probe_choice::choose(a.probe, probe_choice::Target::Engine)?;
    if a.tui {
        let title = format!(
            "{}: {}",
            choice.reason, "q quits (after this round's checks)"
        );
        let (mut report, trace) = crate::cmd::live::run(&spec, &rounds, choice.tracer, &title)?;
        report.session.summary.probe_reason = choice.reason;
        print_summary(&report, a.trace.as_deref());
        if let Some(path) = &a.trace {
            trace_out::write(path, &trace)?;
        }
        // Quitting the UI early is the user's choice, not an interrupt:
        // the summary says the run stopped early.
        return Ok(exit::OK);
    }
    exit::install_sigint();
    let (mut report, events) =
        run_rounds_with_progress(&spec, &rounds, !a.json, choice.tracer, &exit::SIGINT_SEEN)?;
    report.session.summary.probe_reason = choice.reason;

    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_summary(&report, a.trace.as_deref());
        if a.timeline {
            print_violation_timeline(report.first_violating_check(), &events);
        }
    }
    let interrupted = report.interrupted;
    // Last, so the trace takes the events without a copy.
    if let Some(path) = &a.trace {
        trace_out::write(path, &run_trace::rounds_trace(&report, events)?)?;
    }
    // 128 + SIGINT, as a shell reports a Ctrl-C'd command.
    Ok(if interrupted {
        exit::INTERRUPTED
    } else {
        exit::OK
    })
}

/// Runs checked rounds; with `show`, a one-line progress display on stderr
/// and, on stdout, a line for each round that lost data as it ends.
pub fn run_rounds_with_progress(
    spec: &SessionSpec,
    rounds: &RoundsSpec,
    show: bool,
    tracer: Option<Box<dyn ExternalTracer>>,
    stop: &AtomicBool,
) -> Result<(RoundsReport, Vec<Event>)> {
    let source = if tracer.is_some() { "ebpf" } else { "inproc" };
    let label = format!("{} on {} [{source}]", spec.run.workload, spec.build);
    Ok(with_progress_bar(label, show, |p, bar| {
        // The final check of the round now ending, for its line.
        let last = std::sync::Mutex::new(None::<CheckReport>);
        let with_violations = std::sync::atomic::AtomicU64::new(0);
        let live = |l: Live| match l {
            Live::Check { check, .. } => {
                *last.lock().unwrap_or_else(|e| e.into_inner()) = Some(check)
            }
            Live::RoundDone {
                round, violations, ..
            } => {
                let bad = if violations.total() > 0 {
                    with_violations.fetch_add(1, Ordering::Relaxed) + 1
                } else {
                    with_violations.load(Ordering::Relaxed)
                };
                if let Some(bar) = bar {
                    bar.set_prefix(format!("round {round}, {bad} with violations; "));
                }
                if violations.total() > 0 {
                    let line = round_line(
                        round,
                        spec.run.seed + round - 1,
                        last.lock().unwrap_or_else(|e| e.into_inner()).as_ref(),
                    );
                    match bar {
                        Some(bar) => bar.suspend(|| println!("{line}")),
                        None => println!("{line}"),
                    }
                }
            }
            Live::Events(_) => {}
        };
        let live: Option<&(dyn Fn(Live) + Sync)> = if show { Some(&live) } else { None };
        run_rounds(spec, rounds, p, tracer, live, stop)
    })?)
}

/// "round 7 (seed 7): 2 torn sectors: <first explanation>".
fn round_line(round: u64, seed: u64, check: Option<&CheckReport>) -> String {
    let mut line = format!("round {round} (seed {seed})");
    if let Some(c) = check {
        line.push_str(&format!(": {}", counts_phrase(&c.counts)));
        if let Some(v) = c.violations.first() {
            line.push_str(&format!(": {}", v.explanation));
        }
    }
    line
}

/// "3 dropped, 2 torn sectors".
fn counts_phrase(c: &check::Counts) -> String {
    let parts: Vec<String> = [("dropped", c.dropped), ("stale", c.stale), ("torn", c.torn)]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    if parts.is_empty() {
        "no violations".to_string()
    } else {
        format!("{} sectors", parts.join(", "))
    }
}

/// Runs `f` with a fresh `Progress`, showing "label: N ops, M MiB written"
/// on stderr while it runs when `show` is set.
pub fn with_progress<T>(label: String, show: bool, f: impl FnOnce(&Progress) -> T) -> T {
    with_progress_bar(label, show, |p, _| f(p))
}

/// `with_progress`, handing `f` the bar (when shown) so it can set the
/// bar's prefix or print lines without tearing it.
pub fn with_progress_bar<T>(
    label: String,
    show: bool,
    f: impl FnOnce(&Progress, Option<&indicatif::ProgressBar>) -> T,
) -> T {
    let progress = Arc::new(Progress::default());
    let done = Arc::new(AtomicBool::new(false));
    let bar = show.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) =
            indicatif::ProgressStyle::default_spinner().template("{spinner} {prefix}{msg}")
        {
            bar.set_style(style);
        }
        bar
    });
    let ticker = bar.clone().map(|bar| {
        let (progress, done) = (progress.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let ops = progress.ops.load(Ordering::Relaxed);
                let mib = progress.bytes.load(Ordering::Relaxed) >> 20;
                bar.set_message(format!("{label}: {ops} ops, {mib} MiB written"));
                bar.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        })
    });
    let r = f(&progress, bar.as_ref());
    done.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        let _ = t.join();
    }
    r
}

pub fn print_summary(r: &RoundsReport, trace: Option<&std::path::Path>) {
    println!(
        "{} on {}: {} ops, {} MiB in {:.2} s = {:.1} MiB/s, {} threads, seed {}",
        r.session.summary.workload,
        r.session.build,
        r.session.summary.ops,
        r.session.summary.bytes >> 20,
        r.session.summary.seconds,
        r.session.summary.throughput_mib_s,
        r.session.summary.threads,
        r.session.summary.seed
    );
    if !r.session.injected.is_empty() {
        println!("injected bugs: {}", r.session.injected.join(", "));
    }
    println!("{}", rounds_line(r));
    print_outcome_of(&r.session.summary, r.shown_check());
    let e = &r.session.engine;
    println!(
        "engine: {} short copies, {} restarts, {} post-EOF truncates, {} folios written, {} reclaimed, {} migrated",
        e.short_copies, e.restarts, e.post_eof_truncates, e.folios_written, e.reclaimed_folios, e.migrated_folios
    );
    if !r.session.perf.per_thread.is_empty() {
        println!(
            "perf ({} worker threads): {}",
            r.session.perf.per_thread.len(),
            perf_line(&r.session.perf.total)
        );
    }
    print_events_line(&r.session.summary);
    if let Some(t) = trace {
        println!("trace: {}", t.display());
    }
}

/// "N rounds of K ops (seeds a..b), M with violations, first in round R
/// after X s".
fn rounds_line(r: &RoundsReport) -> String {
    let seeds = match r.per_round.as_slice() {
        [] => String::new(),
        [one] => format!(" (seed {})", one.seed),
        [first, .., last] => format!(" (seeds {}..{})", first.seed, last.seed),
    };
    let of = r
        .round_ops
        .map_or(String::new(), |k| format!(" of {k} ops"));
    let mut line = format!(
        "{} round{}{of}{seeds}, ",
        r.rounds,
        if r.rounds == 1 { "" } else { "s" }
    );
    match (r.first_violation_round, r.first_violation_s) {
        (Some(f), Some(s)) => line.push_str(&format!(
            "{} with violations, first in round {f} after {s:.2} s",
            r.rounds_with_violations
        )),
        _ => line.push_str("none with violations"),
    }
    if r.interrupted {
        line.push_str(" (interrupted)");
    }
    line
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// One line of perf counts; "-" for a counter that could not be opened.
pub fn perf_line(c: &Counts) -> String {
    format!(
        "{} ctx switches, {} migrations, {} page faults, task clock {} ms, {} cycles, {} instructions",
        opt(c.context_switches),
        opt(c.cpu_migrations),
        opt(c.page_faults),
        opt(c.task_clock_ns.map(|n| n / 1_000_000)),
        opt(c.cycles),
        opt(c.instructions)
    )
}

/// How many events, from where, how many lost, and what the source
/// skipped; lost events make the checker's verdict suspect, so say so.
pub fn print_events_line(s: &RunSummary) {
    if !s.probe_reason.is_empty() {
        println!("{}", s.probe_reason);
    }
    println!(
        "events: {} recorded ({}), {} lost",
        s.events, s.probe_source, s.lost_events
    );
    if s.lost_events > 0 {
        println!("warning: events were lost: ops missing from the history may show up as false violations");
    }
    for n in &s.probe_notes {
        println!("note: {n}");
    }
}

/// Op errors, the three checks and the final check's violations: the part
/// of a summary every checked run (engine or kernel) shares.
pub fn print_outcome(s: &RunSummary) {
    print_outcome_of(s, s.final_check());
}

/// `print_outcome` with the violations of `shown`. Checks of several
/// rounds are summed per label ("after-run, 12 rounds: ...").
pub fn print_outcome_of(s: &RunSummary, shown: Option<&CheckReport>) {
    if s.op_errors > 0 {
        println!(
            "op errors: {} (first: {})",
            s.op_errors,
            s.first_error.as_deref().unwrap_or("?")
        );
    }
    let r = &s.reads;
    if r.reads > 0 {
        println!(
            "  {:<14} {} reads, {} sectors: {} with violations, {} dropped, {} stale sectors{}",
            lockline_harness::check::DURING_RUN,
            r.reads,
            r.sectors,
            r.bad_reads,
            r.counts.dropped,
            r.counts.stale,
            if r.reads_not_kept > 0 {
                format!(" ({} more reads not kept)", r.reads_not_kept)
            } else {
                String::new()
            }
        );
        for v in r.violations.iter().take(3) {
            println!("  {}", v.explanation);
        }
    }
    // Per label, in the order the checks ran: (label, rounds, sectors, ok, counts).
    let mut sums: Vec<(&str, u64, u64, u64, check::Counts)> = Vec::new();
    for c in &s.checks {
        let i = match sums.iter().position(|x| x.0 == c.label) {
            Some(i) => i,
            None => {
                sums.push((&c.label, 0, 0, 0, check::Counts::default()));
                sums.len() - 1
            }
        };
        let x = &mut sums[i];
        x.1 += 1;
        x.2 += c.sectors_checked;
        x.3 += c.ok;
        x.4 += c.counts;
    }
    for (label, n, sectors, ok, counts) in &sums {
        let rounds = if *n > 1 {
            format!("{n} rounds, ")
        } else {
            String::new()
        };
        println!(
            "  {label:<14} {rounds}{sectors} sectors: {ok} ok, {} dropped, {} stale, {} torn",
            counts.dropped, counts.stale, counts.torn
        );
    }
    if let Some(c) = shown.filter(|c| !c.violations.is_empty()) {
        if c.round > 0 && sums.iter().any(|x| x.1 > 1) {
            println!("  round {}, {}:", c.round, c.label);
        }
        for v in c.violations.iter().take(10) {
            match v.folio {
                Some((index, order)) => {
                    println!("  [folio {index}, order {order}] {}", v.explanation)
                }
                None => println!("  {}", v.explanation),
            }
        }
        if c.violations.len() > 10 {
            println!(
                "  ... {} more (use --json for all)",
                c.violations.len() - 10
            );
        }
    }
}

/// The lock timeline around the first violation of `check` (the final
/// check of the first round with one): every hold on that inode from the
/// first op involved beginning to the last one ending, one lane per thread.
pub fn print_violation_timeline(check: Option<&CheckReport>, events: &[Event]) {
    let Some(v) = check.and_then(|c| c.violations.first()) else {
        println!("timeline: no violation to show");
        return;
    };
    let t0 = v.ops.iter().map(|o| o.begin_ns).min().unwrap_or(0);
    let t1 = v
        .ops
        .iter()
        .map(|o| o.end_ns)
        .filter(|e| *e != u64::MAX)
        .max()
        .unwrap_or(t0 + 1);
    let on_inode: Vec<_> = events
        .iter()
        .filter(|e| e.inode == v.ino || e.inode == 0)
        .copied()
        .collect();
    let holds = lockline_analysis::holds_from_events(&on_inode);
    println!(
        "lock timeline of the first violation ({}, sectors {}..{}): {:.3} ms from the first op's begin to the last op's end",
        format!("{:?}", v.class).to_lowercase(),
        v.first_sector,
        v.first_sector + v.nr_sectors,
        (t1 - t0) as f64 / 1e6,
    );
    println!("{}", lockline_tui::timeline::LEGEND);
    for lane in lockline_tui::timeline::render(&holds, t0, t1.max(t0 + 1), 100) {
        println!("{lane}");
    }
}

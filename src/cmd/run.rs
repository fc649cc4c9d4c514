//! `lockline run`: seeded checked rounds of a workload on one build, each
//! round's file checked after the run, after fsync and after remount; a
//! line per round that lost data, then a summary, or one JSON object.

use crate::args::{KnobArgs, RoundArgs, Unsaid, WorkloadArgs};
use crate::exit::{self, parse_size, usage};
use crate::probe_choice::{self, Probe};
use crate::progress::run_rounds_with_progress;
use crate::summary::{print_summary, print_violation_timeline};
use crate::trace_out;
use crate::ui;
use anyhow::{anyhow, Result};
use lockline_analysis::run_trace;
use lockline_engine::Build;
use lockline_harness::session::SessionSpec;
use lockline_tui::source::rounds as live;
use std::path::PathBuf;

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
    #[command(flatten)]
    rounds: RoundArgs,
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
    let rounds = a.rounds.spec(&a.work, Unsaid::Seconds(5.0))?;
    let mut spec = SessionSpec::new(a.disk.clone(), a.build, knobs, run);
    spec.mkfs = a.mkfs.then_some(a.size);
    spec.mkfs_force = a.force;
    // A kept trace carries content digests, so `analyze --at` can follow
    // any sector's bytes (and provenance can judge the run again).
    spec.digests = a.trace.is_some();
    let choice = probe_choice::choose(a.probe, probe_choice::Target::Engine)?;
    if a.tui {
        let title = format!(
            "{}: {}",
            choice.reason, "q quits (after this round's checks)"
        );
        ui::check_terminal()?;
        let exporter = ui::exporter(ui::export_dir(None)?);
        let (mut report, trace) = live::run(&spec, &rounds, choice.tracer, &title, Some(exporter))
            .map_err(|e| anyhow!(e))?;
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

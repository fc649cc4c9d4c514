//! `lockline explore`: schedules of a few ops run one thread at a time by
//! the controlled scheduler, each checked; the first violating schedule's
//! id, explanation and trace. `--merge` joins the JSON reports of shards.

use crate::args::InjectArgs;
use crate::exit::{self, usage};
use crate::scratch::{scratch_dir, scratch_image};
use crate::trace_out;
use anyhow::{Context, Result};
use lockline_analysis::run_trace;
use lockline_engine::Build;
use lockline_harness::explore::id::{ScheduleId, StrategySpec};
use lockline_harness::explore::{self, ExploreReport, ExploreSpec, Progress, StrategyKind};
use lockline_harness::workload::WorkloadKind;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which write path: locked, lockless or lockless-min.
    #[arg(long, default_value = "lockless", value_parser = |s: &str| s.parse::<Build>())]
    pub build: Build,
    /// The workload whose ops the schedules run.
    #[arg(long, default_value = "claim-mix", value_parser = |s: &str| s.parse::<WorkloadKind>())]
    pub workload: WorkloadKind,
    /// Workload threads (a flusher and a migration thread run beside them).
    #[arg(long, default_value_t = 3)]
    pub threads: u32,
    /// Ops per schedule, dealt round-robin to the threads.
    #[arg(long, default_value_t = 8)]
    pub ops_per_round: u32,
    /// Stop after this many schedules.
    #[arg(long)]
    pub schedules: Option<u64>,
    /// Stop after this many seconds (default 10 when --schedules is not given).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// pct (priorities with d-1 change points), random (a random walk) or
    /// bounded (every schedule with at most --bound preemptions).
    #[arg(long, default_value = "pct", value_parser = |s: &str| s.parse::<StrategyKind>())]
    pub strategy: StrategyKind,
    /// PCT depth d: the bug depth it aims at.
    #[arg(long, default_value_t = 3)]
    pub depth: u32,
    /// Most preemptions per schedule (bounded).
    #[arg(long, default_value_t = 1)]
    pub bound: u32,
    /// Seed of the ops and schedules.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// pct and random: schedules per set of ops before new ops are drawn.
    #[arg(long, default_value_t = 8)]
    pub per_program: u64,
    /// Go on after the first violating schedule and count them all.
    #[arg(long)]
    pub all: bool,
    /// Explore only shard K of N (schedules numbered K-1, K-1+N, ...).
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<(u64, u64)>,
    /// Probability that the user copy stops short (0..0.9).
    #[arg(long, default_value_t = 0.0)]
    pub short_copy_rate: f64,
    /// Probability that a write's folio allocation fails (0..0.5).
    #[arg(long, default_value_t = 0.0)]
    pub alloc_fail_rate: f64,
    /// Background threads beside the workload's: flusher (one writeback
    /// pass), migrate (one folio migration), both (comma-separated) or none.
    #[arg(long, default_value = "flusher,migrate", value_parser = parse_background)]
    pub background: Background,
    #[command(flatten)]
    pub inject: InjectArgs,
    /// Where the first violating schedule's trace goes (Parquet directory,
    /// or a .csv of its events).
    #[arg(long, default_value = "explore-trace")]
    pub trace: PathBuf,
    /// Scratch disk image, formatted afresh for every schedule and removed
    /// at the end; must not exist (default: a temporary file in /dev/shm,
    /// or the temporary directory without it).
    #[arg(long)]
    pub disk: Option<PathBuf>,
    /// The report as one JSON object (what --merge reads).
    #[arg(long)]
    pub json: bool,
    /// Join the JSON reports of shards (files, or directories of *.json)
    /// instead of exploring.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub merge: Vec<PathBuf>,
}

/// Which background threads a schedule runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Background {
    pub flusher: bool,
    pub migrate: bool,
}

fn parse_background(s: &str) -> Result<Background, String> {
    let mut b = Background::default();
    for p in s.split(',').filter(|p| !p.is_empty() && *p != "none") {
        match p {
            "flusher" => b.flusher = true,
            "migrate" => b.migrate = true,
            _ => {
                return Err(format!(
                    "unknown background thread '{p}' (expected flusher, migrate or none)"
                ))
            }
        }
    }
    Ok(b)
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("shard '{s}' is not K/N with 1 <= K <= N");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n) = (
        k.trim().parse::<u64>().map_err(|_| bad())?,
        n.trim().parse::<u64>().map_err(|_| bad())?,
    );
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// The schedule-id template the spec's schedules share.
fn template(a: &Args) -> Result<ScheduleId> {
    let inject = a.inject.inject()?;
    let id = ScheduleId {
        build: a.build,
        workload: a.workload,
        threads: a.threads,
        ops: a.ops_per_round,
        wseed: a.seed,
        eseed: 0,
        inject,
        short_copy_rate: a.short_copy_rate,
        alloc_fail_rate: a.alloc_fail_rate,
        kept: None,
        flusher: a.background.flusher,
        migrate: a.background.migrate,
        strategy: StrategySpec::Explicit { switches: vec![] },
    };
    // The limits a pasted schedule id meets.
    id.check_limits().map_err(usage)?;
    Ok(id)
}

pub fn run(a: Args) -> Result<u8> {
    if !a.merge.is_empty() {
        return merge(&a);
    }
    let template = template(&a)?;
    trace_out::check_trace_path(&a.trace)?;
    let scratch = scratch_dir()?;
    let (image, _gone) = scratch_image(a.disk.as_deref(), &scratch, "explore.img")?;
    let spec = ExploreSpec {
        template,
        strategy: a.strategy,
        depth: a.depth,
        bound: a.bound,
        seed: a.seed,
        per_program: a.per_program,
        max_schedules: a.schedules,
        max_seconds: a.seconds.or(if a.schedules.is_none() {
            Some(10.0)
        } else {
            None
        }),
        all: a.all,
        shard: a.shard.unwrap_or((1, 1)),
        image,
    };
    spec.validate().map_err(|e| usage(e.to_string()))?;
    exit::install_sigint();
    let live = !a.json && std::io::stderr().is_terminal();
    let mut last = Instant::now();
    let mut n = 0u64;
    let t0 = Instant::now();
    let (report, first) = explore::explore(&spec, &exit::SIGINT_SEEN, |p| match p {
        Progress::Schedule { .. } => {
            n += 1;
            if live && last.elapsed().as_millis() >= 500 {
                last = Instant::now();
                eprint!(
                    "\r{n} schedules, {:.0}/s   ",
                    n as f64 / t0.elapsed().as_secs_f64()
                );
            }
        }
    })?;
    if live {
        eprint!("\r\x1b[K");
    }
    let mut trace_note = None;
    if let Some(run) = &first {
        trace_out::write(&a.trace, &run_trace::schedule_trace(run)?)?;
        trace_note = Some(a.trace.display().to_string());
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, trace_note.as_deref());
    }
    if exit::SIGINT_SEEN.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(exit::INTERRUPTED);
    }
    Ok(if report.violating > 0 {
        exit::PROBLEMS
    } else {
        exit::OK
    })
}

fn print_report(r: &ExploreReport, trace: Option<&str>) {
    let shards = if r.shards == ["1/1"] {
        String::new()
    } else {
        format!(" (shards {})", r.shards.join(" "))
    };
    println!(
        "explored {} schedules of {} on {} ({}, seed {}{}): {:.1} s, {:.0} schedules/s, {} decisions",
        r.schedules,
        r.workload,
        r.build,
        strategy_line(r),
        r.seed,
        shards,
        r.seconds,
        r.schedules_per_s,
        r.decisions
    );
    if r.lost_control > 0 {
        println!(
            "  {} schedules ran partly uncontrolled (a thread slept where the scheduler cannot see): their ids do not replay exactly",
            r.lost_control
        );
    }
    let Some(f) = &r.first else {
        println!("no violation");
        return;
    };
    println!(
        "{} violating schedule{}; the first, number {} after {:.2} s:",
        r.violating,
        if r.violating == 1 { "" } else { "s" },
        f.index,
        f.at_s
    );
    println!("  id:       {}", f.id);
    println!(
        "  explicit: {} ({} decisions, {} switches)",
        f.explicit, f.steps, f.switches
    );
    for line in f.explanation.lines() {
        println!("  {line}");
    }
    if let Some(t) = trace {
        println!("trace: {t} (lockline analyze / tui / export)");
    }
    println!("replay: lockline replay '{}' --minimize", f.id);
}

fn strategy_line(r: &ExploreReport) -> String {
    match r.strategy {
        StrategyKind::Pct => format!("pct d={}", r.depth),
        StrategyKind::Bounded => format!("bounded b={}", r.bound),
        StrategyKind::Random => "random walk".to_string(),
    }
}

fn report_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "json"))
                .collect();
            if v.is_empty() {
                return Err(usage(format!("{} holds no .json reports", p.display())));
            }
            v.sort();
            out.extend(v);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(usage(format!("{} does not exist", p.display())));
        }
    }
    Ok(out)
}

fn read_report(p: &Path) -> Result<ExploreReport> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        usage(format!(
            "{} is not a lockline explore --json report: {e}",
            p.display()
        ))
    })
}

fn merge(a: &Args) -> Result<u8> {
    let reports = report_files(&a.merge)?
        .iter()
        .map(|p| read_report(p))
        .collect::<Result<Vec<_>>>()?;
    let merged = explore::merge(reports).map_err(|e| usage(e.to_string()))?;
    let missing = explore::missing_shards(&merged);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&merged)?);
    } else {
        print_report(&merged, None);
    }
    if !missing.is_empty() {
        eprintln!(
            "lockline: note: shards {} are missing from the merge",
            missing.join(" ")
        );
    }
    Ok(if merged.violating > 0 {
        exit::PROBLEMS
    } else {
        exit::OK
    })
}

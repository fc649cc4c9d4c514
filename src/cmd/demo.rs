//! `lockline demo`: the embedded default. A temporary disk image, the
//! qemu-snapshot workload on lockless-min, lockless and locked in turn with
//! a distro-like config (large folios, migration, compaction, reclaim
//! pressure, occasional short copies), then a side-by-side table.

use crate::cmd::run::{print_summary, run_with_progress};
use crate::exit;
use crate::trace_out;
use anyhow::{Context, Result};
use lockline_engine::check::Counts;
use lockline_engine::session::SessionSpec;
use lockline_engine::workload::{RunSpec, Stop, WorkloadKind};
use lockline_engine::{Build, Knobs};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

/// Ops per checked round.
const ROUND_OPS: u64 = 600;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds of rounds per build.
    #[arg(long, default_value_t = 10.0, allow_hyphen_values = true)]
    seconds: f64,
    #[arg(long, default_value_t = 4)]
    threads: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to keep the traces (default: a new directory under $TMPDIR).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print each build's full summary too.
    #[arg(long)]
    verbose: bool,
}

/// One build's rounds, summed.
struct Row {
    build: Build,
    rounds: u64,
    rounds_with_violations: u64,
    ops: u64,
    bytes: u64,
    seconds: f64,
    violations: Counts,
    restarts: u64,
    events: u64,
    lost: u64,
    first: Option<String>,
    trace: PathBuf,
}

pub fn run(a: Args) -> Result<u8> {
    if a.threads == 0 {
        return Err(crate::exit::usage("--threads must be at least 1"));
    }
    if !(a.seconds > 0.0 && a.seconds.is_finite()) {
        return Err(crate::exit::usage(format!(
            "--seconds {} is not a positive duration",
            a.seconds
        )));
    }
    let out = match a.out {
        Some(p) => p,
        None => std::env::temp_dir().join(format!("lockline-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let scratch = tempfile::tempdir_in(&out).context("creating a scratch directory")?;
    println!(
        "lockline demo: qemu-snapshot, {} threads, rounds of {ROUND_OPS} ops for {} s per build, seed {}",
        a.threads, a.seconds, a.seed
    );
    let tty = std::io::stderr().is_terminal();
    let mut rows = Vec::new();
    for build in [Build::LocklessMin, Build::Lockless, Build::Locked] {
        let img = scratch.path().join(format!("{build}.img"));
        let trace = out.join(build.name());
        let mut row = Row {
            build,
            rounds: 0,
            rounds_with_violations: 0,
            ops: 0,
            bytes: 0,
            seconds: 0.0,
            violations: Counts::default(),
            restarts: 0,
            events: 0,
            lost: 0,
            first: None,
            trace: trace.clone(),
        };
        let t0 = Instant::now();
        let mut kept_trace = false;
        // A later write over the same sectors erases the evidence of an
        // earlier loss, so many short checked rounds find more than one
        // long run.
        while t0.elapsed().as_secs_f64() < a.seconds {
            let seed = a.seed + row.rounds;
            let run = RunSpec {
                workload: WorkloadKind::QemuSnapshot,
                threads: a.threads,
                stop: Stop::Ops(ROUND_OPS),
                seed,
                file: "/overlay.qcow2".into(),
                file_size: 16 << 20,
                write_size: 64 << 10,
                readers: 0,
            };
            let mut spec = SessionSpec::new(img.clone(), build, Knobs::busy(seed), run);
            spec.mkfs = Some(256 << 20);
            let _ = std::fs::remove_file(&img);
            let (report, events) = run_with_progress(&spec, false, None)?;
            row.rounds += 1;
            row.ops += report.summary.ops;
            row.bytes += report.summary.bytes;
            row.seconds += report.summary.seconds;
            row.restarts += report.engine.restarts;
            row.events += report.summary.events;
            row.lost += report.summary.lost_events;
            let v = report.summary.violations;
            row.violations.dropped += v.dropped;
            row.violations.stale += v.stale;
            row.violations.torn += v.torn;
            let found = v.total() > 0;
            if found {
                row.rounds_with_violations += 1;
            }
            // Keep the trace of the first round with a violation (or the
            // first round, if none has one).
            if !kept_trace || (found && row.first.is_none()) {
                trace_out::write(&trace, &trace_out::session_trace(&report, events)?)?;
                kept_trace = true;
            }
            if found && row.first.is_none() {
                row.first = report
                    .summary
                    .final_check()
                    .and_then(|c| c.violations.first())
                    .map(|v| format!("seed {seed}: {}", v.explanation));
                if a.verbose {
                    print_summary(&report, Some(&trace));
                }
            }
            if tty {
                eprint!(
                    "\r{build}: {} rounds, {} with violations",
                    row.rounds, row.rounds_with_violations
                );
            }
        }
        if tty {
            eprintln!();
        }
        let _ = std::fs::remove_file(&img);
        rows.push(row);
    }
    println!();
    println!(
        "{:<13} {:>7} {:>8} {:>9} {:>9} {:>7} {:>6} {:>9} {:>9}",
        "build", "rounds", "ops", "MiB/s", "dropped", "stale", "torn", "restarts", "events"
    );
    for r in &rows {
        println!(
            "{:<13} {:>7} {:>8} {:>9.1} {:>9} {:>7} {:>6} {:>9} {:>9}",
            r.build.name(),
            format!("{}/{}", r.rounds_with_violations, r.rounds),
            r.ops,
            r.bytes as f64 / (1 << 20) as f64 / r.seconds.max(1e-9),
            r.violations.dropped,
            r.violations.stale,
            r.violations.torn,
            r.restarts,
            r.events
        );
    }
    println!("(rounds: with violations / run; dropped, stale, torn: sectors after remount; lost events: {})",
        rows.iter().map(|r| r.lost).sum::<u64>());
    println!();
    for r in &rows {
        match &r.first {
            Some(e) => println!("{}: {e}", r.build),
            None => println!("{}: no violation", r.build),
        }
    }
    println!();
    for r in &rows {
        println!("trace {}: {}", r.build, r.trace.display());
    }
    if let Some(r) = rows.iter().find(|r| r.first.is_some()) {
        println!();
        println!(
            "next: lockline analyze {} --plots {}",
            r.trace.display(),
            out.join("plots").display()
        );
        println!(
            "      lockline export {} --format chrome --out {}  (open in ui.perfetto.dev)",
            r.trace.display(),
            out.join(format!("{}.json", r.build.name())).display()
        );
    }
    Ok(exit::OK)
}

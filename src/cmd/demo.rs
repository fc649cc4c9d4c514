//! `lockline demo`: the embedded default. A temporary disk image, the
//! qemu-snapshot workload on lockless-min, lockless and locked in turn with
//! a distro-like config (large folios, migration, compaction, reclaim
//! pressure, occasional short copies), then a side-by-side table.

use crate::exit;
use crate::summary::print_summary;
use crate::trace_out;
use crate::ui;
use anyhow::{Context, Result};
use lockline_analysis::run_trace;
use lockline_engine::{Build, Knobs};
use lockline_harness::check::Counts;
use lockline_harness::rounds::{run_rounds, Live, RoundsSpec, DEFAULT_ROUND_OPS as ROUND_OPS};
use lockline_harness::session::SessionSpec;
use lockline_harness::workload::{Progress, RunSpec, Stop, WorkloadKind};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

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
    /// Watch each build's rounds live in the terminal UI; q moves on to
    /// the next build, the table prints after the last.
    #[arg(long)]
    tui: bool,
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
    if a.tui {
        ui::check_terminal()?;
    }
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
    exit::install_sigint();
    let mut rows = Vec::new();
    for build in [Build::LocklessMin, Build::Lockless, Build::Locked] {
        if exit::SIGINT_SEEN.load(Ordering::Relaxed) {
            break;
        }
        let img = scratch.path().join(format!("{build}.img"));
        let trace = out.join(build.name());
        // A later write over the same sectors erases the evidence of an
        // earlier loss, so many short checked rounds find more than one
        // long run: rounds of ROUND_OPS ops, each on a fresh file, seeded
        // seed, seed + 1, ... (workload and knobs), on one disk and trace.
        let run = RunSpec {
            workload: WorkloadKind::QemuSnapshot,
            threads: a.threads,
            stop: Stop::Seconds(a.seconds),
            seed: a.seed,
            file: "/overlay.qcow2".into(),
            file_size: 16 << 20,
            write_size: 64 << 10,
            readers: 0,
        };
        let mut spec = SessionSpec::new(img.clone(), build, Knobs::busy(a.seed), run);
        spec.mkfs = Some(256 << 20);
        let _ = std::fs::remove_file(&img);
        let rounds = RoundsSpec {
            rounds: None,
            seconds: Some(a.seconds),
            round_ops: ROUND_OPS,
        };
        let (report, trace_t) = if a.tui {
            let title = format!("demo: {build} (builds: lockless-min, lockless, locked); q: next");
            let exporter = ui::exporter(ui::export_dir(None)?);
            lockline_tui::source::rounds::run(&spec, &rounds, None, &title, Some(exporter))
                .map_err(|e| anyhow::anyhow!(e))?
        } else {
            let with_violations = std::sync::atomic::AtomicU64::new(0);
            let live = |l: Live| {
                if let Live::RoundDone {
                    round, violations, ..
                } = l
                {
                    if violations.total() > 0 {
                        with_violations.fetch_add(1, Ordering::Relaxed);
                    }
                    eprint!(
                        "\r{build}: {round} rounds, {} with violations",
                        with_violations.load(Ordering::Relaxed)
                    );
                }
            };
            let live: Option<&(dyn Fn(Live) + Sync)> = if tty { Some(&live) } else { None };
            let (report, events) = run_rounds(
                &spec,
                &rounds,
                &Progress::default(),
                None,
                live,
                &exit::SIGINT_SEEN,
            )?;
            let t = run_trace::rounds_trace(&report, events)?;
            (report, t)
        };
        if tty && !a.tui {
            eprintln!();
        }
        let first = report.first_violating_check().and_then(|c| {
            let seed = report.per_round.get(c.round as usize - 1)?.seed;
            let v = c.violations.first()?;
            Some(format!("seed {seed}: {}", v.explanation))
        });
        if a.verbose {
            print_summary(&report, Some(&trace));
        }
        rows.push(Row {
            build,
            rounds: report.rounds,
            rounds_with_violations: report.rounds_with_violations,
            ops: report.session.summary.ops,
            bytes: report.session.summary.bytes,
            seconds: report.session.summary.seconds,
            violations: report.session.summary.violations,
            restarts: report.session.engine.restarts,
            events: report.session.summary.events,
            lost: report.session.summary.lost_events,
            first,
            trace: trace.clone(),
        });
        // The whole run's trace: every round, the first violating one too.
        trace_out::write(&trace, &trace_t)?;
        let _ = std::fs::remove_file(&img);
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
            "      lockline export {} --format perfetto --out {}  (open in ui.perfetto.dev: holds, waits, hand-offs as flows)",
            r.trace.display(),
            out.join(format!("{}.pftrace", r.build.name())).display()
        );
        println!(
            "      lockline tui {}  (the lock timeline; Enter on a violation shows its blame window)",
            r.trace.display()
        );
    }
    Ok(if exit::SIGINT_SEEN.load(Ordering::Relaxed) {
        exit::INTERRUPTED
    } else {
        exit::OK
    })
}

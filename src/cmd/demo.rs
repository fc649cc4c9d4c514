//! `lockline demo`: the embedded default. A temporary disk image, the
//! qemu-snapshot workload on lockless-min, lockless and locked in turn with
//! a distro-like config (large folios, migration, compaction, reclaim
//! pressure, occasional short copies), then a side-by-side table.

use crate::cmd::run::{print_summary, run_with_progress};
use crate::exit;
use crate::trace_csv;
use anyhow::{Context, Result};
use lockline_engine::session::SessionSpec;
use lockline_engine::workload::{RunSpec, Stop, WorkloadKind};
use lockline_engine::{Build, Knobs};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds of workload per build.
    #[arg(long, default_value_t = 8.0)]
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

/// The demo's "kernel config": what a distro kernel might run with, with
/// the pressure turned up so a few seconds show something.
pub fn demo_knobs(seed: u64) -> Knobs {
    Knobs {
        large_folios: true,
        max_folio_order: 4,
        writeback_interval_ms: 50,
        reclaim_limit_bytes: 48 << 20,
        migration_interval_us: 500,
        compaction_interval_ms: 50,
        short_copy_rate: 0.02,
        seed,
        ..Knobs::default()
    }
}

pub fn run(a: Args) -> Result<u8> {
    let out = match a.out {
        Some(p) => p,
        None => std::env::temp_dir().join(format!("lockline-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let scratch = tempfile::tempdir_in(&out).context("creating a scratch directory")?;
    println!(
        "lockline demo: qemu-snapshot, {} threads, {} s per build, seed {}",
        a.threads, a.seconds, a.seed
    );
    let mut rows = Vec::new();
    for build in [Build::LocklessMin, Build::Lockless, Build::Locked] {
        let img = scratch.path().join(format!("{build}.img"));
        let run = RunSpec {
            workload: WorkloadKind::QemuSnapshot,
            threads: a.threads,
            stop: Stop::Seconds(a.seconds),
            seed: a.seed,
            file: "/overlay.qcow2".into(),
            file_size: 256 << 20,
            write_size: 64 << 10,
        };
        let mut spec = SessionSpec::new(img.clone(), build, demo_knobs(a.seed), run);
        spec.mkfs = Some(1 << 30);
        let (report, events) = run_with_progress(&spec, true)?;
        let trace = out.join(format!("{build}.csv"));
        trace_csv::write(&trace, &events)
            .with_context(|| format!("writing {}", trace.display()))?;
        if a.verbose {
            print_summary(&report, Some(&trace));
        }
        let _ = std::fs::remove_file(&img);
        rows.push((report, trace));
    }
    println!();
    println!(
        "{:<13} {:>8} {:>9} {:>8} {:>6} {:>6} {:>9} {:>9}",
        "build", "ops", "MiB/s", "dropped", "stale", "torn", "restarts", "events"
    );
    for (r, _) in &rows {
        println!(
            "{:<13} {:>8} {:>9.1} {:>8} {:>6} {:>6} {:>9} {:>9}",
            r.build.name(),
            r.ops,
            r.throughput_mib_s,
            r.violations.dropped,
            r.violations.stale,
            r.violations.torn,
            r.engine.restarts,
            r.events
        );
    }
    println!();
    for (r, _) in &rows {
        if let Some(v) = r.final_check().and_then(|c| c.violations.first()) {
            println!("{}: {}", r.build, v.explanation);
        }
    }
    println!("traces (CSV, one row per event): {}", out.display());
    Ok(exit::OK)
}

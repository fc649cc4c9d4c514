//! `lockline run`: one seeded workload on one build, checked after the run,
//! after fsync and after remount; a text summary or one JSON object.

use crate::exit::{self, parse_size, usage};
use crate::probe_choice::{self, Probe};
use crate::trace_out;
use anyhow::Result;
use lockline_engine::config::Inject;
use lockline_engine::perf::Counts;
use lockline_engine::probe::ExternalTracer;
use lockline_engine::session::{run_session_with, RunSummary, SessionReport, SessionSpec};
use lockline_engine::workload::{Progress, RunSpec, Stop, WorkloadKind};
use lockline_engine::{Build, Knobs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The engine's "kernel config" knobs, shared by run and demo.
#[derive(clap::Args, Clone, Debug)]
pub struct KnobArgs {
    /// Allow large folios (on|off).
    #[arg(long, default_value = "on", value_parser = on_off)]
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
    /// Probability that the fault-disabled user copy stops short (0..0.9).
    #[arg(long, default_value_t = 0.0)]
    pub short_copy_rate: f64,
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
    /// migrate-without-folio-lock, isize-before-copy. Repeatable.
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
            short_copy_rate: self.short_copy_rate,
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
    /// overlap, qemu-snapshot, append-mix, truncate-mix or disjoint.
    #[arg(long, value_parser = |s: &str| s.parse::<WorkloadKind>())]
    pub workload: WorkloadKind,
    #[arg(long, default_value_t = 4)]
    pub threads: u32,
    /// Run for this long (default 5 s unless --ops is given).
    #[arg(long, conflicts_with = "ops", allow_hyphen_values = true)]
    pub seconds: Option<f64>,
    /// Run this many ops in total.
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
pub struct Args {
    /// Lockline disk: image file or block device.
    #[arg(long)]
    disk: PathBuf,
    /// Write path: locked, lockless or lockless-min.
    #[arg(long, value_parser = |s: &str| s.parse::<Build>())]
    build: Build,
    #[command(flatten)]
    work: WorkloadArgs,
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
    /// around the first violation.
    #[arg(long, conflicts_with = "json")]
    timeline: bool,
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
    let mut spec = SessionSpec::new(a.disk.clone(), a.build, knobs, run);
    spec.mkfs = a.mkfs.then_some(a.size);
    spec.mkfs_force = a.force;
    let choice = probe_choice::choose(a.probe, probe_choice::Target::Engine)?;
    let (mut report, events) = run_with_progress(&spec, !a.json, choice.tracer)?;
    report.summary.probe_reason = choice.reason;

    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_summary(&report, a.trace.as_deref());
        if a.timeline {
            print_violation_timeline(&report, &events);
        }
    }
    // Last, so the trace takes the events without a copy.
    if let Some(path) = &a.trace {
        trace_out::write(path, &trace_out::session_trace(&report, events)?)?;
    }
    Ok(exit::OK)
}

/// Runs a session with a one-line progress display on stderr when asked.
pub fn run_with_progress(
    spec: &SessionSpec,
    show: bool,
    tracer: Option<Box<dyn ExternalTracer>>,
) -> Result<(SessionReport, Vec<lockline_engine::probe::Event>)> {
    let source = if tracer.is_some() { "ebpf" } else { "inproc" };
    let label = format!("{} on {} [{source}]", spec.run.workload, spec.build);
    Ok(with_progress(label, show, |p| {
        run_session_with(spec, p, tracer)
    })?)
}

/// Runs `f` with a fresh `Progress`, showing "label: N ops, M MiB written"
/// on stderr while it runs when `show` is set.
pub fn with_progress<T>(label: String, show: bool, f: impl FnOnce(&Progress) -> T) -> T {
    let progress = Arc::new(Progress::default());
    let done = Arc::new(AtomicBool::new(false));
    let ticker = show.then(|| {
        let (progress, done) = (progress.clone(), done.clone());
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
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
    let r = f(&progress);
    done.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        let _ = t.join();
    }
    r
}

pub fn print_summary(r: &SessionReport, trace: Option<&std::path::Path>) {
    println!(
        "{} on {}: {} ops, {} MiB in {:.2} s = {:.1} MiB/s, {} threads, seed {}",
        r.summary.workload,
        r.build,
        r.summary.ops,
        r.summary.bytes >> 20,
        r.summary.seconds,
        r.summary.throughput_mib_s,
        r.summary.threads,
        r.summary.seed
    );
    if !r.injected.is_empty() {
        println!("injected bugs: {}", r.injected.join(", "));
    }
    print_outcome(&r.summary);
    let e = &r.engine;
    println!(
        "engine: {} short copies, {} restarts, {} post-EOF truncates, {} folios written, {} reclaimed, {} migrated",
        e.short_copies, e.restarts, e.post_eof_truncates, e.folios_written, e.reclaimed_folios, e.migrated_folios
    );
    if !r.perf.per_thread.is_empty() {
        println!(
            "perf ({} worker threads): {}",
            r.perf.per_thread.len(),
            perf_line(&r.perf.total)
        );
    }
    print_events_line(&r.summary);
    if let Some(t) = trace {
        println!("trace: {}", t.display());
    }
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
    if s.op_errors > 0 {
        println!(
            "op errors: {} (first: {})",
            s.op_errors,
            s.first_error.as_deref().unwrap_or("?")
        );
    }
    let checks = &s.checks;
    let r = &s.reads;
    if r.reads > 0 {
        println!(
            "  {:<14} {} reads, {} sectors: {} with violations, {} dropped, {} stale sectors{}",
            lockline_engine::check::DURING_RUN,
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
    for c in checks {
        println!(
            "  {:<14} {} sectors: {} ok, {} dropped, {} stale, {} torn",
            c.label, c.sectors_checked, c.ok, c.counts.dropped, c.counts.stale, c.counts.torn
        );
    }
    if let Some(c) = checks.last() {
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

/// The lock timeline around the first violation of the final check: every
/// hold on that inode from the first op involved beginning to the last one
/// ending, one lane per thread.
pub fn print_violation_timeline(r: &SessionReport, events: &[lockline_engine::probe::Event]) {
    let Some(v) = r.summary.final_check().and_then(|c| c.violations.first()) else {
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

//! `lockline compare`: the same seeded checked rounds on several builds
//! (and optionally kernel file systems), a fresh mkfs for every run,
//! repetitions interleaved so drift hits every column alike; then one
//! side-by-side table with medians, spreads, Mann-Whitney tests against
//! the baseline and a verdict per build, or one JSON object; with --out,
//! the table as markdown, the JSON, the last repetition's traces and plots.

use crate::args::{KnobArgs, RoundArgs, Unsaid, WorkloadArgs};
use crate::exit::{self, parse_size, usage};
use crate::kernel_run;
use crate::probe_choice::{self, Probe};
use crate::progress::with_progress_bar;
use crate::trace_out;
use anyhow::{Context, Result};
use lockline_analysis::compare::{Column, Comparison, Kind, RepBuilder, RunFacts, Setup};
use lockline_analysis::report::{analyze, AnalyzeOptions};
use lockline_analysis::run_trace;
use lockline_analysis::Trace;
use lockline_engine::disk::{self, MkfsOptions};
use lockline_engine::Build;
use lockline_harness::check::Counts;
use lockline_harness::kernel::{KernelFs, KernelReport, KernelSpec};
use lockline_harness::rounds::{run_rounds, Live, RoundInfo, RoundsReport, RoundsSpec};
use lockline_harness::session::SessionSpec;
use lockline_harness::workload::{RunSpec, Stop};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Rounds per repetition unless --rounds, --seconds or --ops says.
const DEFAULT_ROUNDS: u64 = 20;

#[derive(clap::Args)]
#[command(after_help = "\
Each repetition runs the same seeded checked rounds (as `lockline run`: \
round N seeded --seed + N - 1, checked after the run, after fsync and after \
remount) on every build in turn, on a freshly formatted disk; repetitions \
are interleaved (A B C A B C) so drift of the machine hits every build \
alike. Throughput and latency are compared with the baseline (locked, or \
the first build) by a two-sided Mann-Whitney U test over the repetitions; \
a ratio is 'within noise' when p >= 0.05 or there are fewer than 3 \
repetitions (with 3 each the smallest possible p is 0.1, so use --repeat 4 \
or more to call a difference).")]
pub struct Args {
    /// Builds to compare, comma separated: locked, lockless, lockless-min.
    #[arg(long, default_value = "locked,lockless,lockless-min")]
    builds: String,
    #[command(flatten)]
    work: WorkloadArgs,
    /// Per repetition: 20 rounds unless --rounds, --seconds or --ops says.
    #[command(flatten)]
    rounds: RoundArgs,
    /// Repetitions per build, interleaved.
    #[arg(long, default_value_t = 5)]
    repeat: u32,
    /// Add columns for the same workload on kernel file systems, comma
    /// separated: ext4, xfs, btrfs (root; skipped with a note otherwise).
    /// Each round is its own `lockline kernel` run on a fresh loop device.
    #[arg(long)]
    kernel: Option<String>,
    /// A lockline disk (image or block device) to format for every run;
    /// default: a temporary image in $TMPDIR.
    #[arg(long)]
    disk: Option<PathBuf>,
    /// With --disk: format it even when it looks in use (another file
    /// system, a lockline disk).
    #[arg(long, requires = "disk")]
    force: bool,
    /// Size of the lockline disk and of the kernel file systems' images.
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    size: u64,
    /// Write compare.md, compare.json, each column's trace of its last
    /// repetition (traces/<name>) and the plots (plots/) here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Event source for every run: inproc (the in-process recorder, the
    /// cheapest and the same for every build), ebpf, or auto.
    #[arg(long, value_enum, default_value = "inproc")]
    probe: Probe,
    #[command(flatten)]
    knobs: KnobArgs,
}

/// What to run, validated.
struct Plan {
    builds: Vec<Build>,
    kernels: Vec<KernelColumn>,
    rounds: RoundsSpec,
    run: RunSpec,
    knobs: lockline_engine::Knobs,
    disk: PathBuf,
    /// Keeps the temporary image's directory until the end.
    _scratch: Option<tempfile::TempDir>,
    out: Option<PathBuf>,
    notes: Vec<String>,
}

/// A kernel column: its file system and the spec of its runs (each
/// round's run and seed set per round).
struct KernelColumn {
    fs: KernelFs,
    spec: KernelSpec,
}

fn parse_builds(s: &str) -> Result<Vec<Build>> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(usage(if s.trim().is_empty() {
                "--builds is empty (expected e.g. locked,lockless,lockless-min)".to_string()
            } else {
                format!("--builds '{s}' has an empty entry")
            }));
        }
        let b: Build = item
            .parse()
            .map_err(|e: String| usage(format!("--builds: {e}")))?;
        if out.contains(&b) {
            return Err(usage(format!("--builds names {b} twice")));
        }
        out.push(b);
    }
    Ok(out)
}

fn parse_kernels(s: &str) -> Result<Vec<KernelFs>> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim) {
        let fs: KernelFs = item
            .parse()
            .map_err(|e: String| usage(format!("--kernel: {e}")))?;
        if !out.contains(&fs) {
            out.push(fs);
        }
    }
    Ok(out)
}

/// `--out` must be a directory we can write to; it is created when its
/// parent exists. The traces' directories must not hold anything else.
fn check_out(out: &Path, names: &[String]) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(usage(format!("--out {} is not a directory", out.display())));
    }
    if !out.exists() {
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            return Err(usage(format!(
                "--out {}: directory {} does not exist",
                out.display(),
                parent.display()
            )));
        }
        std::fs::create_dir(out)
            .map_err(|e| usage(format!("--out {}: cannot create it: {e}", out.display())))?;
    }
    // Write permission as the process sees it (root ignores mode bits but
    // not a read-only mount), by writing.
    tempfile::tempfile_in(out)
        .map_err(|e| usage(format!("--out {} is not writable: {e}", out.display())))?;
    let traces = out.join("traces");
    std::fs::create_dir_all(&traces).map_err(|e| {
        usage(format!(
            "--out {}: cannot create traces/: {e}",
            out.display()
        ))
    })?;
    for n in names {
        trace_out::check_trace_path(&traces.join(n))?;
    }
    Ok(())
}

fn plan(a: &Args) -> Result<Plan> {
    let builds = parse_builds(&a.builds)?;
    let kernel_fs = match &a.kernel {
        Some(k) => parse_kernels(k)?,
        None => Vec::new(),
    };
    if a.repeat == 0 {
        return Err(usage("--repeat must be at least 1"));
    }
    let knobs = a.knobs.knobs(a.work.seed)?;
    let run = a.work.spec();
    run.validate().map_err(|e| usage(e.to_string()))?;
    let rounds = a.rounds.spec(&a.work, Unsaid::Rounds(DEFAULT_ROUNDS))?;
    let mut notes = Vec::new();
    let mut kernels = Vec::new();
    for fs in kernel_fs {
        let spec = kernel_run::spec_for(fs, round_run(&run, 1, rounds.round_ops), a.size, None)?;
        match kernel_run::preflight(&spec) {
            Ok(()) => kernels.push(KernelColumn { fs, spec }),
            Err(why) => notes.push(format!("kernel-{fs} column skipped: {why}")),
        }
    }
    if let Some(out) = &a.out {
        let names: Vec<String> = builds
            .iter()
            .map(|b| b.name().to_string())
            .chain(kernels.iter().map(|k| format!("kernel-{}", k.fs)))
            .collect();
        check_out(out, &names)?;
    }
    if a.probe == Probe::Ebpf {
        // Fails here, before any disk is formatted, when BPF cannot load.
        probe_choice::choose(Probe::Ebpf, probe_choice::Target::Engine)?;
    }
    let (disk, scratch) = match &a.disk {
        Some(d) => {
            // The first format is the in-use check `run --mkfs` makes; the
            // disk is ours after it, so later ones force.
            disk::mkfs(
                d,
                &MkfsOptions {
                    size: Some(a.size),
                    force: a.force,
                },
            )?;
            (d.clone(), None)
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("lockline-compare-")
                .tempdir()
                .context("creating a temporary directory for the disk image")?;
            (dir.path().join("compare.img"), Some(dir))
        }
    };
    Ok(Plan {
        builds,
        kernels,
        rounds,
        run,
        knobs,
        disk,
        _scratch: scratch,
        out: a.out.clone(),
        notes,
    })
}

/// Round `round`'s run of a kernel column: the engine round's seed and
/// op count.
fn round_run(run: &RunSpec, round: u64, ops: u64) -> RunSpec {
    RunSpec {
        stop: Stop::Ops(ops),
        seed: run.seed + round - 1,
        ..run.clone()
    }
}

fn plan_text(r: &RoundsSpec, run: &RunSpec) -> String {
    match (r.rounds, r.seconds, run.stop) {
        (Some(n), _, _) => format!(
            "{n} round{} of {} ops (seeds {}..{})",
            if n == 1 { "" } else { "s" },
            r.round_ops,
            run.seed,
            run.seed + n - 1
        ),
        (None, Some(s), _) | (None, None, Stop::Seconds(s)) => {
            format!(
                "rounds of {} ops for {s} s (seeds from {})",
                r.round_ops, run.seed
            )
        }
        (None, None, Stop::Ops(n)) => format!(
            "{n} ops in rounds of {} (seeds from {})",
            r.round_ops, run.seed
        ),
    }
}

fn rounds_with(per_round: &[RoundInfo]) -> Counts {
    let mut c = Counts::default();
    for r in per_round {
        c.dropped += u64::from(r.violations.dropped > 0);
        c.stale += u64::from(r.violations.stale > 0);
        c.torn += u64::from(r.violations.torn > 0);
    }
    c
}

fn engine_facts(r: &RoundsReport) -> RunFacts {
    RunFacts {
        ops: r.session.summary.ops,
        bytes: r.session.summary.bytes,
        seconds: r.session.summary.seconds,
        rounds: r.rounds,
        rounds_with_violations: r.rounds_with_violations,
        rounds_with: rounds_with(&r.per_round),
        violations: r.session.summary.violations,
        first_violation_round: r.first_violation_round,
        first_violation_s: r.first_violation_s,
        perf: r.session.perf.total,
        restarts: Some(r.session.engine.restarts),
        need_inode_lock: Some(r.session.engine.need_inode_lock),
        events: r.session.summary.events,
        lost_events: r.session.summary.lost_events,
        op_errors: r.session.summary.op_errors,
        interrupted: r.interrupted,
    }
}

/// One kernel run is one round; `took_s` is how long it ran, checks
/// included.
fn kernel_facts(r: &KernelReport, took_s: f64) -> RunFacts {
    let v = r.summary.violations;
    let bad = v.total() > 0;
    RunFacts {
        ops: r.summary.ops,
        bytes: r.summary.bytes,
        seconds: r.summary.seconds,
        rounds: 1,
        rounds_with_violations: u64::from(bad),
        rounds_with: Counts {
            dropped: u64::from(v.dropped > 0),
            stale: u64::from(v.stale > 0),
            torn: u64::from(v.torn > 0),
        },
        violations: v,
        first_violation_round: bad.then_some(1),
        first_violation_s: bad.then_some(took_s),
        perf: r.perf.total,
        restarts: None,
        need_inode_lock: None,
        events: r.summary.events,
        lost_events: r.summary.lost_events,
        op_errors: r.summary.op_errors,
        interrupted: r.interrupted,
    }
}

fn stopped() -> bool {
    exit::SIGINT_SEEN.load(Ordering::Relaxed)
}

/// A column's runs so far, and its last repetition's trace when --out
/// wants it.
struct Runs {
    column: Column,
    last: Option<Trace>,
}

impl Runs {
    /// Reduces a run's trace into the repetition and keeps or drops it.
    fn add(&mut self, b: &mut RepBuilder, facts: &RunFacts, at: f64, trace: Trace, keep: bool) {
        let analysis = analyze(&trace, &AnalyzeOptions::default());
        b.add(facts, at, &trace, &analysis);
        if keep {
            self.last = Some(trace);
        }
    }
}

pub fn run(a: Args) -> Result<u8> {
    let p = plan(&a)?;
    let show = !a.json;
    let keep = p.out.is_some();
    let reps = a.repeat;
    exit::install_sigint();
    let mut runs: Vec<Runs> = p
        .builds
        .iter()
        .map(|b| (b.name().to_string(), Kind::Engine))
        .chain(
            p.kernels
                .iter()
                .map(|k| (format!("kernel-{}", k.fs), Kind::Kernel)),
        )
        .map(|(name, kind)| Runs {
            column: Column {
                name,
                kind,
                reps: Vec::new(),
            },
            last: None,
        })
        .collect();
    'reps: for rep in 1..=reps {
        for (i, build) in p.builds.iter().enumerate() {
            if stopped() {
                break 'reps;
            }
            let mut spec = SessionSpec::new(p.disk.clone(), *build, p.knobs.clone(), p.run.clone());
            spec.mkfs = Some(a.size);
            spec.mkfs_force = true;
            if a.disk.is_none() {
                // A new sparse image: nothing of the last run's data stays.
                let _ = std::fs::remove_file(&p.disk);
            }
            let choice = probe_choice::choose(a.probe, probe_choice::Target::Engine)?;
            let label = format!("repetition {rep}/{reps}: {} on {build}", p.run.workload);
            let (report, events) = with_progress_bar(label, show, |progress, bar| {
                let bad = std::sync::atomic::AtomicU64::new(0);
                let live = |l: Live| {
                    if let (
                        Live::RoundDone {
                            round, violations, ..
                        },
                        Some(bar),
                    ) = (l, bar)
                    {
                        if violations.total() > 0 {
                            bad.fetch_add(1, Ordering::Relaxed);
                        }
                        bar.set_prefix(format!(
                            "round {round}, {} with violations; ",
                            bad.load(Ordering::Relaxed)
                        ));
                    }
                };
                let live: Option<&(dyn Fn(Live) + Sync)> = if show { Some(&live) } else { None };
                run_rounds(
                    &spec,
                    &p.rounds,
                    progress,
                    choice.tracer,
                    live,
                    &exit::SIGINT_SEEN,
                )
            })?;
            if report.rounds == 0 {
                break 'reps;
            }
            let facts = engine_facts(&report);
            let trace = run_trace::rounds_trace(&report, events)?;
            let mut b = RepBuilder::new();
            runs[i].add(&mut b, &facts, 0.0, trace, keep);
            runs[i].column.reps.push(b.finish(rep));
            if report.interrupted {
                break 'reps;
            }
        }
        for (j, k) in p.kernels.iter().enumerate() {
            if stopped() {
                break 'reps;
            }
            let i = p.builds.len() + j;
            let label = format!(
                "repetition {rep}/{reps}: {} on kernel {}",
                p.run.workload, k.fs
            );
            let b = with_progress_bar(label, show, |progress, bar| {
                kernel_rep(&p, k, a.probe, progress, bar, &mut runs[i], keep)
            })?;
            if let Some(b) = b {
                runs[i].column.reps.push(b.finish(rep));
            }
        }
    }
    let interrupted = stopped();
    let columns: Vec<Column> = runs.iter().map(|r| r.column.clone()).collect();
    let setup = Setup {
        workload: p.run.workload.name().to_string(),
        threads: p.run.threads,
        seed: p.run.seed,
        plan: plan_text(&p.rounds, &p.run),
        repeat: reps,
        knobs: serde_json::to_value(&p.knobs)?,
    };
    let mut cmp = Comparison::new(setup, &columns, "locked", interrupted);
    cmp.notes.extend(p.notes.iter().cloned());
    cmp.notes.push(format!(
        "every run: a fresh mkfs of {} ({}), events from the {} source; throughput is MiB written per second of workload (checks and remounts not counted).",
        if a.disk.is_some() { p.disk.display().to_string() } else { "a temporary image".into() },
        human_size(a.size),
        match a.probe {
            Probe::Inproc => "in-process",
            Probe::Ebpf => "eBPF",
            Probe::Auto => "auto-chosen",
        }
    ));
    if !p.kernels.is_empty() {
        cmp.notes.push(
            "kernel columns: the same seeded rounds through syscalls, each round a `lockline kernel` \
             run on a fresh loop device; the engine's knobs (faults, short copies, mm) do not \
             apply to them."
                .into(),
        );
    }
    if interrupted {
        let done: Vec<String> = columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.reps.len()))
            .collect();
        cmp.notes.push(format!(
            "interrupted: repetitions finished per column: {} (the last one possibly cut short)",
            done.join(", ")
        ));
    }
    if let Some(out) = &p.out {
        write_out(out, &mut cmp, &mut runs)?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&cmp)?);
    } else {
        print!("{}", cmp.text());
        if let Some(out) = &p.out {
            println!("\nwritten to {}: {}", out.display(), cmp.files.join(", "));
        }
    }
    Ok(if interrupted {
        exit::INTERRUPTED
    } else {
        exit::OK
    })
}

/// One repetition of a kernel column: a `lockline kernel` run per round,
/// as many rounds as the engine's repetitions run. None when stopped
/// before its first round.
fn kernel_rep(
    p: &Plan,
    k: &KernelColumn,
    probe: Probe,
    progress: &lockline_harness::workload::Progress,
    bar: Option<&indicatif::ProgressBar>,
    runs: &mut Runs,
    keep: bool,
) -> Result<Option<RepBuilder>> {
    let t0 = Instant::now();
    let mut b = RepBuilder::new();
    let mut asked = 0u64;
    let mut round = 0u64;
    let mut bad = 0u64;
    loop {
        if stopped() {
            break;
        }
        let ops = match (p.rounds.rounds, p.rounds.seconds, p.run.stop) {
            (Some(n), _, _) => (round < n).then_some(p.rounds.round_ops),
            (None, Some(s), _) | (None, None, Stop::Seconds(s)) => {
                (round == 0 || t0.elapsed().as_secs_f64() < s).then_some(p.rounds.round_ops)
            }
            (None, None, Stop::Ops(total)) => {
                let left = total.saturating_sub(asked);
                (left > 0).then(|| left.min(p.rounds.round_ops))
            }
        };
        let Some(ops) = ops else { break };
        asked += ops;
        round += 1;
        let spec = KernelSpec {
            run: round_run(&p.run, round, ops),
            ..k.spec.clone()
        };
        let choice = probe_choice::choose(probe, probe_choice::Target::Kernel)?;
        let at = t0.elapsed().as_secs_f64();
        let (report, events) = kernel_run::session(&spec, choice, progress)?;
        let facts = kernel_facts(&report, t0.elapsed().as_secs_f64() - at);
        bad += facts.rounds_with_violations;
        if let Some(bar) = bar {
            bar.set_prefix(format!("round {round}, {bad} with violations; "));
        }
        let mut trace = run_trace::kernel_trace(&report, events)?;
        if keep {
            // The repetition's rounds as one trace, as the engine's are.
            if let Some(prev) = runs.last.take().filter(|_| round > 1) {
                trace = join(prev, trace);
            }
        }
        runs.add(&mut b, &facts, at, trace, keep);
        if report.interrupted {
            break;
        }
    }
    Ok((round > 0).then_some(b))
}

/// Two kernel runs' traces as one: events and ops by time, violations
/// renumbered, the later run's metadata.
fn join(mut a: Trace, b: Trace) -> Trace {
    let n = a.violations.len() as u32;
    a.events.extend(b.events);
    a.events.sort_by_key(|e| (e.ts_ns, e.tid));
    a.ops.extend(b.ops);
    a.ops.sort_by_key(|o| o.begin_ns);
    a.violations.extend(b.violations.into_iter().map(|mut v| {
        v.id += n;
        v
    }));
    a.counters.extend(b.counters);
    a.counters.sort_by_key(|c| c.ts_ns);
    a.meta = b.meta;
    a
}

fn human_size(b: u64) -> String {
    if b >= 1 << 30 && b.is_multiple_of(1 << 30) {
        format!("{} GiB", b >> 30)
    } else {
        format!("{} MiB", b >> 20)
    }
}

/// compare.md, compare.json, the traces and the plots; their names go in
/// `cmp.files`.
fn write_out(out: &Path, cmp: &mut Comparison, runs: &mut [Runs]) -> Result<()> {
    let rel = |p: &Path| p.strip_prefix(out).unwrap_or(p).display().to_string();
    let mut files = vec!["compare.md".to_string(), "compare.json".to_string()];
    for r in runs.iter_mut() {
        if let Some(t) = r.last.take() {
            let path = out.join("traces").join(&r.column.name);
            trace_out::write(&path, &t)?;
            files.push(rel(&path));
        }
    }
    match lockline_plots::compare_all(cmp, &out.join("plots")) {
        Ok(paths) => files.extend(paths.iter().map(|p| rel(p))),
        Err(e) => cmp.notes.push(format!("plots not drawn: {e}")),
    }
    cmp.files = files;
    let write = |name: &str, text: String| {
        let p = out.join(name);
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))
    };
    write("compare.md", cmp.markdown())?;
    write("compare.json", serde_json::to_string_pretty(&*cmp)? + "\n")?;
    Ok(())
}

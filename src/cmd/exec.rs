//! `lockline exec -- PROGRAM ARGS...`: runs a real program with
//! liblockline_preload.so, so its calls on files under one directory go
//! into an engine inside the program itself, with no kernel VFS, inode
//! lock or FUSE in between; then checks the disk it left (fsck, and with
//! --trace every file read back and judged by content provenance).

use crate::args::KnobArgs;
use crate::exec_run::Exec;
use crate::exit::{self, usage};
use crate::trace_out;
use anyhow::{Context, Result};
use lockline_engine::disk::{self, MkfsOptions};
use lockline_engine::Build;
use lockline_exec::Status;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Write path: locked, lockless or lockless-min.
    #[arg(long, default_value = "locked", value_parser = |s: &str| s.parse::<Build>())]
    pub build: Build,
    /// Lockline disk: an existing one is used as it is, a new path is
    /// formatted (1 GiB); default: a temporary 1 GiB image.
    #[arg(long)]
    pub disk: Option<PathBuf>,
    /// The routed directory (empty or new): the program's files under it
    /// are the engine's. Default: a new temporary one, named to the
    /// program as $LOCKLINE_DIR (and $TMPDIR).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Record the probe events and content digests and write a trace,
    /// judged against the disk read back after the program exits.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Open the trace in the terminal UI afterwards (needs --trace).
    #[arg(long)]
    pub tui: bool,
    /// Fail the run on any call on a routed file the library does not
    /// serve (ioctl, mmap, fcntl commands, ...), each said as it happens.
    #[arg(long)]
    pub strict: bool,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub knobs: KnobArgs,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "PROGRAM")]
    pub program: Vec<OsString>,
}

#[derive(serde::Serialize)]
struct Report {
    program: String,
    build: &'static str,
    exit_code: Option<i32>,
    signal: Option<i32>,
    seconds: f64,
    processes: Vec<Status>,
    fsck_problems: Vec<String>,
    bypassed: Vec<String>,
    trace: Option<PathBuf>,
    violations: Option<u64>,
}

pub fn run(a: Args) -> Result<u8> {
    if let Some(t) = &a.trace {
        trace_out::check_trace_path(t)?;
    }
    if a.tui && a.trace.is_none() {
        return Err(usage("--tui shows the run's trace: give --trace DIR"));
    }
    if a.tui {
        crate::ui::check_terminal()?;
    }
    let knobs = a.knobs.knobs(a.seed)?;
    let scratch = tempfile::Builder::new()
        .prefix("lockline-exec-")
        .tempdir()
        .context("creating a scratch directory")?;
    let disk = match &a.disk {
        Some(d) if d.exists() => {
            disk::fsck(d).map_err(|e| {
                // Most disk errors name the image already; name it once.
                let (msg, name) = (e.to_string(), d.display().to_string());
                usage(if msg.contains(&name) {
                    msg
                } else {
                    format!("{name}: {msg}")
                })
            })?;
            d.clone()
        }
        d => {
            let p = d.clone().unwrap_or_else(|| scratch.path().join("exec.img"));
            disk::mkfs(
                &p,
                &MkfsOptions {
                    size: Some(1 << 30),
                    force: false,
                },
            )?;
            p
        }
    };
    let dir = a
        .dir
        .clone()
        .unwrap_or_else(|| scratch.path().join("files"));
    let mut ex = Exec::new(&dir, &disk, a.build, knobs, a.trace.is_some(), a.strict)?;
    let name = a.program[0].to_string_lossy().into_owned();
    let mut cmd = ex.command(&a.program[0]);
    cmd.args(&a.program[1..]);
    // Ctrl-C reaches the program (same process group); this process
    // stays to unmount-check what it left.
    exit::install_sigint();
    let t0 = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| usage(format!("cannot run {name}: {e}")))?;
    let seconds = t0.elapsed().as_secs_f64();
    let processes = ex.collect()?;
    let fsck: Vec<String> = disk::fsck(&disk)?
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.kind, p.detail))
        .collect();
    let bypassed = ex.bypassed();
    let mut report = Report {
        program: name,
        build: a.build.name(),
        exit_code: status.code(),
        signal: std::os::unix::process::ExitStatusExt::signal(&status),
        seconds,
        processes,
        fsck_problems: fsck,
        bypassed,
        trace: a.trace.clone(),
        violations: None,
    };
    let mut lines = Vec::new();
    if let Some(path) = &a.trace {
        let threads = report
            .processes
            .iter()
            .map(|p| p.threads)
            .max()
            .unwrap_or(0);
        let trace = ex.trace(threads as u32, seconds)?;
        report.violations = Some(trace.violations.iter().map(|v| v.nr_sectors).sum());
        lines.push(crate::summary::unmount_check_line(&trace));
        trace_out::write(path, &trace)?;
        lines.push(format!("trace: {}", path.display()));
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
        for l in &lines {
            println!("{l}");
        }
    }
    let refused = report.processes.iter().any(|p| !p.refused.is_empty());
    let failed = report.exit_code != Some(0)
        || !report.fsck_problems.is_empty()
        || !report.bypassed.is_empty()
        || report.violations.unwrap_or(0) > 0
        || report.processes.iter().any(|p| p.unmount_error.is_some())
        || (a.strict && refused);
    if a.tui {
        if let Some(t) = &a.trace {
            crate::cmd::tui::run(crate::cmd::tui::Args::new(t.clone()))?;
        }
    }
    Ok(if failed { exit::PROBLEMS } else { exit::OK })
}

fn print_report(r: &Report) {
    let how = match (r.exit_code, r.signal) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "ended".to_string(),
    };
    println!(
        "{} on {}: {how} in {:.1} s; {} process(es) used the engine",
        r.program,
        r.build,
        r.seconds,
        r.processes.len()
    );
    for p in &r.processes {
        let s = &p.served;
        println!(
            "  pid {}: {} opens, {} writes ({} KiB), {} reads ({} KiB), {} fsyncs, {} truncates, {} fallocates, {} errors",
            p.pid,
            s.opens,
            s.writes,
            s.write_bytes >> 10,
            s.reads,
            s.read_bytes >> 10,
            s.fsyncs,
            s.truncates,
            s.fallocates,
            s.errors
        );
        for x in &p.refused {
            println!("    not served: {x}");
        }
        if let Some(e) = &p.unmount_error {
            println!("    UNMOUNT FAILED: {e}");
        }
        if let Some(rs) = &p.recorder {
            if rs.dropped > 0 {
                println!(
                    "    {} probe events lost (recorder full): the verdict is partial",
                    rs.dropped
                );
            }
        }
    }
    if r.processes.is_empty() && r.exit_code.is_some() {
        println!(
            "  (no routed file was used, or the program left without exit(): nothing to check)"
        );
    }
    for b in &r.bypassed {
        println!("  BYPASSED the engine: {b}");
    }
    if r.fsck_problems.is_empty() {
        println!("  fsck: clean");
    } else {
        println!(
            "  fsck: {} problem(s): {}",
            r.fsck_problems.len(),
            r.fsck_problems[0]
        );
    }
}

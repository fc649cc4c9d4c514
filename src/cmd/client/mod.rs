//! `lockline client fio|qemu|fsx`: a real program drives the engine through
//! a FUSE mount with pattern data, and the verdicts come from the program's
//! own verification, after the run and again after an unmount, fsck and
//! remount — the same three moments `run` checks at.

mod fio;
mod fsx;
mod qemu;
mod session;

use crate::args::KnobArgs;
use crate::exit::{self, usage};
use crate::trace_out;
use anyhow::{Context, Result};
use lockline_analysis::run_trace;
use lockline_engine::disk::{self, MkfsOptions};
use lockline_engine::probe::recorder::Recorder;
use lockline_engine::{Build, MountOptions};
use lockline_harness::check::provenance;
use lockline_harness::client_output::Verdict;
use serde::Serialize;
use session::{Session, Via};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Client {
    Fio,
    Qemu,
    Fsx,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::Fio => "fio",
            Client::Qemu => "qemu",
            Client::Fsx => "fsx",
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The program: fio (verify=crc32c on disjoint segments), qemu
    /// (qemu-io snapshot mode and overlays, qemu-img bench and check) or
    /// fsx (fsx-rs seeds with its default mix, mmap included, each checked
    /// against the same seed on tmpfs).
    #[arg(value_enum)]
    pub client: Client,
    /// How the program reaches the engine: through a FUSE mount (the
    /// kernel's VFS, inode lock and FUSE client in between) or exec (the
    /// engine preloaded into the program; one program at a time).
    #[arg(long, value_enum, default_value = "mount")]
    pub via: Via,
    /// Write path: locked, lockless or lockless-min.
    #[arg(long, default_value = "locked", value_parser = |s: &str| s.parse::<Build>())]
    pub build: Build,
    /// Lockline disk (formatted first); default: a temporary 1 GiB image.
    #[arg(long)]
    pub disk: Option<PathBuf>,
    /// Format --disk even if it looks in use.
    #[arg(long)]
    pub force: bool,
    /// Client threads (fio jobs, qemu regions in flight, fsx seeds at a
    /// time) and FUSE threads.
    #[arg(long, default_value_t = 4)]
    pub threads: u32,
    /// Record the probe events of the whole session and write a trace.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// fsx: seeds to run (1..=N), one file and one fsx process each.
    #[arg(long, default_value_t = 10)]
    pub seeds: u64,
    /// fsx: operations per seed.
    #[arg(long, default_value_t = 20_000)]
    pub ops: u64,
    /// fsx: its own config file (TOML: flen, opsize, weights); default:
    /// fsx's defaults (mmap included) plus punch hole, posix_fallocate,
    /// fsync and fdatasync.
    #[arg(long, value_name = "TOML")]
    pub fsx_config: Option<PathBuf>,
    #[command(flatten)]
    pub knobs: KnobArgs,
}

#[derive(Debug, Serialize)]
struct Report {
    client: Client,
    via: Via,
    build: &'static str,
    threads: u32,
    seconds: f64,
    verdicts: Vec<Verdict>,
    fsck_problems: usize,
    writes: u64,
    write_bytes: u64,
    engine: lockline_engine::fs::CountersSnapshot,
}

/// `tool` on PATH.
fn find(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn need(tool: &str, package: &str) -> Result<()> {
    if find(tool).is_some() {
        Ok(())
    } else {
        Err(usage(format!(
            "{tool} is not installed (apt-get install {package})"
        )))
    }
}

pub fn run(a: Args) -> Result<u8> {
    if a.threads == 0 {
        return Err(usage("--threads must be at least 1"));
    }
    if let Some(t) = &a.trace {
        trace_out::check_trace_path(t)?;
    }
    let knobs = a.knobs.knobs(a.seed)?;
    match a.client {
        Client::Fio => need("fio", "fio")?,
        Client::Qemu => {
            need("qemu-io", "qemu-utils")?;
            need("qemu-img", "qemu-utils")?;
        }
        Client::Fsx => {
            if find("fsx").is_none() {
                return Err(usage("fsx is not installed (cargo install fsx --locked)"));
            }
        }
    }
    if a.seeds == 0 || a.ops == 0 {
        return Err(usage("--seeds and --ops must be at least 1"));
    }
    let fsx_config = match &a.fsx_config {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| usage(format!("--fsx-config {}: {e}", p.display())))?,
        ),
        None => None,
    };
    // SAFETY: geteuid has no preconditions.
    if a.via == Via::Mount && unsafe { libc::geteuid() } != 0 {
        return Err(usage(
            "client mounts the engine through FUSE and needs root",
        ));
    }
    let scratch = tempfile::Builder::new()
        .prefix("lockline-client-")
        .tempdir()
        .context("creating a scratch directory")?;
    let disk = match &a.disk {
        Some(d) => d.clone(),
        None => scratch.path().join("client.img"),
    };
    disk::mkfs(
        &disk,
        &MkfsOptions {
            size: a.disk.is_none().then_some(1 << 30),
            force: a.force,
        },
    )?;
    let recorder = a.trace.as_ref().map(|_| {
        let r = Recorder::new(lockline_engine::probe::recorder::DEFAULT_CAPACITY);
        r.record_digests(true);
        r
    });
    let mut s = match a.via {
        Via::Mount => {
            let mnt = scratch.path().join("mnt");
            std::fs::create_dir(&mnt)?;
            let threads = a.threads as usize;
            Session::mount(
                &disk,
                mnt,
                a.build,
                knobs.clone(),
                threads,
                recorder.clone(),
            )?
        }
        Via::Exec => {
            let dir = scratch.path().join("files");
            Session::exec(&disk, dir, a.build, knobs.clone(), a.trace.is_some())?
        }
    };
    let t0 = Instant::now();
    let (verdicts, fsck_problems) = match a.client {
        Client::Fio => fio::run(&mut s, a.threads)?,
        Client::Qemu => qemu::run(&mut s, a.threads)?,
        Client::Fsx => fsx::run(&mut s, a.threads, a.seeds, a.ops, fsx_config.as_deref())?,
    };
    s.unmount()?;
    let fsck_problems = fsck_problems + disk::fsck(&disk)?.problems.len();
    let report = Report {
        client: a.client,
        via: a.via,
        build: a.build.name(),
        threads: a.threads,
        seconds: t0.elapsed().as_secs_f64(),
        verdicts,
        fsck_problems,
        writes: s.writes,
        write_bytes: s.write_bytes,
        engine: s.counters.clone(),
    };
    let exec = s.into_exec()?;
    if !a.json {
        print_report(&report);
    }
    let trace = match (&a.trace, exec, &recorder) {
        (None, ..) => None,
        (Some(_), Some(ex), _) => Some(ex.trace(a.threads, report.seconds)?),
        (Some(_), None, Some(rec)) => {
            let opts = MountOptions {
                build: a.build,
                knobs: knobs.clone(),
                recorder: Some(rec.clone()),
            };
            provenance::read_back_at_unmount(&disk, &opts)?;
            let run = run_trace::ServedRun {
                workload: "fuse-mount",
                build: a.build.name(),
                knobs: &knobs,
                threads: a.threads,
                clock: rec.clock().name(),
                lost_events: rec.stats().dropped,
                seconds: report.seconds,
            };
            Some(run_trace::mount_trace(
                &run,
                rec.drain(),
                rec.drain_extents(),
            )?)
        }
        (Some(_), None, None) => unreachable!("a trace records"),
    };
    if let (Some(path), Some(trace)) = (&a.trace, &trace) {
        trace_out::write(path, trace)?;
        if !a.json {
            println!("{}", crate::summary::unmount_check_line(trace));
            println!("trace: {}", path.display());
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    let failed = report.verdicts.iter().any(|v| v.failed > 0) || report.fsck_problems > 0;
    Ok(if failed { exit::PROBLEMS } else { exit::OK })
}

fn print_report(r: &Report) {
    let how = match r.via {
        Via::Mount => "through FUSE",
        Via::Exec => "preloaded",
    };
    println!(
        "{} on {} ({} threads): {} writes, {} MiB {how} in {:.1} s",
        r.client.name(),
        r.build,
        r.threads,
        r.writes,
        r.write_bytes >> 20,
        r.seconds
    );
    for v in &r.verdicts {
        let verdict = if v.failed == 0 { "ok" } else { "FAILED" };
        println!(
            "  {:<14} {:<6} {}/{} {} verified{}",
            v.check,
            verdict,
            v.checked - v.failed,
            v.checked,
            v.what,
            v.first_failure
                .as_ref()
                .map(|f| format!("; first failure: {f}"))
                .unwrap_or_default()
        );
    }
    println!(
        "  fsck           {}",
        if r.fsck_problems == 0 {
            "clean".to_string()
        } else {
            format!("{} problem(s)", r.fsck_problems)
        }
    );
    println!(
        "  engine: {} restarts, {} need-inode-lock, {} short copies, {} post-EOF truncates",
        r.engine.restarts,
        r.engine.need_inode_lock,
        r.engine.short_copies,
        r.engine.post_eof_truncates
    );
}

//! `lockline kernel`: the same seeded workloads through real syscalls on a
//! real kernel file system (ext4, xfs, btrfs) on a loop device, checked
//! after the run, after fsync and after remount; a text summary or one JSON
//! object.

use crate::args::WorkloadArgs;
use crate::exit::{self, parse_size, usage};
use crate::kernel_run::{session, spec_for};
use crate::probe_choice::{self, Probe};
use crate::progress::with_progress;
use crate::summary::print_kernel_summary;
use crate::trace_out;
use anyhow::Result;
use lockline_analysis::run_trace;
use lockline_harness::kernel::KernelFs;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Kernel file system: ext4, xfs or btrfs.
    #[arg(long, value_parser = |s: &str| s.parse::<KernelFs>())]
    fs: KernelFs,
    #[command(flatten)]
    work: WorkloadArgs,
    /// Size of the (sparse) image the file system is made on.
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    size: u64,
    /// Directory for the image and the mount point (default: $TMPDIR).
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// Write the run's trace: a Parquet dataset directory (events, ops,
    /// violations, counters incl. perf, meta), or only the events as CSV
    /// when the path ends in .csv.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Event source: ebpf (kernel tracepoints on the workload's file, plus
    /// op events in process), inproc (op events only), or auto (ebpf when
    /// BPF loads here).
    #[arg(long, value_enum, default_value = "auto")]
    probe: Probe,
}

pub fn run(a: Args) -> Result<u8> {
    if let Some(t) = &a.trace {
        trace_out::check_trace_path(t)?;
    }
    if let Some(w) = &a.workdir {
        if !w.is_dir() {
            return Err(usage(format!(
                "--workdir {} is not a directory",
                w.display()
            )));
        }
    }
    let mut spec = spec_for(a.fs, a.work.spec(), a.size, a.workdir.clone())?;
    // A kept trace carries content digests, as run's and mount's do, so
    // `analyze --at` follows a kernel file system's bytes too.
    spec.digests = a.trace.is_some();
    let choice = probe_choice::choose(a.probe, probe_choice::Target::Kernel)?;
    exit::install_sigint();
    let source = if choice.tracer.is_some() {
        "inproc+ebpf"
    } else {
        "inproc"
    };
    let label = format!("{} on kernel {} [{source}]", a.work.workload, a.fs);
    let (report, events) = with_progress(label, !a.json, |p| session(&spec, choice, p))?;
    if let Some(path) = &a.trace {
        trace_out::write(path, &run_trace::kernel_trace(&report, events)?)?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_kernel_summary(&report, a.trace.as_deref());
    }
    // 128 + SIGINT, as a shell reports a Ctrl-C'd command.
    Ok(if report.interrupted {
        exit::INTERRUPTED
    } else {
        exit::OK
    })
}

//! `lockline kernel`: the same seeded workloads through real syscalls on a
//! real kernel file system (ext4, xfs, btrfs) on a loop device, checked
//! after the run, after fsync and after remount; a text summary or one JSON
//! object.

use super::run::{perf_line, print_events_line, print_outcome, with_progress, WorkloadArgs};
use crate::exit::{self, parse_size, usage};
use crate::probe_choice::{self, Probe};
use crate::trace_out;
use anyhow::Result;
use lockline_analysis::run_trace;
use lockline_engine::probe::Event;
use lockline_harness::kernel::{
    run_kernel_session_with, KernelError, KernelFs, KernelReport, KernelSpec,
};
use lockline_harness::workload::{Progress, RunSpec};
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
    let spec = spec_for(a.fs, a.work.spec(), a.size, a.workdir.clone())?;
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
        print_summary(&report, a.trace.as_deref());
    }
    // 128 + SIGINT, as a shell reports a Ctrl-C'd command.
    Ok(if report.interrupted {
        exit::INTERRUPTED
    } else {
        exit::OK
    })
}

/// The spec of a checked kernel run of `run` on `fs`, validated: an image
/// of `size` bytes in `workdir` ($TMPDIR when None), the workload stopped
/// by Ctrl-C (the checks and the cleanup still run).
pub fn spec_for(
    fs: KernelFs,
    run: RunSpec,
    size: u64,
    workdir: Option<PathBuf>,
) -> Result<KernelSpec> {
    let mut spec = KernelSpec::new(fs, run);
    spec.image_size = size;
    spec.workdir = workdir;
    spec.cancel = Some(&exit::SIGINT_SEEN);
    spec.validate().map_err(user_or_io)?;
    Ok(spec)
}

/// One checked kernel run as `lockline kernel` makes it, with the event
/// source `choice` (its reason goes in the report's summary).
pub fn session(
    spec: &KernelSpec,
    choice: probe_choice::Choice,
    progress: &Progress,
) -> Result<(KernelReport, Vec<Event>)> {
    let (mut report, events) =
        run_kernel_session_with(spec, progress, choice.tracer).map_err(user_or_io)?;
    report.summary.probe_reason = choice.reason;
    Ok((report, events))
}

/// Whether a kernel run could start here (root, the programs), without
/// creating anything: the one-line reason when not.
pub fn preflight(spec: &KernelSpec) -> Result<(), String> {
    lockline_harness::kernel::preflight(spec).map_err(|e| e.to_string())
}

/// Missing tools, not root and bad sizes are the user's to fix (exit 2);
/// the rest is the system failing (exit 3).
fn user_or_io(e: KernelError) -> anyhow::Error {
    if e.is_user_error() {
        usage(e.to_string())
    } else {
        e.into()
    }
}

pub fn print_summary(r: &KernelReport, trace: Option<&std::path::Path>) {
    println!(
        "{} on {}: {} ops, {} MiB in {:.2} s = {:.1} MiB/s, {} threads, seed {}{}",
        r.summary.workload,
        r.build,
        r.summary.ops,
        r.summary.bytes >> 20,
        r.summary.seconds,
        r.summary.throughput_mib_s,
        r.summary.threads,
        r.summary.seed,
        if r.interrupted { " (interrupted)" } else { "" }
    );
    println!(
        "device: {} ({} MiB image), kernel {}",
        r.device.loop_device,
        r.device.image_bytes >> 20,
        r.device.kernel
    );
    print_outcome(&r.summary);
    for t in &r.perf.per_thread {
        println!(
            "  perf thread {} (tid {}): {}",
            t.thread,
            t.tid,
            perf_line(&t.counts)
        );
    }
    println!("perf total: {}", perf_line(&r.perf.total));
    print_events_line(&r.summary);
    for n in &r.notes {
        println!("note: {n}");
    }
    if let Some(t) = trace {
        println!("trace: {}", t.display());
    }
}

//! Checked kernel runs as the commands make them (kernel, compare's kernel
//! columns): the spec validated, Ctrl-C wired to the workload's stop, the
//! event source's reason in the report, and errors told apart as the
//! user's (exit 2) or the system's (exit 3).

use crate::exit::{self, usage};
use crate::probe_choice;
use anyhow::Result;
use lockline_engine::probe::Event;
use lockline_harness::kernel::{
    run_kernel_session_with, KernelError, KernelFs, KernelReport, KernelSpec,
};
use lockline_harness::workload::{Progress, RunSpec};
use std::path::PathBuf;

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

//! `lockline watch --pid PID`: attach eBPF uprobes to another process
//! running the engine (another `lockline run`, a mount daemon) and show
//! its lock timeline live. Its checker's verdicts stay with it: the
//! watched process prints them.

use crate::watch_pid::watch_pid;
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The process to watch.
    #[arg(long)]
    pid: i32,
    /// Where `e` writes the exported window (default: a new directory
    /// under $TMPDIR).
    #[arg(long)]
    export_dir: Option<PathBuf>,
    /// Keep every event watched and write them as a trace when the UI
    /// quits (for analyze, export, notebooks).
    #[arg(long)]
    trace: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<u8> {
    if let Some(t) = &a.trace {
        crate::trace_out::check_trace_path(t)?;
    }
    watch_pid(a.pid, a.export_dir, a.trace)
}

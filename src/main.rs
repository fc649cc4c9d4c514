//! The `lockline` command: front ends over the engine, the trace sources and
//! the analysis. Each subcommand lives in cmd/; errors reach the user as one
//! line and a distinct exit code.

mod args;
mod cmd;
mod exec_run;
mod exit;
mod kernel_run;
mod probe_choice;
mod progress;
mod scratch;
mod summary;
mod sweep_stats;
mod trace_csv;
mod trace_out;
mod ui;
mod watch_pid;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "lockline",
    version,
    about = "Find writes a filesystem acknowledges and then loses, and the lock holdership behind them"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Format an image file or block device as a lockline disk.
    Mkfs(cmd::mkfs::Args),
    /// Check a lockline disk and name every inconsistency.
    Fsck(cmd::fsck::Args),
    /// Run a seeded workload on one build and check every sector it wrote.
    Run(cmd::run::Args),
    /// Run the embedded default: one workload on every build, side by side.
    Demo(cmd::demo::Args),
    /// Run the same seeded rounds on several builds, repeated and
    /// interleaved: one table with spreads, tests against locked, verdicts.
    Compare(cmd::compare::Args),
    /// Run a seeded workload on a kernel file system (ext4, xfs, btrfs) on a
    /// loop device and check every sector it wrote (root).
    Kernel(cmd::kernel::Args),
    /// List the probe points (uprobe symbols) and what this kernel can trace.
    Probes(cmd::probes::Args),
    /// Convert a trace: Parquet, CSV tables, or Chrome JSON for Perfetto.
    Export(cmd::export::Args),
    /// Lock statistics, blame windows and lock-protocol lints of a trace.
    Analyze(cmd::analyze::Args),
    /// Replay a trace in the terminal UI: lock timeline, who held what,
    /// each violation's blame window.
    Tui(cmd::tui::Args),
    /// Attach eBPF to another process running the engine and show its lock
    /// timeline live (root).
    Watch(cmd::watch::Args),
    /// Run one build under every combination of knob values and name the
    /// knobs that move the violation rate.
    Sweep(cmd::sweep::Args),
    /// Run many short schedules of a few ops one thread at a time under a
    /// controlled scheduler (PCT, random walk, bounded preemptions) and
    /// name the first that loses data.
    Explore(cmd::explore::Args),
    /// Run one explored schedule again, exactly; --minimize shrinks it.
    Replay(cmd::replay::Args),
    /// Mount a lockline disk through FUSE so real programs (qemu-img,
    /// qemu-io, fio, fsx) write to the engine (root).
    Mount(cmd::mount::Args),
    /// Unmount a lockline mount and wait for its daemon to write back.
    Umount(cmd::mount::UmountArgs),
    /// Run a real program (fio, qemu) against the engine through FUSE and
    /// verify its data after the run and after a remount (root).
    Client(cmd::client::Args),
    /// Run a real program with the engine inside it (LD_PRELOAD): its
    /// calls on files under one directory go to the engine with no kernel
    /// VFS or lock in between; then fsck and, with --trace, every file
    /// judged by content provenance.
    Exec(cmd::exec::Args),
}

fn main() -> ExitCode {
    // Piped into head or less, end quietly on a closed pipe as other Unix
    // tools do, instead of panicking in println!.
    // SAFETY: restoring the default disposition before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let r = match cli.cmd {
        Cmd::Mkfs(a) => cmd::mkfs::run(a),
        Cmd::Fsck(a) => cmd::fsck::run(a),
        Cmd::Run(a) => cmd::run::run(a),
        Cmd::Demo(a) => cmd::demo::run(a),
        Cmd::Compare(a) => cmd::compare::run(a),
        Cmd::Kernel(a) => cmd::kernel::run(a),
        Cmd::Probes(a) => cmd::probes::run(a),
        Cmd::Export(a) => cmd::export::run(a),
        Cmd::Analyze(a) => cmd::analyze::run(a),
        Cmd::Tui(a) => cmd::tui::run(a),
        Cmd::Watch(a) => cmd::watch::run(a),
        Cmd::Sweep(a) => cmd::sweep::run(a),
        Cmd::Explore(a) => cmd::explore::run(a),
        Cmd::Replay(a) => cmd::replay::run(a),
        Cmd::Mount(a) => cmd::mount::run(a),
        Cmd::Umount(a) => cmd::mount::umount(a),
        Cmd::Client(a) => cmd::client::run(a),
        Cmd::Exec(a) => cmd::exec::run(a),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("lockline: error: {}", exit::one_line(&e));
            ExitCode::from(exit::code_for(&e))
        }
    }
}

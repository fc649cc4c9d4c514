//! `lockline watch --pid PID`: attach eBPF uprobes to another process
//! running the engine (another `lockline run`, a mount daemon) and show
//! its lock timeline live. Its checker's verdicts stay with it: the
//! watched process prints them.

use crate::exit::{self, usage};
use anyhow::{Context, Result};
use lockline_analysis::TraceMeta;
use lockline_ebpf::{probe_available, EbpfTracer, EngineTarget};
use lockline_tui::state::data::Retention;
use lockline_tui::state::App;
use lockline_tui::term;
use lockline_tui::Msg;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// The value after `--flag` in a command line.
fn flag(cmd: &str, name: &str) -> Option<String> {
    let mut it = cmd.split_whitespace();
    while let Some(w) = it.next() {
        if w == name {
            return it.next().map(str::to_string);
        }
        if let Some(v) = w.strip_prefix(&format!("{name}=")) {
            return Some(v.to_string());
        }
    }
    None
}

pub fn run(a: Args) -> Result<u8> {
    if let Some(t) = &a.trace {
        crate::trace_out::check_trace_path(t)?;
    }
    watch_pid(a.pid, a.export_dir, a.trace)
}

/// Shows process `pid`'s engine live until the UI quits or it exits;
/// `trace`: keep what was seen and write it as a trace.
pub fn watch_pid(pid: i32, export_dir: Option<PathBuf>, trace: Option<PathBuf>) -> Result<u8> {
    let a = Args {
        pid,
        export_dir,
        trace,
    };
    if a.pid <= 0 || !alive(a.pid) {
        return Err(usage(format!("no process with pid {}", a.pid)));
    }
    probe_available().map_err(|e| usage(format!("watch needs eBPF: {e}")))?;
    let binary = std::fs::read_link(format!("/proc/{}/exe", a.pid))
        .map_err(|e| usage(format!("cannot read /proc/{}/exe: {e}", a.pid)))?;
    let tracer = EbpfTracer::attach_engine(EngineTarget {
        pid: Some(a.pid),
        binary: binary.clone(),
    })
    .map_err(|e| {
        usage(format!(
            "cannot trace pid {} ({}): {e}",
            a.pid,
            binary.display()
        ))
    })?;
    crate::cmd::tui::check_terminal()?;
    // Symbols are attached one after another: until the last is, the
    // trace sees (say) acquires without their releases. Start clean from
    // the instant every probe is in.
    let armed = lockline_engine::probe::now_ns();
    let cmd = cmdline(a.pid);
    let meta = TraceMeta {
        build: flag(&cmd, "--build").unwrap_or_else(|| format!("pid {}", a.pid)),
        workload: flag(&cmd, "--workload").unwrap_or_else(|| {
            if cmd.split_whitespace().nth(1) == Some("mount") {
                "fuse-mount".to_string()
            } else {
                binary.display().to_string()
            }
        }),
        threads: flag(&cmd, "--threads")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        seed: flag(&cmd, "--seed")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        probe_source: format!("ebpf uprobes on pid {}", a.pid),
        clock: "ktime".into(),
        ..TraceMeta::default()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let _ = tx.send(Msg::Meta(Box::new(meta.clone())));
    let keep = a.trace.is_some();
    let _ = tx.send(Msg::Status(format!("watching pid {}: {cmd}", a.pid)));
    let stop = Arc::new(AtomicBool::new(false));
    let pump = {
        let (tx, stop, pid) = (tx.clone(), stop.clone(), a.pid);
        std::thread::spawn(move || {
            let mut lost = 0;
            let mut order = lockline_tui::source::Reorder::default();
            let mut kept = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                let ev = match tracer.take_events() {
                    Ok(mut ev) => {
                        ev.retain(|e| e.ts_ns >= armed);
                        order.push(ev)
                    }
                    Err(e) => {
                        let _ = tx.send(Msg::Done(format!("eBPF reader: {e}")));
                        break;
                    }
                };
                if keep {
                    kept.extend_from_slice(&ev);
                }
                if !ev.is_empty() && tx.send(Msg::Events(ev)).is_err() {
                    break;
                }
                let now = tracer.lost_so_far();
                if now > lost {
                    lost = now;
                    let _ = tx.send(Msg::Status(format!("{lost} events lost (ring full)")));
                }
                if !alive(pid) {
                    let rest = order.flush();
                    if keep {
                        kept.extend_from_slice(&rest);
                    }
                    let _ = tx.send(Msg::Events(rest));
                    let _ = tx.send(Msg::Done(format!("pid {pid} exited")));
                    break;
                }
            }
            if keep {
                kept.extend(order.flush());
            }
            (tracer.stop_counting(), kept)
        })
    };
    let app = App::new(true, Some(Retention::default()));
    let export = crate::cmd::tui::export_dir(a.export_dir)?;
    let r = term::run(app, rx, tx, Some(crate::cmd::tui::exporter(export)));
    stop.store(true, Ordering::Relaxed);
    let joined = pump.join().ok();
    r.context("terminal")?;
    if let Some((s, events)) = joined {
        println!(
            "watched pid {}: {} events, {} lost",
            a.pid, s.events, s.lost
        );
        if let Some(path) = &a.trace {
            let mut meta = meta;
            meta.lost_events = s.lost;
            let trace = lockline_analysis::Trace::from_run(meta, events, &[], Vec::new());
            crate::trace_out::write(path, &trace)?;
            println!("trace: {}", path.display());
        }
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_from_a_command_line() {
        let c = "lockline run --build lockless --workload=overlap --seed 3";
        assert_eq!(flag(c, "--build").as_deref(), Some("lockless"));
        assert_eq!(flag(c, "--workload").as_deref(), Some("overlap"));
        assert_eq!(flag(c, "--seed").as_deref(), Some("3"));
        assert_eq!(flag(c, "--threads"), None);
    }
}

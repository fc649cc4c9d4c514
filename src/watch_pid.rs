//! Another process's engine shown live (`watch --pid`, `mount --tui`):
//! eBPF uprobes attached to its probe symbols, its command line read for
//! the trace's metadata, the UI fed through the TUI's watch source, and
//! what was seen written as a trace when asked. Its checker's verdicts
//! stay with it: the watched process prints them.

use crate::exit::{self, usage};
use crate::ui;
use anyhow::{Context, Result};
use lockline_analysis::TraceMeta;
use lockline_ebpf::{probe_available, EbpfTracer, EngineTarget};
use lockline_engine::probe::Event;
use lockline_tui::source::{watch, Feed};
use lockline_tui::state::data::Retention;
use lockline_tui::state::App;
use lockline_tui::term;
use lockline_tui::Msg;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The eBPF reader as the watch pump reads it.
struct Ebpf(EbpfTracer);

impl watch::Reader for Ebpf {
    fn take(&mut self) -> Result<Vec<Event>, String> {
        self.0.take_events().map_err(|e| e.to_string())
    }

    fn lost(&self) -> u64 {
        self.0.lost_so_far()
    }
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

/// Shows process `pid`'s engine live until the UI quits or it exits;
/// `trace`: keep what was seen and write it as a trace.
pub fn watch_pid(pid: i32, export_dir: Option<PathBuf>, trace: Option<PathBuf>) -> Result<u8> {
    if pid <= 0 || !alive(pid) {
        return Err(usage(format!("no process with pid {}", pid)));
    }
    probe_available().map_err(|e| usage(format!("watch needs eBPF: {e}")))?;
    let binary = std::fs::read_link(format!("/proc/{}/exe", pid))
        .map_err(|e| usage(format!("cannot read /proc/{}/exe: {e}", pid)))?;
    let tracer = EbpfTracer::attach_engine(EngineTarget {
        pid: Some(pid),
        binary: binary.clone(),
    })
    .map_err(|e| {
        usage(format!(
            "cannot trace pid {} ({}): {e}",
            pid,
            binary.display()
        ))
    })?;
    ui::check_terminal()?;
    // Symbols are attached one after another: until the last is, the
    // trace sees (say) acquires without their releases. Start clean from
    // the instant every probe is in.
    let armed = lockline_engine::probe::now_ns();
    let cmd = cmdline(pid);
    let meta = TraceMeta {
        build: flag(&cmd, "--build").unwrap_or_else(|| format!("pid {}", pid)),
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
        probe_source: format!("ebpf uprobes on pid {}", pid),
        clock: "ktime".into(),
        ..TraceMeta::default()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let _ = tx.send(Msg::Meta(Box::new(meta.clone())));
    let keep = trace.is_some();
    let _ = tx.send(Msg::Status(format!("watching pid {}: {cmd}", pid)));
    let stop = Arc::new(AtomicBool::new(false));
    let pump = {
        let (feed, stop, pid) = (Feed::new(tx.clone(), keep), stop.clone(), pid);
        std::thread::spawn(move || {
            let mut reader = Ebpf(tracer);
            let feed = watch::pump(&mut reader, feed, &stop, armed, || alive(pid), pid);
            (reader.0.stop_counting(), feed.into_kept())
        })
    };
    let app = App::new(true, Some(Retention::default()));
    let export = ui::export_dir(export_dir)?;
    let r = term::run(app, rx, tx, Some(ui::exporter(export)));
    stop.store(true, Ordering::Relaxed);
    let joined = pump.join().ok();
    r.context("terminal")?;
    if let Some((s, events)) = joined {
        println!("watched pid {}: {} events, {} lost", pid, s.events, s.lost);
        if let Some(path) = &trace {
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

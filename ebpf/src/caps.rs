//! Detects which kernel tracing facilities are usable here, so callers can
//! degrade with a note instead of failing (no kprobes on some kernels).

use lockline_engine::probe::points::SYMBOLS;
use serde::Serialize;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// Effective uid 0 (BPF program load and uprobe attach need privilege).
    pub root: bool,
    /// Where tracefs is mounted, if it is.
    pub tracefs: Option<String>,
    /// Kernel BTF is available (/sys/kernel/btf/vmlinux).
    pub btf: bool,
    /// The uprobe PMU exists (perf_event_open based uprobes).
    pub uprobe_pmu: bool,
    /// The kprobe PMU exists; absent on kernels built without kprobes.
    pub kprobe_pmu: bool,
    /// One line per facility that is missing, saying what degrades.
    pub notes: Vec<String>,
}

const TRACEFS_CANDIDATES: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// Reads the facts from `root` (normally "/"), so tests can point it at a
/// fake sysfs tree.
pub fn detect_at(root: &Path, euid: u32) -> Capabilities {
    let p = |s: &str| root.join(s.trim_start_matches('/'));
    let tracefs = TRACEFS_CANDIDATES
        .iter()
        .find(|c| p(c).join("events").is_dir())
        .map(|c| c.to_string());
    let btf = p("/sys/kernel/btf/vmlinux").exists();
    let uprobe_pmu = p("/sys/bus/event_source/devices/uprobe").exists();
    let kprobe_pmu = p("/sys/bus/event_source/devices/kprobe").exists();
    let mut notes = Vec::new();
    if euid != 0 {
        notes.push("not root: eBPF unavailable, the in-process recorder will be used".into());
    }
    if tracefs.is_none() {
        notes.push(
            "tracefs not mounted (mount -t tracefs nodev /sys/kernel/tracing): no tracepoints"
                .into(),
        );
    }
    if !uprobe_pmu {
        notes.push("no uprobe PMU: engine probe points cannot be traced by eBPF".into());
    }
    if !kprobe_pmu {
        notes.push("no kprobe PMU: kernel-function probes are skipped".into());
    }
    Capabilities {
        root: euid == 0,
        tracefs,
        btf,
        uprobe_pmu,
        kprobe_pmu,
        notes,
    }
}

/// The facts of the running system.
pub fn detect() -> Capabilities {
    // SAFETY: geteuid has no preconditions.
    detect_at(Path::new("/"), unsafe { libc::geteuid() })
}

/// A bpftrace program counting every engine probe hit by symbol, for the
/// binary at `exe`.
pub fn bpftrace_count_all(exe: &Path) -> String {
    let probes: Vec<String> = SYMBOLS
        .iter()
        .map(|(_, s)| format!("uprobe:{}:{s}", exe.display()))
        .collect();
    format!("{} {{ @[probe] = count(); }}", probes.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_facilities_are_noted_not_fatal() {
        let dir = std::env::temp_dir().join(format!("lockline-caps-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sys/kernel/tracing/events")).unwrap();
        std::fs::create_dir_all(dir.join("sys/bus/event_source/devices/uprobe")).unwrap();
        let c = detect_at(&dir, 0);
        assert_eq!(c.tracefs.as_deref(), Some("/sys/kernel/tracing"));
        assert!(c.uprobe_pmu && !c.kprobe_pmu && !c.btf && c.root);
        assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
        assert!(c.notes[0].contains("kprobe"));
        let c = detect_at(&dir, 1000);
        assert!(!c.root && c.notes.iter().any(|n| n.contains("not root")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bpftrace_program_names_every_symbol() {
        let s = bpftrace_count_all(Path::new("/usr/bin/lockline"));
        assert!(s.contains("uprobe:/usr/bin/lockline:lockline_folio_dirtied"));
        assert_eq!(s.matches("uprobe:").count(), SYMBOLS.len());
    }
}

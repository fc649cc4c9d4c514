//! Shared helpers for the eBPF integration tests: root checks and skips.
#![allow(dead_code)]

/// Whether this test process can load BPF; prints why not so a skipped
/// test is visible in `--nocapture` output.
pub fn can_trace(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("note: {test} skipped: not root");
        return false;
    }
    if let Err(e) = lockline_ebpf::probe_available() {
        eprintln!("note: {test} skipped: {e}");
        return false;
    }
    true
}

pub fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

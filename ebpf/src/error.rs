//! The loader's errors: one clear line each, so `--probe auto` can print why
//! eBPF is not used and fall back.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    /// bpf() refused: not root, no CAP_BPF/CAP_PERFMON, or a lockdown.
    #[error("BPF not permitted: {0} (needs root or CAP_BPF + CAP_PERFMON)")]
    NotPermitted(String),
    #[error("cannot load the eBPF object: {0}")]
    Load(String),
    #[error("cannot attach {what}: {detail}")]
    Attach { what: String, detail: String },
    #[error("engine binary {0} is not readable: {1}")]
    Binary(PathBuf, String),
    #[error("ring buffer size {0} must be a power of two and a multiple of the page size")]
    RingSize(u32),
    #[error("tracefs unavailable: {0}")]
    Tracefs(String),
    #[error("eBPF ring reader: {0}")]
    Reader(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Renders an error and its sources on one line ("a: b: c"); aya's
/// top-level messages alone ("error loading map") rarely say what failed.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// True when some error in the chain is EPERM or EACCES from the kernel.
pub(crate) fn is_permission(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if matches!(io.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) {
                return true;
            }
        }
        cur = c.source();
    }
    false
}

/// Maps a load-time aya error: permission problems get their own variant.
pub(crate) fn load_error(e: &(dyn std::error::Error + 'static)) -> EbpfError {
    if is_permission(e) {
        EbpfError::NotPermitted(chain(e))
    } else {
        EbpfError::Load(chain(e))
    }
}

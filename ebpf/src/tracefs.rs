//! Makes sure tracefs is mounted: tracepoint attach resolves event ids
//! through it, and minimal systems boot without it.

use crate::EbpfError;
use std::path::Path;

pub const TRACEFS: &str = "/sys/kernel/tracing";

/// Mounts tracefs at /sys/kernel/tracing when its events directory is
/// missing and we are root; Ok when it is (or was already) there.
pub fn ensure_tracefs() -> Result<(), EbpfError> {
    let events = Path::new(TRACEFS).join("events");
    if events.is_dir() || Path::new("/sys/kernel/debug/tracing/events").is_dir() {
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(EbpfError::Tracefs(format!(
            "{} not mounted and not root to mount it",
            events.display()
        )));
    }
    let c = |s: &str| std::ffi::CString::new(s).unwrap();
    let (src, dst, ty) = (c("nodev"), c(TRACEFS), c("tracefs"));
    // SAFETY: all pointers are valid NUL-terminated strings; data may be null.
    let rc = unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), ty.as_ptr(), 0, std::ptr::null()) };
    // EBUSY: someone mounted it between our check and now.
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EBUSY) {
        return Err(EbpfError::Tracefs(format!(
            "mount -t tracefs nodev {TRACEFS}: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Whether the tracepoint `cat:name` exists on this kernel.
pub fn has_tracepoint(cat: &str, name: &str) -> bool {
    ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .any(|root| Path::new(root).join("events").join(cat).join(name).is_dir())
}

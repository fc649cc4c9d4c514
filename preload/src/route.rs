//! Routing a path argument as the program passed it: relative to the cwd
//! or to an openat directory (whose path the kernel keeps in
//! /proc/self/fd), by `lockline_exec::route`.

use crate::session;
use lockline_exec::route::{route as route_in, Route};
use std::ffi::{c_char, c_int, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Where `path` (relative to `dirfd`) goes; Real when nothing is routed.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
pub unsafe fn route(dirfd: c_int, path: *const c_char) -> Route {
    let Some(cfg) = session::config() else {
        return Route::Real;
    };
    if path.is_null() {
        return Route::Real;
    }
    // SAFETY: the caller's contract.
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    route_in(&cfg.dir, || base(dirfd), bytes)
}

fn base(dirfd: c_int) -> Option<PathBuf> {
    if dirfd == libc::AT_FDCWD {
        return std::env::current_dir().ok();
    }
    std::fs::read_link(format!("/proc/self/fd/{dirfd}")).ok()
}

/// The placeholder of an engine path: the same name in the real
/// directory.
pub fn placeholder(engine_path: &str) -> CString {
    let dir = &session::config().expect("routing implies a config").dir;
    let p = dir.join(engine_path.trim_start_matches('/'));
    CString::new(p.as_os_str().as_bytes()).expect("paths hold no NUL")
}

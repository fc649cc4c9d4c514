//! Descriptors of routed files: close (the engine's release on the last
//! one of a description, bch2_release's role), close_range, the dup
//! family and fcntl: status flags are the description's own, duplicates
//! share it, and locks (POSIX, OFD, flock) go to a real descriptor of
//! the placeholder, so they hold between processes as the kernel's do.

use super::routed;
use crate::real::{fail, real};
use crate::session;
use crate::table;
use std::ffi::{c_int, c_uint, c_ulong};

#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    // The slot is cleared first: the number is free again the moment the
    // real close returns, and another thread may open it at once.
    let old = table::set(fd, None);
    let r = unsafe { real!(close: fn(c_int) -> c_int)(fd) };
    drop(old);
    r
}

#[no_mangle]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    let real_cr = real!(close_range: fn(c_uint, c_uint, c_int) -> c_int);
    if flags & libc::CLOSE_RANGE_CLOEXEC as c_int != 0 || !table::any() {
        return unsafe { real_cr(first, last, flags) };
    }
    let top = (last as usize).min(table::SLOTS - 1);
    let mut old = Vec::new();
    for fd in first as usize..=top {
        if let Some(d) = table::set(fd as c_int, None) {
            old.push(d);
        }
    }
    let r = unsafe { real_cr(first, last, flags) };
    drop(old);
    r
}

/// After a real duplication onto `new`: `new` is the same description as
/// `old` (or the real file it is), whatever it was before.
fn duplicated(old: c_int, new: c_int) -> c_int {
    if new >= 0 {
        let d = table::get(old);
        if d.is_some() && new as usize >= table::SLOTS {
            let close = real!(close: fn(c_int) -> c_int);
            // SAFETY: the duplicate just made.
            unsafe { close(new) };
            return fail(libc::EMFILE);
        }
        drop(table::set(new, d));
    }
    new
}

#[no_mangle]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    duplicated(fd, unsafe { real!(dup: fn(c_int) -> c_int)(fd) })
}

#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    if old == new {
        return unsafe { real!(dup2: fn(c_int, c_int) -> c_int)(old, new) };
    }
    duplicated(old, unsafe {
        real!(dup2: fn(c_int, c_int) -> c_int)(old, new)
    })
}

#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    duplicated(old, unsafe {
        real!(dup3: fn(c_int, c_int, c_int) -> c_int)(old, new, flags)
    })
}

/// Status flags F_SETFL may change (the rest of its argument is ignored,
/// as the kernel's setfl does).
const SETFL: c_int = libc::O_APPEND | libc::O_NONBLOCK | libc::O_DIRECT | libc::O_NOATIME;

// fcntl's third argument, read as a plain register argument (x86_64
// passes variadic integers and pointers alike).
exports! {
    fcntl, fcntl64: fn(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
        let real_fcntl = real!(fcntl64: fn(c_int, c_int, c_ulong) -> c_int);
        let Some(r) = routed(fd) else {
            return unsafe { real_fcntl(fd, cmd, arg) };
        };
        let (d, _) = match r {
            Ok(x) => x,
            Err(e) => return fail(e),
        };
        match cmd {
            libc::F_GETFL => d.flags(),
            libc::F_SETFL => {
                let keep = d.flags() & !SETFL;
                d.flags.store(
                    keep | (arg as c_int & SETFL),
                    std::sync::atomic::Ordering::Relaxed,
                );
                0
            }
            libc::F_GETFD | libc::F_SETFD => unsafe { real_fcntl(fd, cmd, arg) },
            libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
                duplicated(fd, unsafe { real_fcntl(fd, cmd, arg) })
            }
            libc::F_GETLK
            | libc::F_SETLK
            | libc::F_SETLKW
            | libc::F_OFD_GETLK
            | libc::F_OFD_SETLK
            | libc::F_OFD_SETLKW => unsafe { real_fcntl(d.lock_fd(fd), cmd, arg) },
            _ => session::refuse(format!("fcntl(cmd {cmd}) on {}", d.path), libc::EINVAL),
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn flock(fd: c_int, op: c_int) -> c_int {
    let real_flock = real!(flock: fn(c_int, c_int) -> c_int);
    match table::get(fd) {
        None => unsafe { real_flock(fd, op) },
        Some(d) => unsafe { real_flock(d.lock_fd(fd), op) },
    }
}

//! mkstemp and its relatives in the routed directory (QEMU's snapshot
//! overlay is one, made in $TMPDIR): glibc's own create the file with an
//! internal open no library can interpose, so the name is chosen and the
//! file created here, through the routed open, O_CREAT|O_EXCL as glibc
//! does.

use super::open::open_at;
use crate::real::{fail, real};
use crate::route::route;
use lockline_exec::route::Route;
use std::cell::Cell;
use std::ffi::{c_char, c_int, CStr};

const LETTERS: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// xorshift seeded from the clock and the thread: names need only differ.
fn next() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: a valid timespec.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
            // SAFETY: gettid has no preconditions.
            let tid = unsafe { libc::gettid() } as u64;
            x = (ts.tv_nsec as u64 ^ (ts.tv_sec as u64) << 32 ^ tid << 17) | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x
    })
}

/// Fills the six X's before `suffix` bytes of `template` and creates the
/// file; None when the template is not routed.
unsafe fn make(template: *mut c_char, suffix: c_int, flags: c_int) -> Option<c_int> {
    if !matches!(unsafe { route(libc::AT_FDCWD, template) }, Route::Engine(_)) {
        return None;
    }
    // SAFETY: the template is a C string (route read it).
    let len = unsafe { CStr::from_ptr(template) }.to_bytes().len();
    let suffix = usize::try_from(suffix).unwrap_or(usize::MAX);
    if suffix > len || len - suffix < 6 {
        return Some(fail(libc::EINVAL));
    }
    let xs = len - suffix - 6;
    // SAFETY: xs..xs+6 lies within the string.
    let name = unsafe { std::slice::from_raw_parts_mut(template.add(xs).cast::<u8>(), 6) };
    if name != b"XXXXXX" {
        return Some(fail(libc::EINVAL));
    }
    let flags = (flags & !libc::O_ACCMODE) | libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
    for _ in 0..238_328 {
        let mut v = next();
        for c in name.iter_mut() {
            *c = LETTERS[(v % 62) as usize];
            v /= 62;
        }
        let fd = unsafe { open_at(libc::AT_FDCWD, template, flags, 0o600) };
        // SAFETY: reads this thread's errno.
        if fd >= 0 || unsafe { *libc::__errno_location() } != libc::EEXIST {
            return Some(fd);
        }
    }
    Some(fail(libc::EEXIST))
}

exports! {
    mkstemp, mkstemp64: fn(t: *mut c_char) -> c_int {
        unsafe { make(t, 0, 0) }
            .unwrap_or_else(|| unsafe { real!(mkstemp64: fn(*mut c_char) -> c_int)(t) })
    }
}

exports! {
    mkostemp, mkostemp64: fn(t: *mut c_char, flags: c_int) -> c_int {
        unsafe { make(t, 0, flags) }
            .unwrap_or_else(|| unsafe { real!(mkostemp64: fn(*mut c_char, c_int) -> c_int)(t, flags) })
    }
}

exports! {
    mkstemps, mkstemps64: fn(t: *mut c_char, suffix: c_int) -> c_int {
        unsafe { make(t, suffix, 0) }
            .unwrap_or_else(|| unsafe { real!(mkstemps64: fn(*mut c_char, c_int) -> c_int)(t, suffix) })
    }
}

exports! {
    mkostemps, mkostemps64: fn(t: *mut c_char, suffix: c_int, flags: c_int) -> c_int {
        unsafe { make(t, suffix, flags) }.unwrap_or_else(|| unsafe {
            real!(mkostemps64: fn(*mut c_char, c_int, c_int) -> c_int)(t, suffix, flags)
        })
    }
}

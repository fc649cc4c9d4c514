//! libc's own functions (dlsym(RTLD_NEXT)), found once each, and the few
//! helpers every hook needs: errno and a line on stderr.

use std::ffi::c_int;

/// libc's definition of `$name`, typed as given. Found on first use:
/// hooks can run before the library's constructors.
macro_rules! real {
    ($name:ident : fn($($t:ty),*) -> $r:ty) => {{
        static P: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let mut p = P.load(std::sync::atomic::Ordering::Relaxed);
        if p == 0 {
            p = $crate::real::lookup(concat!(stringify!($name), "\0"));
            P.store(p, std::sync::atomic::Ordering::Relaxed);
        }
        // SAFETY: libc's symbol of this name has this C signature.
        #[allow(unused_unsafe)]
        let f = unsafe { std::mem::transmute::<usize, unsafe extern "C" fn($($t),*) -> $r>(p) };
        f
    }};
}
pub(crate) use real;

/// The next definition of the NUL-terminated `name` after this library.
pub fn lookup(name: &str) -> usize {
    // SAFETY: name is NUL-terminated; dlsym has no other preconditions.
    let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast()) };
    if p.is_null() {
        say(&format!(
            "lockline exec: libc has no {}; cannot go on",
            name.trim_end_matches('\0')
        ));
        std::process::abort();
    }
    p as usize
}

/// Sets errno and returns -1, as a failing libc call does.
pub fn fail(errno: c_int) -> c_int {
    set_errno(errno);
    -1
}

pub fn set_errno(errno: c_int) {
    // SAFETY: __errno_location returns this thread's errno.
    unsafe { *libc::__errno_location() = errno };
}

/// One line on stderr, written whole with libc's write (no std buffer and
/// no lock, so it is safe from any hook).
pub fn say(line: &str) {
    let s = format!("{line}\n");
    let w = real!(write: fn(c_int, *const libc::c_void, usize) -> isize);
    // SAFETY: s is valid for its length.
    unsafe { w(2, s.as_ptr().cast(), s.len()) };
}

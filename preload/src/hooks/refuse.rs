//! Calls on routed files that the engine has no model of, answered as a
//! file system without them answers, and listed in the run's status
//! (said at once in strict mode): ioctl (ENOTTY), mmap (ENODEV: the
//! engine's mappings are its own page_fault.rs, not the program's
//! memory), copy_file_range (EXDEV, callers copy by hand), fopen and
//! freopen (EOPNOTSUPP: glibc's FILE does its IO inside libc, where no
//! call can be interposed), and libaio's io_submit (EINVAL: the kernel
//! would run those IOs on the placeholder).

use crate::real::real;
use crate::route::route;
use crate::session;
use crate::table;
use lockline_exec::route::Route;
use std::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void};

#[no_mangle]
pub unsafe extern "C" fn ioctl(fd: c_int, req: c_ulong, arg: c_ulong) -> c_int {
    match table::get(fd) {
        None => unsafe { real!(ioctl: fn(c_int, c_ulong, c_ulong) -> c_int)(fd, req, arg) },
        Some(d) => session::refuse(format!("ioctl({req:#x}) on {}", d.path), libc::ENOTTY),
    }
}

exports! {
    mmap, mmap64: fn(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int, off: libc::off_t) -> *mut c_void {
        match table::get(fd) {
            Some(d) if flags & libc::MAP_ANONYMOUS == 0 => {
                session::refuse(format!("mmap of {}", d.path), libc::ENODEV);
                libc::MAP_FAILED
            }
            _ => unsafe {
                real!(mmap64: fn(*mut c_void, usize, c_int, c_int, c_int, libc::off_t) -> *mut c_void)(
                    addr, len, prot, flags, fd, off,
                )
            },
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn copy_file_range(
    fd_in: c_int,
    off_in: *mut libc::loff_t,
    fd_out: c_int,
    off_out: *mut libc::loff_t,
    len: usize,
    flags: c_uint,
) -> isize {
    match table::get(fd_in).or_else(|| table::get(fd_out)) {
        None => unsafe {
            real!(copy_file_range: fn(c_int, *mut libc::loff_t, c_int, *mut libc::loff_t, usize, c_uint) -> isize)(
                fd_in, off_in, fd_out, off_out, len, flags,
            )
        },
        Some(d) => session::refuse(format!("copy_file_range on {}", d.path), libc::EXDEV) as isize,
    }
}

unsafe fn fopen_any(
    path: *const c_char,
    mode: *const c_char,
    name: &str,
) -> Option<*mut libc::FILE> {
    match unsafe { route(libc::AT_FDCWD, path) } {
        Route::Real => None,
        Route::BadName | Route::Engine(_) => {
            // SAFETY: path is a C string (route read it).
            let p = unsafe { std::ffi::CStr::from_ptr(path) }.to_string_lossy();
            let _ = mode;
            session::refuse(format!("{name}({p})"), libc::EOPNOTSUPP);
            Some(std::ptr::null_mut())
        }
    }
}

exports! {
    fopen, fopen64: fn(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
        unsafe { fopen_any(path, mode, "fopen") }.unwrap_or_else(|| unsafe {
            real!(fopen64: fn(*const c_char, *const c_char) -> *mut libc::FILE)(path, mode)
        })
    }
}

exports! {
    freopen, freopen64: fn(path: *const c_char, mode: *const c_char, f: *mut libc::FILE) -> *mut libc::FILE {
        unsafe { fopen_any(path, mode, "freopen") }.unwrap_or_else(|| unsafe {
            real!(freopen64: fn(*const c_char, *const c_char, *mut libc::FILE) -> *mut libc::FILE)(
                path, mode, f,
            )
        })
    }
}

/// libaio's struct iocb: the descriptor is the u32 at byte 20.
const IOCB_FILDES: usize = 20;

/// libaio's io_submit (a symbol of libaio.so, found after this library
/// when the program links libaio). Returns -errno, as libaio does.
#[no_mangle]
pub unsafe extern "C" fn io_submit(ctx: *mut c_void, nr: c_long, iocbs: *mut *mut c_void) -> c_int {
    if table::any() && !iocbs.is_null() {
        for i in 0..nr.max(0) as usize {
            // SAFETY: libaio's contract: nr valid iocb pointers.
            let cb = unsafe { *iocbs.add(i) };
            if cb.is_null() {
                continue;
            }
            // SAFETY: within the iocb.
            let fd = unsafe { *(cb as *const u8).add(IOCB_FILDES).cast::<u32>() } as c_int;
            if let Some(d) = table::get(fd) {
                session::refuse(format!("io_submit on {}", d.path), libc::EINVAL);
                return -libc::EINVAL;
            }
        }
    }
    unsafe { real!(io_submit: fn(*mut c_void, c_long, *mut *mut c_void) -> c_int)(ctx, nr, iocbs) }
}

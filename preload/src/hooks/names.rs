//! The namespace under the routed directory: unlink and rmdir
//! (bch2_unlink: an open file stays until its last close, as QEMU's
//! snapshot overlay needs), rename (bch2_rename2) and mkdir
//! (bch2_mkdir). The engine changes first; the placeholder follows, so
//! the real directory keeps showing the engine's names.

use super::{flush_probes, ret};
use crate::real::real;
use crate::resolve::parent;
use crate::route::{placeholder, route};
use crate::session;
use lockline_engine::disk::FileKind;
use lockline_exec::route::Route;
use std::ffi::{c_char, c_int, c_uint};

/// The real call on the placeholder, after the engine's succeeded: its
/// failure (a placeholder someone removed) changes nothing the program
/// sees, and the parent's placeholder check reports what is left over.
fn follow(_placeholder_result: c_int) -> Result<c_int, c_int> {
    Ok(0)
}

unsafe fn remove_at(dirfd: c_int, path: *const c_char, dir: bool) -> c_int {
    match unsafe { route(dirfd, path) } {
        Route::Real if dir => unsafe {
            real!(unlinkat: fn(c_int, *const c_char, c_int) -> c_int)(
                dirfd,
                path,
                libc::AT_REMOVEDIR,
            )
        },
        Route::Real => unsafe {
            real!(unlinkat: fn(c_int, *const c_char, c_int) -> c_int)(dirfd, path, 0)
        },
        Route::BadName => ret::<c_int>(Err(libc::ENOENT)) as c_int,
        Route::Engine(p) => {
            let r = session::engine().and_then(|e| {
                let (dino, name) = parent(&e.fs, &p)?;
                e.fs.remove_at(dino, name, dir).map_err(|x| x.errno())?;
                let ph = placeholder(&p);
                let flag = if dir { libc::AT_REMOVEDIR } else { 0 };
                follow(unsafe {
                    real!(unlinkat: fn(c_int, *const c_char, c_int) -> c_int)(
                        libc::AT_FDCWD,
                        ph.as_ptr(),
                        flag,
                    )
                })
            });
            flush_probes();
            ret(r) as c_int
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn unlink(path: *const c_char) -> c_int {
    unsafe { remove_at(libc::AT_FDCWD, path, false) }
}

#[no_mangle]
pub unsafe extern "C" fn rmdir(path: *const c_char) -> c_int {
    unsafe { remove_at(libc::AT_FDCWD, path, true) }
}

#[no_mangle]
pub unsafe extern "C" fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    unsafe { remove_at(dirfd, path, flags & libc::AT_REMOVEDIR != 0) }
}

unsafe fn rename_any(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
    flags: c_uint,
) -> c_int {
    let real_rename =
        real!(renameat2: fn(c_int, *const c_char, c_int, *const c_char, c_uint) -> c_int);
    match unsafe { (route(olddir, old), route(newdir, new)) } {
        (Route::Real, Route::Real) => unsafe { real_rename(olddir, old, newdir, new, flags) },
        (Route::Engine(a), Route::Engine(b)) => {
            if flags & !libc::RENAME_NOREPLACE != 0 {
                return ret::<c_int>(Err(libc::EINVAL)) as c_int;
            }
            let r = session::engine().and_then(|e| {
                let (da, na) = parent(&e.fs, &a)?;
                let (db, nb) = parent(&e.fs, &b)?;
                let noreplace = flags & libc::RENAME_NOREPLACE != 0;
                e.fs.rename_at(da, na, db, nb, noreplace)
                    .map_err(|x| x.errno())?;
                let (pa, pb) = (placeholder(&a), placeholder(&b));
                follow(unsafe {
                    real_rename(libc::AT_FDCWD, pa.as_ptr(), libc::AT_FDCWD, pb.as_ptr(), 0)
                })
            });
            flush_probes();
            ret(r) as c_int
        }
        // Between the engine and a real file system, as between mounts.
        _ => ret::<c_int>(Err(libc::EXDEV)) as c_int,
    }
}

#[no_mangle]
pub unsafe extern "C" fn rename(old: *const c_char, new: *const c_char) -> c_int {
    unsafe { rename_any(libc::AT_FDCWD, old, libc::AT_FDCWD, new, 0) }
}

#[no_mangle]
pub unsafe extern "C" fn renameat(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
) -> c_int {
    unsafe { rename_any(olddir, old, newdir, new, 0) }
}

#[no_mangle]
pub unsafe extern "C" fn renameat2(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
    flags: c_uint,
) -> c_int {
    unsafe { rename_any(olddir, old, newdir, new, flags) }
}

unsafe fn mkdir_any(dirfd: c_int, path: *const c_char, mode: libc::mode_t) -> c_int {
    let real_mkdirat = real!(mkdirat: fn(c_int, *const c_char, libc::mode_t) -> c_int);
    match unsafe { route(dirfd, path) } {
        Route::Real => unsafe { real_mkdirat(dirfd, path, mode) },
        Route::BadName => ret::<c_int>(Err(libc::EINVAL)) as c_int,
        // The routed directory is the engine's root: it exists.
        Route::Engine(p) if p == "/" => ret::<c_int>(Err(libc::EEXIST)) as c_int,
        Route::Engine(p) => {
            let r = session::engine().and_then(|e| {
                let (dino, name) = parent(&e.fs, &p)?;
                e.fs.create_at(dino, name, FileKind::Dir)
                    .map_err(|x| x.errno())?;
                let ph = placeholder(&p);
                follow(unsafe { real_mkdirat(libc::AT_FDCWD, ph.as_ptr(), 0o755) })
            });
            flush_probes();
            ret(r) as c_int
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn mkdir(path: *const c_char, mode: libc::mode_t) -> c_int {
    unsafe { mkdir_any(libc::AT_FDCWD, path, mode) }
}

#[no_mangle]
pub unsafe extern "C" fn mkdirat(dirfd: c_int, path: *const c_char, mode: libc::mode_t) -> c_int {
    unsafe { mkdir_any(dirfd, path, mode) }
}

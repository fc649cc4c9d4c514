//! stat(2) and its names (fstat, lstat, fstatat, statx, and the pre-2.33
//! __xstat family of older binaries): the placeholder's real answer
//! (device, inode number, mode, owner, times), with the size, blocks and
//! mtime the engine has (bch2_getattr).

use super::{ret, routed};
use crate::real::real;
use crate::resolve::walk;
use crate::route::{placeholder, route};
use crate::session;
use lockline_engine::disk::InodeAttr;
use lockline_exec::route::Route;
use std::ffi::{c_char, c_int, c_uint};

type Stat = libc::stat64;
type Statx = libc::statx;

fn fill(st: &mut Stat, a: &InodeAttr) {
    st.st_size = a.size as i64;
    st.st_blocks = (a.blocks * 8) as i64;
    st.st_blksize = 4096;
    st.st_mtime = (a.mtime_ns / 1_000_000_000) as i64;
    st.st_mtime_nsec = (a.mtime_ns % 1_000_000_000) as i64;
}

fn fill_x(st: &mut Statx, a: &InodeAttr) {
    st.stx_size = a.size;
    st.stx_blocks = a.blocks * 8;
    st.stx_blksize = 4096;
    st.stx_mtime.tv_sec = (a.mtime_ns / 1_000_000_000) as i64;
    st.stx_mtime.tv_nsec = (a.mtime_ns % 1_000_000_000) as u32;
}

/// The engine's attributes of a routed path that names a file; None for
/// a directory (the placeholder directory answers alone).
fn attr_of_path(p: &str) -> Result<Option<InodeAttr>, c_int> {
    let e = session::engine()?;
    let (ino, kind) = walk(&e.fs, p)?;
    if kind == lockline_engine::disk::FileKind::Dir {
        return Ok(None);
    }
    e.fs.stat(ino).map(Some).map_err(|x| x.errno())
}

unsafe fn fstat_any(fd: c_int, st: *mut Stat) -> c_int {
    let real_fstat = real!(fstat64: fn(c_int, *mut Stat) -> c_int);
    let Some(r) = routed(fd) else {
        return unsafe { real_fstat(fd, st) };
    };
    let r = r.and_then(|(d, e)| {
        // SAFETY: the program's buffer; fstat works on an O_PATH fd.
        if unsafe { real_fstat(fd, st) } != 0 {
            return Err(unsafe { *libc::__errno_location() });
        }
        let a = e.fs.stat(d.ino).map_err(|x| x.errno())?;
        // SAFETY: filled by the real call above.
        fill(unsafe { &mut *st }, &a);
        Ok(0)
    });
    ret(r) as c_int
}

/// stat, lstat and fstatat of a path (AT_EMPTY_PATH with "" is fstat).
unsafe fn fstatat_any(dirfd: c_int, path: *const c_char, st: *mut Stat, flags: c_int) -> c_int {
    if flags & libc::AT_EMPTY_PATH != 0 && !path.is_null() && unsafe { *path } == 0 {
        return unsafe { fstat_any(dirfd, st) };
    }
    let real_at = real!(fstatat64: fn(c_int, *const c_char, *mut Stat, c_int) -> c_int);
    match unsafe { route(dirfd, path) } {
        Route::Real => unsafe { real_at(dirfd, path, st, flags) },
        Route::BadName => ret::<c_int>(Err(libc::ENOENT)) as c_int,
        Route::Engine(p) => {
            let r = attr_of_path(&p).and_then(|a| {
                let ph = placeholder(&p);
                // SAFETY: the program's buffer and our path.
                if unsafe { real_at(libc::AT_FDCWD, ph.as_ptr(), st, flags) } != 0 {
                    return Err(unsafe { *libc::__errno_location() });
                }
                if let Some(a) = a {
                    // SAFETY: filled by the real call above.
                    fill(unsafe { &mut *st }, &a);
                }
                Ok(0)
            });
            ret(r) as c_int
        }
    }
}

exports! {
    fstat, fstat64: fn(fd: c_int, st: *mut Stat) -> c_int {
        unsafe { fstat_any(fd, st) }
    }
}

exports! {
    stat, stat64: fn(path: *const c_char, st: *mut Stat) -> c_int {
        unsafe { fstatat_any(libc::AT_FDCWD, path, st, 0) }
    }
}

exports! {
    lstat, lstat64: fn(path: *const c_char, st: *mut Stat) -> c_int {
        unsafe { fstatat_any(libc::AT_FDCWD, path, st, libc::AT_SYMLINK_NOFOLLOW) }
    }
}

exports! {
    fstatat, fstatat64: fn(dirfd: c_int, path: *const c_char, st: *mut Stat, flags: c_int) -> c_int {
        unsafe { fstatat_any(dirfd, path, st, flags) }
    }
}

exports! {
    __fxstat, __fxstat64: fn(_ver: c_int, fd: c_int, st: *mut Stat) -> c_int {
        unsafe { fstat_any(fd, st) }
    }
}

exports! {
    __xstat, __xstat64: fn(_ver: c_int, path: *const c_char, st: *mut Stat) -> c_int {
        unsafe { fstatat_any(libc::AT_FDCWD, path, st, 0) }
    }
}

exports! {
    __lxstat, __lxstat64: fn(_ver: c_int, path: *const c_char, st: *mut Stat) -> c_int {
        unsafe { fstatat_any(libc::AT_FDCWD, path, st, libc::AT_SYMLINK_NOFOLLOW) }
    }
}

exports! {
    __fxstatat, __fxstatat64: fn(_ver: c_int, dirfd: c_int, path: *const c_char, st: *mut Stat, flags: c_int) -> c_int {
        unsafe { fstatat_any(dirfd, path, st, flags) }
    }
}

#[no_mangle]
pub unsafe extern "C" fn statx(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mask: c_uint,
    st: *mut Statx,
) -> c_int {
    let real_statx = real!(statx: fn(c_int, *const c_char, c_int, c_uint, *mut Statx) -> c_int);
    let empty = flags & libc::AT_EMPTY_PATH != 0 && !path.is_null() && unsafe { *path } == 0;
    let attr = if empty {
        routed(dirfd)
            .map(|r| r.and_then(|(d, e)| e.fs.stat(d.ino).map(Some).map_err(|x| x.errno())))
    } else {
        match unsafe { route(dirfd, path) } {
            Route::Real => None,
            Route::BadName => Some(Err(libc::ENOENT)),
            Route::Engine(p) => {
                let ph = placeholder(&p);
                let a = attr_of_path(&p);
                let r = a.and_then(|a| {
                    // SAFETY: the program's buffer and our path.
                    if unsafe { real_statx(libc::AT_FDCWD, ph.as_ptr(), flags, mask, st) } != 0 {
                        return Err(unsafe { *libc::__errno_location() });
                    }
                    Ok(a)
                });
                if let Ok(Some(a)) = &r {
                    // SAFETY: filled by the real call above.
                    fill_x(unsafe { &mut *st }, a);
                }
                return ret(r.map(|_| 0)) as c_int;
            }
        }
    };
    match attr {
        None => unsafe { real_statx(dirfd, path, flags, mask, st) },
        Some(Err(e)) => ret::<c_int>(Err(e)) as c_int,
        Some(Ok(a)) => {
            // SAFETY: statx on the O_PATH placeholder descriptor.
            if unsafe { real_statx(dirfd, path, flags, mask, st) } != 0 {
                return -1;
            }
            if let Some(a) = a {
                // SAFETY: filled by the real call above.
                fill_x(unsafe { &mut *st }, &a);
            }
            0
        }
    }
}

//! A file's size and space and its durability: lseek (SEEK_DATA/HOLE as
//! the VFS default, generic_file_llseek_size: the whole file is data;
//! bcachefs walks its extents instead), ftruncate/truncate
//! (bch2_truncate), fallocate and posix_fallocate
//! (bch2_fallocate_dispatch: allocate, keep-size, punch), posix_fadvise
//! (a hint the engine has no readahead to steer), fsync, fdatasync,
//! sync_file_range and syncfs (bch2_fsync; sync_file_range only promises
//! to start writeback, a full fsync does more than it asks).

use super::{errno, flush_probes, ret, routed};
use crate::real::real;
use crate::resolve::walk;
use crate::route::route;
use crate::session::{self, count, COUNTS};
use lockline_engine::disk::FileKind;
use lockline_exec::route::Route;
use std::ffi::{c_char, c_int, c_uint};

type Off = libc::off_t;

// posix_fallocate returns the error number instead of setting errno,
// and glibc's emulation (writing a byte per block) is not used: the
// engine has fallocate.
exports! {
    lseek, lseek64: fn(fd: c_int, off: Off, whence: c_int) -> Off {
        let Some(r) = routed(fd) else {
            return unsafe { real!(lseek64: fn(c_int, Off, c_int) -> Off)(fd, off, whence) };
        };
        let r = r.and_then(|(d, e)| {
            let mut pos = d.pos.lock();
            let size = || e.fs.stat(d.ino).map(|a| a.size as i64).map_err(errno);
            let new = match whence {
                libc::SEEK_SET => off,
                libc::SEEK_CUR => (*pos as i64).checked_add(off).ok_or(libc::EOVERFLOW)?,
                libc::SEEK_END => size()?.checked_add(off).ok_or(libc::EOVERFLOW)?,
                libc::SEEK_DATA if off < 0 => return Err(libc::ENXIO),
                libc::SEEK_DATA if off >= size()? => return Err(libc::ENXIO),
                libc::SEEK_DATA => off,
                libc::SEEK_HOLE if off < 0 => return Err(libc::ENXIO),
                libc::SEEK_HOLE => {
                    let s = size()?;
                    if off >= s {
                        return Err(libc::ENXIO);
                    }
                    s
                }
                _ => return Err(libc::EINVAL),
            };
            if new < 0 {
                return Err(libc::EINVAL);
            }
            *pos = new as u64;
            Ok(new)
        });
        ret(r) as Off
    }
}

fn truncate_ino(e: &session::Engine, ino: u64, len: Off) -> Result<c_int, c_int> {
    let len = u64::try_from(len).map_err(|_| libc::EINVAL)?;
    e.fs.truncate(ino, len).map_err(errno)?;
    count(&COUNTS.truncates, 1);
    Ok(0)
}

exports! {
    ftruncate, ftruncate64: fn(fd: c_int, len: Off) -> c_int {
        let Some(r) = routed(fd) else {
            return unsafe { real!(ftruncate64: fn(c_int, Off) -> c_int)(fd, len) };
        };
        let r = r.and_then(|(d, e)| {
            if !d.writable() {
                return Err(libc::EINVAL);
            }
            truncate_ino(e, d.ino, len)
        });
        flush_probes();
        ret(r) as c_int
    }
}

exports! {
    truncate, truncate64: fn(path: *const c_char, len: Off) -> c_int {
        match unsafe { route(libc::AT_FDCWD, path) } {
            Route::Real => unsafe { real!(truncate64: fn(*const c_char, Off) -> c_int)(path, len) },
            Route::BadName => ret::<c_int>(Err(libc::ENOENT)) as c_int,
            Route::Engine(p) => {
                let r = session::engine().and_then(|e| match walk(&e.fs, &p)? {
                    (_, FileKind::Dir) => Err(libc::EISDIR),
                    (ino, FileKind::File) => truncate_ino(e, ino, len),
                });
                flush_probes();
                ret(r) as c_int
            }
        }
    }
}

const KEEP_SIZE: c_int = libc::FALLOC_FL_KEEP_SIZE;
const PUNCH: c_int = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;

/// fallocate's modes the engine models; Err(EOPNOTSUPP) for the others
/// (zero range, collapse, insert, unshare), as a file system without
/// them answers: callers such as QEMU fall back.
fn fallocate_routed(fd: c_int, mode: c_int, off: Off, len: Off) -> Option<Result<c_int, c_int>> {
    let r = routed(fd)?;
    Some(r.and_then(|(d, e)| {
        if !d.writable() {
            return Err(libc::EBADF);
        }
        let (Ok(o), Ok(l)) = (u64::try_from(off), u64::try_from(len)) else {
            return Err(libc::EINVAL);
        };
        if l == 0 {
            return Err(libc::EINVAL);
        }
        let r = match mode {
            0 => e.fs.fallocate(d.ino, o, l, false),
            KEEP_SIZE => e.fs.fallocate(d.ino, o, l, true),
            PUNCH => e.fs.punch_hole(d.ino, o, l),
            _ => return Err(libc::EOPNOTSUPP),
        };
        r.map_err(errno)?;
        count(&COUNTS.fallocates, 1);
        Ok(0)
    }))
}

exports! {
    fallocate, fallocate64: fn(fd: c_int, mode: c_int, off: Off, len: Off) -> c_int {
        match fallocate_routed(fd, mode, off, len) {
            None => unsafe {
                real!(fallocate64: fn(c_int, c_int, Off, Off) -> c_int)(fd, mode, off, len)
            },
            Some(r) => {
                flush_probes();
                ret(r) as c_int
            }
        }
    }
}

exports! {
    posix_fallocate, posix_fallocate64: fn(fd: c_int, off: Off, len: Off) -> c_int {
        match fallocate_routed(fd, 0, off, len) {
            None => unsafe { real!(posix_fallocate64: fn(c_int, Off, Off) -> c_int)(fd, off, len) },
            Some(r) => {
                flush_probes();
                r.err().unwrap_or(0)
            }
        }
    }
}

fn table_routed(fd: c_int) -> bool {
    crate::table::get(fd).is_some()
}

exports! {
    posix_fadvise, posix_fadvise64: fn(fd: c_int, off: Off, len: Off, advice: c_int) -> c_int {
        match table_routed(fd) {
            false => unsafe {
                real!(posix_fadvise64: fn(c_int, Off, Off, c_int) -> c_int)(fd, off, len, advice)
            },
            true if !(0..=5).contains(&advice) || len < 0 => libc::EINVAL,
            true => 0,
        }
    }
}

/// fsync of a routed file: Some(result), None for a real one.
fn fsync_routed(fd: c_int) -> Option<c_int> {
    let r = routed(fd)?.and_then(|(d, e)| {
        e.fs.fsync(d.ino).map_err(errno)?;
        count(&COUNTS.fsyncs, 1);
        Ok(0)
    });
    flush_probes();
    Some(ret(r) as c_int)
}

#[no_mangle]
pub unsafe extern "C" fn fsync(fd: c_int) -> c_int {
    fsync_routed(fd).unwrap_or_else(|| unsafe { real!(fsync: fn(c_int) -> c_int)(fd) })
}

#[no_mangle]
pub unsafe extern "C" fn fdatasync(fd: c_int) -> c_int {
    fsync_routed(fd).unwrap_or_else(|| unsafe { real!(fdatasync: fn(c_int) -> c_int)(fd) })
}

#[no_mangle]
pub unsafe extern "C" fn sync_file_range(fd: c_int, off: Off, n: Off, flags: c_uint) -> c_int {
    fsync_routed(fd).unwrap_or_else(|| unsafe {
        real!(sync_file_range: fn(c_int, Off, Off, c_uint) -> c_int)(fd, off, n, flags)
    })
}

#[no_mangle]
pub unsafe extern "C" fn syncfs(fd: c_int) -> c_int {
    let Some(r) = routed(fd) else {
        return unsafe { real!(syncfs: fn(c_int) -> c_int)(fd) };
    };
    let r = r.and_then(|(_, e)| e.fs.sync_all().map(|_| 0).map_err(errno));
    flush_probes();
    ret(r) as c_int
}

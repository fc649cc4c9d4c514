//! open(2) and its names (open64, openat, the fortified __open*_2,
//! creat): a routed regular file is found or created in the engine
//! (bch2_lookup / bch2_create), truncated for O_TRUNC (bch2_truncate),
//! and given a descriptor: a real O_PATH descriptor of its placeholder.

use super::{flush_probes, ret};
use crate::real::{fail, real};
use crate::resolve::{parent, walk};
use crate::route::{placeholder, route};
use crate::session::{self, count, COUNTS};
use crate::table::{self, Desc};
use lockline_engine::disk::FileKind;
use lockline_exec::route::Route;
use std::ffi::{c_char, c_int, CString};
use std::sync::Arc;

type Mode = libc::mode_t;

/// Status flags F_GETFL reports and the IO paths act on.
const KEPT: c_int = libc::O_ACCMODE
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_DIRECT
    | libc::O_DSYNC
    | libc::O_SYNC
    | libc::O_NOATIME
    | libc::O_LARGEFILE;

unsafe fn real_openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: Mode) -> c_int {
    let f = real!(openat: fn(c_int, *const c_char, c_int, Mode) -> c_int);
    // SAFETY: the caller passes the program's own arguments through.
    unsafe { f(dirfd, path, flags, mode) }
}

/// Every open name comes here.
///
/// # Safety
/// `path` is a NUL-terminated string (or NULL, which the real call
/// refuses).
pub unsafe fn open_at(dirfd: c_int, path: *const c_char, flags: c_int, mode: Mode) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { route(dirfd, path) } {
        Route::Real => unsafe { real_openat(dirfd, path, flags, mode) },
        Route::BadName => fail(libc::EINVAL),
        Route::Engine(p) => {
            let r = open_routed(&p, flags, mode);
            flush_probes();
            match r {
                Ok(Opened::File(fd)) => fd,
                // A directory: the placeholder directory itself.
                Ok(Opened::Dir) => unsafe {
                    real_openat(libc::AT_FDCWD, placeholder(&p).as_ptr(), flags, mode)
                },
                Err(e) => ret::<c_int>(Err(e)) as c_int,
            }
        }
    }
}

enum Opened {
    File(c_int),
    Dir,
}

/// The mode is not kept: the engine stores no modes or owners (FUSE
/// refuses changes to them; here the placeholder shows 0644).
fn open_routed(path: &str, flags: c_int, _mode: Mode) -> Result<Opened, c_int> {
    if flags & libc::O_TMPFILE == libc::O_TMPFILE {
        // The engine keeps no unnamed files; callers fall back.
        return Err(libc::EOPNOTSUPP);
    }
    let e = session::engine()?;
    let fs = &e.fs;
    let ino = match walk(fs, path) {
        Ok((_, FileKind::Dir)) if flags & libc::O_ACCMODE != libc::O_RDONLY => {
            return Err(libc::EISDIR)
        }
        Ok((_, FileKind::Dir)) => return Ok(Opened::Dir),
        Ok(_) if flags & libc::O_DIRECTORY != 0 => return Err(libc::ENOTDIR),
        Ok(_) if flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL => {
            return Err(libc::EEXIST)
        }
        Ok((ino, FileKind::File)) => ino,
        Err(libc::ENOENT) if flags & libc::O_CREAT != 0 => {
            let (dir, name) = parent(fs, path)?;
            let ino = match fs.create_at(dir, name, FileKind::File) {
                Ok(ino) => ino,
                // Another thread created it since the walk.
                Err(x) if x.errno() == libc::EEXIST && flags & libc::O_EXCL == 0 => {
                    fs.lookup(dir, name).map_err(|x| x.errno())?
                }
                Err(x) => return Err(x.errno()),
            };
            make_placeholder(path)?;
            ino
        }
        Err(x) => return Err(x),
    };
    fs.open_ino(ino).map_err(|x| x.errno())?;
    // From here on the engine counts this open: a failure releases it.
    let desc = Arc::new(Desc::new(ino, path.to_string(), flags & KEPT));
    if flags & libc::O_TRUNC != 0 && desc.writable() {
        fs.truncate(ino, 0).map_err(|x| x.errno())?;
        count(&COUNTS.truncates, 1);
    }
    let fd = placeholder_fd(&placeholder(path), flags)?;
    if fd as usize >= table::SLOTS {
        let close = real!(close: fn(c_int) -> c_int);
        // SAFETY: the descriptor just opened.
        unsafe { close(fd) };
        return Err(libc::EMFILE);
    }
    table::set(fd, Some(desc));
    count(&COUNTS.opens, 1);
    Ok(Opened::File(fd))
}

/// The real descriptor the program gets: O_PATH, so nothing but the
/// library can do IO through it.
fn placeholder_fd(p: &CString, flags: c_int) -> Result<c_int, c_int> {
    let f = libc::O_PATH | (flags & libc::O_CLOEXEC);
    // SAFETY: p is a valid C string.
    let fd = unsafe { real_openat(libc::AT_FDCWD, p.as_ptr(), f, 0) };
    if fd >= 0 {
        return Ok(fd);
    }
    // A file the disk had before this run, or one created by another
    // name: its placeholder is made now.
    make_placeholder_c(p)?;
    // SAFETY: as above.
    let fd = unsafe { real_openat(libc::AT_FDCWD, p.as_ptr(), f, 0) };
    if fd < 0 {
        // SAFETY: reads this thread's errno.
        return Err(unsafe { *libc::__errno_location() });
    }
    Ok(fd)
}

pub fn make_placeholder(path: &str) -> Result<(), c_int> {
    make_placeholder_c(&placeholder(path))
}

fn make_placeholder_c(p: &CString) -> Result<(), c_int> {
    // SAFETY: p is a valid C string.
    let fd = unsafe {
        real_openat(
            libc::AT_FDCWD,
            p.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
            0o644,
        )
    };
    if fd < 0 {
        // SAFETY: reads this thread's errno.
        return Err(unsafe { *libc::__errno_location() });
    }
    let close = real!(close: fn(c_int) -> c_int);
    // SAFETY: the descriptor just opened.
    unsafe { close(fd) };
    Ok(())
}

/// open(2) takes a mode only with O_CREAT or O_TMPFILE; the variadic
/// third argument is read as a plain one (x86_64 passes both alike).
fn mode_of(flags: c_int, mode: Mode) -> Mode {
    if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
        mode
    } else {
        0
    }
}

exports! {
    open, open64: fn(path: *const c_char, flags: c_int, mode: Mode) -> c_int {
        unsafe { open_at(libc::AT_FDCWD, path, flags, mode_of(flags, mode)) }
    }
}

exports! {
    __open_2, __open64_2: fn(path: *const c_char, flags: c_int) -> c_int {
        unsafe { open_at(libc::AT_FDCWD, path, flags, 0) }
    }
}

exports! {
    openat, openat64: fn(dirfd: c_int, path: *const c_char, flags: c_int, mode: Mode) -> c_int {
        unsafe { open_at(dirfd, path, flags, mode_of(flags, mode)) }
    }
}

exports! {
    __openat_2, __openat64_2: fn(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
        unsafe { open_at(dirfd, path, flags, 0) }
    }
}

const CREAT: c_int = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;

exports! {
    creat, creat64: fn(path: *const c_char, mode: Mode) -> c_int {
        unsafe { open_at(libc::AT_FDCWD, path, CREAT, mode) }
    }
}

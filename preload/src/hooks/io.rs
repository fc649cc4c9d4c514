//! read(2)/write(2) and their positioned and vectored forms: the engine's
//! buffered read and write paths (bch2_read_iter, bch2_write_iter via
//! bch2_buffered_write). A vectored call is one op over all its segments,
//! as the kernel runs one write over an iov_iter; O_APPEND writes take
//! their position under the inode lock (buffered_append), and O_DSYNC
//! writes are followed by the engine's fsync, as generic_write_sync does.

use super::{errno, flush_probes, ret, routed};
use crate::real::real;
use crate::session::{count, Engine, COUNTS};
use crate::table::Desc;
use std::ffi::{c_int, c_void};

type Off = libc::off_t;
type Iov = libc::iovec;

/// pwritev2/preadv2 flags the engine honours.
const RWF_KNOWN: c_int = libc::RWF_HIPRI | libc::RWF_DSYNC | libc::RWF_SYNC | libc::RWF_APPEND;

/// Where a read or write happens.
#[derive(Clone, Copy)]
enum At {
    /// The description's position, moved on by what was done.
    Pos,
    Offset(u64),
}

fn offset(off: Off) -> Result<At, c_int> {
    u64::try_from(off).map(At::Offset).map_err(|_| libc::EINVAL)
}

fn write_desc(
    d: &Desc,
    e: &Engine,
    at: At,
    buf: &[u8],
    append: bool,
    sync: bool,
) -> Result<usize, c_int> {
    if !d.writable() {
        return Err(libc::EBADF);
    }
    let fs = &e.fs;
    let append = append || d.flags() & libc::O_APPEND != 0;
    let mut pos = matches!(at, At::Pos).then(|| d.pos.lock());
    let (p, n) = if append {
        let op = fs.begin_op();
        let mut copy = buf.to_vec();
        fs.append_in(&op, d.ino, &mut copy, &mut |_, _| {})
            .map_err(errno)?
    } else {
        let p = match (at, pos.as_deref()) {
            (At::Offset(o), _) => o,
            (At::Pos, Some(&p)) => p,
            (At::Pos, None) => unreachable!("At::Pos takes the position lock"),
        };
        (p, fs.write(d.ino, p, buf).map_err(errno)?)
    };
    if let Some(pos) = pos.as_mut() {
        **pos = p + n as u64;
    }
    drop(pos);
    if sync || d.flags() & libc::O_DSYNC != 0 {
        fs.fsync(d.ino).map_err(errno)?;
        count(&COUNTS.fsyncs, 1);
    }
    count(&COUNTS.writes, 1);
    count(&COUNTS.write_bytes, n as u64);
    Ok(n)
}

fn read_desc(d: &Desc, e: &Engine, at: At, buf: &mut [u8]) -> Result<usize, c_int> {
    if !d.readable() {
        return Err(libc::EBADF);
    }
    let n = match at {
        At::Offset(o) => e.fs.read(d.ino, o, buf).map_err(errno)?,
        At::Pos => {
            let mut pos = d.pos.lock();
            let n = e.fs.read(d.ino, *pos, buf).map_err(errno)?;
            *pos += n as u64;
            n
        }
    };
    count(&COUNTS.reads, 1);
    count(&COUNTS.read_bytes, n as u64);
    Ok(n)
}

/// # Safety
/// `iov` holds `cnt` valid segments.
unsafe fn segments<'a>(iov: *const Iov, cnt: c_int) -> Result<&'a [Iov], c_int> {
    if !(0..=libc::UIO_MAXIOV).contains(&cnt) {
        return Err(libc::EINVAL);
    }
    if cnt == 0 {
        return Ok(&[]);
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(iov, cnt as usize) })
}

/// # Safety
/// Each segment points at `iov_len` readable bytes.
unsafe fn gather(iov: &[Iov]) -> Vec<u8> {
    let mut v = Vec::with_capacity(iov.iter().map(|s| s.iov_len).sum());
    for s in iov {
        // SAFETY: the caller's contract.
        v.extend_from_slice(unsafe { slice(s.iov_base, s.iov_len) });
    }
    v
}

/// # Safety
/// Each segment points at `iov_len` writable bytes.
unsafe fn scatter(iov: &[Iov], mut data: &[u8]) {
    for s in iov {
        let n = s.iov_len.min(data.len());
        // SAFETY: the caller's contract; n fits both.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), s.iov_base.cast(), n) };
        data = &data[n..];
    }
}

/// The segments of a vectored call whose v2 `flags` the engine honours.
///
/// # Safety
/// `iov` holds `cnt` valid segments.
unsafe fn vectored<'a>(iov: *const Iov, cnt: c_int, flags: c_int) -> Result<&'a [Iov], c_int> {
    if flags & !RWF_KNOWN != 0 {
        return Err(libc::EOPNOTSUPP);
    }
    // SAFETY: the caller's contract.
    unsafe { segments(iov, cnt) }
}

/// # Safety
/// `iov` holds `cnt` valid segments.
unsafe fn writev_desc(
    d: &Desc,
    e: &Engine,
    at: At,
    iov: *const Iov,
    cnt: c_int,
    flags: c_int,
) -> Result<usize, c_int> {
    // SAFETY: the caller's contract.
    let segs = unsafe { vectored(iov, cnt, flags)? };
    let append = flags & libc::RWF_APPEND != 0;
    let sync = flags & (libc::RWF_DSYNC | libc::RWF_SYNC) != 0;
    match segs {
        // SAFETY: one segment of the caller's.
        [one] => write_desc(
            d,
            e,
            at,
            unsafe { slice(one.iov_base, one.iov_len) },
            append,
            sync,
        ),
        // SAFETY: the caller's segments.
        _ => write_desc(d, e, at, &unsafe { gather(segs) }, append, sync),
    }
}

/// # Safety
/// `iov` holds `cnt` valid writable segments.
unsafe fn readv_desc(
    d: &Desc,
    e: &Engine,
    at: At,
    iov: *const Iov,
    cnt: c_int,
    flags: c_int,
) -> Result<usize, c_int> {
    // SAFETY: the caller's contract.
    let segs = unsafe { vectored(iov, cnt, flags)? };
    if let [one] = segs {
        // SAFETY: one writable segment of the caller's.
        return read_desc(d, e, at, unsafe { slice_mut(one.iov_base, one.iov_len) });
    }
    let mut buf = vec![0u8; segs.iter().map(|s| s.iov_len).sum()];
    let n = read_desc(d, e, at, &mut buf)?;
    // SAFETY: the caller's segments.
    unsafe { scatter(segs, &buf[..n]) };
    Ok(n)
}

/// The program's `n` bytes at `buf` (which may be NULL when `n` is 0).
///
/// # Safety
/// `buf` points at `n` readable bytes.
unsafe fn slice<'a>(buf: *const c_void, n: usize) -> &'a [u8] {
    if n == 0 {
        return &[];
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(buf.cast(), n) }
}

/// The program's `n` writable bytes at `buf`.
///
/// # Safety
/// `buf` points at `n` writable bytes.
unsafe fn slice_mut<'a>(buf: *mut c_void, n: usize) -> &'a mut [u8] {
    if n == 0 {
        return &mut [];
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts_mut(buf.cast(), n) }
}

/// Runs a routed call and hands its probe events over.
fn serve(r: Result<usize, c_int>) -> isize {
    flush_probes();
    ret(r)
}

#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize {
    match routed(fd) {
        None => unsafe { real!(read: fn(c_int, *mut c_void, usize) -> isize)(fd, buf, n) },
        Some(r) => {
            serve(r.and_then(|(d, e)| read_desc(&d, e, At::Pos, unsafe { slice_mut(buf, n) })))
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, n: usize) -> isize {
    match routed(fd) {
        None => unsafe { real!(write: fn(c_int, *const c_void, usize) -> isize)(fd, buf, n) },
        Some(r) => {
            serve(r.and_then(|(d, e)| {
                write_desc(&d, e, At::Pos, unsafe { slice(buf, n) }, false, false)
            }))
        }
    }
}

// pread and pread64 are one function in x86_64 glibc: one real one.
exports! {
    pread, pread64: fn(fd: c_int, buf: *mut c_void, n: usize, off: Off) -> isize {
        match routed(fd) {
            None => unsafe {
                real!(pread64: fn(c_int, *mut c_void, usize, Off) -> isize)(fd, buf, n, off)
            },
            Some(r) => {
                serve(r.and_then(|(d, e)| read_desc(&d, e, offset(off)?, unsafe { slice_mut(buf, n) })))
            }
        }
    }
}

exports! {
    pwrite, pwrite64: fn(fd: c_int, buf: *const c_void, n: usize, off: Off) -> isize {
        match routed(fd) {
            None => unsafe {
                real!(pwrite64: fn(c_int, *const c_void, usize, Off) -> isize)(fd, buf, n, off)
            },
            Some(r) => serve(r.and_then(|(d, e)| {
                write_desc(&d, e, offset(off)?, unsafe { slice(buf, n) }, false, false)
            })),
        }
    }
}

/// The position of a positioned vectored call: the plain forms refuse
/// a negative offset, the v2 forms take -1 as "the file position".
fn vpos(off: Off, v2: bool) -> Result<At, c_int> {
    if v2 && off == -1 {
        Ok(At::Pos)
    } else {
        offset(off)
    }
}

/// A routed vectored read, or None for a real descriptor.
unsafe fn readv_routed(
    fd: c_int,
    iov: *const Iov,
    cnt: c_int,
    at: Result<At, c_int>,
    flags: c_int,
) -> Option<isize> {
    let r = routed(fd)?;
    Some(serve(r.and_then(|(d, e)| unsafe {
        readv_desc(&d, e, at?, iov, cnt, flags)
    })))
}

unsafe fn writev_routed(
    fd: c_int,
    iov: *const Iov,
    cnt: c_int,
    at: Result<At, c_int>,
    flags: c_int,
) -> Option<isize> {
    let r = routed(fd)?;
    Some(serve(r.and_then(|(d, e)| unsafe {
        writev_desc(&d, e, at?, iov, cnt, flags)
    })))
}

#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const Iov, cnt: c_int) -> isize {
    unsafe { readv_routed(fd, iov, cnt, Ok(At::Pos), 0) }.unwrap_or_else(|| unsafe {
        real!(readv: fn(c_int, *const Iov, c_int) -> isize)(fd, iov, cnt)
    })
}

#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const Iov, cnt: c_int) -> isize {
    unsafe { writev_routed(fd, iov, cnt, Ok(At::Pos), 0) }.unwrap_or_else(|| unsafe {
        real!(writev: fn(c_int, *const Iov, c_int) -> isize)(fd, iov, cnt)
    })
}

exports! {
    preadv, preadv64: fn(fd: c_int, iov: *const Iov, cnt: c_int, off: Off) -> isize {
        unsafe { readv_routed(fd, iov, cnt, vpos(off, false), 0) }.unwrap_or_else(|| unsafe {
            real!(preadv64: fn(c_int, *const Iov, c_int, Off) -> isize)(fd, iov, cnt, off)
        })
    }
}

exports! {
    pwritev, pwritev64: fn(fd: c_int, iov: *const Iov, cnt: c_int, off: Off) -> isize {
        unsafe { writev_routed(fd, iov, cnt, vpos(off, false), 0) }.unwrap_or_else(|| unsafe {
            real!(pwritev64: fn(c_int, *const Iov, c_int, Off) -> isize)(fd, iov, cnt, off)
        })
    }
}

exports! {
    preadv2, preadv64v2: fn(fd: c_int, iov: *const Iov, cnt: c_int, off: Off, flags: c_int) -> isize {
        unsafe { readv_routed(fd, iov, cnt, vpos(off, true), flags) }.unwrap_or_else(|| unsafe {
            real!(preadv64v2: fn(c_int, *const Iov, c_int, Off, c_int) -> isize)(
                fd, iov, cnt, off, flags,
            )
        })
    }
}

exports! {
    pwritev2, pwritev64v2: fn(fd: c_int, iov: *const Iov, cnt: c_int, off: Off, flags: c_int) -> isize {
        unsafe { writev_routed(fd, iov, cnt, vpos(off, true), flags) }.unwrap_or_else(|| unsafe {
            real!(pwritev64v2: fn(c_int, *const Iov, c_int, Off, c_int) -> isize)(
                fd, iov, cnt, off, flags,
            )
        })
    }
}

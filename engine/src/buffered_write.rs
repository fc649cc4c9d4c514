//! Models bch2_buffered_write and __bch2_buffered_write (fs-io-buffered.c)
//! in the three builds of the 2024 episode: `locked` (the revert),
//! `lockless` (7e64c86cdc6c as shipped) and `lockless-min` (the reduced
//! patch from the revert message).

use crate::buffered_read::read_single_folio;
use crate::config::{Build, PAGE_SIZE};
use crate::error::{Error, Result};
use crate::fs::Fs;
use crate::inode::Inode;
use crate::locks::two_state_lock::Side;
use crate::pagecache::{folios_trunc, get_contig_folios, order_for_len, AllocFaults};
use crate::probe::points;
use crate::truncate::truncate_pagecache;
use crate::usercopy::{seed_for_write, IovIter};
use std::sync::atomic::Ordering;

/// Why one pass of __bch2_buffered_write stopped without copying.
#[derive(Debug)]
pub(crate) enum PassError {
    /// -BCH_ERR_need_inode_lock: the folios found do not cover the whole
    /// write, so folio locks alone cannot make it atomic.
    NeedInodeLock,
    Err(Error),
}

impl From<Error> for PassError {
    fn from(e: Error) -> Self {
        PassError::Err(e)
    }
}

/// __bch2_buffered_write(): one pass over the folios covering
/// [pos, pos + len), copying source bytes `span`, all folios
/// locked for the duration. Returns the bytes copied, which may be fewer
/// than asked (short copy, ENOSPC, no folio).
///
/// `lockless` enables the two checks the lockless patch added: the
/// need-inode-lock bail-out and the assertion that only an inode-locked
/// writer extends i_size.
pub(crate) fn buffered_write_pass(
    fs: &Fs,
    inode: &Inode,
    src: &mut IovIter,
    span: std::ops::Range<usize>,
    pos: u64,
    inode_locked: bool,
    lockless: bool,
) -> std::result::Result<u64, PassError> {
    let (from, len) = (span.start, span.len());
    debug_assert!(len > 0);
    // bch2_buffered_write faults the source in before every pass; nothing
    // is locked in between, so the model does it on entry.
    src.fault_in(from, len);
    let mut end = pos + len as u64;
    // Until the folios are known, the cleanup below compares against the
    // i_size seen on entry; an early exit therefore always looks "past EOF"
    // and truncates the page cache at i_size (see ARCHITECTURE.md, "The
    // early-exit truncate hazard").
    let mut last_folio_pos = inode.i_size.read();
    let order = order_for_len(len as u64, fs.knobs.folio_order_cap());
    let faults = AllocFaults {
        fail_rate: fs.knobs.alloc_fail_rate,
        fragmentation: fs.knobs.fragmentation,
    };
    let mut fs_ = get_contig_folios(&inode.mapping, pos, end, order, faults);

    let result = (|| -> std::result::Result<u64, PassError> {
        let Some(first) = fs_.first().cloned() else {
            return Err(Error::NoMemory.into());
        };
        if lockless && !inode_locked && fs_.last().is_some_and(|l| l.end_pos() < end) {
            return Err(PassError::NeedInodeLock);
        }

        if pos != first.pos() && !first.test_uptodate() {
            read_for_write(fs, inode, &first)?;
        }

        let last = fs_.last().cloned().expect("non-empty");
        end = end.min(last.end_pos());
        last_folio_pos = last.pos();
        if end != last.end_pos() && !last.test_uptodate() {
            if end >= inode.i_size.read() {
                last.zero_range(0, last.size() as usize);
            } else {
                read_for_write(fs, inode, &last)?;
            }
        }

        // Reserve disk space folio by folio; on a partial reservation the
        // write is cut where the space ran out.
        let mut f_pos = pos;
        let mut f_offset = pos - first.pos();
        for i in 0..fs_.len() {
            let f = fs_[i].clone();
            let f_len = end.min(f.end_pos()) - f_pos;
            let got = fs.space.folio_reservation_get_partial(&f, f_offset, f_len);
            if got != f_len {
                if got == 0 {
                    if i == 0 {
                        return Err(Error::NoSpace.into());
                    }
                    folios_trunc(&mut fs_, i);
                    end = end.min(fs_.last().expect("non-empty").end_pos());
                } else {
                    folios_trunc(&mut fs_, i + 1);
                    end = f_pos + got;
                }
                break;
            }
            f_pos = f.end_pos();
            f_offset = 0;
        }

        if fs.knobs.inject.isize_before_copy {
            // Planted bug: publish the size the whole write will reach
            // before any byte is copied.
            let g = inode.i_size.lock();
            let want = pos + len as u64;
            if want > g.read() {
                g.write(want);
            }
        }

        // The copy from the caller's buffer, faults disabled: it may stop
        // short anywhere, and then the write stops there.
        let mut copied = 0u64;
        let mut f_pos = pos;
        let mut f_offset = pos - first.pos();
        let mut i = 0;
        // Folios from here on are dropped once the reservations are put.
        let mut cut = None;
        while i < fs_.len() {
            let f = fs_[i].clone();
            let f_len = end.min(f.end_pos()) - f_pos;
            let f_copied = src.copy_to_folio(
                &f,
                f_offset as usize,
                from + copied as usize,
                f_len as usize,
                fs.knobs.short_copy_rate,
            ) as u64;
            if f_copied != f_len {
                fs.counters.short_copies.fetch_add(1, Ordering::Relaxed);
            }
            if f_copied == 0 {
                cut = Some(i);
                break;
            }
            // A partial copy into a folio that is not uptodate cannot be
            // kept unless everything after it is past EOF: zero it and
            // give the bytes back.
            if !f.test_uptodate()
                && f_copied != f.size()
                && pos + copied + f_copied < inode.i_size.read()
            {
                f.zero_range(0, f.size() as usize);
                cut = Some(i);
                break;
            }
            copied += f_copied;
            if f_copied != f_len {
                cut = Some(i + 1);
                break;
            }
            f_pos = f.end_pos();
            f_offset = 0;
            i += 1;
        }
        // bch2_folio_reservation_put(): space reserved for bytes that were
        // not copied goes back. The model keeps reservations in the folios'
        // sector state, so this runs while they are still locked.
        // Only a short pass left any: the reservations covered [pos, end).
        if pos + copied < end {
            for f in &fs_ {
                let from = (pos + copied).saturating_sub(f.pos()).min(f.size());
                fs.space.folio_reservation_put(f, from);
            }
        }
        if let Some(cut) = cut {
            folios_trunc(&mut fs_, cut);
        }

        if copied == 0 {
            return Ok(0);
        }
        end = pos + copied;

        {
            let g = inode.i_size.lock();
            if end > g.read() {
                if lockless && !inode_locked {
                    fs.counters
                        .extend_without_inode_lock
                        .fetch_add(1, Ordering::Relaxed);
                }
                g.write(end);
            }
        }

        let mut f_pos = pos;
        let mut f_offset = pos - first.pos();
        for f in &fs_ {
            let f_len = end.min(f.end_pos()) - f_pos;
            if !f.test_uptodate() {
                f.mark_uptodate();
            }
            f.set_dirty_range(f_offset, f_len);
            f_pos = f.end_pos();
            f_offset = 0;
        }
        Ok(copied)
    })();

    folios_trunc(&mut fs_, 0);

    // If the last folio added starts at or past EOF, a short write may have
    // left post-EOF folios behind: drop them. In the lockless build this
    // runs without the inode lock and without the block lock.
    let i_size = inode.i_size.read();
    if last_folio_pos >= i_size {
        fs.counters
            .post_eof_truncates
            .fetch_add(1, Ordering::Relaxed);
        truncate_pagecache(fs, inode, i_size);
    }
    result
}

/// bch2_read_single_folio() as the write path calls it: a read error
/// (injected at `read_error_rate`) ends the pass before anything is copied,
/// through the same cleanup as every early exit.
fn read_for_write(fs: &Fs, inode: &Inode, f: &crate::folio::Folio) -> Result<()> {
    if crate::fault::read_fails(fs.knobs.read_error_rate) {
        return Err(Error::ReadError);
    }
    read_single_folio(fs, inode, f)
}

/// bch2_buffered_write(): dispatches on the run's build. The inode lock
/// rules per build:
/// - locked: held around the whole write;
/// - lockless-min: held only when the write extends i_size as seen on entry;
/// - lockless: as lockless-min, plus the fallbacks that take it mid-write.
pub(crate) fn buffered_write(fs: &Fs, inode: &Inode, pos: u64, buf: &[u8]) -> Result<usize> {
    seed_for_write(fs.knobs.seed, pos, buf.len() as u64);
    let locked = fs.build == Build::Locked || pos + buf.len() as u64 > inode.i_size.read();
    if locked {
        inode.inode_lock.lock();
    }
    let r = write_as_built(fs, inode, pos, buf, locked);
    if locked {
        inode.inode_lock.unlock();
    }
    r
}

/// The build's write loop, entered with the inode lock held or not.
fn write_as_built(fs: &Fs, inode: &Inode, pos: u64, buf: &[u8], locked: bool) -> Result<usize> {
    match fs.build {
        Build::Locked | Build::LocklessMin => write_under_add_lock(fs, inode, pos, buf, locked),
        Build::Lockless => lockless_write(fs, inode, pos, buf, locked),
    }
}

/// An IOCB_APPEND write: generic_write_checks() takes the position from
/// i_size under the inode lock, in every build (the lockless patch takes
/// the inode lock for appends too, since they always extend). `fill` gets
/// the position and fills `buf`; the write then runs as the build's
/// inode-locked write. Returns the position and the result.
pub(crate) fn buffered_append(
    fs: &Fs,
    inode: &Inode,
    buf: &mut [u8],
    fill: &mut dyn FnMut(u64, &mut [u8]),
) -> (u64, Result<usize>) {
    inode.inode_lock.lock();
    let pos = inode.i_size.read();
    fill(pos, buf);
    let buf = &*buf;
    seed_for_write(fs.knobs.seed, pos, buf.len() as u64);
    let r = if buf.is_empty() {
        Ok(0)
    } else {
        write_as_built(fs, inode, pos, buf, true)
    };
    inode.inode_lock.unlock();
    (pos, r)
}

/// The pre-lockless loop: passes until all is copied, retrying a pass that
/// copied nothing with one page (the fault-in livelock guard).
fn write_under_add_lock(
    fs: &Fs,
    inode: &Inode,
    mut pos: u64,
    buf: &[u8],
    inode_locked: bool,
) -> Result<usize> {
    let mut src = source(fs, buf);
    inode.pagecache_lock.lock(Side::Add);
    let mut written = 0usize;
    let mut err = None;
    while written < buf.len() {
        let mut bytes = buf.len() - written;
        let ret = loop {
            match buffered_write_pass(
                fs,
                inode,
                &mut src,
                written..written + bytes,
                pos,
                inode_locked,
                false,
            ) {
                Ok(0) => bytes = single_segment_page(&src, pos, written),
                Ok(n) => break Ok(n),
                Err(PassError::Err(e)) => break Err(e),
                Err(PassError::NeedInodeLock) => unreachable!("only the lockless pass asks"),
            }
        };
        match ret {
            Ok(n) => {
                pos += n;
                written += n as usize;
            }
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    inode.pagecache_lock.unlock(Side::Add);
    match (written, err) {
        (0, Some(e)) => Err(e),
        _ => Ok(written),
    }
}

/// After a pass that copied nothing, bch2_buffered_write retries with at
/// most the rest of the page at `pos` and of the current iovec segment, so
/// that fault-in and copy see the same few source pages.
fn single_segment_page(src: &IovIter, pos: u64, from: usize) -> usize {
    ((PAGE_SIZE - pos % PAGE_SIZE) as usize).min(src.single_seg_count(from))
}

/// The write's source with the run's iovec and source-fault knobs.
fn source<'a>(fs: &Fs, buf: &'a [u8]) -> IovIter<'a> {
    IovIter::new(buf, fs.knobs.iov_segments, fs.knobs.source_faults)
}

/// 7e64c86cdc6c's bch2_buffered_write: the inode lock only for writes that
/// extend i_size; folio locks for atomicity between writers; the add lock
/// against truncate. A pass that cannot cover the whole write, or that
/// copies short, restarts the whole write under the inode lock, keeping in
/// `written2` the most it ever wrote so it never claims less than it did.
/// When `inode_locked`, the caller holds the inode lock and releases it
/// afterwards; a lock this function takes mid-write it releases itself.
fn lockless_write(
    fs: &Fs,
    inode: &Inode,
    start: u64,
    buf: &[u8],
    mut inode_locked: bool,
) -> Result<usize> {
    let len = buf.len();
    let mut src = source(fs, buf);
    let took_lock = !inode_locked;
    inode.pagecache_lock.lock(Side::Add);

    let mut pos = start;
    let mut written = 0usize;
    let mut written2 = 0usize;
    let mut err = None;
    let mut get_inode_lock = !inode_locked && start + len as u64 > inode.i_size.read();

    loop {
        if get_inode_lock {
            get_inode_lock = false;
            inode.pagecache_lock.unlock(Side::Add);
            inode.inode_lock.lock();
            inode_locked = true;
            inode.pagecache_lock.lock(Side::Add);
            points::write_restart(inode.ino, written as u64, written2 as u64);
            fs.counters.restarts.fetch_add(1, Ordering::Relaxed);
            pos -= written as u64;
            written = 0;
        }
        if written == len {
            break;
        }
        let rest = len - written;
        let mut bytes = rest;
        loop {
            // Only a locked writer may split the write into pieces.
            if bytes != rest && !inode_locked {
                get_inode_lock = true;
                break;
            }
            match buffered_write_pass(
                fs,
                inode,
                &mut src,
                written..written + bytes,
                pos,
                inode_locked,
                true,
            ) {
                Err(PassError::NeedInodeLock) => {
                    fs.counters.need_inode_lock.fetch_add(1, Ordering::Relaxed);
                    get_inode_lock = true;
                    break;
                }
                Err(PassError::Err(e)) => {
                    err = Some(e);
                    break;
                }
                Ok(0) => bytes = single_segment_page(&src, pos, written),
                Ok(n) => {
                    pos += n;
                    written += n as usize;
                    written2 = written2.max(written);
                    if n as usize != bytes && !inode_locked {
                        get_inode_lock = true;
                    }
                    break;
                }
            }
        }
        if err.is_some() {
            break;
        }
    }

    inode.pagecache_lock.unlock(Side::Add);
    // A lock taken mid-write is this function's to drop; one the caller
    // held is the caller's.
    if inode_locked && took_lock {
        inode.inode_lock.unlock();
    }
    match (written.max(written2), err) {
        (0, Some(e)) => Err(e),
        (n, _) => Ok(n),
    }
}

//! Models writeback: bch2_writepages and __bch2_writepage
//! (fs-io-buffered.c) over write_cache_pages (mm/page-writeback.c), the
//! flusher thread, and fsync (bch2_fsync, fs-io.c: file_write_and_wait_range
//! + a journal flush).
//!
//! As in bcachefs, a folio's dirty bit is cleared, its writeback flag set
//! and its lock dropped *before* the IO is built: the bytes are copied out
//! (bcachefs bounces checksummed data from unstable pages) after
//! folio_unlock, so a writer that takes the lock meanwhile changes what this
//! IO carries, not only the next one. The sectors the IO covers are chosen
//! under the lock.

use crate::config::SECTOR_SHIFT;
use crate::disk::BLOCK_SIZE;
use crate::error::{Error, Result};
use crate::folio::{Folio, SectorState};
use crate::fs::Fs;
use crate::inode::Inode;
use crate::probe::{points, provenance};
use crate::probe::{EventKind, OpKind};
use std::sync::atomic::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// WB_SYNC_NONE: skip folios already under writeback.
    None,
    /// WB_SYNC_ALL: wait for them, then write.
    All,
}

/// Sets the disk inode's size exactly when it grows (an extend, an
/// allocation past EOF).
pub(crate) fn set_disk_size(fs: &Fs, inode: &Inode, size: u64) -> Result<()> {
    let mut ds = inode.disk_size.lock();
    fs.disk.set_size(inode.ino, size)?;
    *ds = size;
    Ok(())
}

/// Cuts the disk inode at `size` (truncate down): every block wholly past
/// it goes, including those a writeback IO mapped before its size was
/// published; the block holding `size` is the page cache's to zero.
pub(crate) fn cut_disk_size(fs: &Fs, inode: &Inode, size: u64) -> Result<()> {
    let mut ds = inode.disk_size.lock();
    if fs.knobs.inject.cut_to_recorded_size {
        fs.disk.set_size(inode.ino, size)?;
    } else {
        fs.disk.cut(inode.ino, size)?;
    }
    *ds = size;
    Ok(())
}

/// Grows the disk inode's size to cover data written up to `upto`, never
/// past the current i_size: bch2_extent_update's new_i_size, the only way
/// a buffered write's size reaches the disk. fsync does not write i_size
/// (bch2_fsync flushes the journal; the inode's size moved with its
/// extents), so an extending write whose data never reached the disk leaves
/// the file shorter after a crash or remount, not zero-filled.
pub(crate) fn publish_disk_size(fs: &Fs, inode: &Inode, upto: u64) -> Result<()> {
    let mut ds = inode.disk_size.lock();
    let new = inode.i_size.read().min(upto);
    if new > *ds {
        fs.disk.set_size(inode.ino, new)?;
        *ds = new;
    }
    Ok(())
}

/// __bch2_writepage(): called with the folio locked and its dirty bit
/// already cleared for IO; unlocks it. `clear_late` is the planted bug that
/// clears the dirty bit after the IO instead.
fn writepage(fs: &Fs, inode: &Inode, f: &Folio, clear_late: bool) -> Result<()> {
    let i_size = inode.i_size.read();
    if f.end_pos() > i_size {
        if f.pos() >= i_size {
            // Wholly past EOF (a truncate in progress): the dirty bit is
            // gone and nothing is written. The data is dropped.
            fs.counters
                .folios_dropped_past_eof
                .fetch_add(1, Ordering::Relaxed);
            f.unlock();
            return Ok(());
        }
        f.zero_range((i_size - f.pos()) as usize, f.size() as usize);
    }

    // Snapshot the sector state before unlocking: dirty sectors become
    // allocated, and their reservations go back.
    let (mask, released) = f.with_sectors(|s| {
        let mut released = 0;
        let mask: Vec<bool> = s
            .iter_mut()
            .map(|st| {
                let dirty = st.is_dirty();
                if dirty {
                    if *st == SectorState::DirtyReserved {
                        released += 1;
                    }
                    *st = SectorState::Allocated;
                }
                dirty
            })
            .collect();
        (mask, released)
    });
    let dirty_sectors = mask.iter().filter(|d| **d).count() as u64;
    f.start_writeback(dirty_sectors);

    // Blocks with at least one dirty sector, up to the block holding EOF.
    let sectors_per_block = (BLOCK_SIZE >> SECTOR_SHIFT) as usize;
    let eof_blocks = (i_size - f.pos())
        .div_ceil(BLOCK_SIZE)
        .min(f.size() / BLOCK_SIZE);
    let mut runs: Vec<(u64, u64)> = Vec::new();
    let mut b = 0u64;
    while b < eof_blocks {
        let dirty = |b: u64| {
            mask[b as usize * sectors_per_block..(b as usize + 1) * sectors_per_block]
                .iter()
                .any(|d| *d)
        };
        if !dirty(b) {
            b += 1;
            continue;
        }
        let start = b;
        while b < eof_blocks && dirty(b) {
            b += 1;
        }
        runs.push((start, b));
    }
    f.unlock();

    // __bch2_writepage's bio is built and submitted from here on, with the
    // folio unlocked and pinned only by its writeback flag.
    let io_bytes: u64 = runs.iter().map(|(s, e)| (e - s) * BLOCK_SIZE).sum();
    points::folio(
        EventKind::FolioWritebackIo,
        inode.ino,
        f.index,
        f.id,
        f.order as u64,
        io_bytes,
    );
    let first_block = f.pos() / BLOCK_SIZE;
    let mut res = Ok(());
    for &(start, end) in &runs {
        let mut data = vec![0u8; ((end - start) * BLOCK_SIZE) as usize];
        f.copy_out_unlocked((start * BLOCK_SIZE) as usize, &mut data);
        provenance::writeback_io(inode.ino, f.id, (first_block + start) * BLOCK_SIZE, &data);
        if let Err(e) = fs.disk.write(inode.ino, first_block + start, &data) {
            res = Err(Error::from(e));
            break;
        }
    }
    if res.is_ok() {
        // The size this IO may carry to disk was fixed under the folio lock
        // (bcachefs's op.new_i_size): a writer that extends the file while
        // the IO is built did not have its bytes past that size written.
        res = publish_disk_size(fs, inode, f.end_pos().min(i_size));
    }
    if clear_late {
        f.clear_dirty();
    }
    fs.space.release(released);
    let err = res.as_ref().err().map(|e| e.errno()).unwrap_or(0);
    if err != 0 {
        inode.mapping.set_error(err);
    }
    inode.mapping.end_writeback(f, err);
    fs.counters.folios_written.fetch_add(1, Ordering::Relaxed);
    res
}

/// bch2_writepages(): every dirty folio of the inode, ascending.
pub fn writepages(fs: &Fs, inode: &Inode, mode: SyncMode) -> Result<()> {
    let mut res = Ok(());
    let mut next = 0;
    while let Some(f) = inode
        .mapping
        .find_lock_next(next, u64::MAX, |f| f.test_dirty())
    {
        next = f.index + f.nr_pages();
        if !f.test_dirty() {
            f.unlock();
            continue;
        }
        if f.test_writeback() {
            if mode == SyncMode::None {
                f.unlock();
                continue;
            }
            inode.mapping.wait_writeback(&f);
        }
        let clear_late = fs.knobs.inject.writeback_clear_after_copy;
        if !clear_late {
            f.clear_dirty();
        }
        if let Err(e) = writepage(fs, inode, &f, clear_late) {
            res = Err(e);
        }
    }
    res
}

/// One flusher pass over every cached inode.
pub fn flush_all(fs: &Fs, mode: SyncMode) {
    let mut any = false;
    for inode in fs.cached_inodes() {
        if inode.mapping.has_dirty() {
            any = true;
            // Each pass is an op of its own, so `op` stays a key of the
            // ops table and the pass's lock events name it.
            let _op = points::OpScope::enter(points::next_op_id());
            points::op_begin(OpKind::Writeback, inode.ino, 0, 0);
            let r = writepages(fs, &inode, mode);
            points::op_end(
                OpKind::Writeback,
                inode.ino,
                0,
                if r.is_ok() { 0 } else { -5 },
            );
        }
    }
    if any {
        fs.refresh_space();
    }
}

/// bch2_fsync(): write back and wait for every folio of the inode, commit.
/// The size on disk is what the written folios carried it to.
pub(crate) fn fsync(fs: &Fs, inode: &Inode) -> Result<()> {
    writepages(fs, inode, SyncMode::All)?;
    // Folios the flusher had under IO when we passed them.
    for f in inode.mapping.all_folios() {
        inode.mapping.wait_writeback(&f);
    }
    if let Some(err) = inode.mapping.take_error() {
        return Err(Error::Writeback(err));
    }
    fs.disk.commit()?;
    fs.refresh_space();
    Ok(())
}

//! Models truncate: bch2_truncate / bch2_extend (fs-io.c) on top of
//! truncate_setsize, truncate_pagecache, truncate_inode_pages_range and
//! truncate_inode_partial_folio (mm/truncate.c).

use crate::config::{PAGE_SHIFT, SECTOR_SHIFT};
use crate::disk::BLOCK_SIZE;
use crate::error::Result;
use crate::fs::Fs;
use crate::inode::Inode;
use crate::locks::two_state_lock::Side;
use crate::pagecache::Fgp;
use crate::probe::points;
use crate::probe::EventKind;
use crate::{fallocate, writeback};

/// truncate_inode_pages_range(): drops cached folios wholly inside
/// [start, end) and zeroes the parts of straddling folios inside it. Dirty
/// data in the range is discarded (folio_cancel_dirty), as in the kernel.
/// A straddling folio keeps its sector state: bch2_invalidate_folio ignores
/// partial ranges, so its zeroed sectors stay dirty (and reserved) unless
/// the caller ran [`truncate_folio_edges`] first, as ftruncate and punch do.
///
/// The range is fixed on entry: if i_size grows while this runs (an
/// extending writer publishing), folios past the old size are still
/// dropped. Callers that hold neither the inode lock nor the block lock
/// (the lockless early exit) can therefore lose fresh writes.
pub(crate) fn truncate_inode_pages_range(fs: &Fs, inode: &Inode, start: u64, end: u64) {
    if start >= end {
        return;
    }
    let mut next = start >> crate::config::PAGE_SHIFT;
    let last = end.div_ceil(crate::config::PAGE_SIZE);
    while let Some(f) = inode.mapping.find_lock_next(next, last, |_| true) {
        next = f.index + f.nr_pages();
        inode.mapping.wait_writeback(&f);
        let (fstart, fend) = (f.pos(), f.end_pos());
        if fstart >= start && fend <= end {
            f.clear_dirty();
            fs.space.folio_sectors_drop(&f, 0, f.nr_sectors());
            inode.mapping.delete_from_page_cache(&f);
            points::folio(
                EventKind::FolioTruncated,
                inode.ino,
                f.index,
                f.id,
                0,
                f.order as u64,
            );
        } else {
            // truncate_inode_partial_folio: zero the part in range.
            let zs = start.max(fstart) - fstart;
            let ze = end.min(fend) - fstart;
            f.zero_range(zs as usize, ze as usize);
            points::folio(
                EventKind::FolioTruncated,
                inode.ino,
                f.index,
                f.id,
                zs,
                f.order as u64,
            );
        }
        f.unlock();
    }
}

/// __bch2_truncate_folio() for the folios straddling `start` and `end`
/// (bch2_truncate_folio / bch2_truncate_folios): zero the part inside
/// [start, end), give back the sectors of whole blocks inside it (the disk
/// is about to lose them) and mark the folio dirty again so the zeroed
/// partial block is written. Only cached folios: the model's disk zeroes
/// the tail of a block it cuts itself.
pub(crate) fn truncate_folio_edges(fs: &Fs, inode: &Inode, start: u64, end: u64) {
    let mut edges = vec![start >> PAGE_SHIFT];
    if end != u64::MAX && (end - 1) >> PAGE_SHIFT != start >> PAGE_SHIFT {
        edges.push((end - 1) >> PAGE_SHIFT);
    }
    let mut done: Option<u64> = None;
    for index in edges {
        // Locked and still cached: one migrated away meanwhile is looked
        // up again.
        let Some(f) = inode.mapping.get_folio_locked(index, Fgp::default()) else {
            continue;
        };
        if done == Some(f.id) {
            f.unlock();
            continue;
        }
        done = Some(f.id);
        let (fstart, fend) = (f.pos(), f.end_pos());
        // A folio wholly inside the range is the page-cache truncation's.
        let whole = start <= fstart && end >= fend;
        if !whole {
            let zs = start.max(fstart) - fstart;
            let ze = end.min(fend) - fstart;
            f.zero_range(zs as usize, ze as usize);
            let b0 = (zs.div_ceil(BLOCK_SIZE) * BLOCK_SIZE) >> SECTOR_SHIFT;
            let b1 = (ze / BLOCK_SIZE * BLOCK_SIZE) >> SECTOR_SHIFT;
            if b0 < b1 {
                fs.space.folio_sectors_drop(&f, b0 as usize, b1 as usize);
            }
            if f.set_dirty_flag() {
                points::folio(EventKind::FolioDirtied, inode.ino, f.index, f.id, 0, 0);
            }
        }
        f.unlock();
    }
}

/// truncate_pagecache(inode, newsize)
pub fn truncate_pagecache(fs: &Fs, inode: &Inode, newsize: u64) {
    truncate_inode_pages_range(fs, inode, newsize, u64::MAX);
}

/// ftruncate(): inode lock and pagecache block lock held throughout.
pub(crate) fn truncate(fs: &Fs, inode: &Inode, size: u64) -> Result<()> {
    let _il = inode.inode_lock.guard();
    inode.pagecache_lock.lock(Side::Block);
    let r = (|| {
        let old = inode.i_size.read();
        if size < old {
            truncate_folio_edges(fs, inode, size, u64::MAX);
            // The block holding the new EOF stays allocated: its tail is
            // zeroed through the page cache (read in when not cached) and
            // its sectors dirtied, so writeback carries the zeros to disk
            // (__bch2_truncate_folio); the disk's cut leaves it alone.
            if !size.is_multiple_of(BLOCK_SIZE) {
                fallocate::zero_partial_block(fs, inode, size, size.next_multiple_of(BLOCK_SIZE))?;
            }
            // truncate_setsize: i_size first, then the page cache.
            inode.i_size.lock().write(size);
            truncate_pagecache(fs, inode, size);
            writeback::cut_disk_size(fs, inode, size)?;
        } else if size > old {
            // The cached tail past the old EOF must read as zeros.
            truncate_inode_pages_range_zero_only(inode, old, size);
            inode.i_size.lock().write(size);
            writeback::set_disk_size(fs, inode, size)?;
        }
        Ok(())
    })();
    inode.pagecache_lock.unlock(Side::Block);
    r
}

/// pagecache_isize_extended(): zero the cached bytes of the folio
/// straddling the old EOF, without dropping anything.
fn truncate_inode_pages_range_zero_only(inode: &Inode, old: u64, new: u64) {
    let Some(f) = inode.mapping.lookup(old >> crate::config::PAGE_SHIFT) else {
        return;
    };
    f.lock();
    if !f.test_removed() && f.pos() < old {
        let end = new.min(f.end_pos());
        f.zero_range((old - f.pos()) as usize, (end - f.pos()) as usize);
    }
    f.unlock();
}

//! Models truncate: bch2_truncate / bch2_extend (fs-io.c) on top of
//! truncate_setsize, truncate_pagecache, truncate_inode_pages_range and
//! truncate_inode_partial_folio (mm/truncate.c).

use crate::config::SECTOR_SHIFT;
use crate::error::Result;
use crate::fs::Fs;
use crate::inode::Inode;
use crate::locks::two_state_lock::Side;
use crate::probe::points;
use crate::probe::EventKind;
use crate::writeback;

/// truncate_inode_pages_range(): drops cached folios wholly inside
/// [start, end) and zeroes the parts of straddling folios inside it. Dirty
/// data in the range is discarded (folio_cancel_dirty), as in the kernel.
///
/// The range is fixed on entry: if i_size grows while this runs (an
/// extending writer publishing), folios past the old size are still
/// dropped. Callers that hold neither the inode lock nor the block lock
/// (the lockless early exit) can therefore lose fresh writes.
pub fn truncate_inode_pages_range(fs: &Fs, inode: &Inode, start: u64, end: u64) {
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
            let s0 = (zs.div_ceil(1 << SECTOR_SHIFT)) as usize;
            let s1 = (ze >> SECTOR_SHIFT) as usize;
            if s0 < s1 {
                fs.space.folio_sectors_drop(&f, s0, s1);
            }
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
            // truncate_setsize: i_size first, then the page cache.
            inode.i_size.lock().write(size);
            truncate_pagecache(fs, inode, size);
            writeback::set_disk_size(fs, inode, size)?;
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

//! Models bch2_fallocate_dispatch (fs-io.c): allocation (mode 0 and
//! FALLOC_FL_KEEP_SIZE) and hole punching, both under the inode lock and
//! the pagecache block lock.

use crate::buffered_read::read_single_folio;
use crate::disk::BLOCK_SIZE;
use crate::error::{Error, Result};
use crate::fs::Fs;
use crate::inode::Inode;
use crate::locks::two_state_lock::Side;
use crate::pagecache::Fgp;
use crate::truncate::{truncate_folio_edges, truncate_inode_pages_range};
use crate::writeback;

fn check_range(offset: u64, len: u64) -> Result<u64> {
    if len == 0 {
        return Err(Error::Invalid("fallocate length is zero".into()));
    }
    offset
        .checked_add(len)
        .ok_or_else(|| Error::Invalid("fallocate range overflows".into()))
}

fn with_block_lock<R>(inode: &Inode, f: impl FnOnce() -> Result<R>) -> Result<R> {
    let _il = inode.inode_lock.guard();
    inode.pagecache_lock.lock(Side::Block);
    let r = f();
    inode.pagecache_lock.unlock(Side::Block);
    r
}

/// bchfs_fallocate(): unwritten extents for the holes in the range; i_size
/// grows unless KEEP_SIZE.
pub(crate) fn allocate(
    fs: &Fs,
    inode: &Inode,
    offset: u64,
    len: u64,
    keep_size: bool,
) -> Result<()> {
    let end = check_range(offset, len)?;
    with_block_lock(inode, || {
        let first = offset / BLOCK_SIZE;
        let last = end.div_ceil(BLOCK_SIZE);
        fs.disk.fallocate(inode.ino, first, last - first)?;
        fs.refresh_space();
        if !keep_size && end > inode.i_size.read() {
            inode.i_size.lock().write(end);
            writeback::set_disk_size(fs, inode, end)?;
        }
        Ok(())
    })
}

/// __bch2_truncate_folio for a punch edge or the block holding a new EOF:
/// zero [start, end) inside one block through the page cache, reading the
/// folio in first, and dirty it so the zeros reach the disk block that
/// stays allocated.
pub(crate) fn zero_partial_block(fs: &Fs, inode: &Inode, start: u64, end: u64) -> Result<()> {
    let f = inode
        .mapping
        .get_folio_locked(
            start >> crate::config::PAGE_SHIFT,
            Fgp {
                create_order: Some(0),
                ..Fgp::default()
            },
        )
        .expect("creating lookup always returns a folio");
    let r = (|| {
        if !f.test_uptodate() {
            read_single_folio(fs, inode, &f)?;
        }
        let (s, e) = (start - f.pos(), end.min(f.end_pos()) - f.pos());
        f.zero_range(s as usize, e as usize);
        fs.space.folio_reservation_get_partial(&f, s, e - s);
        f.set_dirty_range(s, e - s);
        Ok(())
    })();
    f.unlock();
    r
}

/// bchfs_fpunch(): zero the partial blocks at the edges, drop the cached
/// folios in between and free the whole blocks on disk. i_size unchanged;
/// a punch that reaches it writes it to the disk inode
/// (bch2_write_inode_size), unless a partial last block was zeroed through
/// the page cache, whose writeback publishes it (`truncated_last_page`):
/// the dirty folios it dropped would have, and a file a write extended
/// would otherwise come back shorter after a clean unmount.
pub(crate) fn punch_hole(fs: &Fs, inode: &Inode, offset: u64, len: u64) -> Result<()> {
    let asked_end = check_range(offset, len)?;
    with_block_lock(inode, || {
        let size = inode.i_size.read();
        let end = asked_end.min(size.max(offset));
        let zeroed_last = offset < end && punch_range(fs, inode, offset, end)?;
        if asked_end >= size && !zeroed_last {
            writeback::set_disk_size(fs, inode, size)?;
        }
        Ok(())
    })
}

/// The punch of [offset, end) inside the file; whether it zeroed a partial
/// last block through the page cache.
fn punch_range(fs: &Fs, inode: &Inode, offset: u64, end: u64) -> Result<bool> {
    let full_start = offset.div_ceil(BLOCK_SIZE) * BLOCK_SIZE;
    let full_end = end / BLOCK_SIZE * BLOCK_SIZE;
    if full_start > full_end {
        // Inside one block.
        zero_partial_block(fs, inode, offset, end)?;
        return Ok(true);
    }
    if offset < full_start {
        zero_partial_block(fs, inode, offset, full_start)?;
    }
    let zeroed_last = full_end < end;
    if zeroed_last {
        zero_partial_block(fs, inode, full_end, end)?;
    }
    if full_start < full_end {
        truncate_folio_edges(fs, inode, full_start, full_end);
        truncate_inode_pages_range(fs, inode, full_start, full_end);
        fs.disk.punch(
            inode.ino,
            full_start / BLOCK_SIZE,
            (full_end - full_start) / BLOCK_SIZE,
        )?;
        fs.refresh_space();
    }
    Ok(zeroed_last)
}

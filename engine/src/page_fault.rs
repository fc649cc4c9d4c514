//! Models bch2_page_fault and bch2_page_mkwrite (fs-io-pagecache.c) over
//! filemap_fault, and a store through a shared writable mapping.
//!
//! A store to a page not yet writable in the process's page tables faults
//! twice: the read fault brings the folio in (filemap_fault, under the
//! pagecache add lock), the write fault makes it writable (mkwrite: add
//! lock, folio lock, the size check, space reserved for the bytes up to
//! i_size, the folio dirtied). The model has no page tables, so every
//! store takes both faults, and the bytes are copied while mkwrite's folio
//! lock is still held, before the fault completes. In the kernel the store
//! lands after the fault returns, with no lock at all, until writeback
//! write-protects the page again (folio_clear_dirty_for_io → page_mkclean)
//! and the next store faults once more. So the model keeps what the locks
//! order (mkwrite against truncate, punch and writeback's dirty clear) and
//! leaves out stores racing a write() into the same folio byte by byte.

use crate::buffered_read::read_single_folio;
use crate::config::{PAGE_SHIFT, PAGE_SIZE};
use crate::error::{Error, Result};
use crate::folio::Folio;
use crate::fs::Fs;
use crate::inode::Inode;
use crate::locks::two_state_lock::Side;
use crate::pagecache::Fgp;
use crate::probe::points;
use crate::probe::EventKind;
use std::sync::Arc;

/// bch2_page_fault() → filemap_fault(): the uptodate folio holding page
/// `index`, with a reference, under the pagecache add lock. A page wholly
/// past EOF is SIGBUS (an error here).
pub(crate) fn page_fault(fs: &Fs, inode: &Inode, index: u64) -> Result<Arc<Folio>> {
    inode.pagecache_lock.lock(Side::Add);
    let r = (|| {
        if index >= inode.i_size.read().div_ceil(PAGE_SIZE) {
            return Err(Error::Fault);
        }
        // filemap_fault reads a page at a time when it has no readahead
        // window: an order-0 folio when none is cached.
        let f = inode
            .mapping
            .get_folio_locked(
                index,
                Fgp {
                    create_order: Some(0),
                    ..Fgp::default()
                },
            )
            .ok_or(Error::NoMemory)?;
        let r = if f.test_uptodate() {
            Ok(())
        } else {
            read_single_folio(fs, inode, &f)
        };
        f.unlock();
        r.map(|()| f)
    })();
    inode.pagecache_lock.unlock(Side::Add);
    if let Ok(f) = &r {
        points::folio(
            EventKind::PageFault,
            inode.ino,
            f.index,
            f.id,
            f.order as u64,
            0,
        );
    }
    r
}

/// bch2_page_mkwrite(): makes `f` writable through the mapping. Returns
/// with the folio locked (VM_FAULT_LOCKED). A folio truncated meanwhile or
/// now past EOF is VM_FAULT_NOPAGE (the fault is retried and then finds
/// the page past EOF); no space for its blocks is SIGBUS.
pub(crate) fn page_mkwrite(fs: &Fs, inode: &Inode, f: &Folio) -> Result<()> {
    inode.pagecache_lock.lock(Side::Add);
    f.lock();
    let r = (|| {
        let isize = inode.i_size.read();
        if f.test_removed() || f.pos() >= isize {
            return Err(Error::Fault);
        }
        let len = f.size().min(isize - f.pos());
        if fs.space.folio_reservation_get_partial(f, 0, len) != len {
            fs.space.folio_reservation_put(f, 0);
            return Err(Error::NoSpace);
        }
        f.set_dirty_range(0, len);
        points::folio(EventKind::PageMkwrite, inode.ino, f.index, f.id, len, 0);
        // folio_wait_stable(): bcachefs asks for no stable pages, so a
        // folio under writeback is not waited for.
        Ok(())
    })();
    if r.is_err() {
        f.unlock();
    }
    inode.pagecache_lock.unlock(Side::Add);
    r
}

/// A store of `buf` at `pos` through a shared writable mapping: page by
/// page, a read fault, a write fault and the copy. Stops at the first
/// page that faults with an error (SIGBUS to a program): bytes stored
/// before it stay stored. Returns the bytes stored.
pub(crate) fn map_write(fs: &Fs, inode: &Inode, pos: u64, buf: &[u8]) -> Result<usize> {
    let mut done = 0usize;
    while done < buf.len() {
        let cur = pos + done as u64;
        let index = cur >> PAGE_SHIFT;
        let page_end = (index + 1) << PAGE_SHIFT;
        let n = ((page_end - cur) as usize).min(buf.len() - done);
        let r = page_fault(fs, inode, index).and_then(|f| {
            page_mkwrite(fs, inode, &f)?;
            // finish_mkwrite_fault: the page table entry must still be the
            // one the read fault made. A truncate since then zapped the
            // pages past its size (unmap_mapping_range), and a large folio
            // straddling the new EOF stays cached, so mkwrite's folio
            // check alone passes: the store faults again and finds the
            // page past EOF.
            if index >= inode.i_size.read().div_ceil(PAGE_SIZE) {
                f.unlock();
                return Err(Error::Fault);
            }
            f.copy_in((cur - f.pos()) as usize, &buf[done..done + n]);
            f.unlock();
            Ok(())
        });
        if let Err(e) = r {
            return if done == 0 { Err(e) } else { Ok(done) };
        }
        done += n;
    }
    Ok(done)
}

//! Models the buffered read side: filemap_read (mm/filemap.c) over
//! bch2_readahead and bch2_read_single_folio (fs-io-buffered.c).
//!
//! As in the kernel, the copy out of an uptodate folio takes only a
//! reference, not the folio lock: a reader can see a write that holds the
//! folio lock and has copied part of its data, or a folio that a truncate or
//! migration has since taken out of the mapping. Only a folio that is not
//! uptodate is locked, to read it in (filemap_update_page).

use crate::config::{PAGE_SHIFT, SECTOR_SIZE};
use crate::error::{Error, Result};
use crate::folio::{Folio, SectorState};
use crate::fs::Fs;
use crate::inode::Inode;
use crate::locks::two_state_lock::Side;
use crate::pagecache::{order_for_len, Fgp};
use std::sync::Arc;

/// bch2_read_single_folio(): fills a locked folio from disk (holes read as
/// zeros) and marks it uptodate.
pub(crate) fn read_single_folio(fs: &Fs, inode: &Inode, folio: &Folio) -> Result<()> {
    folio.with_bytes_mut(|b| fs.disk.read(inode.ino, folio.index, b))?;
    // Sectors past EOF hold nothing on disk; the rest is as the disk has it.
    let eof = inode.i_size.read();
    folio.with_sectors(|s| {
        for (i, st) in s.iter_mut().enumerate() {
            if *st == SectorState::Unallocated && folio.pos() + (i as u64) * SECTOR_SIZE < eof {
                *st = SectorState::Allocated;
            }
        }
    });
    folio.mark_uptodate();
    Ok(())
}

/// The folio covering `index`, uptodate and unlocked, with a reference
/// held (filemap_get_pages): a cached uptodate folio is returned as found;
/// one that is not uptodate is locked and read (filemap_update_page); a
/// missing one is created and read under the pagecache add lock
/// (readahead).
fn get_uptodate_folio(fs: &Fs, inode: &Inode, index: u64, want: u64) -> Result<Arc<Folio>> {
    if let Some(f) = inode.mapping.lookup(index) {
        if f.test_uptodate() {
            return Ok(f);
        }
    }
    if let Some(f) = inode.mapping.get_folio_locked(
        index,
        Fgp {
            create_order: None,
            ..Fgp::default()
        },
    ) {
        let r = if f.test_uptodate() {
            Ok(())
        } else {
            read_single_folio(fs, inode, &f)
        };
        f.unlock();
        return r.map(|()| f);
    }
    inode.pagecache_lock.lock(Side::Add);
    let order = order_for_len(want, fs.knobs.folio_order_cap());
    // A thread with an injected allocation failure armed gets it here too.
    let Some(f) = inode.mapping.get_folio_locked(
        index,
        Fgp {
            create_order: Some(order),
            ..Fgp::default()
        },
    ) else {
        inode.pagecache_lock.unlock(Side::Add);
        return Err(Error::NoMemory);
    };
    let r = if f.test_uptodate() {
        Ok(())
    } else {
        read_single_folio(fs, inode, &f)
    };
    inode.pagecache_lock.unlock(Side::Add);
    f.unlock();
    r.map(|()| f)
}

/// filemap_read(): copies [pos, pos + buf.len()) clipped at i_size.
pub(crate) fn buffered_read(fs: &Fs, inode: &Inode, pos: u64, buf: &mut [u8]) -> Result<usize> {
    let mut done = 0usize;
    while done < buf.len() {
        let cur = pos + done as u64;
        if cur >= inode.i_size.read() {
            break;
        }
        let f = match get_uptodate_folio(fs, inode, cur >> PAGE_SHIFT, (buf.len() - done) as u64) {
            Ok(f) => f,
            // As filemap_read: bytes already copied are the read's result;
            // the error only when there are none.
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        // i_size again once the folio is uptodate, as filemap_read samples
        // it: a truncate may have cut it. Nothing stops a writer or a
        // truncation from changing the bytes while they are copied.
        let end = (pos + buf.len() as u64)
            .min(f.end_pos())
            .min(inode.i_size.read());
        if end > cur {
            let n = (end - cur) as usize;
            f.copy_out_unlocked((cur - f.pos()) as usize, &mut buf[done..done + n]);
            done += n;
        }
        if end <= cur {
            break;
        }
    }
    Ok(done)
}

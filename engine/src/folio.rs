//! Folios and their per-sector state: models `struct folio` (lock, uptodate,
//! dirty, writeback flags) and `struct bch_folio` (fs-io-pagecache.h).
//!
//! A folio's bytes are changed only with its lock held; the accessors
//! assert that in debug builds. Readers of uptodate folios and writeback's
//! IO copy them out without the lock, as the kernel does
//! ([`Folio::copy_out_unlocked`]), so they can see a write in flight.

use crate::config::{PAGE_SHIFT, PAGE_SIZE, SECTOR_SHIFT};
use crate::locks::acquire_traced;
use crate::probe::points;
use crate::probe::{EventKind, LockClass, LockMode};
use parking_lot::lock_api::RawMutex as _;
use parking_lot::{Mutex, RawMutex};
use std::alloc::{self, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// Per-sector allocation state (enum bch_folio_sector_state, simplified).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum SectorState {
    /// Nothing known to be on disk, no space reserved.
    Unallocated = 0,
    /// Disk space reserved by a writer that has not copied yet.
    Reserved = 1,
    /// Holds data not yet written back, over space already allocated.
    Dirty = 2,
    /// Holds data not yet written back, with space reserved for it.
    DirtyReserved = 3,
    /// On disk (written back, or read in).
    Allocated = 4,
}

impl SectorState {
    pub fn is_dirty(self) -> bool {
        matches!(self, SectorState::Dirty | SectorState::DirtyReserved)
    }
    /// Holds a space reservation that must be given back.
    pub fn is_reserved(self) -> bool {
        matches!(self, SectorState::Reserved | SectorState::DirtyReserved)
    }
}

const UPTODATE: u8 = 1;
const DIRTY: u8 = 2;
const WRITEBACK: u8 = 4;
/// No longer in its mapping (truncated, reclaimed, migrated away): the
/// kernel's `folio->mapping != mapping` check after folio_lock().
const REMOVED: u8 = 8;

static NEXT_FOLIO_ID: AtomicU64 = AtomicU64::new(1);

pub struct Folio {
    pub ino: u64,
    /// First page index covered.
    pub index: u64,
    pub order: u8,
    /// Identity across migration: a migrated folio gets a new id.
    pub id: u64,
    lock: RawMutex,
    flags: AtomicU8,
    data: NonNull<u8>,
    sectors: Mutex<Vec<SectorState>>,
}

// SAFETY: the data pointer is owned by the folio and only dereferenced under
// the folio lock (or the writeback pin), which serialises access.
unsafe impl Send for Folio {}
unsafe impl Sync for Folio {}

impl Drop for Folio {
    fn drop(&mut self) {
        // SAFETY: allocated in Folio::new with this exact layout.
        unsafe { alloc::dealloc(self.data.as_ptr(), Self::layout(self.order)) };
    }
}

impl Folio {
    fn layout(order: u8) -> Layout {
        Layout::from_size_align((PAGE_SIZE as usize) << order, PAGE_SIZE as usize)
            .expect("folio layout")
    }

    /// filemap_alloc_folio(): zero-filled, page aligned (so O_DIRECT can use
    /// it as is), not uptodate, unlocked.
    pub(crate) fn new(ino: u64, index: u64, order: u8) -> Folio {
        debug_assert_eq!(index & ((1 << order) - 1), 0, "misaligned folio");
        let layout = Self::layout(order);
        // SAFETY: layout has non-zero size.
        let p = unsafe { alloc::alloc_zeroed(layout) };
        let data = NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(layout));
        let nr_sectors = (PAGE_SIZE as usize >> SECTOR_SHIFT) << order;
        Folio {
            ino,
            index,
            order,
            id: NEXT_FOLIO_ID.fetch_add(1, Ordering::Relaxed),
            lock: RawMutex::INIT,
            flags: AtomicU8::new(0),
            data,
            sectors: Mutex::new(vec![SectorState::Unallocated; nr_sectors]),
        }
    }

    pub(crate) fn nr_pages(&self) -> u64 {
        1 << self.order
    }
    pub fn size(&self) -> u64 {
        PAGE_SIZE << self.order
    }
    /// folio_pos()
    pub(crate) fn pos(&self) -> u64 {
        self.index << PAGE_SHIFT
    }
    /// folio_end_pos()
    pub(crate) fn end_pos(&self) -> u64 {
        self.pos() + self.size()
    }
    pub(crate) fn contains_index(&self, index: u64) -> bool {
        index >= self.index && index < self.index + self.nr_pages()
    }

    // --- folio lock -------------------------------------------------------

    /// folio_lock()
    pub fn lock(&self) {
        acquire_traced(
            LockClass::Folio,
            LockMode::Exclusive,
            self.ino,
            self.index,
            self.id,
            || self.lock.try_lock(),
            || self.lock.lock(),
        );
    }

    /// folio_trylock()
    pub(crate) fn trylock(&self) -> bool {
        if self.lock.try_lock() {
            points::lock_acquired(
                LockClass::Folio,
                LockMode::Exclusive,
                self.ino,
                self.index,
                self.id,
            );
            true
        } else {
            false
        }
    }

    /// folio_unlock(); the caller holds the lock.
    pub fn unlock(&self) {
        points::lock_released(
            LockClass::Folio,
            LockMode::Exclusive,
            self.ino,
            self.index,
            self.id,
        );
        // SAFETY: callers pair unlock with lock/trylock, as folio_unlock requires.
        unsafe { self.lock.unlock() };
    }

    pub(crate) fn is_locked(&self) -> bool {
        self.lock.is_locked()
    }

    // --- flags ------------------------------------------------------------

    fn test(&self, bit: u8) -> bool {
        self.flags.load(Ordering::Acquire) & bit != 0
    }
    fn set(&self, bit: u8) -> bool {
        self.flags.fetch_or(bit, Ordering::AcqRel) & bit == 0
    }
    fn clear(&self, bit: u8) -> bool {
        self.flags.fetch_and(!bit, Ordering::AcqRel) & bit != 0
    }

    pub(crate) fn test_uptodate(&self) -> bool {
        self.test(UPTODATE)
    }
    pub fn test_dirty(&self) -> bool {
        self.test(DIRTY)
    }
    pub(crate) fn test_writeback(&self) -> bool {
        self.test(WRITEBACK)
    }
    pub fn test_removed(&self) -> bool {
        self.test(REMOVED)
    }

    /// folio_mark_uptodate()
    pub(crate) fn mark_uptodate(&self) {
        if self.set(UPTODATE) {
            points::folio(
                EventKind::FolioUptodate,
                self.ino,
                self.index,
                self.id,
                self.order as u64,
                0,
            );
        }
    }

    /// Taken out of the mapping (the caller did the xarray side).
    pub(crate) fn mark_removed(&self) {
        self.set(REMOVED);
    }

    /// Sets the dirty flag; the probe event is emitted by the caller, which
    /// knows which sectors it dirtied.
    pub(crate) fn set_dirty_flag(&self) -> bool {
        self.set(DIRTY)
    }

    /// folio_clear_dirty_for_io() / folio_cancel_dirty()
    pub(crate) fn clear_dirty(&self) -> bool {
        let was = self.clear(DIRTY);
        if was {
            points::folio(
                EventKind::FolioCleaned,
                self.ino,
                self.index,
                self.id,
                self.order as u64,
                0,
            );
        }
        was
    }

    /// folio_start_writeback()
    pub fn start_writeback(&self, dirty_sectors: u64) {
        let fresh = self.set(WRITEBACK);
        debug_assert!(fresh, "folio already under writeback");
        points::folio(
            EventKind::FolioWritebackStart,
            self.ino,
            self.index,
            self.id,
            self.order as u64,
            dirty_sectors,
        );
    }

    /// folio_end_writeback(): the mapping wakes waiters.
    pub(crate) fn end_writeback_flag(&self, err: i32) {
        self.clear(WRITEBACK);
        points::folio(
            EventKind::FolioWritebackEnd,
            self.ino,
            self.index,
            self.id,
            self.order as u64,
            err as u64,
        );
    }

    /// Copies the flags a migration carries to the new folio.
    pub(crate) fn copy_flags_from(&self, old: &Folio) {
        let f = old.flags.load(Ordering::Acquire) & (UPTODATE | DIRTY);
        self.flags.fetch_or(f, Ordering::AcqRel);
    }

    // --- data -------------------------------------------------------------

    /// # Safety
    /// The caller holds the folio lock or the writeback pin, so no one else
    /// writes these bytes concurrently.
    #[allow(clippy::mut_from_ref)]
    unsafe fn bytes(&self) -> &mut [u8] {
        std::slice::from_raw_parts_mut(self.data.as_ptr(), self.size() as usize)
    }

    /// Copies `src` into the folio at `offset`; caller holds the folio lock.
    pub(crate) fn copy_in(&self, offset: usize, src: &[u8]) {
        debug_assert!(self.is_locked());
        // SAFETY: folio locked by the caller.
        unsafe { self.bytes()[offset..offset + src.len()].copy_from_slice(src) };
    }

    /// Copies folio bytes at `offset` into `dst`; caller holds the folio lock.
    #[cfg(test)]
    fn copy_out(&self, offset: usize, dst: &mut [u8]) {
        debug_assert!(self.is_locked());
        // SAFETY: folio locked by the caller.
        unsafe { dst.copy_from_slice(&self.bytes()[offset..offset + dst.len()]) };
    }

    /// Copies folio bytes at `offset` into `dst` without the folio lock:
    /// filemap_read's copy_folio_to_iter and writeback's bounce copy, both
    /// of which run while a writer may hold the lock and be copying in. The
    /// caller holds a reference, so the memory stays live.
    pub fn copy_out_unlocked(&self, offset: usize, dst: &mut [u8]) {
        assert!(
            offset + dst.len() <= self.size() as usize,
            "copy past the folio"
        );
        let src = self.data.as_ptr();
        let mut i = 0;
        // Volatile loads keep the race a race of loads and stores at word
        // granularity (what a kernel memcpy racing another gives), instead
        // of something the optimiser may assume cannot change.
        while i < dst.len() && !(offset + i).is_multiple_of(8) {
            // SAFETY: in bounds (asserted); the folio is live while referenced.
            dst[i] = unsafe { src.add(offset + i).read_volatile() };
            i += 1;
        }
        while i + 8 <= dst.len() {
            // SAFETY: in bounds and 8-byte aligned (the folio is page aligned).
            let w = unsafe { (src.add(offset + i) as *const u64).read_volatile() };
            dst[i..i + 8].copy_from_slice(&w.to_ne_bytes());
            i += 8;
        }
        while i < dst.len() {
            // SAFETY: as above.
            dst[i] = unsafe { src.add(offset + i).read_volatile() };
            i += 1;
        }
    }

    /// folio_zero_range(); caller holds the folio lock.
    pub(crate) fn zero_range(&self, start: usize, end: usize) {
        debug_assert!(self.is_locked());
        // SAFETY: folio locked by the caller.
        unsafe { self.bytes()[start..end].fill(0) };
    }

    /// The whole folio as a slice for disk reads into it; caller holds the
    /// folio lock.
    pub(crate) fn with_bytes_mut<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> R {
        debug_assert!(self.is_locked());
        // SAFETY: folio locked by the caller.
        f(unsafe { self.bytes() })
    }

    // --- per-sector state (bch_folio) --------------------------------------

    pub(crate) fn nr_sectors(&self) -> usize {
        (self.size() >> SECTOR_SHIFT) as usize
    }

    /// Runs `f` over the sector states under the bch_folio spinlock.
    pub fn with_sectors<R>(&self, f: impl FnOnce(&mut [SectorState]) -> R) -> R {
        f(&mut self.sectors.lock())
    }

    /// bch2_set_folio_dirty(): sectors [start, start+len) bytes become dirty;
    /// the folio is marked dirty. Returns sectors newly dirtied.
    pub(crate) fn set_dirty_range(&self, start: u64, len: u64) -> u64 {
        let first = (start >> SECTOR_SHIFT) as usize;
        let last = ((start + len).div_ceil(1 << SECTOR_SHIFT)) as usize;
        let newly = self.with_sectors(|s| {
            let mut n = 0;
            for st in &mut s[first..last] {
                let new = match *st {
                    SectorState::Reserved | SectorState::DirtyReserved => {
                        SectorState::DirtyReserved
                    }
                    _ => SectorState::Dirty,
                };
                if !st.is_dirty() {
                    n += 1;
                }
                *st = new;
            }
            n
        });
        self.set_dirty_flag();
        points::folio(
            EventKind::FolioDirtied,
            self.ino,
            self.index,
            self.id,
            first as u64,
            (last - first) as u64,
        );
        newly
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_transitions() {
        let f = Folio::new(1, 16, 2);
        assert_eq!(f.size(), 16384);
        assert_eq!(f.pos(), 65536);
        assert!(f.contains_index(19) && !f.contains_index(20));
        assert!(!f.test_uptodate() && !f.test_dirty());
        f.lock();
        f.mark_uptodate();
        assert_eq!(f.set_dirty_range(512, 1024), 2);
        assert!(f.test_dirty());
        assert_eq!(
            f.set_dirty_range(0, 2048),
            2,
            "two of four were dirty already"
        );
        assert!(f.clear_dirty());
        assert!(!f.clear_dirty());
        f.start_writeback(4);
        assert!(f.test_writeback());
        f.end_writeback_flag(0);
        assert!(!f.test_writeback());
        f.unlock();
        assert!(f.trylock());
        f.unlock();
    }

    #[test]
    fn data_is_zeroed_and_aligned() {
        let f = Folio::new(1, 0, 0);
        assert_eq!(f.data.as_ptr() as usize % 4096, 0);
        f.lock();
        let mut b = [1u8; 8];
        f.copy_out(4000, &mut b);
        assert_eq!(b, [0; 8]);
        f.copy_in(4000, &[7; 8]);
        f.zero_range(4002, 4004);
        f.copy_out(4000, &mut b);
        assert_eq!(b, [7, 7, 0, 0, 7, 7, 7, 7]);
        f.unlock();
    }
}

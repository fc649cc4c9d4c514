//! Disk space reservations for dirty page-cache data: models
//! bch2_folio_reservation_get_partial / bch2_folio_reservation_put
//! (fs-io-pagecache.c) over a single counter instead of per-device buckets.
//!
//! Departure: bch2_folio_set initialises sector state from the extents
//! btree, so overwrites of allocated data need no reservation. The model
//! starts every new folio Unallocated unless it was read in, so a full-folio
//! overwrite of on-disk data reserves space it will not use; near a full
//! disk this gives ENOSPC a little early, never late.

use crate::config::SECTOR_SHIFT;
use crate::folio::{Folio, SectorState};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub(crate) struct Space {
    reserved: AtomicU64,
    free: AtomicU64,
}

impl Space {
    pub(crate) fn new(free_sectors: u64) -> Space {
        Space {
            reserved: AtomicU64::new(0),
            free: AtomicU64::new(free_sectors),
        }
    }

    /// Free sectors on disk, as last read from the allocator.
    pub(crate) fn refresh(&self, free_sectors: u64) {
        self.free.store(free_sectors, Ordering::Relaxed);
    }

    pub(crate) fn reserved(&self) -> u64 {
        self.reserved.load(Ordering::Relaxed)
    }

    fn try_reserve(&self, n: u64) -> bool {
        let free = self.free.load(Ordering::Relaxed);
        self.reserved
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |r| {
                r.checked_add(n).filter(|t| *t <= free)
            })
            .is_ok()
    }

    /// Saturating: a planted bug (migration without the folio lock) can
    /// duplicate a folio's sector states and so release twice; the count
    /// must stay sane for the run to finish and be checked.
    pub(crate) fn release(&self, n: u64) {
        if n > 0 {
            let _ = self
                .reserved
                .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |r| {
                    Some(r.saturating_sub(n))
                });
        }
    }

    /// Reserves the unallocated sectors of [offset, offset+len) in `folio`;
    /// returns how many bytes from `offset` are now covered (0 = none).
    pub(crate) fn folio_reservation_get_partial(
        &self,
        folio: &Folio,
        offset: u64,
        len: u64,
    ) -> u64 {
        let first = (offset >> SECTOR_SHIFT) as usize;
        let last = (offset + len).div_ceil(1 << SECTOR_SHIFT) as usize;
        folio.with_sectors(|s| {
            let need = s[first..last]
                .iter()
                .filter(|st| **st == SectorState::Unallocated)
                .count() as u64;
            if need == 0 || self.try_reserve(need) {
                for st in &mut s[first..last] {
                    if *st == SectorState::Unallocated {
                        *st = SectorState::Reserved;
                    }
                }
                return len;
            }
            // Partial: sector by sector until space runs out.
            for (i, st) in s[first..last].iter_mut().enumerate() {
                if *st == SectorState::Unallocated {
                    if !self.try_reserve(1) {
                        let covered = (((first + i) as u64) << SECTOR_SHIFT).saturating_sub(offset);
                        return covered.min(len);
                    }
                    *st = SectorState::Reserved;
                }
            }
            len
        })
    }

    /// bch2_folio_reservation_put() for one locked folio of a write pass:
    /// sectors from byte `from` on that are reserved and were not dirtied
    /// go back to unallocated, and their space to the pool.
    pub(crate) fn folio_reservation_put(&self, folio: &Folio, from: u64) {
        let first = from.div_ceil(1 << SECTOR_SHIFT) as usize;
        let n = folio.with_sectors(|s| {
            let mut n = 0;
            for st in s.iter_mut().skip(first) {
                if *st == SectorState::Reserved {
                    *st = SectorState::Unallocated;
                    n += 1;
                }
            }
            n
        });
        self.release(n);
    }

    /// Gives back the reservations of sectors [first, last) and marks them
    /// `to` (truncate: Unallocated; writeback: Allocated for dirty ones).
    pub(crate) fn folio_sectors_drop(&self, folio: &Folio, first: usize, last: usize) {
        let n = folio.with_sectors(|s| {
            let mut n = 0;
            for st in &mut s[first..last] {
                if st.is_reserved() {
                    n += 1;
                }
                *st = SectorState::Unallocated;
            }
            n
        });
        self.release(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_reservation_when_space_runs_out() {
        let sp = Space::new(4);
        let f = Folio::new(1, 0, 0);
        // 8 sectors wanted, 4 available: covers 2048 bytes.
        assert_eq!(sp.folio_reservation_get_partial(&f, 0, 4096), 2048);
        assert_eq!(sp.reserved(), 4);
        // Already reserved sectors need nothing more.
        assert_eq!(sp.folio_reservation_get_partial(&f, 0, 2048), 2048);
        let g = Folio::new(1, 1, 0);
        assert_eq!(sp.folio_reservation_get_partial(&g, 0, 512), 0);
        sp.folio_sectors_drop(&f, 0, 8);
        assert_eq!(sp.reserved(), 0);
    }
}

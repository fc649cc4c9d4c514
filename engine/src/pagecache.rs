//! The address space of an inode: models the i_pages xarray with
//! __filemap_get_folio and filemap_add_folio (mm/filemap.c), and
//! bch2_filemap_get_contig_folios_d (fs-io-pagecache.c).

use crate::config::{PAGE_SHIFT, PAGE_SIZE};
use crate::fault;
use crate::folio::Folio;
use crate::probe::points;
use crate::probe::yield_point::{self, WaitKey};
use crate::probe::{EventKind, MmAction, NO_FID};
use parking_lot::{Condvar, Mutex};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Page-cache totals across all inodes of a mount (what reclaim looks at).
#[derive(Debug, Default)]
pub(crate) struct CacheStats {
    pub pages: AtomicU64,
}

pub struct Mapping {
    pub ino: u64,
    /// i_pages: folios keyed by first index; they never overlap.
    pages: Mutex<BTreeMap<u64, Arc<Folio>>>,
    /// folio_wait_writeback() sleeps here; folio_end_writeback() wakes.
    wb_lock: Mutex<()>,
    wb_cv: Condvar,
    /// AS_EIO: a writeback error not yet reported by fsync.
    wb_err: std::sync::atomic::AtomicI32,
    stats: Arc<CacheStats>,
}

/// __filemap_get_folio() behaviour flags, the subset the engine uses.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Fgp {
    /// FGP_CREAT with the largest order the caller wants (fgf_set_order).
    pub create_order: Option<u8>,
    /// Injected allocation faults (the write path passes the run's knobs).
    pub faults: AllocFaults,
}

/// How folio allocations fail (see fault.rs).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AllocFaults {
    /// Every order fails: no folio.
    pub fail_rate: f64,
    /// Each order above 0 fails and the allocation falls back one order.
    pub fragmentation: f64,
}

impl Mapping {
    pub(crate) fn new(ino: u64, stats: Arc<CacheStats>) -> Self {
        Mapping {
            ino,
            pages: Mutex::new(BTreeMap::new()),
            wb_lock: Mutex::new(()),
            wb_cv: Condvar::new(),
            wb_err: std::sync::atomic::AtomicI32::new(0),
            stats,
        }
    }

    /// filemap_get_folio() without FGP_LOCK: the folio covering `index`.
    pub fn lookup(&self, index: u64) -> Option<Arc<Folio>> {
        let pages = self.pages.lock();
        let (_, f) = pages.range(..=index).next_back()?;
        f.contains_index(index).then(|| f.clone())
    }

    /// find_lock_entries(), one at a time: the first folio intersecting
    /// pages [from, end) for which `want` holds, locked and still in this
    /// mapping. A folio migrated away while we waited for its lock is looked
    /// up again, so walkers (truncate, writeback) never miss its successor.
    pub(crate) fn find_lock_next(
        &self,
        from: u64,
        end: u64,
        want: impl Fn(&Folio) -> bool,
    ) -> Option<Arc<Folio>> {
        loop {
            let f = {
                let pages = self.pages.lock();
                let first = pages
                    .range(..=from)
                    .next_back()
                    .filter(|(_, f)| f.contains_index(from))
                    .map(|(k, _)| *k)
                    .unwrap_or(from);
                pages
                    .range(first..end.max(first))
                    .map(|(_, f)| f)
                    .find(|f| want(f))
                    .cloned()
            }?;
            f.lock();
            if !f.test_removed() {
                return Some(f);
            }
            f.unlock();
        }
    }

    pub fn all_folios(&self) -> Vec<Arc<Folio>> {
        self.pages.lock().values().cloned().collect()
    }

    /// The PAGECACHE_TAG_DIRTY question: is any cached folio dirty?
    pub(crate) fn has_dirty(&self) -> bool {
        self.pages.lock().values().any(|f| f.test_dirty())
    }

    /// The `n`th cached folio in index order (mm victim picks).
    pub(crate) fn nth_folio(&self, n: usize) -> Option<Arc<Folio>> {
        self.pages.lock().values().nth(n).cloned()
    }

    pub(crate) fn nr_folios(&self) -> usize {
        self.pages.lock().len()
    }

    fn overlaps(pages: &BTreeMap<u64, Arc<Folio>>, index: u64, order: u8) -> bool {
        let end = index + (1 << order);
        if let Some((_, f)) = pages.range(..end).next_back() {
            return f.index + f.nr_pages() > index;
        }
        false
    }

    /// filemap_add_folio(): fails (EEXIST) if any page of the range is
    /// already cached.
    fn add_folio(&self, folio: &Arc<Folio>) -> bool {
        let mut pages = self.pages.lock();
        if Self::overlaps(&pages, folio.index, folio.order) {
            return false;
        }
        pages.insert(folio.index, folio.clone());
        drop(pages);
        self.stats
            .pages
            .fetch_add(folio.nr_pages(), Ordering::Relaxed);
        points::folio(
            EventKind::FolioAdded,
            self.ino,
            folio.index,
            folio.id,
            folio.order as u64,
            0,
        );
        true
    }

    /// The largest order <= `want` that is aligned at `index` and free of
    /// cached pages, as __filemap_get_folio's fallback loop picks it.
    fn fit_order(&self, index: u64, want: u8) -> u8 {
        let align = if index == 0 {
            u8::MAX
        } else {
            index.trailing_zeros() as u8
        };
        let mut order = want.min(align);
        let pages = self.pages.lock();
        while order > 0 && Self::overlaps(&pages, index, order) {
            order -= 1;
        }
        order
    }

    /// __filemap_get_folio(FGP_LOCK [| FGP_CREAT]): returns the folio
    /// covering `index`, locked, still in this mapping.
    pub(crate) fn get_folio_locked(&self, index: u64, fgp: Fgp) -> Option<Arc<Folio>> {
        loop {
            if let Some(f) = self.lookup(index) {
                f.lock();
                // Truncate, reclaim or migration may have taken it out while
                // we slept on the lock: look again.
                if f.test_removed() {
                    f.unlock();
                    continue;
                }
                return Some(f);
            }
            let want = fgp.create_order?;
            let mut order = self.fit_order(index, want);
            // __filemap_get_folio tries each order down to 0 until an
            // allocation succeeds; the last failure is the caller's error.
            while order > 0 && fault::chance(fgp.faults.fragmentation) {
                order -= 1;
            }
            if fault::alloc_fails(fgp.faults.fail_rate) {
                points::mm_action(MmAction::AllocFail, self.ino, index, NO_FID, order as u64);
                return None;
            }
            let start = index & !((1u64 << order) - 1);
            let f = Arc::new(Folio::new(self.ino, start, order));
            // A new folio is locked before it becomes visible.
            let locked = f.trylock();
            debug_assert!(locked);
            if self.add_folio(&f) {
                return Some(f);
            }
            f.unlock();
        }
    }

    /// Removes `folio` from the mapping (caller holds the folio lock).
    /// Returns false if it was no longer there.
    pub(crate) fn delete_from_page_cache(&self, folio: &Arc<Folio>) -> bool {
        let mut pages = self.pages.lock();
        match pages.get(&folio.index) {
            Some(cur) if Arc::ptr_eq(cur, folio) => {
                pages.remove(&folio.index);
            }
            _ => return false,
        }
        folio.mark_removed();
        drop(pages);
        self.stats
            .pages
            .fetch_sub(folio.nr_pages(), Ordering::Relaxed);
        true
    }

    /// Puts `new` where `old` was (migration); both locked by the caller.
    /// With `expected_refs`, folio_migrate_mapping's refcount freeze: the
    /// old folio moves only if exactly that many references exist (the page
    /// cache's and the isolating caller's); anyone else holding one (a writer
    /// between passes, a reader, writeback) makes it fail, as -EAGAIN does.
    /// Lookups take references under this same lock, so none can appear
    /// between the check and the swap.
    pub(crate) fn replace_folio(
        &self,
        old: &Arc<Folio>,
        new: &Arc<Folio>,
        expected_refs: Option<usize>,
    ) -> bool {
        let mut pages = self.pages.lock();
        match pages.get(&old.index) {
            Some(cur)
                if Arc::ptr_eq(cur, old)
                    && expected_refs.is_none_or(|n| Arc::strong_count(old) == n) =>
            {
                pages.insert(old.index, new.clone());
                old.mark_removed();
                true
            }
            _ => false,
        }
    }

    /// folio_wait_writeback()
    pub(crate) fn wait_writeback(&self, folio: &Folio) {
        if !folio.test_writeback() {
            return;
        }
        if yield_point::controlled() {
            let key = WaitKey::writeback(folio.ino, folio.index, folio.id);
            while folio.test_writeback() {
                if !yield_point::block(key) {
                    break;
                }
            }
        }
        let mut g = self.wb_lock.lock();
        while folio.test_writeback() {
            self.wb_cv.wait(&mut g);
        }
    }

    /// mapping_set_error()
    pub(crate) fn set_error(&self, errno: i32) {
        self.wb_err.store(errno, Ordering::Release);
    }

    /// filemap_check_errors(): the pending writeback error, cleared.
    pub(crate) fn take_error(&self) -> Option<i32> {
        match self.wb_err.swap(0, Ordering::AcqRel) {
            0 => None,
            e => Some(e),
        }
    }

    /// folio_end_writeback()
    pub fn end_writeback(&self, folio: &Folio, err: i32) {
        let _g = self.wb_lock.lock();
        folio.end_writeback_flag(err);
        self.wb_cv.notify_all();
    }
}

/// fgf_set_order(): the folio order a write of `len` bytes asks for.
pub(crate) fn order_for_len(len: u64, cap: u8) -> u8 {
    if len <= PAGE_SIZE {
        return 0;
    }
    let order = (63 - len.leading_zeros()).saturating_sub(PAGE_SHIFT) as u8;
    order.min(cap)
}

/// bch2_filemap_get_contig_folios_d(): locked folios covering [start, end)
/// contiguously, ascending, creating missing ones only within the first
/// 1 MiB past `start` (beyond it only cached folios are taken). Stops at the
/// first gap it may not fill.
pub(crate) fn get_contig_folios(
    mapping: &Mapping,
    start: u64,
    end: u64,
    order: u8,
    faults: AllocFaults,
) -> Vec<Arc<Folio>> {
    let mut fs: Vec<Arc<Folio>> = Vec::new();
    let mut pos = start;
    while pos < end {
        let create = pos < start + (1 << 20);
        let fgp = Fgp {
            create_order: create.then_some(order),
            faults,
        };
        let Some(f) = mapping.get_folio_locked(pos >> PAGE_SHIFT, fgp) else {
            break;
        };
        debug_assert!(fs.is_empty() || f.pos() == pos);
        pos = f.end_pos();
        fs.push(f);
    }
    fs
}

/// folios_trunc(): unlocks and drops every folio from position `from` on.
pub(crate) fn folios_trunc(fs: &mut Vec<Arc<Folio>>, from: usize) {
    while fs.len() > from {
        if let Some(f) = fs.pop() {
            f.unlock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        Mapping::new(5, Arc::new(CacheStats::default()))
    }

    #[test]
    fn fragmentation_falls_back_to_smaller_orders_and_failures_give_nothing() {
        let m = mapping();
        let frag = Fgp {
            create_order: Some(4),
            faults: AllocFaults {
                fail_rate: 0.0,
                fragmentation: 1.0,
            },
        };
        let f = m.get_folio_locked(16, frag).unwrap();
        assert_eq!((f.index, f.order), (16, 0), "every large order failed");
        f.unlock();
        crate::fault::fail_next_alloc();
        let create = Fgp {
            create_order: Some(4),
            ..Fgp::default()
        };
        assert!(m.get_folio_locked(32, create).is_none());
        assert!(m.lookup(32).is_none());
        // A cached folio is found without allocating.
        crate::fault::fail_next_alloc();
        let f = m.get_folio_locked(16, create).unwrap();
        f.unlock();
        assert!(
            m.get_folio_locked(48, create).is_none(),
            "the armed failure stays armed"
        );
    }

    #[test]
    fn orders_follow_length_alignment_and_neighbours() {
        assert_eq!(order_for_len(4096, 9), 0);
        assert_eq!(order_for_len(65536, 9), 4);
        assert_eq!(order_for_len(65536 + 1, 2), 2);
        let m = mapping();
        // The folio created at `index` asking for `order`, unlocked.
        let create = |index, order| {
            let fgp = Fgp {
                create_order: Some(order),
                ..Fgp::default()
            };
            let f = m.get_folio_locked(index, fgp).unwrap();
            f.unlock();
            (f.index, f.order)
        };
        assert_eq!(create(0, 4), (0, 4));
        // index 18 is only 2-aligned
        assert_eq!(create(18, 4), (18, 1));
        // a 4-page folio at 16 would overlap the one at 18
        assert_eq!(create(16, 2), (16, 1));
        assert_eq!(m.lookup(19).unwrap().index, 18);
        assert_eq!(m.stats.pages.load(Ordering::Relaxed), 16 + 2 + 2);
    }

    #[test]
    fn contig_folios_span_large_folio_boundaries() {
        let m = mapping();
        let fs = get_contig_folios(&m, 4096 * 3, 4096 * 40, 3, AllocFaults::default());
        assert!(fs.iter().all(|f| f.is_locked()));
        assert_eq!(fs.first().unwrap().pos(), 4096 * 3);
        assert!(fs.last().unwrap().end_pos() >= 4096 * 40);
        for w in fs.windows(2) {
            assert_eq!(w[0].end_pos(), w[1].pos());
        }
        let mut fs = fs;
        folios_trunc(&mut fs, 0);
        assert!(m.all_folios().iter().all(|f| !f.is_locked()));
    }

    #[test]
    fn creation_stops_after_one_mib() {
        let m = mapping();
        let fs = get_contig_folios(&m, 0, 3 << 20, 4, AllocFaults::default());
        assert_eq!(fs.last().unwrap().end_pos(), 1 << 20);
        let mut fs = fs;
        folios_trunc(&mut fs, 0);
    }

    #[test]
    fn find_lock_next_follows_a_folio_migrated_while_waiting() {
        let m = Arc::new(mapping());
        let old = m
            .get_folio_locked(
                4,
                Fgp {
                    create_order: Some(0),
                    ..Fgp::default()
                },
            )
            .unwrap();
        let walker = {
            let m = m.clone();
            std::thread::spawn(move || {
                m.find_lock_next(0, 100, |_| true).map(|f| {
                    f.unlock();
                    f.id
                })
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(30));
        // Migration while the walker sleeps on the old folio's lock.
        let new = Arc::new(Folio::new(5, 4, 0));
        assert!(new.trylock());
        assert!(m.replace_folio(&old, &new, None));
        new.unlock();
        old.unlock();
        assert_eq!(walker.join().unwrap(), Some(new.id));
    }

    #[test]
    fn removed_folio_is_not_returned() {
        let m = mapping();
        let f = m
            .get_folio_locked(
                0,
                Fgp {
                    create_order: Some(0),
                    ..Fgp::default()
                },
            )
            .unwrap();
        assert!(m.delete_from_page_cache(&f));
        f.unlock();
        assert!(m.lookup(0).is_none());
        assert!(m
            .get_folio_locked(
                0,
                Fgp {
                    create_order: None,
                    ..Fgp::default()
                }
            )
            .is_none());
        let g = m
            .get_folio_locked(
                0,
                Fgp {
                    create_order: Some(0),
                    ..Fgp::default()
                },
            )
            .unwrap();
        assert_ne!(g.id, f.id);
        g.unlock();
    }
}

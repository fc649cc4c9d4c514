//! Models page reclaim of clean page-cache folios: shrink_folio_list /
//! remove_mapping (mm/vmscan.c). Only clean, unlocked folios not under
//! writeback go; dirty ones wait for the flusher, as with kswapd.

use crate::fs::Fs;
use crate::probe::points;
use crate::probe::{EventKind, MmAction, NO_FID, NO_FOLIO};
use std::sync::atomic::Ordering;

/// The reclaim thread's step: once the page cache is over its limit,
/// evicts clean folios until it is under 90% of it.
pub(crate) fn shrink_page_cache(fs: &Fs) {
    let limit = fs.knobs.reclaim_limit_bytes;
    if limit == 0 || fs.cached_bytes() <= limit {
        return;
    }
    shrink_to(fs, limit / 10 * 9);
}

/// One pass of eviction down to `target` bytes of page cache (0: every
/// folio it may take). Public for callers that step the mm themselves (the
/// differential fuzz target), as `migrate_random_folio` is.
pub fn shrink_to(fs: &Fs, target: u64) {
    let mut freed = 0u64;
    'inodes: for inode in fs.cached_inodes() {
        for f in inode.mapping.all_folios() {
            if fs.cached_bytes() <= target {
                break 'inodes;
            }
            if f.test_dirty() || f.test_writeback() || !f.trylock() {
                continue;
            }
            if !f.test_removed()
                && !f.test_dirty()
                && !f.test_writeback()
                && inode.mapping.delete_from_page_cache(&f)
            {
                let reserved = f.with_sectors(|s| s.iter().filter(|s| s.is_reserved()).count());
                fs.space.release(reserved as u64);
                points::folio(
                    EventKind::FolioRemoved,
                    inode.ino,
                    f.index,
                    f.id,
                    f.order as u64,
                    0,
                );
                freed += f.size();
                fs.counters.reclaimed_folios.fetch_add(1, Ordering::Relaxed);
            }
            f.unlock();
        }
    }
    if freed > 0 {
        points::mm_action(MmAction::Reclaim, 0, NO_FOLIO, NO_FID, freed);
    }
}

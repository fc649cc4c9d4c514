//! Models compaction (mm/compaction.c) as far as the page cache sees it: a
//! sweep that migrates every movable folio of one inode in index order.

use crate::fs::Fs;
use crate::mm::migrate::migrate_folio;
use crate::mm::pick_inode;
use crate::probe::points;
use crate::probe::{MmAction, NO_FID, NO_FOLIO};
use std::sync::atomic::Ordering;

/// One compaction step: every movable folio of a seeded pick of inode.
pub fn compact_one_inode(fs: &Fs, rng: &mut u64) {
    let Some(inode) = pick_inode(fs, rng) else {
        return;
    };
    let moved = inode
        .mapping
        .all_folios()
        .iter()
        .filter(|f| migrate_folio(fs, &inode, f))
        .count();
    points::mm_action(MmAction::Compact, inode.ino, NO_FOLIO, NO_FID, moved as u64);
    fs.counters.compactions.fetch_add(1, Ordering::Relaxed);
}

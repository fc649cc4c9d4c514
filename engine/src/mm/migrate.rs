//! Models folio migration: migrate_folio / move_to_new_folio
//! (mm/migrate.c) in MIGRATE_ASYNC mode: the old folio must be locked
//! (trylock: busy folios are skipped) and not under writeback; data,
//! uptodate/dirty flags and the bch_folio state move to a new folio that
//! takes the old one's place in the mapping.

use crate::folio::Folio;
use crate::fs::Fs;
use crate::inode::Inode;
use crate::mm::pick_inode;
use crate::probe::points;
use crate::probe::{EventKind, MmAction};
use crate::usercopy::splitmix64;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Migrates `old`; returns whether it moved.
pub fn migrate_folio(fs: &Fs, inode: &Inode, old: &Arc<Folio>) -> bool {
    // The planted bug skips the folio lock: the copy races with writers.
    let unlocked = fs.knobs.inject.migrate_without_folio_lock;
    if !unlocked && !old.trylock() {
        points::mm_action(MmAction::MigrateSkip, inode.ino, old.index, old.id, old.id);
        return false;
    }
    if old.test_removed() || old.test_writeback() {
        if !unlocked {
            old.unlock();
        }
        points::mm_action(MmAction::MigrateSkip, inode.ino, old.index, old.id, old.id);
        return false;
    }
    let new = Arc::new(Folio::new(inode.ino, old.index, old.order));
    let locked = new.trylock();
    debug_assert!(locked, "a folio nobody can see is unlocked");
    if unlocked {
        old.copy_racy_into(&new);
    } else {
        new.with_bytes_mut(|dst| old.copy_out(0, dst));
    }
    new.copy_flags_from(old);
    old.with_sectors(|s| new.with_sectors(|d| d.copy_from_slice(s)));
    let moved = inode.mapping.replace_folio(old, &new);
    if moved {
        points::folio(
            EventKind::FolioMigrated,
            inode.ino,
            old.index,
            old.id,
            old.order as u64,
            new.id,
        );
        points::mm_action(MmAction::Migrate, inode.ino, old.index, old.id, old.id);
        fs.counters.migrated_folios.fetch_add(1, Ordering::Relaxed);
    }
    new.unlock();
    if !unlocked {
        old.unlock();
    }
    moved
}

/// One migration of a seeded-random cached folio.
pub fn migrate_random_folio(fs: &Fs, rng: &mut u64) {
    let Some(inode) = pick_inode(fs, rng) else {
        return;
    };
    let n = inode.mapping.nr_folios();
    if n == 0 {
        return;
    }
    if let Some(f) = inode.mapping.nth_folio(splitmix64(rng) as usize % n) {
        migrate_folio(fs, &inode, &f);
    }
}

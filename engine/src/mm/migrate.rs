//! Models folio migration: migrate_folio / move_to_new_folio /
//! folio_migrate_mapping (mm/migrate.c). By `Knobs::migrate_mode`:
//! MIGRATE_ASYNC trylocks the old folio (busy ones are skipped),
//! MIGRATE_SYNC_LIGHT sleeps on its lock, both skip folios under writeback;
//! MIGRATE_SYNC sleeps on the lock and waits for writeback. Data,
//! uptodate/dirty flags and the bch_folio state move to a new folio that
//! takes the old one's place in the mapping, but only if the refcount
//! freeze finds no reference beyond the page cache's and the migrating
//! thread's (dirty folios move too, as filemap_migrate_folio allows).

use crate::config::MigrateMode;
use crate::folio::Folio;
use crate::fs::Fs;
use crate::inode::Inode;
use crate::mm::pick_inode;
use crate::probe::points;
use crate::probe::{EventKind, MmAction};
use crate::usercopy::splitmix64;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// References a folio has when only the page cache and the migrating
/// thread (which isolated it) hold it.
const EXPECTED_REFS: usize = 2;

/// migrate_pages() passes: a folio whose refcount freeze failed (-EAGAIN)
/// is tried again this many times in all.
const PASSES: u32 = 10;

/// Pause between passes; the kernel only reschedules, but a thread that
/// just unlocked a folio needs a moment to drop its reference here too.
const PASS_PAUSE: std::time::Duration = std::time::Duration::from_millis(1);

enum Pass {
    Moved,
    /// Locked by someone (async), under writeback, or gone: not retried.
    Skipped,
    /// The refcount freeze failed: retried.
    Busy,
}

/// Migrates `old`, which the caller holds exactly one reference to;
/// returns whether it moved.
pub fn migrate_folio(fs: &Fs, inode: &Inode, old: &Arc<Folio>) -> bool {
    for pass in 0..PASSES {
        match migrate_pass(fs, inode, old) {
            Pass::Moved => return true,
            Pass::Skipped => return false,
            Pass::Busy if pass + 1 < PASSES => crate::probe::yield_point::pause(PASS_PAUSE),
            Pass::Busy => {}
        }
    }
    false
}

/// One pass of migrate_folio_move: lock, copy, freeze and swap.
fn migrate_pass(fs: &Fs, inode: &Inode, old: &Arc<Folio>) -> Pass {
    let skip = || {
        points::mm_action(MmAction::MigrateSkip, inode.ino, old.index, old.id, old.id);
        Pass::Skipped
    };
    // The planted bug skips the folio lock and the refcount freeze: the
    // copy races with writers.
    let unlocked = fs.knobs.inject.migrate_without_folio_lock;
    let mode = fs.knobs.migrate_mode;
    if !unlocked {
        if mode == MigrateMode::Async {
            if !old.trylock() {
                return skip();
            }
        } else {
            old.lock();
        }
    }
    let unlock_old = || {
        if !unlocked {
            old.unlock();
        }
    };
    if mode == MigrateMode::Sync && !unlocked {
        inode.mapping.wait_writeback(old);
    }
    if old.test_removed() || old.test_writeback() {
        unlock_old();
        return skip();
    }
    let new = Arc::new(Folio::new(inode.ino, old.index, old.order));
    let locked = new.trylock();
    debug_assert!(locked, "a folio nobody can see is unlocked");
    // Under the planted bug a writer holding the old folio's lock may
    // change bytes mid-copy, which is the point.
    new.with_bytes_mut(|dst| old.copy_out_unlocked(0, dst));
    new.copy_flags_from(old);
    old.with_sectors(|s| new.with_sectors(|d| d.copy_from_slice(s)));
    let expected = (!unlocked).then_some(EXPECTED_REFS);
    let moved = inode.mapping.replace_folio(old, &new, expected);
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
    unlock_old();
    if !moved {
        points::mm_action(MmAction::MigrateSkip, inode.ino, old.index, old.id, old.id);
        return if old.test_removed() {
            Pass::Skipped
        } else {
            Pass::Busy
        };
    }
    Pass::Moved
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

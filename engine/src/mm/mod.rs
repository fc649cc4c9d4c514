//! The "mm": background threads that take folios away from the page cache
//! or move them, switchable like the kernel config options they stand for
//! (reclaim, CONFIG_MIGRATION, CONFIG_COMPACTION).
//!
//! Departure: the kernel runs these from kswapd, kcompactd and allocation
//! slow paths under memory pressure; the model runs them on timers with
//! seeded victim choice, which makes their interleavings with IO tunable.

pub mod compaction;
pub mod migrate;
pub mod reclaim;

use crate::error::Result;
use crate::fs::Fs;
use crate::inode::Inode;
use crate::probe::ThreadRole;
use crate::usercopy::splitmix64;
use std::cell::Cell;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Reclaim looks at the page-cache size this often.
const RECLAIM_PERIOD: Duration = Duration::from_millis(10);

pub(crate) fn spawn_threads(fs: &Arc<Fs>) -> Result<Vec<JoinHandle<()>>> {
    let k = &fs.knobs;
    let mut v = Vec::new();
    if k.reclaim_limit_bytes > 0 {
        v.push(fs.spawn_background(
            ThreadRole::Reclaim,
            RECLAIM_PERIOD,
            reclaim::shrink_page_cache,
        )?);
    }
    if k.migration_interval_us > 0 {
        v.push(fs.spawn_background(
            ThreadRole::Migrate,
            Duration::from_micros(k.migration_interval_us),
            seeded(k.seed ^ 0x6d696772, migrate::migrate_random_folio),
        )?);
    }
    if k.compaction_interval_ms > 0 {
        v.push(fs.spawn_background(
            ThreadRole::Compaction,
            Duration::from_millis(k.compaction_interval_ms),
            seeded(k.seed ^ 0x636f6d70, compaction::compact_one_inode),
        )?);
    }
    Ok(v)
}

/// A seeded pick of one cached inode, in inode-number order so the same
/// seed picks the same inode.
pub(crate) fn pick_inode(fs: &Fs, rng: &mut u64) -> Option<Arc<Inode>> {
    let mut inodes = fs.cached_inodes();
    if inodes.is_empty() {
        return None;
    }
    inodes.sort_by_key(|i| i.ino);
    let n = inodes.len();
    Some(inodes.swap_remove(splitmix64(rng) as usize % n))
}

/// A background step that draws its victims from its own random stream,
/// seeded so a run's mm choices repeat with its knobs' seed.
fn seeded(seed: u64, step: fn(&Fs, &mut u64)) -> impl Fn(&Fs) + Send + 'static {
    let rng = Cell::new(seed);
    move |fs| {
        let mut s = rng.get();
        step(fs, &mut s);
        rng.set(s);
    }
}

//! Who holds what, replayed event by event: the state every lint asks.

use lockline_engine::probe::{Event, EventKind, LockClass, NO_FOLIO};
use std::collections::HashMap;

/// (tid, lock class, inode, folio index or NO_FOLIO) → times held (shared
/// locks may be held more than once by one thread).
#[derive(Default)]
pub struct Held {
    by: HashMap<(u32, u8, u64, u64), u32>,
    /// When each (tid, class, inode, folio) was first taken, for duration rules.
    since: HashMap<(u32, u8, u64, u64), u64>,
}

impl Held {
    /// Applies a lock event; other events change nothing.
    pub fn apply(&mut self, e: &Event) {
        let (Some(kind), Some(class)) = (e.kind(), e.lock_class()) else {
            return;
        };
        let key = (e.tid, class as u8, e.inode, e.folio);
        match kind {
            EventKind::LockAcquired => {
                let n = self.by.entry(key).or_insert(0);
                if *n == 0 {
                    self.since.insert(key, e.ts_ns);
                }
                *n += 1;
            }
            EventKind::LockReleased => {
                if let Some(n) = self.by.get_mut(&key) {
                    *n -= 1;
                    if *n == 0 {
                        self.by.remove(&key);
                        self.since.remove(&key);
                    }
                }
            }
            _ => {}
        }
    }

    /// Does `tid` hold the inode-wide lock `class` of `inode`?
    pub fn holds(&self, tid: u32, class: LockClass, inode: u64) -> bool {
        self.by.contains_key(&(tid, class as u8, inode, NO_FOLIO))
    }

    /// How many folio locks at (inode, index) `tid` holds: migration holds
    /// two, the old folio's and its replacement's, under one index.
    pub fn folio_locks(&self, tid: u32, inode: u64, index: u64) -> u32 {
        self.by
            .get(&(tid, LockClass::Folio as u8, inode, index))
            .copied()
            .unwrap_or(0)
    }

    /// Does anyone hold the folio lock of (inode, index), and since when?
    pub fn folio_holder(&self, inode: u64, index: u64) -> Option<(u32, u64)> {
        self.since
            .iter()
            .find(|((_, c, i, f), _)| *c == LockClass::Folio as u8 && *i == inode && *f == index)
            .map(|((t, ..), s)| (*t, *s))
    }

    /// Every lock still held: (tid, class, inode, folio, since).
    pub fn remaining(&self) -> impl Iterator<Item = (u32, u8, u64, u64, u64)> + '_ {
        self.since.iter().map(|(&(t, c, i, f), &s)| (t, c, i, f, s))
    }
}

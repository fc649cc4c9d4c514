//! Who holds what, replayed event by event: the state every lint asks.

use lockline_engine::probe::{Event, EventKind, LockClass, NO_FOLIO};
use rustc_hash::FxHashMap as HashMap;

/// (tid, lock class, inode, folio index or NO_FOLIO, folio identity or 0).
type Key = (u32, u8, u64, u64, u64);

/// Lock → (times held, since when first taken); shared locks may be held
/// more than once by one thread.
#[derive(Default)]
pub struct Held {
    by: HashMap<Key, (u32, u64)>,
    /// Folio locks by (inode, index, identity): their holder and since
    /// when, so "who holds this folio" is one lookup.
    folios: HashMap<(u64, u64, u64), (u32, u64)>,
}

impl Held {
    /// Applies a lock event (its kind decoded by the caller); other events
    /// change nothing.
    pub fn apply(&mut self, e: &Event, kind: Option<EventKind>) {
        let (Some(kind), Some(class)) = (kind, e.lock_class()) else {
            return;
        };
        let key = (e.tid, class as u8, e.inode, e.folio, e.fid);
        match kind {
            EventKind::LockAcquired => {
                let n = self.by.entry(key).or_insert((0, e.ts_ns));
                n.0 += 1;
                if n.0 == 1 && class == LockClass::Folio {
                    self.folios
                        .insert((e.inode, e.folio, e.fid), (e.tid, e.ts_ns));
                }
            }
            EventKind::LockReleased => {
                if let Some(n) = self.by.get_mut(&key) {
                    n.0 -= 1;
                    if n.0 == 0 {
                        self.by.remove(&key);
                        if class == LockClass::Folio {
                            let f = (e.inode, e.folio, e.fid);
                            if self.folios.get(&f).is_some_and(|h| h.0 == e.tid) {
                                self.folios.remove(&f);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Does `tid` hold the inode-wide lock `class` of `inode`?
    pub fn holds(&self, tid: u32, class: LockClass, inode: u64) -> bool {
        self.by
            .contains_key(&(tid, class as u8, inode, NO_FOLIO, 0))
    }

    /// Does `tid` hold the lock of the folio `fid` (at `index` of `inode`)?
    /// Traces without identities (fid 0) fall back to the index.
    pub fn holds_folio(&self, tid: u32, inode: u64, index: u64, fid: u64) -> bool {
        self.by
            .contains_key(&(tid, LockClass::Folio as u8, inode, index, fid))
    }

    /// Does anyone hold the lock of folio `fid` at (inode, index), and
    /// since when?
    pub fn folio_holder(&self, inode: u64, index: u64, fid: u64) -> Option<(u32, u64)> {
        self.folios.get(&(inode, index, fid)).copied()
    }

    /// Every lock still held: (tid, class, inode, folio, fid, since).
    pub fn remaining(&self) -> impl Iterator<Item = (u32, u8, u64, u64, u64, u64)> + '_ {
        self.by
            .iter()
            .map(|(&(t, c, i, f, id), &(_, s))| (t, c, i, f, id, s))
    }
}

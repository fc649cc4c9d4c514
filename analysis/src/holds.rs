//! Lock holds reconstructed from lock_wait / lock_acquired / lock_released
//! events, per thread and lock instance.

use lockline_engine::probe::{Event, EventKind, LockClass, LockMode};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

/// One hold of one lock by one thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub class: LockClass,
    pub mode: LockMode,
    pub tid: u32,
    pub inode: u64,
    pub folio: u64,
    /// Folio identity (0 for inode-wide locks): migration's old and new
    /// folio at one index are two locks.
    pub fid: u64,
    pub op: u64,
    /// When the thread started waiting, if it had to.
    pub wait_ns: Option<u64>,
    pub acquired_ns: u64,
    /// None when the trace ends with the lock held.
    pub released_ns: Option<u64>,
}

impl Hold {
    /// How long it was held. A damaged trace can time a release before its
    /// acquire (the consistency check's time-backwards): that hold lasted
    /// 0, it is not a count of 2^64 ns (found by fuzz/trace).
    pub fn hold_time(&self) -> Option<u64> {
        self.released_ns.map(|r| r.saturating_sub(self.acquired_ns))
    }
    /// How long it was waited for; 0 for a wait timed after its acquire.
    pub fn wait_time(&self) -> u64 {
        self.wait_ns
            .map(|w| self.acquired_ns.saturating_sub(w))
            .unwrap_or(0)
    }
}

type Key = (u32, LockClass, u64, u64, u64);

/// What one lock event did to the holds being paired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A hold began; the caller keeps it in the slot it passed.
    Acquired(Hold),
    /// The hold in this slot ended at this time.
    Released { slot: usize, ts_ns: u64 },
    /// A wait began, a release with no acquire, or not a lock event.
    Nothing,
}

/// Pairs lock events into holds one event at a time, for front ends that
/// see a trace arrive in batches (the TUI). Shared locks may be held
/// several times by one thread (recursive add-lock holds); they pair
/// last-in first-out.
#[derive(Debug, Default)]
pub struct Pairer {
    waiting: HashMap<Key, u64>,
    open: HashMap<Key, Slots>,
    prune: bool,
}

/// The slots of one thread's open holds of one lock, innermost last:
/// nearly always none or one, so the first is kept without an allocation
/// (folio identities never repeat: a Vec each would be an allocation per
/// folio lock).
#[derive(Debug, Default)]
struct Slots {
    first: Option<usize>,
    more: Vec<usize>,
}

impl Slots {
    fn push(&mut self, slot: usize) {
        match self.first {
            None => self.first = Some(slot),
            Some(_) => self.more.push(slot),
        }
    }
    fn pop(&mut self) -> Option<usize> {
        self.more.pop().or_else(|| self.first.take())
    }
    fn is_empty(&self) -> bool {
        self.first.is_none()
    }
}

impl Pairer {
    /// A pairer that forgets a lock once nothing holds it, for a stream
    /// with no end (folio identities never repeat, so a map of every lock
    /// ever seen would grow without bound). A one-pass analysis prunes
    /// too: the removal per release costs less than a map of every folio
    /// identity falling out of the cache (pairing 10 M events: 0.59 s
    /// without, 0.40 s with).
    pub fn pruning() -> Pairer {
        Pairer {
            prune: true,
            ..Pairer::default()
        }
    }

    /// Feeds one event (per thread in time order). On `Acquired` the
    /// caller stores the hold in `slot`; a later `Released` names it.
    pub fn push(&mut self, e: &Event, slot: usize) -> Step {
        let (Some(kind), Some(class)) = (e.kind(), e.lock_class()) else {
            return Step::Nothing;
        };
        let key = (e.tid, class, e.inode, e.folio, e.fid);
        match kind {
            EventKind::LockWait => {
                self.waiting.insert(key, e.ts_ns);
                Step::Nothing
            }
            EventKind::LockAcquired => {
                self.open.entry(key).or_default().push(slot);
                Step::Acquired(Hold {
                    class,
                    mode: e.mode().unwrap_or(LockMode::Exclusive),
                    tid: e.tid,
                    inode: e.inode,
                    folio: e.folio,
                    fid: e.fid,
                    op: e.op,
                    wait_ns: self.waiting.remove(&key),
                    acquired_ns: e.ts_ns,
                    released_ns: None,
                })
            }
            EventKind::LockReleased => {
                let Some(v) = self.open.get_mut(&key) else {
                    return Step::Nothing;
                };
                let slot = v.pop();
                if self.prune && v.is_empty() {
                    self.open.remove(&key);
                }
                match slot {
                    Some(slot) => Step::Released {
                        slot,
                        ts_ns: e.ts_ns,
                    },
                    None => Step::Nothing,
                }
            }
            _ => Step::Nothing,
        }
    }

    /// Waits begun and not yet granted: (tid, class, inode, folio, fid, since).
    pub fn waiting(&self) -> impl Iterator<Item = (u32, LockClass, u64, u64, u64, u64)> + '_ {
        self.waiting
            .iter()
            .map(|(k, t)| (k.0, k.1, k.2, k.3, k.4, *t))
    }
}

/// Pairs lock events into holds, in acquisition order.
pub fn holds_from_events(events: &[Event]) -> Vec<Hold> {
    let mut p = Pairer::pruning();
    let mut out: Vec<Hold> = Vec::new();
    for e in events {
        match p.push(e, out.len()) {
            Step::Acquired(h) => out.push(h),
            Step::Released { slot, ts_ns } => out[slot].released_ns = Some(ts_ns),
            Step::Nothing => {}
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use lockline_engine::probe::Code;

    pub fn ev(ts: u64, tid: u32, kind: EventKind, class: LockClass, folio: u64) -> Event {
        Event {
            ts_ns: ts,
            tid,
            code: Code::pack(kind, class as u8, LockMode::Exclusive as u8),
            inode: 1,
            folio,
            op: 0,
            a: 0,
            b: 0,
            fid: 0,
        }
    }

    #[test]
    fn a_release_timed_before_its_acquire_held_nothing() {
        use EventKind::*;
        let evs = [
            ev(50, 1, LockWait, LockClass::Folio, 0),
            ev(40, 1, LockAcquired, LockClass::Folio, 0),
            ev(30, 1, LockReleased, LockClass::Folio, 0),
        ];
        let h = holds_from_events(&evs);
        assert_eq!((h[0].hold_time(), h[0].wait_time()), (Some(0), 0));
    }

    #[test]
    fn pairs_waits_acquires_and_releases() {
        use EventKind::*;
        let evs = [
            ev(10, 1, LockAcquired, LockClass::Folio, 0),
            ev(12, 2, LockWait, LockClass::Folio, 0),
            ev(20, 1, LockReleased, LockClass::Folio, 0),
            ev(21, 2, LockAcquired, LockClass::Folio, 0),
            ev(30, 2, LockAcquired, LockClass::Inode, u64::MAX),
        ];
        let h = holds_from_events(&evs);
        assert_eq!(h.len(), 3);
        assert_eq!(h[0].hold_time(), Some(10));
        assert_eq!(h[0].wait_time(), 0);
        assert_eq!(h[1].wait_time(), 9);
        assert_eq!(h[1].hold_time(), None);
        assert_eq!(h[2].class, LockClass::Inode);
    }
}

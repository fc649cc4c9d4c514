//! Lock holds reconstructed from lock_wait / lock_acquired / lock_released
//! events, per thread and lock instance.

use lockline_engine::probe::{Event, EventKind, LockClass, LockMode};
use serde::Serialize;
use std::collections::HashMap;

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
    pub fn hold_time(&self) -> Option<u64> {
        self.released_ns.map(|r| r - self.acquired_ns)
    }
    pub fn wait_time(&self) -> u64 {
        self.wait_ns.map(|w| self.acquired_ns - w).unwrap_or(0)
    }
}

type Key = (u32, LockClass, u64, u64, u64);

/// Pairs lock events into holds. Shared locks may be held several times by
/// one thread (recursive add-lock holds); they pair last-in first-out.
pub fn holds_from_events(events: &[Event]) -> Vec<Hold> {
    let mut waiting: HashMap<Key, u64> = HashMap::new();
    let mut open: HashMap<Key, Vec<usize>> = HashMap::new();
    let mut out: Vec<Hold> = Vec::new();
    for e in events {
        let (Some(kind), Some(class)) = (e.kind(), e.lock_class()) else {
            continue;
        };
        let key = (e.tid, class, e.inode, e.folio, e.fid);
        match kind {
            EventKind::LockWait => {
                waiting.insert(key, e.ts_ns);
            }
            EventKind::LockAcquired => {
                out.push(Hold {
                    class,
                    mode: e.mode().unwrap_or(LockMode::Exclusive),
                    tid: e.tid,
                    inode: e.inode,
                    folio: e.folio,
                    fid: e.fid,
                    op: e.op,
                    wait_ns: waiting.remove(&key),
                    acquired_ns: e.ts_ns,
                    released_ns: None,
                });
                open.entry(key).or_default().push(out.len() - 1);
            }
            EventKind::LockReleased => {
                if let Some(i) = open.get_mut(&key).and_then(|v| v.pop()) {
                    out[i].released_ns = Some(e.ts_ns);
                }
            }
            _ => {}
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

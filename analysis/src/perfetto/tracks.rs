//! Where each slice goes: Perfetto draws the slices of one track as a
//! stack, so they must nest. A thread's lock holds of one class often do
//! (the write path releases its folio locks last to first) and sometimes
//! overlap without nesting (a hold handed between two ops); each hold goes
//! on the first lane of its (thread, kind) where it nests, and a new lane
//! is a new child track of the thread.

use rustc_hash::FxHashMap as HashMap;

/// What a lane holds, under a thread's track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    /// The thread's ops: lane 0 is the thread's own track.
    Ops,
    /// Holds of one lock class (its code).
    Lock(u8),
    /// Waits for any lock (a thread waits for one lock at a time, so one
    /// lane is the rule).
    Waits,
}

/// Open slices of one lane: their end times, innermost last.
#[derive(Default)]
struct Lane {
    ends: Vec<u64>,
    uuid: u64,
}

/// Lanes per (thread, kind), with the track uuids given to them.
#[derive(Default)]
pub(super) struct Lanes {
    by: HashMap<(u32, Kind), Vec<Lane>>,
}

/// Where a slice was placed.
pub(super) struct Placed {
    /// The lane's track uuid; 0: a new lane, whose uuid the caller gives
    /// with `name_lane` (after describing its track).
    pub uuid: u64,
    pub lane: usize,
}

impl Lanes {
    /// Places a slice [begin, end] of `kind` on thread `tid`; slices
    /// arrive in order of their begin.
    pub fn place(&mut self, tid: u32, kind: Kind, begin: u64, end: u64) -> Placed {
        let lanes = self.by.entry((tid, kind)).or_default();
        for (i, l) in lanes.iter_mut().enumerate() {
            while l.ends.last().is_some_and(|&e| e <= begin) {
                l.ends.pop();
            }
            if l.ends.last().is_none_or(|&e| end <= e) {
                l.ends.push(end);
                return Placed {
                    uuid: l.uuid,
                    lane: i,
                };
            }
        }
        lanes.push(Lane {
            ends: vec![end],
            uuid: 0,
        });
        Placed {
            uuid: 0,
            lane: lanes.len() - 1,
        }
    }

    /// Gives the newest lane of (tid, kind) its track.
    pub fn name_lane(&mut self, tid: u32, kind: Kind, uuid: u64) {
        if let Some(l) = self.by.get_mut(&(tid, kind)).and_then(|v| v.last_mut()) {
            l.uuid = uuid;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_slices_share_a_lane_and_crossing_ones_do_not() {
        let mut l = Lanes::default();
        let k = Kind::Lock(4);
        assert_eq!(l.place(1, k, 0, 100).lane, 0);
        l.name_lane(1, k, 7);
        // Inside the first: same lane.
        let p = l.place(1, k, 10, 50);
        assert_eq!((p.lane, p.uuid), (0, 7));
        // Begins inside, ends after: a second lane.
        assert_eq!(l.place(1, k, 60, 150).lane, 1);
        // After both ended: back to the first.
        assert_eq!(l.place(1, k, 150, 160).lane, 0);
        // Another thread has its own lanes.
        assert_eq!(l.place(2, k, 10, 20).uuid, 0);
    }
}

//! A lock still held when the trace ends: a missed unlock on some error
//! path, or a trace cut short (then every lock in flight shows up here).

use super::held::Held;
use super::{Finding, LintInfo};
use lockline_engine::probe::{Event, LockClass, NO_FOLIO};

pub const INFO: LintInfo = LintInfo {
    name: "unreleased-lock",
    description: "lock still held when the trace ends",
    engine_locks: false,
};

pub(crate) fn at_end(held: &Held, events: &[Event]) -> Vec<Finding> {
    let end = events.last().map_or(0, |e| e.ts_ns);
    let mut out: Vec<Finding> = held
        .remaining()
        // lock:contention_end marks a kernel lock taken; its release is not
        // traced, so kernel locks are never "held at the end".
        .filter(|(_, class, ..)| *class != LockClass::Kernel as u8)
        .map(|(tid, class, inode, folio, fid, since)| {
            // The acquisition event, for the id.
            let id = events.partition_point(|e| e.ts_ns < since);
            let name = LockClass::from_u8(class).map_or("?", LockClass::name);
            Finding {
                lint: INFO.name,
                event: id as u64,
                ts_ns: since,
                tid,
                op: events.get(id).map_or(0, |e| e.op),
                inode,
                folio: (folio != NO_FOLIO).then_some(folio),
                fid: (fid != 0).then_some(fid),
                message: format!(
                    "{name} lock of inode {inode} taken by tid {tid} at +{:.3} ms before the end is never released",
                    end.saturating_sub(since) as f64 / 1e6
                ),
            }
        })
        .collect();
    out.sort_by_key(|f| (f.event, f.tid));
    out
}

//! A folio lock held for longer than a threshold while the folio is under
//! writeback: writeback needs the lock only to start the IO
//! (folio_start_writeback, then folio_unlock before submission); holding it
//! across the IO stalls every writer and reader of that folio for a disk
//! round trip.

use super::{Ctx, Finding, LintInfo};
use lockline_engine::probe::EventKind;
use rustc_hash::FxHashMap as HashMap;

pub const INFO: LintInfo = LintInfo {
    name: "folio-lock-across-io",
    description: "folio lock held across disk IO (writeback start to end) longer than a threshold",
    engine_locks: true,
};

pub(crate) struct State {
    threshold_ns: u64,
    /// (inode, folio) under writeback → when it started.
    in_flight: HashMap<(u64, u64), u64>,
}

impl State {
    pub fn new(threshold_ns: u64) -> State {
        State {
            threshold_ns,
            in_flight: HashMap::default(),
        }
    }

    pub(crate) fn check(&mut self, cx: &Ctx) -> Option<Finding> {
        let e = cx.e;
        match cx.kind? {
            EventKind::FolioWritebackStart => {
                self.in_flight.insert((e.inode, e.fid), e.ts_ns);
                None
            }
            EventKind::FolioWritebackEnd => {
                let started = self.in_flight.remove(&(e.inode, e.fid))?;
                let (tid, since) = cx.held.folio_holder(e.inode, e.folio, e.fid)?;
                let held = e.ts_ns.saturating_sub(since);
                if since > started || held <= self.threshold_ns {
                    return None;
                }
                Some(cx.finding(
                    INFO.name,
                    format!(
                        "folio {} of inode {} locked by tid {tid} for {:.3} ms, across its whole writeback ({:.3} ms)",
                        e.folio,
                        e.inode,
                        held as f64 / 1e6,
                        e.ts_ns.saturating_sub(started) as f64 / 1e6
                    ),
                ))
            }
            _ => None,
        }
    }
}

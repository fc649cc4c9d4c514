//! Counter tracks derived from folio events: how many folios are dirty and
//! how many bytes the page cache holds, over time — the two numbers that
//! say how much acknowledged data is still only in memory.

use crate::trace::CounterSample;
use lockline_engine::probe::{Event, EventKind};
use rustc_hash::FxHashMap as HashMap;

pub const DIRTY_FOLIOS: &str = "dirty_folios";
pub const PAGECACHE_BYTES: &str = "pagecache_bytes";

/// One sample per track per this many ns at most (the last value of the
/// bucket), so millions of events give thousands of samples.
const BUCKET_NS: u64 = 1_000;

#[derive(Clone, Copy, Default)]
struct FolioState {
    bytes: u64,
    dirty: bool,
}

struct Track {
    name: &'static str,
    value: i64,
    /// Bucket and index in the output of this track's last sample.
    last: Option<(u64, usize)>,
}

impl Track {
    fn set(&mut self, out: &mut Vec<CounterSample>, ts: u64, value: i64) {
        if value == self.value {
            return;
        }
        self.value = value;
        let bucket = ts / BUCKET_NS;
        if let Some((b, i)) = self.last {
            if b == bucket {
                // Same bucket: the later value replaces the earlier sample.
                out[i].value = value as f64;
                return;
            }
        }
        self.last = Some((bucket, out.len()));
        out.push(CounterSample {
            ts_ns: ts,
            track: self.name.to_string(),
            tid: 0,
            value: value as f64,
        });
    }
}

/// The `dirty_folios` and `pagecache_bytes` tracks of an event stream
/// sorted by time. A folio is counted by its (inode, first index); dirtying
/// a dirty folio again changes nothing.
/// The derived tracks an export draws beside the trace's own counters:
/// none when the trace carries them already (traces written by a run do).
pub fn derived_unless_stored(trace: &crate::trace::Trace) -> Vec<CounterSample> {
    let stored = trace
        .counters
        .iter()
        .any(|c| c.track == DIRTY_FOLIOS || c.track == PAGECACHE_BYTES);
    if stored {
        Vec::new()
    } else {
        derive(&trace.events)
    }
}

pub fn derive(events: &[Event]) -> Vec<CounterSample> {
    let mut folios: HashMap<(u64, u64), FolioState> = HashMap::default();
    let (mut dirty, mut bytes) = (0i64, 0i64);
    let mut out = Vec::new();
    let mut td = Track {
        name: DIRTY_FOLIOS,
        value: 0,
        last: None,
    };
    let mut tb = Track {
        name: PAGECACHE_BYTES,
        value: 0,
        last: None,
    };
    for e in events {
        let key = (e.inode, e.folio);
        match e.kind() {
            Some(EventKind::FolioAdded) => {
                let size = 4096u64 << e.a.min(20);
                let old = folios.insert(
                    key,
                    FolioState {
                        bytes: size,
                        dirty: false,
                    },
                );
                if let Some(o) = old {
                    bytes -= o.bytes as i64;
                    dirty -= o.dirty as i64;
                }
                bytes += size as i64;
            }
            Some(EventKind::FolioRemoved) => {
                if let Some(o) = folios.remove(&key) {
                    bytes -= o.bytes as i64;
                    dirty -= o.dirty as i64;
                }
            }
            // a == 0: the whole folio left the mapping.
            Some(EventKind::FolioTruncated) if e.a == 0 => {
                if let Some(o) = folios.remove(&key) {
                    bytes -= o.bytes as i64;
                    dirty -= o.dirty as i64;
                }
            }
            Some(EventKind::FolioDirtied) => {
                let f = folios.entry(key).or_default();
                if !f.dirty {
                    f.dirty = true;
                    dirty += 1;
                }
            }
            Some(EventKind::FolioCleaned) => {
                if let Some(f) = folios.get_mut(&key).filter(|f| f.dirty) {
                    f.dirty = false;
                    dirty -= 1;
                }
            }
            _ => continue,
        }
        td.set(&mut out, e.ts_ns, dirty);
        tb.set(&mut out, e.ts_ns, bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockline_engine::probe::Code;

    fn ev(ts: u64, kind: EventKind, folio: u64, a: u64) -> Event {
        Event {
            ts_ns: ts,
            tid: 1,
            code: Code::pack(kind, 0, 0),
            inode: 7,
            folio,
            op: 0,
            a,
            b: 0,
            fid: 0,
        }
    }

    fn track(s: &[CounterSample], name: &str) -> Vec<(u64, f64)> {
        s.iter()
            .filter(|c| c.track == name)
            .map(|c| (c.ts_ns, c.value))
            .collect()
    }

    #[test]
    fn tracks_by_hand() {
        use EventKind::*;
        let evs = [
            ev(10_000, FolioAdded, 0, 4),      // 64 KiB
            ev(20_000, FolioAdded, 16, 0),     // +4 KiB
            ev(30_000, FolioDirtied, 0, 0),    // 1 dirty
            ev(31_000, FolioDirtied, 0, 8),    // still 1
            ev(40_000, FolioDirtied, 16, 0),   // 2
            ev(50_000, FolioCleaned, 0, 4),    // 1
            ev(60_000, FolioTruncated, 16, 0), // dirty whole folio gone: 0, -4 KiB
            ev(70_000, FolioRemoved, 0, 4),    // 0 bytes
        ];
        let s = derive(&evs);
        assert_eq!(
            track(&s, DIRTY_FOLIOS),
            vec![(30_000, 1.0), (40_000, 2.0), (50_000, 1.0), (60_000, 0.0)]
        );
        assert_eq!(
            track(&s, PAGECACHE_BYTES),
            vec![
                (10_000, 65536.0),
                (20_000, 69632.0),
                (60_000, 65536.0),
                (70_000, 0.0)
            ]
        );
    }

    #[test]
    fn one_sample_per_bucket() {
        let evs: Vec<Event> = (0..1000)
            .map(|i| ev(i, EventKind::FolioAdded, i * 16, 0))
            .collect();
        let s = derive(&evs);
        assert_eq!(track(&s, PAGECACHE_BYTES), vec![(0, 4096.0 * 1000.0)]);
    }
}

//! Synthetic traces shaped like a `lockless` run: workers writing through
//! the pagecache add lock, folio locks and i_lock, a flusher writing folios
//! back. For benchmarks and tests that need millions of well-formed events
//! without running the engine; every lock acquired is released, every op
//! ends, and the events come out sorted by time.

use crate::trace::{Trace, TraceMeta, SCHEMA_VERSION};
use lockline_engine::probe::{Code, Event, EventKind, LockClass, LockMode, OpKind, NO_FOLIO};
use lockline_harness::history::History;

/// A small deterministic generator (SplitMix64): no rand dependency, same
/// trace for the same seed on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub const INO: u64 = 2;
const FOLIO_PAGES: u64 = 16;

struct Emitter {
    out: Vec<Event>,
    ts: u64,
}

impl Emitter {
    fn push(&mut self, tid: u32, code: u32, folio: u64, op: u64, a: u64, b: u64) {
        self.ts += 1 + (self.out.len() as u64 % 7);
        self.out.push(Event {
            ts_ns: self.ts,
            tid,
            code,
            inode: INO,
            folio,
            op,
            a,
            b,
            // One folio per index: the synthetic run never migrates.
            fid: if folio == NO_FOLIO {
                0
            } else {
                folio / FOLIO_PAGES + 1
            },
        });
    }
    /// A folio or inode event of `kind`.
    fn emit(&mut self, tid: u32, kind: EventKind, folio: u64, op: u64, a: u64, b: u64) {
        self.push(tid, Code::pack(kind, 0, 0), folio, op, a, b);
    }
    /// The OpBegin or OpEnd (`mark`) of an op of `kind`.
    fn op_mark(&mut self, tid: u32, mark: EventKind, kind: OpKind, op: u64, a: u64, b: u64) {
        self.push(tid, Code::pack(mark, kind as u8, 0), NO_FOLIO, op, a, b);
    }
    fn lock_event(
        &mut self,
        tid: u32,
        kind: EventKind,
        class: LockClass,
        mode: LockMode,
        folio: u64,
        op: u64,
    ) {
        let code = Code::pack(kind, class as u8, mode as u8);
        self.push(tid, code, folio, op, 0, 0);
    }
    fn lock(
        &mut self,
        tid: u32,
        class: LockClass,
        mode: LockMode,
        folio: u64,
        op: u64,
        wait: bool,
    ) {
        if wait {
            self.lock_event(tid, EventKind::LockWait, class, mode, folio, op);
        }
        self.lock_event(tid, EventKind::LockAcquired, class, mode, folio, op);
    }
    fn unlock(&mut self, tid: u32, class: LockClass, mode: LockMode, folio: u64, op: u64) {
        self.lock_event(tid, EventKind::LockReleased, class, mode, folio, op);
    }
}

/// About `events` events from `threads` workers (tids 1000..) and one
/// flusher (tid 999). Ops interleave one at a time, so holds never overlap
/// across threads; analysis cost, not realism of contention, is the point.
pub fn generate(events: usize, threads: u32, seed: u64) -> Trace {
    use LockClass::*;
    let mut rng = Rng(seed);
    let mut e = Emitter {
        out: Vec::with_capacity(events + 64),
        ts: 1_000_000,
    };
    let threads = threads.max(1);
    let mut op = 0u64;
    let mut size = 0u64;
    let file_pages = 4096u64;
    while e.out.len() < events {
        op += 1;
        if op.is_multiple_of(8) {
            // The flusher writes back one folio.
            let folio = rng.below(file_pages / FOLIO_PAGES) * FOLIO_PAGES;
            let tid = 999;
            e.op_mark(tid, EventKind::OpBegin, OpKind::Writeback, op, 0, 0);
            e.lock(tid, Folio, LockMode::Exclusive, folio, op, false);
            e.emit(tid, EventKind::FolioCleaned, folio, op, 4, 0);
            e.emit(tid, EventKind::FolioWritebackStart, folio, op, 4, 128);
            e.unlock(tid, Folio, LockMode::Exclusive, folio, op);
            e.emit(tid, EventKind::FolioWritebackEnd, folio, op, 4, 0);
            e.op_mark(tid, EventKind::OpEnd, OpKind::Writeback, op, 0, 0);
            continue;
        }
        let tid = 1000 + rng.below(threads as u64) as u32;
        let page = rng.below(file_pages);
        let len = 4096 * (1 + rng.below(4));
        let off = page * 4096;
        let folio = page / FOLIO_PAGES * FOLIO_PAGES;
        let wait = rng.below(10) == 0;
        e.op_mark(tid, EventKind::OpBegin, OpKind::Write, op, off, len);
        e.lock(tid, PagecacheAdd, LockMode::Shared, NO_FOLIO, op, false);
        e.lock(tid, Folio, LockMode::Exclusive, folio, op, wait);
        e.emit(
            tid,
            EventKind::FolioDirtied,
            folio,
            op,
            (page - folio) * 8,
            len / 512,
        );
        e.unlock(tid, Folio, LockMode::Exclusive, folio, op);
        if off + len > size {
            e.lock(tid, ILock, LockMode::Exclusive, NO_FOLIO, op, false);
            e.emit(tid, EventKind::IsizeChanged, NO_FOLIO, op, size, off + len);
            size = off + len;
            e.unlock(tid, ILock, LockMode::Exclusive, NO_FOLIO, op);
        }
        e.unlock(tid, PagecacheAdd, LockMode::Shared, NO_FOLIO, op);
        e.op_mark(tid, EventKind::OpEnd, OpKind::Write, op, off, len);
    }
    let ops = History::from_events(&e.out).ops().to_vec();
    Trace {
        meta: TraceMeta {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            build: "synthetic".into(),
            workload: "synthetic".into(),
            seed,
            threads,
            knobs_json: "{}".into(),
            probe_source: "synthetic".into(),
            clock: "synthetic".into(),
            ino: INO,
            seconds: (e.ts - 1_000_000) as f64 / 1e9,
            final_check: "after-remount".into(),
            summary_json: "{}".into(),
            ..TraceMeta::default()
        },
        events: e.out,
        ops,
        violations: Vec::new(),
        counters: Vec::new(),
        extents: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed() {
        let t = generate(10_000, 3, 7);
        assert!(t.events.len() >= 10_000);
        assert!(t.events.windows(2).all(|w| w[0].ts_ns < w[1].ts_ns));
        let holds = crate::holds_from_events(&t.events);
        assert!(holds.iter().all(|h| h.released_ns.is_some()));
        assert!(t.ops.iter().all(|o| o.finished()));
        assert_eq!(generate(10_000, 3, 7), t);
    }
}

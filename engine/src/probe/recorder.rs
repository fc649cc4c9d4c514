//! The in-process recorder: per-thread buffers, bounded, counting drops.
//!
//! A thread records into its own buffer with no atomics on the hot path; it
//! reserves room from the recorder's budget a chunk at a time and hands full
//! chunks over under a mutex, so the shared state is touched once per
//! `CHUNK` events. A thread not attached to a recorder pays one
//! thread-local load per probe: that is the "off" switch.
//!
//! Recorders are per run (not global) so concurrent runs and tests do not
//! mix their events; the engine attaches each of its threads to the run's
//! recorder when an op starts or a background thread begins.

use super::clock::{self, Clock, Pair};
use super::provenance::Extent;
use super::schema::Event;
use parking_lot::Mutex;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Events reserved and handed over at a time.
const CHUNK: usize = 4096;

/// Default bound: 16 M events (~900 MiB) per run.
pub const DEFAULT_CAPACITY: u64 = 16 << 20;

/// Bound on content digests held: 64 M (256 MiB, 32 GiB of data).
pub const DIGEST_CAPACITY: u64 = 64 << 20;

#[derive(Debug)]
pub struct Recorder {
    /// Events hold raw clock readings until drained (see clock.rs).
    clock: Clock,
    chunks: Mutex<Vec<Vec<Event>>>,
    /// (TSC, CLOCK_MONOTONIC) pairs, the clock's anchor first and one more
    /// per take: the piecewise map from raw readings to nanoseconds.
    pairs: Mutex<Vec<Pair>>,
    budget: AtomicU64,
    capacity: u64,
    dropped: AtomicU64,
    /// Content digests (provenance.rs), handed over with the events.
    extents: Mutex<Vec<Extent>>,
    digest_budget: AtomicU64,
    /// Extents not kept because the digest budget ran out.
    extents_dropped: AtomicU64,
    /// Whether attached threads take content digests (off by default: the
    /// stamp checker needs none, and they cost a crc of every byte).
    digests_on: AtomicBool,
}

/// Totals for a run's summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecorderStats {
    pub recorded: u64,
    pub dropped: u64,
    pub capacity: u64,
    /// Content digests kept and extents dropped over their budget.
    pub digests: u64,
    pub extents_dropped: u64,
}

impl Recorder {
    pub fn new(capacity: u64) -> Arc<Recorder> {
        Recorder::with_clock(capacity, Clock::best())
    }

    /// A recorder stamping with `clock` (tests and benchmarks compare them).
    pub fn with_clock(capacity: u64, clock: Clock) -> Arc<Recorder> {
        Arc::new(Recorder {
            clock,
            chunks: Mutex::new(Vec::new()),
            pairs: Mutex::new(clock.anchor().into_iter().collect()),
            budget: AtomicU64::new(capacity),
            capacity,
            dropped: AtomicU64::new(0),
            extents: Mutex::new(Vec::new()),
            digest_budget: AtomicU64::new(DIGEST_CAPACITY),
            extents_dropped: AtomicU64::new(0),
            digests_on: AtomicBool::new(false),
        })
    }

    fn reserve(&self) -> usize {
        let mut cur = self.budget.load(Ordering::Relaxed);
        loop {
            let take = cur.min(CHUNK as u64);
            if take == 0 {
                return 0;
            }
            match self.budget.compare_exchange_weak(
                cur,
                cur - take,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return take as usize,
                Err(v) => cur = v,
            }
        }
    }

    /// Turns content digests (provenance.rs) on or off for the threads
    /// attached to this recorder.
    pub fn record_digests(&self, on: bool) {
        self.digests_on.store(on, Ordering::Relaxed);
    }

    fn hand_over_extents(&self, mut ex: Vec<Extent>) {
        if !ex.is_empty() {
            self.extents.lock().append(&mut ex);
        }
    }

    /// Takes every extent of digests recorded so far (the calling thread's
    /// too), sorted by time. Join workers first to get everything.
    pub fn drain_extents(self: &Arc<Self>) -> Vec<Extent> {
        flush_current_thread();
        let mut all = std::mem::take(&mut *self.extents.lock());
        all.sort_by_key(|e| (e.ts_ns, e.tid));
        all
    }

    /// Drops every extent recorded so far and returns their digests'
    /// room to the budget (a checked round that keeps no trace).
    pub fn forget_extents(self: &Arc<Self>) {
        let n: u64 = self
            .drain_extents()
            .iter()
            .map(|e| e.digests.len() as u64)
            .sum();
        self.digest_budget.fetch_add(n, Ordering::Relaxed);
    }

    fn hand_over(&self, buf: Vec<Event>, unused_room: usize) {
        if unused_room > 0 {
            self.budget.fetch_add(unused_room as u64, Ordering::Relaxed);
        }
        if !buf.is_empty() {
            self.chunks.lock().push(buf);
        }
    }

    /// Takes every event handed over so far plus the calling thread's own
    /// buffer, sorted by time. Threads that have exited have handed theirs
    /// over; join workers before draining to get everything.
    pub fn drain(self: &Arc<Self>) -> Vec<Event> {
        flush_current_thread();
        self.take()
    }

    /// Takes the events handed over so far (full chunks, and the buffers of
    /// threads that flushed or exited), in nanoseconds and sorted by
    /// (ts_ns, tid), without flushing any thread's buffer: what a session
    /// pumps while its workload runs. Each take adds a clock pair, so a raw
    /// reading maps to the same time whichever take brings it (see
    /// `Clock::to_ns_through`).
    pub fn take(&self) -> Vec<Event> {
        let chunks = std::mem::take(&mut *self.chunks.lock());
        if chunks.is_empty() {
            return Vec::new();
        }
        let mut all: Vec<Event> = chunks.into_iter().flatten().collect();
        if matches!(self.clock, Clock::Tsc { .. }) {
            // The pair is taken after the chunks: every event in them is older.
            let now = clock::pair();
            let mut pairs = self.pairs.lock();
            if pairs
                .last()
                .is_none_or(|l| now.tsc > l.tsc && now.ns >= l.ns)
            {
                pairs.push(now);
            }
            self.clock.to_ns_through(&mut all, &pairs);
        }
        all.sort_by_key(|e| (e.ts_ns, e.tid));
        all
    }

    /// Returns the room of `n` events taken and let go (a round whose
    /// events were checked and dropped), so the budget bounds what is
    /// held, not what was ever recorded.
    pub fn give_back(&self, n: u64) {
        let held = self.capacity - self.budget.load(Ordering::Relaxed);
        self.budget.fetch_add(n.min(held), Ordering::Relaxed);
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    pub fn stats(&self) -> RecorderStats {
        let dropped = self.dropped.load(Ordering::Relaxed);
        let left = self.budget.load(Ordering::Relaxed);
        RecorderStats {
            recorded: self.capacity - left,
            dropped,
            capacity: self.capacity,
            digests: DIGEST_CAPACITY - self.digest_budget.load(Ordering::Relaxed),
            extents_dropped: self.extents_dropped.load(Ordering::Relaxed),
        }
    }
}

struct Local {
    rec: Arc<Recorder>,
    clock: Clock,
    buf: Vec<Event>,
    room: usize,
    tid: u32,
    extents: Vec<Extent>,
}

impl Local {
    fn flush(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        self.rec.hand_over(buf, self.room);
        self.room = 0;
        self.rec
            .hand_over_extents(std::mem::take(&mut self.extents));
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.flush();
    }
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// Attaches the calling thread to `rec` (None detaches), handing over any
/// events buffered for a previous recorder first.
pub fn attach(rec: Option<&Arc<Recorder>>) {
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        if let (Some(cur), Some(new)) = (l.as_ref(), rec) {
            if Arc::ptr_eq(&cur.rec, new) {
                return;
            }
        }
        *l = rec.map(|r| Local {
            rec: r.clone(),
            clock: r.clock,
            buf: Vec::new(),
            room: 0,
            tid: gettid(),
            extents: Vec::new(),
        });
    });
}

/// Hands the calling thread's buffered events to its recorder.
pub fn flush_current_thread() {
    LOCAL.with(|l| {
        if let Some(local) = l.borrow_mut().as_mut() {
            local.flush();
        }
    });
}

/// Whether the calling thread takes content digests: it is attached to a
/// recorder that wants them.
#[inline]
pub(crate) fn digests_on() -> bool {
    LOCAL.with(|l| {
        l.try_borrow().is_ok_and(|l| {
            l.as_ref()
                .is_some_and(|l| l.rec.digests_on.load(Ordering::Relaxed))
        })
    })
}

/// Keeps the extent `make` builds (given the thread's id) when the calling
/// thread is attached and the digest budget has room; extents travel with
/// the thread's events, handed over at each flush.
pub(crate) fn record_extent(make: impl FnOnce(u32) -> Extent) {
    LOCAL.with(|l| {
        let Ok(mut l) = l.try_borrow_mut() else {
            return;
        };
        let Some(local) = l.as_mut() else { return };
        let e = make(local.tid);
        let n = e.digests.len() as u64;
        let rec = &local.rec;
        let mut cur = rec.digest_budget.load(Ordering::Relaxed);
        loop {
            if cur < n {
                rec.extents_dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            match rec.digest_budget.compare_exchange_weak(
                cur,
                cur - n,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(v) => cur = v,
            }
        }
        local.extents.push(e);
        // Extents are few and large: hand them over often enough that a
        // pumping session sees them, without a lock per write.
        if local.extents.len() >= 64 {
            let ex = std::mem::take(&mut local.extents);
            local.rec.hand_over_extents(ex);
        }
    });
}

/// Records one event, stamped now, when the calling thread is attached.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(crate) fn record(code: u32, inode: u64, folio: u64, op: u64, a: u64, b: u64, fid: u64) {
    LOCAL.with(|l| {
        let Ok(mut l) = l.try_borrow_mut() else {
            return;
        };
        let Some(local) = l.as_mut() else { return };
        let ts_ns = local.clock.read();
        if local.room == 0 {
            if local.buf.len() >= CHUNK {
                local.flush();
            }
            local.room = local.rec.reserve();
            if local.room == 0 {
                local.rec.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if local.buf.capacity() == 0 {
                local.buf.reserve_exact(CHUNK);
            }
        }
        local.room -= 1;
        local.buf.push(Event {
            ts_ns,
            tid: local.tid,
            code,
            inode,
            folio,
            op,
            a,
            b,
            fid,
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::points;
    use crate::probe::schema::{EventKind, LockClass, LockMode};

    #[test]
    fn records_only_when_attached() {
        let rec = Recorder::new(1000);
        points::lock_acquired(LockClass::Inode, LockMode::Exclusive, 1, 0, 0);
        attach(Some(&rec));
        points::lock_acquired(LockClass::Inode, LockMode::Exclusive, 2, 0, 0);
        attach(None);
        points::lock_acquired(LockClass::Inode, LockMode::Exclusive, 3, 0, 0);
        let ev = rec.drain();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].inode, 2);
        assert_eq!(ev[0].kind(), Some(EventKind::LockAcquired));
        assert_eq!(ev[0].lock_class(), Some(LockClass::Inode));
    }

    #[test]
    fn takes_keep_time_order_across_batches() {
        let rec = Recorder::new(1 << 20);
        attach(Some(&rec));
        let mut all = Vec::new();
        for batch in 0..5u64 {
            for i in 0..1000 {
                points::lock_released(LockClass::Folio, LockMode::Exclusive, batch, i, 1);
            }
            flush_current_thread();
            all.extend(rec.take());
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        attach(None);
        assert_eq!(all.len(), 5000);
        // One thread's events, taken in five batches: still in order, and
        // on CLOCK_MONOTONIC.
        assert!(all.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
        let now = crate::probe::now_ns();
        assert!(all
            .iter()
            .all(|e| e.ts_ns <= now && now - e.ts_ns < 10_000_000_000));
        assert!(rec.take().is_empty());
    }

    #[test]
    fn bounded_and_counts_drops_across_threads() {
        // Room is reserved a chunk at a time; with the budget and every
        // thread's events whole chunks, every reserved slot gets used.
        let per_thread = 2 * CHUNK as u64;
        let rec = Recorder::new(3 * CHUNK as u64);
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let rec = rec.clone();
                std::thread::spawn(move || {
                    attach(Some(&rec));
                    for i in 0..per_thread {
                        points::lock_released(LockClass::Folio, LockMode::Exclusive, t, i, 1);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let ev = rec.drain();
        let st = rec.stats();
        assert_eq!(ev.len() as u64, st.recorded);
        assert_eq!(st.recorded + st.dropped, 4 * per_thread);
        assert_eq!(st.recorded, 3 * CHUNK as u64);
        // Per thread, events keep their order.
        for t in 0..4u64 {
            let idx: Vec<u64> = ev
                .iter()
                .filter(|e| e.inode == t)
                .map(|e| e.folio)
                .collect();
            assert!(idx.windows(2).all(|w| w[0] < w[1]));
        }
    }
}

//! Everything the UI has been told about a trace, ingested a batch at a
//! time (a replayed trace arrives the same way as a live one): per-thread
//! lanes of lock, wait, op and folio-event spans; holds with an index that
//! answers "held at t"; ops; the raw events of a recent window; running
//! statistics. Live, the window and the span detail are bounded so memory
//! stays flat however long the run goes.

use super::hist::Hist;
use super::packed::PackedEvents;
use super::spans::SpanList;
use lockline_analysis::holds::{Pairer, Step};
use lockline_analysis::Hold;
use lockline_engine::probe::{Event, EventKind, LockClass, OpKind};
use lockline_harness::history::{OpPairer, OpRecord, OpStep, UNFINISHED};
use std::collections::{HashMap, VecDeque};

/// Lock classes in drawing priority: when several are held in one cell
/// the first wins (the text timeline's order; kernel locks last).
pub const CLASSES: [LockClass; 6] = [
    LockClass::PagecacheBlock,
    LockClass::Inode,
    LockClass::Folio,
    LockClass::PagecacheAdd,
    LockClass::ILock,
    LockClass::Kernel,
];

pub fn class_ix(c: LockClass) -> usize {
    CLASSES.iter().position(|x| *x == c).unwrap_or(5)
}

/// Width of a throughput/events-per-time bucket.
pub const SERIES_NS: u64 = 1_000_000;

/// Spans older than the live window are coarsened so each list keeps
/// about this many spans for the whole summarised past.
const COARSE_SPANS: u64 = 4096;

/// One thread's lane; threads announcing the same role (worker 0 of each
/// round, each mount's flusher) share one.
#[derive(Debug)]
pub struct Lane {
    /// Its threads, the first seen first.
    pub tids: Vec<u32>,
    pub name: String,
    /// Announced by a thread_role event (names from guesses may change).
    pub announced: bool,
    pub held: [SpanList; 6],
    pub wait: [SpanList; 6],
    pub ops: SpanList,
    /// Folio events (added, dirtied, cleaned, writeback, migrated,
    /// truncated, removed) as instants.
    pub marks: SpanList,
    /// Holds in acquisition order; slot = hold_base + position.
    holds: VecDeque<HoldAt>,
    /// pmax[i] = latest release among holds[..=i] that have closed.
    pmax: VecDeque<u64>,
    hold_base: usize,
    /// Slots of holds not yet released.
    open: Vec<usize>,
    pub op_count: u64,
}

/// A hold as a lane keeps it: its times and the arrival index of its
/// acquire event, which holds the rest (class, mode, lock, op): 32 bytes,
/// where a [`Hold`] takes 80.
#[derive(Clone, Copy, Debug)]
struct HoldAt {
    acquired_ns: u64,
    /// [`OPEN`] while held.
    released_ns: u64,
    /// [`NO_WAIT`] when it was granted at once.
    wait_ns: u64,
    event: u64,
}

const OPEN: u64 = u64::MAX;
const NO_WAIT: u64 = u64::MAX;

impl HoldAt {
    /// The whole hold, from its acquire event (as `holds::Pairer` built it).
    fn hold(&self, acquire: &Event) -> Option<Hold> {
        Some(Hold {
            class: acquire.lock_class()?,
            mode: acquire
                .mode()
                .unwrap_or(lockline_engine::probe::LockMode::Exclusive),
            tid: acquire.tid,
            inode: acquire.inode,
            folio: acquire.folio,
            fid: acquire.fid,
            op: acquire.op,
            wait_ns: (self.wait_ns != NO_WAIT).then_some(self.wait_ns),
            acquired_ns: self.acquired_ns,
            released_ns: (self.released_ns != OPEN).then_some(self.released_ns),
        })
    }
}

impl Lane {
    fn new(tid: u32) -> Lane {
        Lane {
            tids: vec![tid],
            name: format!("thread {tid}"),
            announced: false,
            held: Default::default(),
            wait: Default::default(),
            ops: SpanList::new(),
            marks: SpanList::new(),
            holds: VecDeque::new(),
            pmax: VecDeque::new(),
            hold_base: 0,
            open: Vec::new(),
            op_count: 0,
        }
    }

    /// The first thread seen on the lane.
    pub fn tid(&self) -> u32 {
        self.tids[0]
    }

    /// Holds of this lane held at `t` (acquired at or before t, released
    /// after it or not yet) and waits in progress at `t`; `acquire` gives
    /// a hold's acquire event by its arrival index.
    fn at(&self, t: u64, acquire: &dyn Fn(u64) -> Option<Event>, out: &mut Vec<Hold>) {
        let mut push = |h: &HoldAt| {
            if let Some(h) = acquire(h.event).and_then(|e| h.hold(&e)) {
                out.push(h);
            }
        };
        let k = self.holds.partition_point(|h| h.acquired_ns <= t);
        let mut j = k;
        while j > 0 {
            j -= 1;
            let h = &self.holds[j];
            if h.released_ns != OPEN && h.released_ns > t {
                push(h);
            }
            // No closed hold at or before j is released after t.
            if self.pmax[j] <= t {
                break;
            }
        }
        // Open holds are kept apart: pmax cannot bound them.
        for &s in &self.open {
            let h = &self.holds[s - self.hold_base];
            if h.acquired_ns <= t {
                push(h);
            }
        }
        // Waits: holds granted after t whose wait began at or before t.
        for h in self.holds.range(k..).take(64) {
            if h.wait_ns != NO_WAIT && h.wait_ns <= t {
                push(h);
            }
        }
    }

    pub fn holds_len(&self) -> usize {
        self.holds.len()
    }
}

/// An op's end, or `now` while it runs.
pub fn end_or(o: &OpRecord, now: u64) -> u64 {
    if o.finished() {
        o.end_ns
    } else {
        now
    }
}

/// Live bounds. Replay keeps everything.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// Full-resolution events, holds and ops for this much recent time...
    pub keep_ns: u64,
    /// ...but for no more than this many recent events.
    pub keep_events: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_ns: 10_000_000_000,
            keep_events: 1 << 20,
        }
    }
}

#[derive(Debug, Default)]
pub struct Data {
    pub lanes: Vec<Lane>,
    lane_of: HashMap<u32, usize>,
    pairer: Pairer,
    /// Ops in begin order; slot = op_base + position.
    pub ops: VecDeque<OpRecord>,
    op_base: usize,
    op_pairer: OpPairer,
    /// op id → slot of the user op carrying it (not its nested writeback).
    op_slot: HashMap<u64, usize>,
    /// Ops named by violations, kept past eviction.
    pub pinned_ops: HashMap<u64, OpRecord>,
    /// Raw events of the kept window, in arrival order, packed.
    pub events: PackedEvents,
    /// Acquire events of holds still kept whose block the live window
    /// evicted, by arrival index.
    kept_acquires: HashMap<u64, Event>,
    /// Raw events of violation windows, kept past eviction, sorted.
    pub pinned: Vec<Event>,
    pub first_ns: Option<u64>,
    pub last_ns: u64,
    pub total_events: u64,
    pub hold: [Hist; 6],
    pub wait: [Hist; 6],
    pub acquired: [u64; 6],
    pub waited: [u64; 6],
    /// Bytes written (write op ends) and events per SERIES_NS since first_ns.
    pub bytes_series: Vec<u64>,
    pub event_series: Vec<u64>,
    pub inodes: Vec<u64>,
    pub retention: Option<Retention>,
    /// What the bounds summarised away: events dropped from the raw
    /// window, spans merged.
    pub evicted_events: u64,
    pub merged_spans: u64,
    last_trim_ns: u64,
}

impl Data {
    pub fn new(retention: Option<Retention>) -> Data {
        Data {
            retention,
            pairer: Pairer::pruning(),
            ..Data::default()
        }
    }

    fn lane(&mut self, e: &Event) -> usize {
        let tid = e.tid;
        if let Some(&i) = self.lane_of.get(&tid) {
            return i;
        }
        // A thread's first event is its role: join the lane of that role.
        if let Some(name) = lockline_analysis::threads::role_name(e) {
            if let Some(i) = self
                .lanes
                .iter()
                .position(|l| l.announced && l.name == name)
            {
                self.lanes[i].tids.push(tid);
                self.lane_of.insert(tid, i);
                return i;
            }
        }
        let mut l = Lane::new(tid);
        for s in l.held.iter_mut().chain(l.wait.iter_mut()) {
            *s = SpanList::new();
        }
        self.lanes.push(l);
        self.lane_of.insert(tid, self.lanes.len() - 1);
        self.lanes.len() - 1
    }

    pub fn lane_of(&self, tid: u32) -> Option<&Lane> {
        self.lane_ix(tid).map(|i| &self.lanes[i])
    }

    pub fn lane_ix(&self, tid: u32) -> Option<usize> {
        self.lane_of.get(&tid).copied()
    }

    /// Names lanes of threads that did not announce themselves (from
    /// `lockline_analysis::threads::names` over a whole trace).
    pub fn set_names(&mut self, names: &std::collections::BTreeMap<u32, String>) {
        for l in &mut self.lanes {
            if !l.announced {
                if let Some(n) = names.get(&l.tid()) {
                    l.name = n.clone();
                }
            }
        }
    }

    pub fn op(&self, op: u64) -> Option<&OpRecord> {
        match self.op_slot.get(&op) {
            Some(&s) if s >= self.op_base => self.ops.get(s - self.op_base),
            _ => self.pinned_ops.get(&op),
        }
    }

    pub fn ingest(&mut self, batch: &[Event]) {
        for e in batch {
            self.ingest_one(e);
        }
        self.total_events += batch.len() as u64;
        self.trim();
    }

    fn series_add(series: &mut Vec<u64>, first: u64, t: u64, v: u64) {
        let i = (t.saturating_sub(first) / SERIES_NS) as usize;
        if i >= series.len() {
            // A clock far off (a damaged trace) must not allocate the moon.
            if i > 1 << 24 {
                return;
            }
            series.resize(i + 1, 0);
        }
        series[i] += v;
    }

    fn ingest_one(&mut self, e: &Event) {
        let first = *self.first_ns.get_or_insert(e.ts_ns);
        self.last_ns = self.last_ns.max(e.ts_ns);
        Self::series_add(&mut self.event_series, first, e.ts_ns, 1);
        self.events.push(*e);
        let li = self.lane(e);
        let Some(kind) = e.kind() else { return };
        // The inodes the `I` filter cycles through (the first 64 seen).
        if e.inode != 0
            && e.inode != u64::MAX
            && kind != EventKind::ThreadRole
            && self.inodes.len() < 64
            && !self.inodes.contains(&e.inode)
        {
            self.inodes.push(e.inode);
        }
        match kind {
            EventKind::LockWait | EventKind::LockAcquired | EventKind::LockReleased => {
                let lane = &mut self.lanes[li];
                let slot = lane.hold_base + lane.holds.len();
                match self.pairer.push(e, slot) {
                    Step::Acquired(h) => {
                        let c = class_ix(h.class);
                        self.acquired[c] += 1;
                        if let Some(w) = h.wait_ns {
                            self.waited[c] += 1;
                            self.wait[c].add(h.acquired_ns - w);
                            lane.wait[c].insert(w, h.acquired_ns);
                        }
                        let p = lane.pmax.back().copied().unwrap_or(0);
                        lane.holds.push_back(HoldAt {
                            acquired_ns: h.acquired_ns,
                            released_ns: OPEN,
                            wait_ns: h.wait_ns.unwrap_or(NO_WAIT),
                            // Pushed above: the newest event is this one.
                            event: self.events.end_index() - 1,
                        });
                        lane.pmax.push_back(p);
                        lane.open.push(slot);
                    }
                    Step::Released { slot, ts_ns } => {
                        if let Some(o) = lane.open.iter().rposition(|s| *s == slot) {
                            lane.open.swap_remove(o);
                        }
                        if slot >= lane.hold_base {
                            let i = slot - lane.hold_base;
                            let h = &mut lane.holds[i];
                            h.released_ns = ts_ns;
                            // The release names the lock its acquire did.
                            let c = class_ix(e.lock_class().unwrap_or(LockClass::Kernel));
                            self.hold[c].add(ts_ns - h.acquired_ns);
                            lane.held[c].insert(h.acquired_ns, ts_ns);
                            for p in lane.pmax.range_mut(i..) {
                                if *p >= ts_ns {
                                    break;
                                }
                                *p = ts_ns;
                            }
                        }
                    }
                    Step::Nothing => {}
                }
            }
            EventKind::OpBegin | EventKind::OpEnd => {
                let slot = self.op_base + self.ops.len();
                match self.op_pairer.push(e, slot) {
                    OpStep::Began(o) => {
                        if o.op != 0 && o.kind != OpKind::Writeback {
                            self.op_slot.insert(o.op, slot);
                        }
                        self.ops.push_back(o);
                        self.lanes[li].op_count += 1;
                    }
                    // Ops evicted from the window are no longer kept.
                    OpStep::Ended {
                        slot,
                        end_ns,
                        result,
                    } if slot >= self.op_base => {
                        let o = &mut self.ops[slot - self.op_base];
                        o.end_ns = end_ns;
                        o.result = result;
                        self.lanes[li].ops.insert(o.begin_ns, end_ns);
                        if o.kind == OpKind::Write && o.result > 0 {
                            Self::series_add(
                                &mut self.bytes_series,
                                first,
                                end_ns,
                                o.result as u64,
                            );
                        }
                    }
                    _ => {}
                }
            }
            EventKind::ThreadRole => {
                if let Some(n) = lockline_analysis::threads::role_name(e) {
                    let l = &mut self.lanes[li];
                    l.name = n;
                    l.announced = true;
                }
            }
            k if k.is_folio_change() => {
                self.lanes[li].marks.insert(e.ts_ns, e.ts_ns);
            }
            _ => {}
        }
    }

    /// Keeps a live view bounded: raw events, holds and finished ops
    /// older than the window go (violation windows are pinned first),
    /// spans older than it are coarsened.
    fn trim(&mut self) {
        let Some(r) = self.retention else { return };
        let Some(first) = self.first_ns else { return };
        // Once per tenth of the window is enough.
        let over = self.events.len() > r.keep_events + r.keep_events / 8;
        if !over && self.last_ns < self.last_trim_ns + r.keep_ns / 10 {
            return;
        }
        self.last_trim_ns = self.last_ns;
        let mut cutoff = self.last_ns.saturating_sub(r.keep_ns);
        if self.events.len() > r.keep_events {
            if let Some(t) = self.events.ts_from_end(r.keep_events - 1) {
                cutoff = cutoff.max(t);
            }
        }
        if cutoff <= first {
            return;
        }
        for l in &mut self.lanes {
            while l
                .holds
                .front()
                .is_some_and(|h| h.released_ns != OPEN && h.released_ns < cutoff)
            {
                l.holds.pop_front();
                l.pmax.pop_front();
                l.hold_base += 1;
            }
        }
        // Holds that stay keep their acquire events, evicted or not.
        let base = self.events.base_after_evicting(cutoff);
        let mut kept = HashMap::new();
        for h in self.lanes.iter().flat_map(|l| l.holds.iter()) {
            if h.event < base {
                let e = self.kept_acquires.get(&h.event).copied();
                if let Some(e) = e.or_else(|| self.events.get(h.event)) {
                    kept.insert(h.event, e);
                }
            }
        }
        self.kept_acquires = kept;
        self.evicted_events += self.events.evict_before(cutoff) as u64;
        while self
            .ops
            .front()
            .is_some_and(|o| o.end_ns != UNFINISHED && o.end_ns < cutoff)
        {
            let o = self.ops.pop_front().expect("front exists");
            if self.op_slot.get(&o.op) == Some(&self.op_base) {
                self.op_slot.remove(&o.op);
            }
            self.op_base += 1;
        }
        let gap = ((self.last_ns - first) / COARSE_SPANS).max(1_000);
        for l in &mut self.lanes {
            for s in l
                .held
                .iter_mut()
                .chain(l.wait.iter_mut())
                .chain([&mut l.ops, &mut l.marks])
            {
                self.merged_spans += s.coarsen(cutoff, gap) as u64;
            }
        }
    }

    /// Keeps the raw events and ops of [t0, t1] past eviction (a
    /// violation's blame window).
    pub fn pin(&mut self, t0: u64, t1: u64, ops: &[u64]) {
        let mut add = self.events.in_range(t0, t1);
        if add.is_empty() {
            return;
        }
        self.pinned.append(&mut add);
        self.pinned.sort_by_key(|e| (e.ts_ns, e.tid));
        self.pinned.dedup();
        for op in ops {
            if let Some(o) = self.op(*op).cloned() {
                self.pinned_ops.insert(*op, o);
            }
        }
    }

    /// Raw events in [t0, t1], from the window and the pinned windows,
    /// sorted by time.
    pub fn events_in(&self, t0: u64, t1: u64) -> Vec<Event> {
        let mut out = self.events.in_range(t0, t1);
        let lo = self.pinned.partition_point(|e| e.ts_ns < t0);
        let hi = self.pinned.partition_point(|e| e.ts_ns <= t1);
        if lo < hi {
            out.extend_from_slice(&self.pinned[lo..hi]);
            out.sort_by_key(|e| (e.ts_ns, e.tid));
            out.dedup();
        }
        out
    }

    /// Every hold and wait at `t`, lane by lane.
    pub fn at(&self, t: u64) -> Vec<Hold> {
        let acquire = |i: u64| {
            self.events
                .get(i)
                .or_else(|| self.kept_acquires.get(&i).copied())
        };
        let mut out = Vec::new();
        for l in &self.lanes {
            l.at(t, &acquire, &mut out);
        }
        out
    }

    /// Approximate heap use, for the header and the benchmark.
    pub fn bytes(&self) -> usize {
        self.footprint().total()
    }

    /// Approximate heap use, part by part.
    pub fn footprint(&self) -> Footprint {
        let mut f = Footprint {
            events: self.events.bytes() + self.pinned.capacity() * std::mem::size_of::<Event>(),
            ops: self.ops.capacity() * std::mem::size_of::<OpRecord>()
                // A hash map's slot and control byte, at its 7/8 load.
                + (self.op_pairer.open_capacity() + self.op_slot.capacity())
                    * (std::mem::size_of::<(u64, usize)>() + 1)
                    * 8
                    / 7,
            ..Footprint::default()
        };
        for l in &self.lanes {
            f.spans += l
                .held
                .iter()
                .chain(l.wait.iter())
                .chain([&l.ops, &l.marks])
                .map(SpanList::bytes)
                .sum::<usize>();
            f.holds += l.holds.capacity() * (std::mem::size_of::<HoldAt>() + 8);
        }
        f
    }

    /// Returns what growth reserved beyond what is held: a replay calls it
    /// once the whole trace is in.
    pub fn shrink_to_fit(&mut self) {
        self.events.shrink_to_fit();
        self.ops.shrink_to_fit();
        self.op_slot.shrink_to_fit();
        for l in &mut self.lanes {
            l.holds.shrink_to_fit();
            l.pmax.shrink_to_fit();
            for s in l
                .held
                .iter_mut()
                .chain(l.wait.iter_mut())
                .chain([&mut l.ops, &mut l.marks])
            {
                s.shrink_to_fit();
            }
        }
    }
}

/// Heap bytes of the UI's state by part.
#[derive(Clone, Copy, Debug, Default)]
pub struct Footprint {
    pub events: usize,
    pub holds: usize,
    pub spans: usize,
    pub ops: usize,
}

impl Footprint {
    pub fn total(&self) -> usize {
        self.events + self.holds + self.spans + self.ops
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockline_engine::probe::{Code, LockMode};

    pub fn ev(ts: u64, tid: u32, kind: EventKind, class: u8, folio: u64, op: u64) -> Event {
        Event {
            ts_ns: ts,
            tid,
            code: Code::pack(kind, class, LockMode::Exclusive as u8),
            inode: 2,
            folio,
            op,
            a: 0,
            b: 0,
            fid: if folio == u64::MAX { 0 } else { folio + 1 },
        }
    }

    fn lock(ts: u64, tid: u32, kind: EventKind, class: LockClass, folio: u64) -> Event {
        ev(ts, tid, kind, class as u8, folio, 1)
    }

    #[test]
    fn holds_and_waits_at_an_instant() {
        use EventKind::*;
        let f = LockClass::Folio;
        let mut d = Data::new(None);
        d.ingest(&[
            lock(10, 1, LockAcquired, LockClass::Inode, u64::MAX),
            lock(20, 1, LockAcquired, f, 0),
            lock(25, 2, LockWait, f, 0),
            lock(30, 1, LockReleased, f, 0),
            lock(31, 2, LockAcquired, f, 0),
            lock(40, 2, LockReleased, f, 0),
        ]);
        let at = |t| {
            let mut v: Vec<_> = d
                .at(t)
                .into_iter()
                .map(|h| (h.tid, h.class, h.acquired_ns <= t))
                .collect();
            v.sort_by_key(|x| (x.0, x.1));
            v
        };
        assert_eq!(at(5), vec![]);
        // Thread 1 holds the inode lock (still open) and the folio.
        assert_eq!(
            at(27),
            vec![(1, LockClass::Inode, true), (1, f, true), (2, f, false)]
        );
        assert_eq!(at(35), vec![(1, LockClass::Inode, true), (2, f, true)]);
        assert_eq!(at(45), vec![(1, LockClass::Inode, true)]);
        let l = d.lane_of(2).unwrap();
        assert_eq!(l.wait[class_ix(f)].cover(0, 100).busy, 6);
        assert_eq!(l.held[class_ix(f)].cover(0, 100).busy, 9);
        assert_eq!(d.hold[class_ix(f)].count, 2);
        assert_eq!(d.waited[class_ix(f)], 1);
    }

    /// A lock held across the live window's eviction is still shown whole
    /// at the cursor, though the block with its acquire event is gone.
    #[test]
    fn a_hold_outlives_the_eviction_of_its_acquire_event() {
        use EventKind::*;
        let mut d = Data::new(Some(Retention {
            keep_ns: 1_000,
            keep_events: 1 << 20,
        }));
        let mut first = lock(10, 1, LockAcquired, LockClass::Inode, u64::MAX);
        first.op = 77;
        d.ingest(&[first]);
        for i in 0..20u64 {
            let batch: Vec<Event> = (0..100u64)
                .flat_map(|k| {
                    let t = 100 + (i * 100 + k) * 50;
                    [
                        lock(t, 2, LockAcquired, LockClass::Folio, k),
                        lock(t + 20, 2, LockReleased, LockClass::Folio, k),
                    ]
                })
                .collect();
            d.ingest(&batch);
        }
        assert!(d.evicted_events > 1000, "{}", d.evicted_events);
        let at = d.at(d.last_ns);
        let h = at.iter().find(|h| h.tid == 1).expect("thread 1's hold");
        assert_eq!(
            (h.class, h.op, h.acquired_ns, h.released_ns),
            (LockClass::Inode, 77, 10, None)
        );
    }

    #[test]
    fn ops_pair_and_live_retention_bounds_the_window() {
        use EventKind::*;
        let mut d = Data::new(Some(Retention {
            keep_ns: 1_000,
            keep_events: 1 << 20,
        }));
        let mut batch = Vec::new();
        for i in 0..1000u64 {
            let t = i * 100;
            let mut b = ev(t, 7, OpBegin, OpKind::Write as u8, u64::MAX, i + 1);
            b.b = 4096;
            let mut e = ev(t + 50, 7, OpEnd, OpKind::Write as u8, u64::MAX, i + 1);
            e.b = 4096;
            batch.push(b);
            batch.push(lock(t + 10, 7, LockAcquired, LockClass::Folio, i));
            batch.push(lock(t + 40, 7, LockReleased, LockClass::Folio, i));
            batch.push(e);
        }
        for c in batch.chunks(100) {
            d.ingest(c);
        }
        assert_eq!(d.total_events, 4000);
        // Only about a window's worth of raw events stays (evicted a
        // packed block at a time).
        assert!(
            d.events.len() < 100 + super::super::packed::BLOCK,
            "{}",
            d.events.len()
        );
        assert_eq!(d.evicted_events + d.events.len() as u64, 4000);
        assert!(d.lanes[0].holds_len() < 30);
        assert!(d.ops.len() < 30);
        // Busy time is kept exactly by the coarse spans.
        assert_eq!(
            d.lanes[0].held[class_ix(LockClass::Folio)]
                .cover(0, u64::MAX / 2)
                .busy,
            30_000
        );
        assert_eq!(d.lanes[0].ops.cover(0, u64::MAX / 2).count, 1000);
        assert!(d.merged_spans > 0);
        assert_eq!(d.bytes_series.iter().sum::<u64>(), 4096 * 1000);
        assert!(d.op(1000).is_some());
        assert!(d.op(1).is_none());
    }
}

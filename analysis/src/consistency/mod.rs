//! A trace's own impossibilities: overlapping exclusive holds, releases never acquired, time running backwards.

use crate::trace::Trace;
use lockline_engine::probe::{Event, EventKind, LockClass, LockMode, NO_FID};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Each rule's name and what it catches, in the order `counts` lists them.
pub const RULES: &[(&str, &str)] = &[
    (
        "exclusive-overlap",
        "two threads hold an exclusive lock (inode, i_lock or folio) at once",
    ),
    (
        "add-block-overlap",
        "the pagecache add and block sides of one inode are held at once",
    ),
    (
        "release-without-acquire",
        "a thread releases a lock it does not hold",
    ),
    ("op-ends-before-begins", "an op ends before it begins"),
    (
        "time-backwards",
        "a thread's event is stored after a later event of the same thread",
    ),
];

const EXCLUSIVE_OVERLAP: usize = 0;
const ADD_BLOCK_OVERLAP: usize = 1;
const RELEASE_WITHOUT_ACQUIRE: usize = 2;
const OP_ENDS_BEFORE_BEGINS: usize = 3;
const TIME_BACKWARDS: usize = 4;

/// Findings kept per rule; the counts go on past it.
pub const MAX_PER_RULE: usize = 1000;

/// One thing the trace says happened that cannot have.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Impossibility {
    pub rule: &'static str,
    /// The window the finding casts doubt on.
    pub begin_ns: u64,
    pub end_ns: u64,
    pub tids: Vec<u32>,
    pub inode: u64,
    /// Folio index, when the finding is about a folio lock.
    pub folio: Option<u64>,
    /// Folio identity, when the trace carries one.
    pub fid: Option<u64>,
    /// Indices into the trace's events: the acquires, releases or
    /// out-of-order events involved.
    pub events: Vec<u64>,
    pub op: Option<u64>,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Consistency {
    /// Each rule's first [`MAX_PER_RULE`] findings in trace order, sorted
    /// by begin time.
    pub findings: Vec<Impossibility>,
    /// Every rule with its full count, in [`RULES`] order.
    pub counts: Vec<(&'static str, u64)>,
    pub lost_events: u64,
    /// Sorted, merged [begin_ns, end_ns] windows of every finding, those
    /// past the per-rule cap included.
    pub untrusted: Vec<(u64, u64)>,
}

impl Consistency {
    pub fn is_clean(&self) -> bool {
        self.total() == 0
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }

    /// True when [begin_ns, end_ns] intersects an untrusted window.
    pub fn overlaps(&self, begin_ns: u64, end_ns: u64) -> bool {
        // Merged windows are disjoint, so their ends ascend with their begins.
        let i = self.untrusted.partition_point(|w| w.1 < begin_ns);
        self.untrusted.get(i).is_some_and(|w| w.0 <= end_ns)
    }

    /// One line for the top of a report.
    pub fn summary_line(&self, events: usize) -> String {
        let lost = if self.lost_events > 0 {
            format!(" ({} lost events)", self.lost_events)
        } else {
            String::new()
        };
        if self.is_clean() {
            return format!("consistent: 0 impossibilities in {events} events{lost}");
        }
        let parts: Vec<String> = self
            .counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{n} {name}"))
            .collect();
        format!("INCONSISTENT: {}{lost}", parts.join(", "))
    }
}

/// Runs every rule over `trace` in one pass over its events. On an engine
/// trace any finding is a recorder bug; on a kernel trace with lost events
/// the findings' windows are where the trace cannot be trusted.
pub fn check(trace: &Trace) -> Consistency {
    let mut c = Checker::new(&trace.events);
    c.events_pass();
    c.ops_pass(trace);
    c.finish(trace.meta.lost_events)
}

/// FxHash's multiply-rotate. The keys are a few small integers, and
/// SipHash's flood resistance buys nothing on a trace while costing half
/// of a 10 M-event pass.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Fx {
    #[inline]
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, x: u8) {
        self.add(x as u64);
    }
    fn write_u32(&mut self, x: u32) {
        self.add(x as u64);
    }
    fn write_u64(&mut self, x: u64) {
        self.add(x);
    }
    fn write_usize(&mut self, x: usize) {
        self.add(x as u64);
    }
    fn write_isize(&mut self, x: isize) {
        self.add(x as u64);
    }
    fn finish(&self) -> u64 {
        // The product's high bits are the well-mixed ones; the table
        // indexes by the low bits (folio indices are multiples of 16).
        self.0.rotate_left(26)
    }
}

type Map<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// One lock instance. The two sides of a lock share one instance: the
/// inode lock's exclusive (0) and shared (1) holders, the pagecache lock's
/// add (0) and block (1) holders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum LockId {
    Inode(u64),
    ILock(u64),
    Pagecache(u64),
    /// (inode, fid): migration puts two folios at one index, each its own lock.
    FolioFid(u64, u64),
    /// (inode, index), for traces without folio identities.
    FolioIndex(u64, u64),
}

impl LockId {
    /// The lock and side a lock event names; None for kernel locks, which
    /// say nothing about exclusivity.
    fn of(e: &Event) -> Option<(LockId, usize)> {
        Some(match e.lock_class()? {
            LockClass::Inode => (
                LockId::Inode(e.inode),
                usize::from(e.mode() == Some(LockMode::Shared)),
            ),
            LockClass::ILock => (LockId::ILock(e.inode), 0),
            LockClass::PagecacheAdd => (LockId::Pagecache(e.inode), 0),
            LockClass::PagecacheBlock => (LockId::Pagecache(e.inode), 1),
            LockClass::Folio if e.fid != NO_FID => (LockId::FolioFid(e.inode, e.fid), 0),
            LockClass::Folio => (LockId::FolioIndex(e.inode, e.folio), 0),
            LockClass::Kernel => return None,
        })
    }

    /// The sides a new holder on `side` must not meet.
    fn rivals(self, side: usize) -> &'static [usize] {
        match (self, side) {
            (LockId::Inode(_), 0) => &[0, 1],
            (LockId::Pagecache(_), 0) => &[1],
            (LockId::Pagecache(_), _) => &[0],
            _ => &[0],
        }
    }

    /// Whether one thread on both rival sides is itself impossible: it is
    /// for add and block (the engine never nests them), not for an
    /// exclusive lock a thread takes again.
    fn self_exclusive(self) -> bool {
        matches!(self, LockId::Pagecache(_))
    }

    fn rule(self) -> usize {
        match self {
            LockId::Pagecache(_) => ADD_BLOCK_OVERLAP,
            _ => EXCLUSIVE_OVERLAP,
        }
    }
}

/// How a lock event names its lock in a message.
fn lock_name(e: &Event) -> String {
    let ino = e.inode;
    match e.lock_class() {
        Some(LockClass::Inode) if e.mode() == Some(LockMode::Shared) => {
            format!("shared inode lock of inode {ino}")
        }
        Some(LockClass::Inode) => format!("inode lock of inode {ino}"),
        Some(LockClass::ILock) => format!("i_lock of inode {ino}"),
        Some(LockClass::PagecacheAdd) => format!("pagecache add lock of inode {ino}"),
        Some(LockClass::PagecacheBlock) => format!("pagecache block lock of inode {ino}"),
        Some(LockClass::Folio) if e.fid != NO_FID => {
            format!(
                "folio lock of inode {ino} index {} (fid {})",
                e.folio, e.fid
            )
        }
        Some(LockClass::Folio) => format!("folio lock of inode {ino} index {}", e.folio),
        _ => format!("lock of inode {ino}"),
    }
}

fn fmt_ns(ns: u64) -> String {
    if ns < 100_000 {
        format!("{ns} ns")
    } else {
        format!("{:.3} ms", ns as f64 / 1e6)
    }
}

const NIL: u32 = u32::MAX;
/// End of a window whose overlap has not ended yet.
const OPEN: u64 = u64::MAX;

/// One thread's hold of one side of a lock, from its first acquire to its
/// last release; a slot in a per-side singly linked list.
#[derive(Clone, Copy)]
struct Slot {
    tid: u32,
    count: u32,
    next: u32,
    /// Index of the first acquire: names the hold for the overlaps it is in.
    event: u64,
}

struct Checker<'a> {
    events: &'a [Event],
    /// Heads of each lock's side lists; an entry lives while anyone holds it.
    locks: Map<LockId, [u32; 2]>,
    /// Holds, reused through `free` so a hold costs no allocation.
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// tid → (ts, index) of its last event in stored order.
    last: Map<u32, (u64, u64)>,
    /// Hold (first acquire's index) → overlaps it is in that may still be
    /// open: (window index, finding index). Empty on a clean trace.
    pending: Map<u64, Vec<(usize, Option<usize>)>>,
    windows: Vec<(u64, u64)>,
    findings: Vec<Impossibility>,
    counts: [u64; 5],
    kept: [usize; 5],
    /// Scratch for [`Checker::group`], kept to spare an allocation per instant.
    partner: Vec<u32>,
    end_ns: u64,
}

impl<'a> Checker<'a> {
    fn new(events: &'a [Event]) -> Checker<'a> {
        Checker {
            events,
            locks: Map::default(),
            slots: Vec::new(),
            free: Vec::new(),
            last: Map::default(),
            pending: Map::default(),
            windows: Vec::new(),
            findings: Vec::new(),
            counts: [0; 5],
            kept: [0; 5],
            partner: Vec::new(),
            end_ns: 0,
        }
    }

    /// Counts a finding and its window; builds the finding only while the
    /// rule is under its cap, so a broken trace costs no message per event.
    fn record(
        &mut self,
        rule: usize,
        window: (u64, u64),
        make: impl FnOnce() -> Impossibility,
    ) -> (usize, Option<usize>) {
        self.counts[rule] += 1;
        self.windows.push(window);
        let kept = (self.kept[rule] < MAX_PER_RULE).then(|| {
            self.kept[rule] += 1;
            self.findings.push(make());
            self.findings.len() - 1
        });
        (self.windows.len() - 1, kept)
    }

    fn events_pass(&mut self) {
        let events = self.events;
        let mut i = 0;
        while i < events.len() {
            let ts = events[i].ts_ns;
            let mut j = i + 1;
            while j < events.len() && events[j].ts_ns == ts {
                j += 1;
            }
            for k in i..j {
                self.clock(k);
            }
            if j - i == 1 {
                self.lock_event(i);
            } else {
                self.group(i, j);
            }
            i = j;
        }
    }

    fn clock(&mut self, k: usize) {
        let events = self.events;
        let e = &events[k];
        self.end_ns = self.end_ns.max(e.ts_ns);
        let Some((prev_ts, prev)) = self.last.insert(e.tid, (e.ts_ns, k as u64)) else {
            return;
        };
        if e.ts_ns >= prev_ts {
            return;
        }
        let (ts, tid) = (e.ts_ns, e.tid);
        let (inode, op) = (e.inode, e.op);
        self.record(TIME_BACKWARDS, (ts, prev_ts), || Impossibility {
            rule: RULES[TIME_BACKWARDS].0,
            begin_ns: ts,
            end_ns: prev_ts,
            tids: vec![tid],
            inode,
            folio: None,
            fid: None,
            events: vec![prev, k as u64],
            op: (op != 0).then_some(op),
            message: format!(
                "tid {tid}'s event {k} is stored after its event {prev} but is {} earlier",
                fmt_ns(prev_ts - ts)
            ),
        });
    }

    /// Events at one instant are ordered only by tid, which says nothing
    /// about which came first, so the instant is replayed in the order
    /// that overlaps least: releases of holds taken before it, then holds
    /// begun and ended within it (each thread's acquire with its own
    /// release), then acquires of holds that outlast it. A hand-off inside
    /// one nanosecond is then no overlap, whatever the tids.
    fn group(&mut self, i: usize, j: usize) {
        let events = self.events;
        let group = &events[i..j];
        let lock_of = |e: &Event| match e.kind() {
            Some(EventKind::LockAcquired) => LockId::of(e).map(|l| (true, l)),
            Some(EventKind::LockReleased) => LockId::of(e).map(|l| (false, l)),
            _ => None,
        };
        // partner[n]: the other end of a hold begun and ended in the instant.
        let mut partner = std::mem::take(&mut self.partner);
        partner.clear();
        partner.resize(group.len(), NIL);
        if group.len() <= 16 {
            for (n, e) in group.iter().enumerate() {
                let Some((false, lock)) = lock_of(e) else {
                    continue;
                };
                // The latest unmatched acquire: shared holds nest.
                if let Some(m) = (0..n).rev().find(|&m| {
                    partner[m] == NIL
                        && group[m].tid == e.tid
                        && lock_of(&group[m]) == Some((true, lock))
                }) {
                    partner[m] = n as u32;
                    partner[n] = m as u32;
                }
            }
        } else {
            // A broken clock stamping everything alike must stay linear.
            let mut open: Map<(u32, LockId, usize), Vec<u32>> = Map::default();
            for (n, e) in group.iter().enumerate() {
                match lock_of(e) {
                    Some((true, (lock, side))) => {
                        open.entry((e.tid, lock, side)).or_default().push(n as u32)
                    }
                    Some((false, (lock, side))) => {
                        if let Some(m) = open.get_mut(&(e.tid, lock, side)).and_then(Vec::pop) {
                            partner[m as usize] = n as u32;
                            partner[n] = m;
                        }
                    }
                    None => {}
                }
            }
        }
        for (n, e) in group.iter().enumerate() {
            if let Some((false, (lock, side))) = lock_of(e) {
                if partner[n] == NIL {
                    self.release(i + n, lock, side);
                }
            }
        }
        for (n, e) in group.iter().enumerate() {
            if let Some((true, (lock, side))) = lock_of(e) {
                if partner[n] != NIL {
                    self.acquire(i + n, lock, side);
                    self.release(i + partner[n] as usize, lock, side);
                }
            }
        }
        for (n, e) in group.iter().enumerate() {
            if let Some((true, (lock, side))) = lock_of(e) {
                if partner[n] == NIL {
                    self.acquire(i + n, lock, side);
                }
            }
        }
        self.partner = partner;
    }

    fn lock_event(&mut self, k: usize) {
        let e = &self.events[k];
        let kind = e.kind();
        if !matches!(
            kind,
            Some(EventKind::LockAcquired | EventKind::LockReleased)
        ) {
            return;
        }
        let Some((lock, side)) = LockId::of(e) else {
            return;
        };
        if kind == Some(EventKind::LockAcquired) {
            self.acquire(k, lock, side);
        } else {
            self.release(k, lock, side);
        }
    }

    fn acquire(&mut self, k: usize, lock: LockId, side: usize) {
        let tid = self.events[k].tid;
        let heads = self.locks.entry(lock).or_insert([NIL, NIL]);
        let mut s = heads[side];
        while s != NIL {
            let slot = &mut self.slots[s as usize];
            if slot.tid == tid {
                // Shared locks nest; the hold's overlaps were found when it began.
                slot.count += 1;
                return;
            }
            s = slot.next;
        }
        let slot = Slot {
            tid,
            count: 1,
            next: heads[side],
            event: k as u64,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        heads[side] = id;
        let heads = *heads;
        for &rival in lock.rivals(side) {
            let mut s = heads[rival];
            while s != NIL {
                let other = self.slots[s as usize];
                if s != id && (other.tid != tid || lock.self_exclusive()) {
                    self.overlap(lock, rival, other, side, k);
                }
                s = other.next;
            }
        }
    }

    /// A new hold (event `k`, on `side`) meets `other`'s hold (on
    /// `other_side`): the window opens now and closes at the first of the
    /// two releases.
    fn overlap(&mut self, lock: LockId, other_side: usize, other: Slot, side: usize, k: usize) {
        let events = self.events;
        let e = &events[k];
        let first = &events[other.event as usize];
        let (ts, tid) = (e.ts_ns, e.tid);
        let (a, b) = (other.tid, tid);
        let message = || {
            let name = lock_name(e);
            match lock {
                LockId::Pagecache(ino) if a == b => {
                    format!("pagecache lock of inode {ino} held for both add and block by tid {a}")
                }
                LockId::Pagecache(ino) => {
                    let (add, block) = if side == 0 { (b, a) } else { (a, b) };
                    format!(
                        "pagecache lock of inode {ino} held for add by tid {add} and for block by tid {block} at once"
                    )
                }
                LockId::Inode(ino) if side != other_side => {
                    let (x, s) = if side == 0 { (b, a) } else { (a, b) };
                    format!(
                        "inode lock of inode {ino} held exclusively by tid {x} and shared by tid {s} at once"
                    )
                }
                _ => format!("{name} held by tids {a} and {b} at once"),
            }
        };
        let rule = lock.rule();
        let folio =
            matches!(lock, LockId::FolioFid(..) | LockId::FolioIndex(..)).then_some(e.folio);
        let fid = (folio.is_some() && e.fid != NO_FID).then_some(e.fid);
        let op = [e.op, first.op].into_iter().find(|&o| o != 0);
        let inode = e.inode;
        let hold = other.event;
        let entry = self.record(rule, (ts, OPEN), || Impossibility {
            rule: RULES[rule].0,
            begin_ns: ts,
            end_ns: OPEN,
            tids: if a == b { vec![a] } else { vec![a, b] },
            inode,
            folio,
            fid,
            events: vec![hold, k as u64],
            op,
            message: message(),
        });
        self.pending.entry(hold).or_default().push(entry);
        self.pending.entry(k as u64).or_default().push(entry);
    }

    fn release(&mut self, k: usize, lock: LockId, side: usize) {
        let events = self.events;
        let e = &events[k];
        let (ts, tid) = (e.ts_ns, e.tid);
        // The inode lock's mode does not name the lock: a release in the
        // other mode still ends the thread's hold.
        let sides: &[usize] = match lock {
            LockId::Inode(_) => &[side, 1 - side],
            _ => &[side],
        };
        if let Some(heads) = self.locks.get_mut(&lock) {
            for &side in sides {
                let (mut prev, mut s) = (NIL, heads[side]);
                while s != NIL && self.slots[s as usize].tid != tid {
                    prev = s;
                    s = self.slots[s as usize].next;
                }
                if s == NIL {
                    continue;
                }
                let slot = &mut self.slots[s as usize];
                slot.count -= 1;
                if slot.count > 0 {
                    return;
                }
                let (next, hold) = (slot.next, slot.event);
                if prev == NIL {
                    heads[side] = next;
                } else {
                    self.slots[prev as usize].next = next;
                }
                self.free.push(s);
                if *heads == [NIL, NIL] {
                    self.locks.remove(&lock);
                }
                if !self.pending.is_empty() {
                    if let Some(open) = self.pending.remove(&hold) {
                        for (w, f) in open {
                            self.close(w, f, ts, Some(k as u64));
                        }
                    }
                }
                return;
            }
        }
        let (inode, op) = (e.inode, e.op);
        let is_folio = e.lock_class() == Some(LockClass::Folio);
        let (folio, fid) = (e.folio, e.fid);
        self.record(RELEASE_WITHOUT_ACQUIRE, (ts, ts), || Impossibility {
            rule: RULES[RELEASE_WITHOUT_ACQUIRE].0,
            begin_ns: ts,
            end_ns: ts,
            tids: vec![tid],
            inode,
            folio: is_folio.then_some(folio),
            fid: (is_folio && fid != NO_FID).then_some(fid),
            events: vec![k as u64],
            op: (op != 0).then_some(op),
            message: format!("tid {tid} releases the {} without holding it", lock_name(e)),
        });
    }

    /// Ends an overlap's window at `ts` unless the other hold's release
    /// already did.
    fn close(&mut self, w: usize, f: Option<usize>, ts: u64, release: Option<u64>) {
        if self.windows[w].1 != OPEN {
            return;
        }
        let begin = self.windows[w].0;
        let end = ts.max(begin);
        self.windows[w].1 = end;
        if let Some(f) = f {
            let f = &mut self.findings[f];
            f.end_ns = end;
            match release {
                Some(r) => {
                    f.events.push(r);
                    f.message += &format!(" for {}", fmt_ns(end - begin));
                }
                None => {
                    f.message += &format!(
                        " for at least {} (still held when the trace ends)",
                        fmt_ns(end - begin)
                    )
                }
            }
        }
    }

    fn ops_pass(&mut self, trace: &Trace) {
        for o in &trace.ops {
            if !o.finished() || o.end_ns >= o.begin_ns {
                continue;
            }
            let events = self.events;
            let find = |ts: u64, kind: EventKind| {
                let from = events.partition_point(|e| e.ts_ns < ts);
                events[from..]
                    .iter()
                    .take_while(|e| e.ts_ns == ts)
                    .position(|e| e.kind() == Some(kind) && e.op == o.op && e.tid == o.tid)
                    .map(|n| (from + n) as u64)
            };
            self.record(OP_ENDS_BEFORE_BEGINS, (o.end_ns, o.begin_ns), || {
                Impossibility {
                    rule: RULES[OP_ENDS_BEFORE_BEGINS].0,
                    begin_ns: o.end_ns,
                    end_ns: o.begin_ns,
                    tids: vec![o.tid],
                    inode: o.ino,
                    folio: None,
                    fid: None,
                    events: [
                        find(o.begin_ns, EventKind::OpBegin),
                        find(o.end_ns, EventKind::OpEnd),
                    ]
                    .into_iter()
                    .flatten()
                    .collect(),
                    op: Some(o.op),
                    message: format!(
                        "op {} ({}, tid {}) ends {} before it begins",
                        o.op,
                        o.kind,
                        o.tid,
                        fmt_ns(o.begin_ns - o.end_ns)
                    ),
                }
            });
        }
    }

    fn finish(mut self, lost_events: u64) -> Consistency {
        // Overlaps still open ran to the end of the trace.
        let open: Vec<(usize, Option<usize>)> = self.pending.drain().flat_map(|(_, v)| v).collect();
        for (w, f) in open {
            self.close(w, f, self.end_ns, None);
        }
        let mut findings = self.findings;
        findings.sort_by_key(|f| (f.begin_ns, f.end_ns));
        let mut windows = self.windows;
        windows.sort_unstable();
        let mut untrusted: Vec<(u64, u64)> = Vec::new();
        for (b, e) in windows {
            match untrusted.last_mut() {
                // Inclusive integer windows: touching ones cover one range.
                Some(last) if b <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => untrusted.push((b, e)),
            }
        }
        Consistency {
            findings,
            counts: RULES
                .iter()
                .zip(self.counts)
                .map(|(r, n)| (r.0, n))
                .collect(),
            lost_events,
            untrusted,
        }
    }
}

#[cfg(test)]
mod tests;

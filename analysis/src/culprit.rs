//! The culprit of a violation: follows the lost data from the op that
//! dirtied its folio to that folio's fate (written back, truncated or
//! removed while dirty, migrated away under the writer) and names the
//! event that lost it, with an Eraser-style lockset statement: the locks
//! the culprit's thread held, the locks the victim held, and whether the
//! two sets share a lock that should have kept them apart.
//!
//! A blame window ends when the involved ops end; the culprit can come
//! later (a truncation after the write returned), so the window is widened
//! to include it.

use crate::holds::{holds_from_events, Hold};
use crate::threads;
use crate::trace::{Trace, ViolationRow};
use lockline_engine::config::PAGE_SHIFT;
use lockline_engine::probe::{Event, EventKind, LockClass, LockMode, OpKind};
use lockline_harness::history::OpRecord;
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use std::collections::BTreeMap;

/// Sectors per page.
const SECTORS_PER_PAGE: u64 = 1 << (PAGE_SHIFT - 9);

/// One lock in a lockset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LockRef {
    pub class: LockClass,
    pub mode: LockMode,
    pub inode: u64,
    /// Folio identity for folio locks, 0 otherwise.
    pub fid: u64,
}

impl LockRef {
    fn of(h: &Hold) -> LockRef {
        LockRef {
            class: h.class,
            mode: h.mode,
            inode: h.inode,
            fid: if h.class == LockClass::Folio {
                h.fid
            } else {
                0
            },
        }
    }

    pub fn describe(&self) -> String {
        match self.class {
            LockClass::Folio => format!("folio #{}", self.fid),
            LockClass::ILock => "i_lock".into(),
            LockClass::Inode => format!("inode {}", self.mode),
            c => format!("{c} {}", self.mode),
        }
    }

    /// Whether holding `self` keeps a holder of `other` out: the same lock
    /// with one side exclusive, or the two sides of the two-state lock.
    pub fn excludes(&self, other: &LockRef) -> bool {
        if self.inode != other.inode {
            return false;
        }
        use LockClass::{PagecacheAdd, PagecacheBlock};
        if matches!(
            (self.class, other.class),
            (PagecacheAdd, PagecacheBlock) | (PagecacheBlock, PagecacheAdd)
        ) {
            return true;
        }
        self.class == other.class
            && self.fid == other.fid
            && (self.mode == LockMode::Exclusive || other.mode == LockMode::Exclusive)
    }
}

/// What the culprit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fate {
    /// The folio was truncated from the page cache with the data dirty.
    TruncatedWhileDirty,
    /// The folio left the page cache (reclaim, migration's old copy) dirty.
    RemovedWhileDirty,
    /// The folio was migrated (or truncated, removed) while the victim was
    /// still writing into it: the copy went to a folio nobody reads.
    RemovedUnderWriter,
    /// The folio was migrated by a thread not holding its folio lock: the
    /// copy to the new folio ran unsynchronised with the write.
    MigratedUnlocked,
    /// The dirty flag was cleared with no writeback snapshot after the
    /// write's data went in (a writeback that copied first and cleared
    /// later, or one that skipped the folio): nothing will write the data.
    CleanedUnwritten,
    /// Two writes interleaved on one folio with no common exclusive lock.
    Interleaved,
    /// Cut data came back: a writeback IO carried the write's bytes to disk
    /// while a truncate or punch cut them (the IO was in flight across the
    /// cut), and the cut left its blocks behind.
    WrittenBackAcrossCut,
    /// Cut data came back: the page cache read it from a disk block the
    /// cut should have freed or zeroed.
    ReadCutBlock,
}

impl Fate {
    fn verb(self) -> &'static str {
        match self {
            Fate::TruncatedWhileDirty => "truncated the still-dirty folio",
            Fate::RemovedWhileDirty => "removed the still-dirty folio",
            Fate::RemovedUnderWriter => "took the folio out of the page cache while the write was copying into it",
            Fate::MigratedUnlocked => "migrated the folio without its folio lock, copying it unsynchronised with the write",
            Fate::CleanedUnwritten => "cleared the folio's dirty flag without writing the write's data",
            Fate::Interleaved => "wrote the same folio while the other write was in flight",
            Fate::WrittenBackAcrossCut => "wrote the folio's data to disk while the cut was in progress, and the cut left its blocks",
            Fate::ReadCutBlock => "read the cut bytes back into the page cache from a disk block the cut left",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Culprit {
    pub violation: u32,
    pub fate: Fate,
    /// Index of the culprit event in the trace's events.
    pub event: u64,
    pub ts_ns: u64,
    pub tid: u32,
    pub thread: String,
    /// The culprit's op (0: background work) and its kind.
    pub op: u64,
    pub op_kind: Option<OpKind>,
    pub folio: u64,
    pub fid: u64,
    pub locks: Vec<LockRef>,
    /// The op whose data was lost (dropped, stale) or the other writer (torn).
    pub victim_op: u64,
    pub victim_tid: u32,
    pub victim_thread: String,
    pub victim_locks: Vec<LockRef>,
    /// Locks of the two sets that exclude each other; empty: nothing kept
    /// the two apart.
    pub common_exclusive: Vec<String>,
    /// One line for the report.
    pub line: String,
}

/// Everything the search needs, built once per trace.
pub struct Index<'a> {
    trace: &'a Trace,
    holds_by_tid: HashMap<u32, Vec<Hold>>,
    ops: HashMap<u64, &'a OpRecord>,
    names: BTreeMap<u32, String>,
    /// Folio event indices per (inode, fid), in time order.
    by_fid: HashMap<(u64, u64), Vec<usize>>,
    /// FolioDirtied event indices per op.
    dirtied_by_op: HashMap<u64, Vec<usize>>,
}

impl<'a> Index<'a> {
    pub fn new(trace: &'a Trace) -> Index<'a> {
        let mut holds_by_tid: HashMap<u32, Vec<Hold>> = HashMap::default();
        for h in holds_from_events(&trace.events) {
            holds_by_tid.entry(h.tid).or_default().push(h);
        }
        let mut by_fid: HashMap<(u64, u64), Vec<usize>> = HashMap::default();
        let mut dirtied_by_op: HashMap<u64, Vec<usize>> = HashMap::default();
        for (i, e) in trace.events.iter().enumerate() {
            let Some(k) = e.kind() else { continue };
            if !k.is_folio_change() || e.fid == 0 {
                continue;
            }
            by_fid.entry((e.inode, e.fid)).or_default().push(i);
            if k == EventKind::FolioDirtied && e.op != 0 {
                dirtied_by_op.entry(e.op).or_default().push(i);
            }
        }
        Index {
            trace,
            holds_by_tid,
            ops: trace.ops.iter().map(|o| (o.op, o)).collect(),
            names: threads::names(&trace.events),
            by_fid,
            dirtied_by_op,
        }
    }

    fn name(&self, tid: u32) -> String {
        self.names
            .get(&tid)
            .cloned()
            .unwrap_or_else(|| format!("thread {tid}"))
    }

    /// Locks `tid` held at `ts` (holds are in acquisition order per thread).
    fn lockset(&self, tid: u32, ts: u64) -> Vec<LockRef> {
        self.held_throughout(tid, ts, ts)
    }

    /// Locks `tid` held without a break from `from` to `to`: what protects
    /// everything the thread did in between (a lock released and taken
    /// again in between protects nothing across the gap).
    /// Whether `tid` held folio `fid`'s lock at `ts`.
    fn holds_folio(&self, tid: u32, ts: u64, fid: u64) -> bool {
        self.lockset(tid, ts)
            .iter()
            .any(|l| l.class == LockClass::Folio && l.fid == fid)
    }

    fn held_throughout(&self, tid: u32, from: u64, to: u64) -> Vec<LockRef> {
        let Some(hs) = self.holds_by_tid.get(&tid) else {
            return Vec::new();
        };
        let upto = hs.partition_point(|h| h.acquired_ns <= from);
        let mut out: Vec<LockRef> = hs[..upto]
            .iter()
            .filter(|h| h.released_ns.is_none_or(|r| r >= to))
            .filter(|h| h.class != LockClass::Kernel)
            .map(LockRef::of)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The sectors (absolute, 512 B) a FolioDirtied event made dirty.
    fn dirtied_sectors(e: &Event) -> (u64, u64) {
        let first = e.folio * SECTORS_PER_PAGE + e.a;
        (first, first + e.b)
    }

    /// FolioDirtied events of `op` on `ino` touching sectors [lo, hi).
    fn dirtied_in(&self, op: u64, ino: u64, lo: u64, hi: u64) -> Vec<usize> {
        self.dirtied_by_op
            .get(&op)
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|&i| {
                        let e = &self.trace.events[i];
                        let (a, b) = Self::dirtied_sectors(e);
                        e.inode == ino && a < hi && lo < b
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Follows the data `op` put into folio `fid` (dirtied at event `at`):
    /// the first event that lost it, if any. Migration moves the data to
    /// the new folio; writeback makes it safe.
    fn fate_of(
        &self,
        ino: u64,
        fid: u64,
        at: usize,
        victim_tid: u32,
        lo: u64,
        hi: u64,
    ) -> Option<(usize, Fate)> {
        let ev = &self.trace.events;
        let list = self.by_fid.get(&(ino, fid))?;
        // Removed before the dirtying but after the writer began on this
        // folio: the writer copied into a folio the page cache no longer had.
        let writer_began = self
            .ops
            .get(&ev[at].op)
            .map_or(ev[at].ts_ns, |o| o.begin_ns);
        for &i in list.iter().take_while(|&&i| i < at) {
            let e = &ev[i];
            if e.ts_ns < writer_began || e.tid == victim_tid {
                continue;
            }
            match e.kind() {
                // A migration that did not hold the folio lock is the more
                // precise story: the lock the writer held was the one that
                // should have kept the folio where it was.
                Some(EventKind::FolioMigrated) if !self.holds_folio(e.tid, e.ts_ns, fid) => {
                    return Some((i, Fate::MigratedUnlocked));
                }
                Some(
                    EventKind::FolioMigrated | EventKind::FolioRemoved | EventKind::FolioTruncated,
                ) if covers(e, lo, hi) => return Some((i, Fate::RemovedUnderWriter)),
                _ => {}
            }
        }
        let after: Vec<usize> = list.iter().copied().filter(|&i| i > at).collect();
        for (n, &i) in after.iter().enumerate() {
            let e = &ev[i];
            match e.kind()? {
                // Cleared for IO: the data is on its way to disk if the
                // writeback snapshot comes next (it is taken under the same
                // folio lock hold, after the clear).
                EventKind::FolioCleaned => {
                    let next = after[n + 1..].iter().map(|&j| &ev[j]).find(|x| {
                        !matches!(
                            x.kind(),
                            Some(EventKind::FolioUptodate | EventKind::FolioWritebackEnd)
                        )
                    });
                    match next.and_then(Event::kind) {
                        Some(EventKind::FolioWritebackStart) => return None,
                        // Truncation cancels dirty first (folio_cancel_dirty):
                        // the truncation itself is the culprit.
                        Some(EventKind::FolioTruncated | EventKind::FolioRemoved) => {}
                        _ => return Some((i, Fate::CleanedUnwritten)),
                    }
                }
                EventKind::FolioDirtied => {
                    let (a, b) = Self::dirtied_sectors(e);
                    // Someone else rewrote the sectors: not this op's loss.
                    if a <= lo && hi <= b && e.op != ev[at].op {
                        return None;
                    }
                }
                EventKind::FolioTruncated if covers(e, lo, hi) => {
                    return Some((i, Fate::TruncatedWhileDirty))
                }
                EventKind::FolioRemoved => return Some((i, Fate::RemovedWhileDirty)),
                EventKind::FolioMigrated if !self.holds_folio(e.tid, e.ts_ns, fid) => {
                    return Some((i, Fate::MigratedUnlocked));
                }
                EventKind::FolioMigrated
                    if e.tid != victim_tid && self.holds_folio(victim_tid, e.ts_ns, fid) =>
                {
                    // Moved while the writer still held the folio lock: the
                    // copy raced the write.
                    return Some((i, Fate::RemovedUnderWriter));
                }
                EventKind::FolioMigrated => {
                    // The data moved: follow the new folio from here.
                    return self.fate_of(ino, e.b, i, victim_tid, lo, hi);
                }
                _ => {}
            }
        }
        None
    }
}

/// Whether a truncation event reaches into sectors [lo, hi): `a` is the
/// byte offset in the folio where it starts (0: the whole folio).
fn covers(e: &Event, lo: u64, hi: u64) -> bool {
    if e.kind() != Some(EventKind::FolioTruncated) {
        return true;
    }
    let order = e.b.min(20);
    let first = e.folio * SECTORS_PER_PAGE + e.a / 512;
    let end = (e.folio + (1 << order)) * SECTORS_PER_PAGE;
    first < hi && lo < end
}

/// The culprit of one violation, when the trace shows one.
pub fn culprit(ix: &Index, v: &ViolationRow) -> Option<Culprit> {
    let lo = v.first_sector;
    let hi = v.first_sector + v.nr_sectors;
    let writes: Vec<&OpRecord> = v
        .ops
        .iter()
        .filter_map(|o| ix.ops.get(o).copied())
        .filter(|o| o.kind == OpKind::Write && o.ino == v.ino)
        .collect();
    if let Some(c) = came_back(ix, v, lo, hi) {
        return Some(c);
    }
    match v.class.as_str() {
        // A tear may also be data lost on its way (a racy migration copy
        // mixes old and new sectors): follow each write's data first.
        "torn" => writes
            .iter()
            .rev()
            .find_map(|w| lost_data(ix, v, w, lo, hi))
            .or_else(|| torn(ix, v, &writes, lo, hi)),
        _ => {
            // Stale: the held op comes first, the lost ones after it.
            let lost: Vec<&OpRecord> = if v.class == "stale" {
                writes.iter().skip(1).copied().collect()
            } else {
                writes
            };
            let mut best: Option<Culprit> = None;
            for w in lost.iter().rev() {
                let found = lost_data(ix, v, w, lo, hi);
                if found.is_some() {
                    best = found;
                    break;
                }
            }
            best
        }
    }
}

/// Stale where zeros are due: the held write's bytes, cut by a truncate or
/// punch that began after it returned (the checker's "came back"). Follows
/// the bytes to what put them back: a writeback IO of the held write's
/// folio in flight across the cut, else the first read of these sectors
/// from disk after the cut.
fn came_back(ix: &Index, v: &ViolationRow, lo: u64, hi: u64) -> Option<Culprit> {
    if v.class != "stale" {
        return None;
    }
    let held = ix.ops.get(v.ops.first()?).copied()?;
    let cut = v.ops[1..]
        .iter()
        .filter_map(|o| ix.ops.get(o).copied())
        .filter(|o| o.finished())
        .max_by_key(|o| (o.begin_ns, o.op))?;
    if held.kind != OpKind::Write || !matches!(cut.kind, OpKind::Truncate | OpKind::Punch) {
        return None;
    }
    let ev = &ix.trace.events;
    let mut io: Option<usize> = None;
    for at in ix.dirtied_in(held.op, v.ino, lo, hi) {
        // The folio's own history, following migration to its successors.
        let mut fid = ev[at].fid;
        let mut from = at;
        'folio: while let Some(list) = ix.by_fid.get(&(v.ino, fid)) {
            for (n, &i) in list.iter().enumerate().filter(|(_, &i)| i > from) {
                let e = &ev[i];
                match e.kind() {
                    Some(EventKind::FolioMigrated) => {
                        (fid, from) = (e.b, i);
                        continue 'folio;
                    }
                    Some(EventKind::FolioWritebackStart) if e.ts_ns < cut.end_ns => {
                        let end = list[n + 1..]
                            .iter()
                            .copied()
                            .find(|&j| ev[j].kind() == Some(EventKind::FolioWritebackEnd));
                        let ended = end.map_or(u64::MAX, |j| ev[j].ts_ns);
                        if ended >= cut.begin_ns {
                            // The IO itself (built after the folio unlock),
                            // else the start that snapshotted it.
                            let stop = end.unwrap_or(ev.len());
                            let built = (i..stop).find(|&j| {
                                ev[j].fid == fid
                                    && ev[j].kind() == Some(EventKind::FolioWritebackIo)
                            });
                            let at = built.unwrap_or(i);
                            if io.is_none_or(|j| at < j) {
                                io = Some(at);
                            }
                        }
                    }
                    _ => {}
                }
            }
            break;
        }
    }
    // The cut is the op whose effect was undone; what it held when the two
    // met (its wait for the IO) is what should have kept the bytes out.
    let (i, fate, met, when) = match io {
        Some(i) => {
            let met = ev[i..]
                .iter()
                .find(|x| x.fid == ev[i].fid && x.kind() == Some(EventKind::FolioWritebackEnd))
                .map_or(cut.begin_ns, |x| x.ts_ns.clamp(cut.begin_ns, cut.end_ns));
            (
                i,
                Fate::WrittenBackAcrossCut,
                met,
                "while it waited for the IO",
            )
        }
        None => {
            let i = ev.iter().position(|e| {
                e.ts_ns > cut.end_ns
                    && e.inode == v.ino
                    && e.kind() == Some(EventKind::FolioUptodate)
                    && {
                        let first = e.folio * SECTORS_PER_PAGE;
                        first < hi && lo < first + (SECTORS_PER_PAGE << e.a.min(20))
                    }
            })?;
            (
                i,
                Fate::ReadCutBlock,
                cut.end_ns,
                "(it had returned by then)",
            )
        }
    };
    let mut c = build(ix, v, i, fate, cut, met);
    if fate == Fate::WrittenBackAcrossCut {
        // build() counts only locks held from the victim's own event on;
        // the cut's locks at the meeting are the ones that matter here.
        c.victim_locks = ix.lockset(cut.tid, met);
        c.common_exclusive = common(&c.locks, &c.victim_locks);
    }
    c.line = format!("{} (op {}'s bytes came back)", line(&c, when), held.op);
    Some(c)
}

fn lost_data(ix: &Index, v: &ViolationRow, w: &OpRecord, lo: u64, hi: u64) -> Option<Culprit> {
    let ev = &ix.trace.events;
    // The last dirtying of each folio the write touched in these sectors.
    let mut last: HashMap<u64, usize> = HashMap::default();
    for i in ix.dirtied_in(w.op, v.ino, lo, hi) {
        last.insert(ev[i].fid, i);
    }
    let mut found: Vec<(usize, Fate, usize)> = last
        .values()
        .filter_map(|&at| {
            ix.fate_of(v.ino, ev[at].fid, at, w.tid, lo, hi)
                .map(|(i, f)| (i, f, at))
        })
        .collect();
    found.sort_unstable_by_key(|f| f.0);
    let &(i, fate, at) = found.first()?;
    Some(build(ix, v, i, fate, w, ev[at].ts_ns))
}

fn torn(ix: &Index, v: &ViolationRow, writes: &[&OpRecord], lo: u64, hi: u64) -> Option<Culprit> {
    let ev = &ix.trace.events;
    // The pair whose dirtyings of one folio interleave: the later writer's
    // first dirtying of a folio the earlier one also dirtied while both ran.
    let mut best: Option<(usize, &OpRecord, &OpRecord)> = None;
    for (ai, a) in writes.iter().enumerate() {
        for b in writes.iter().skip(ai + 1) {
            let (first, second) = if a.begin_ns <= b.begin_ns {
                (a, b)
            } else {
                (b, a)
            };
            let fa: Vec<u64> = ix
                .dirtied_in(first.op, v.ino, lo, hi)
                .iter()
                .map(|&i| ev[i].fid)
                .collect();
            // The second slipped between the first's passes: the first
            // dirtied something again after it (an op's span alone is not
            // enough, op_end comes after its locks are dropped).
            let first_last = ix
                .dirtied_in(first.op, first.ino, 0, u64::MAX)
                .last()
                .map_or(0, |&j| ev[j].ts_ns);
            let hit = ix
                .dirtied_in(second.op, v.ino, lo, hi)
                .into_iter()
                .find(|&i| fa.contains(&ev[i].fid) && ev[i].ts_ns < first_last);
            if let Some(i) = hit {
                if best.is_none_or(|(j, ..)| i < j) {
                    best = Some((i, second, first));
                }
            }
        }
    }
    let (i, interloper, victim) = best?;
    let e = &ev[i];
    let victim_at = ix
        .dirtied_in(victim.op, v.ino, lo, hi)
        .into_iter()
        .find(|&j| ev[j].fid == e.fid)
        .map_or(victim.begin_ns, |j| ev[j].ts_ns);
    // Eraser, for atomicity: a lock makes a multi-pass write atomic only if
    // it is held from the write's first dirtying to its last without a break.
    let over_op = |o: &OpRecord| -> Vec<LockRef> {
        let all = ix.dirtied_in(o.op, o.ino, 0, u64::MAX);
        match (all.first(), all.last()) {
            (Some(&f), Some(&l)) => ix.held_throughout(o.tid, ev[f].ts_ns, ev[l].ts_ns),
            _ => Vec::new(),
        }
    };
    let mut c = build(ix, v, i, Fate::Interleaved, victim, victim_at);
    c.locks = over_op(interloper);
    c.victim_locks = over_op(victim);
    c.common_exclusive = common(&c.locks, &c.victim_locks);
    c.line = line(&c, "throughout its write");
    Some(c)
}

fn common(a: &[LockRef], b: &[LockRef]) -> Vec<String> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            if x.excludes(y) {
                out.push(if x.class == y.class && x.fid == y.fid {
                    x.describe()
                } else {
                    format!("{} / {}", x.describe(), y.describe())
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn build(
    ix: &Index,
    v: &ViolationRow,
    i: usize,
    fate: Fate,
    victim: &OpRecord,
    victim_ts: u64,
) -> Culprit {
    let e = &ix.trace.events[i];
    let locks = ix.lockset(e.tid, e.ts_ns);
    // What kept the victim's data safe is what its thread held all the way
    // from the dirtying to the culprit's event; once its op returned, the
    // thread's later locks belong to other ops.
    let (from, to) = (victim_ts.min(e.ts_ns), victim_ts.max(e.ts_ns));
    let in_flight = victim.begin_ns <= from && (!victim.finished() || victim.end_ns >= to);
    let victim_locks = if in_flight {
        ix.held_throughout(victim.tid, from, to)
    } else {
        Vec::new()
    };
    let mut c = Culprit {
        violation: v.id,
        fate,
        event: i as u64,
        ts_ns: e.ts_ns,
        tid: e.tid,
        thread: ix.name(e.tid),
        op: e.op,
        op_kind: ix.ops.get(&e.op).map(|o| o.kind),
        folio: e.folio,
        fid: e.fid,
        common_exclusive: common(&locks, &victim_locks),
        locks,
        victim_op: victim.op,
        victim_tid: victim.tid,
        victim_thread: ix.name(victim.tid),
        victim_locks,
        line: String::new(),
    };
    c.line = line(
        &c,
        if in_flight {
            "from its dirtying of the folio to then"
        } else {
            "(it had returned by then)"
        },
    );
    c
}

/// A lockset for the one-line verdict: every inode-wide lock, the folio
/// in question, and a count of the other folio locks (a long write holds
/// dozens; `--json` lists them all).
fn set(locks: &[LockRef], fid: u64) -> String {
    if locks.is_empty() {
        return "no lock".into();
    }
    let mut parts: Vec<String> = locks
        .iter()
        .filter(|l| l.class != LockClass::Folio || l.fid == fid)
        .map(LockRef::describe)
        .collect();
    let others = locks
        .iter()
        .filter(|l| l.class == LockClass::Folio && l.fid != fid)
        .count();
    match others {
        0 => {}
        1 => parts.push("1 other folio".into()),
        n => parts.push(format!("{n} other folios")),
    }
    parts.join(" + ")
}

fn line(c: &Culprit, victim_when: &str) -> String {
    let who = match (c.op, c.op_kind) {
        (0, _) => format!("{} (tid {}, background)", c.thread, c.tid),
        (op, Some(k)) => format!("{} (tid {}, {k} op {op})", c.thread, c.tid),
        (op, None) => format!("{} (tid {}, op {op})", c.thread, c.tid),
    };
    let verdict = if c.common_exclusive.is_empty() {
        "no common exclusive lock".to_string()
    } else {
        format!(
            "both held {}, which should have excluded them",
            c.common_exclusive.join(", ")
        )
    };
    format!(
        "culprit: {who} {} (folio {} #{}); it held {}; op {} ({}) held {} {victim_when}: {verdict}",
        c.fate.verb(),
        c.folio,
        c.fid,
        set(&c.locks, c.fid),
        c.victim_op,
        c.victim_thread,
        set(&c.victim_locks, c.fid),
    )
}

/// Culprits of every violation of the final check, by violation id.
pub fn culprits(trace: &Trace) -> BTreeMap<u32, Culprit> {
    if trace.violations.is_empty() {
        return BTreeMap::new();
    }
    let ix = Index::new(trace);
    trace
        .final_violations()
        .filter_map(|v| culprit(&ix, v).map(|c| (v.id, c)))
        .collect()
}

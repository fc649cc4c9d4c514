//! Classifies every sector of a file against the op history: which ops
//! affected it, which of them may legitimately be the last, and whether the
//! content read back is one of those (ok), an op a later one superseded
//! (stale), something else where a write was due (dropped), or a mix no
//! serial order explains (torn).
//!
//! The file is swept left to right over sector boundaries where some op's
//! range starts or ends; between two boundaries the set of affecting ops is
//! constant, so the candidates are computed once per segment, and within a
//! segment once per run of equal content. The cost is O((ops + runs) log
//! ops) plus one decode per sector, not ops × sectors.

use super::content::{push_run, Content, Decoded};
use super::report::{Class, Counts, Detail, Finding, Grouper};
use crate::history::{History, OpRecord, UNFINISHED};
use crate::stamp::{GarbageKind, SECTOR};
use lockline_engine::probe::OpKind;
use std::collections::BTreeSet;

const S: u64 = SECTOR as u64;

/// The ops of one inode that change content.
pub(crate) struct Ops<'h> {
    pub recs: Vec<&'h OpRecord>,
    /// (op id, index into recs), sorted by op id.
    pub by_op: Vec<(u64, u32)>,
}

impl<'h> Ops<'h> {
    pub fn index(&self, op: u64) -> Option<usize> {
        let i = self.by_op.binary_search_by_key(&op, |k| k.0).ok()?;
        Some(self.by_op[i].1 as usize)
    }

    pub fn get(&self, op: u64) -> Option<&'h OpRecord> {
        self.index(op).map(|i| self.recs[i])
    }

    /// Whole sectors write `i` covers, [lo, hi); empty for other kinds and
    /// for writes that wrote nothing.
    pub fn full(&self, i: usize) -> (u64, u64) {
        let r = self.recs[i];
        if r.kind != OpKind::Write {
            return (0, 0);
        }
        let (lo, hi) = (
            r.offset.div_ceil(S),
            r.offset.saturating_add(write_len(r)) / S,
        );
        if lo < hi {
            (lo, hi)
        } else {
            (0, 0)
        }
    }
}

/// Bytes a write put in the file: what it returned, or all it asked while
/// it has not returned.
fn write_len(r: &OpRecord) -> u64 {
    if r.finished() {
        r.result.max(0) as u64
    } else {
        r.len
    }
}

/// One op's effect on a range of sectors, with the op's times copied in so
/// the sweep reads effects sequentially instead of chasing records.
/// `partial` marks a sector the op changes only in part (an unaligned
/// edge): its content then legitimately reads as garbage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Effect {
    pub lo: u64,
    /// u64::MAX for a truncate: it zeroes everything past its size.
    pub hi: u64,
    /// [`UNFINISHED`] for an unfinished op, which never rules others out.
    pub begin: u64,
    pub end: u64,
    pub op: u32,
    pub partial: bool,
}

/// The content-changing ops of `ino` and their effects. A finished write
/// covers only the `result` bytes it returned; a failed op changes
/// nothing; an unfinished op may have done all it asked.
pub(crate) fn effects<'h>(history: &'h History, ino: u64) -> (Ops<'h>, Vec<Effect>) {
    // Sized for the whole history: pages never touched cost nothing, while
    // growing by doubling would copy and fault everything again.
    let mut ops = Ops {
        recs: Vec::with_capacity(history.len()),
        by_op: Vec::with_capacity(history.len()),
    };
    let mut eff = Vec::with_capacity(history.len() + 16);
    for r in history.for_inode(ino) {
        let i = ops.recs.len() as u32;
        let mut add = |lo: u64, hi: u64, partial: bool| {
            eff.push(Effect {
                lo,
                hi,
                begin: if r.finished() { r.begin_ns } else { UNFINISHED },
                end: r.end_ns,
                op: i,
                partial,
            })
        };
        match r.kind {
            OpKind::Write => bytes(r.offset, r.offset.saturating_add(write_len(r)), &mut add),
            OpKind::Punch if !r.finished() || r.result >= 0 => {
                bytes(r.offset, r.offset.saturating_add(r.len), &mut add)
            }
            // A created file is empty: as a truncate to 0 would leave it.
            OpKind::Create => add(0, u64::MAX, false),
            OpKind::Truncate if !r.finished() || r.result >= 0 => {
                let size = r.offset;
                if !size.is_multiple_of(S) {
                    add(size / S, size / S + 1, true);
                }
                add(size.div_ceil(S), u64::MAX, false);
            }
            _ => continue,
        }
        ops.recs.push(r);
        ops.by_op.push((r.op, i));
    }
    // Op ids restart at each mount: should a history span one, the later
    // op of an id wins, as the later op is what the content shows.
    ops.by_op
        .sort_unstable_by_key(|&(op, i)| (op, std::cmp::Reverse(i)));
    ops.by_op.dedup_by_key(|k| k.0);
    (ops, eff)
}

/// Effects of changing bytes [a, b): whole sectors, and partial ones at
/// unaligned edges.
fn bytes(a: u64, b: u64, add: &mut impl FnMut(u64, u64, bool)) {
    if a >= b {
        return;
    }
    let (lo, hi) = (a.div_ceil(S), b / S);
    if lo < hi {
        add(lo, hi, false);
    }
    let (first, last) = (a / S, (b - 1) / S);
    let head = !a.is_multiple_of(S);
    if head {
        add(first, first + 1, true);
    }
    // An unaligned tail in the head's own sector is the same partial sector.
    let tail_is_head = head && last == first;
    if !b.is_multiple_of(S) && !tail_is_head {
        add(last, last + 1, true);
    }
}

/// Sectors to check: the file as read back, and every sector a write or
/// punch ever reached (a write past the read-back size was lost with it).
pub(crate) fn nr_sectors(effects: &[Effect], content_len: usize) -> u64 {
    let file = (content_len as u64).div_ceil(S);
    effects
        .iter()
        .filter(|e| e.hi != u64::MAX)
        .map(|e| e.hi)
        .fold(file, u64::max)
}

pub(crate) struct Outcome {
    pub findings: Vec<Finding>,
    pub counts: Counts,
    pub ok: u64,
}

/// Candidates and what they allow, for one segment.
#[derive(Default)]
struct Segment {
    /// Effects that may be the last on these sectors, by begin time.
    cands: Vec<u32>,
    cand_ops: Vec<u64>,
    accept_zero: bool,
    accept_garbage: bool,
    any_write: bool,
}

/// The effects the sweep walks: those inside [0, n), by first sector.
pub(crate) fn prepare(mut effects: Vec<Effect>, n: u64) -> Vec<Effect> {
    effects.retain(|e| e.lo < n && e.lo < e.hi);
    effects.sort_unstable_by_key(|e| e.lo);
    effects
}

/// The active effects of a segment by end time: (end_ns, effect index).
pub(crate) type ByEnd = BTreeSet<(u64, u32)>;

/// Walks [0, n) over the segments where the set of affecting ops is
/// constant (`effects` from [`prepare`]) and calls `visit(lo, hi, segment,
/// active effects)` once for each, in order.
fn sweep(ops: &Ops, effects: &[Effect], n: u64, mut visit: impl FnMut(u64, u64, &Segment, &ByEnd)) {
    // Adds in order of first sector (the effects themselves), removals in
    // order of end sector.
    let mut removals: Vec<(u64, u32)> = effects
        .iter()
        .enumerate()
        .map(|(i, e)| (e.hi.min(n), i as u32))
        .collect();
    removals.sort_unstable();
    let rec = |e: u32| ops.recs[effects[e as usize].op as usize];

    // Finished effects by begin (the latest begin bounds who may be last)
    // and all active effects by end (who ended at or after that begin).
    let mut by_begin: BTreeSet<(u64, u32)> = BTreeSet::new();
    let mut by_end: ByEnd = BTreeSet::new();
    let mut seg = Segment::default();
    let (mut ai, mut xi, mut s) = (0usize, 0usize, 0u64);
    while s < n {
        while xi < removals.len() && removals[xi].0 <= s {
            let e = removals[xi].1;
            let ef = &effects[e as usize];
            if ef.begin != UNFINISHED {
                by_begin.remove(&(ef.begin, e));
            }
            by_end.remove(&(ef.end, e));
            xi += 1;
        }
        while ai < effects.len() && effects[ai].lo <= s {
            let ef = &effects[ai];
            if ef.begin != UNFINISHED {
                by_begin.insert((ef.begin, ai as u32));
            }
            by_end.insert((ef.end, ai as u32));
            ai += 1;
        }
        let next_add = effects.get(ai).map_or(n, |e| e.lo);
        let next_removal = removals.get(xi).map_or(n, |r| r.0);
        let seg_end = next_add.min(next_removal).min(n);

        // An op is possibly last unless some finished op affecting these
        // sectors began after it ended. Unfinished ops never rule others
        // out (they may not have got here) but are always possible.
        let max_begin = by_begin.last().map(|&(b, _)| b);
        seg.cands.clear();
        seg.cands
            .extend(by_end.range((max_begin.unwrap_or(0), 0)..).map(|&(_, e)| e));
        seg.cands.sort_by_key(|&e| (rec(e).begin_ns, rec(e).op));
        seg.cand_ops.clear();
        seg.cand_ops.extend(seg.cands.iter().map(|&e| rec(e).op));
        seg.accept_zero =
            max_begin.is_none() || seg.cands.iter().any(|&e| rec(e).kind != OpKind::Write);
        seg.accept_garbage = seg.cands.iter().any(|&e| effects[e as usize].partial);
        seg.any_write = seg.cands.iter().any(|&e| rec(e).kind == OpKind::Write);
        visit(s, seg_end, &seg, &by_end);
        s = seg_end;
    }
}

/// Classifies every sector of [0, n) as `decoded` shows it.
pub(crate) fn classify(ops: &Ops, effects: Vec<Effect>, decoded: &Decoded, n: u64) -> Outcome {
    let effects = &prepare(effects, n)[..];
    let mut grouper = Grouper::default();
    let mut counts = Counts::default();
    let mut ok = 0u64;
    let mut ri = 0usize;
    sweep(ops, effects, n, |lo, seg_end, seg, by_end| {
        let mut s = lo;
        while s < seg_end {
            let run = decoded.runs[ri];
            let hi = run.hi.min(seg_end);
            let verdict = piece(ops, effects, decoded, by_end, seg, s, run.content);
            match verdict {
                None => ok += hi - s,
                Some((class, detail, ops)) => {
                    counts.add(class, hi - s);
                    grouper.push(Finding {
                        lo: s,
                        hi,
                        class,
                        detail,
                        ops,
                    });
                }
            }
            s = hi;
            if run.hi == s {
                ri += 1;
            }
        }
    });
    Outcome {
        findings: grouper.finish(),
        counts,
        ok,
    }
}

/// Turns the digests a read or check took into contents the classifier
/// judges as it judges stamps: each sector is the op whose write left
/// that digest there, preferring, in turn, an op that may be the last
/// (the bytes are what was due), zeros, and any other write of the inode
/// (the bytes are stale); data no write of the trace left there is
/// garbage, unless no op of the trace touched the sector (data from
/// before the trace, which nothing here can judge).
pub(crate) fn resolve(
    ops: &Ops,
    effects: Vec<Effect>,
    index: &super::provenance::DigestIndex,
    ino: u64,
    seen: &super::provenance::Seen,
    n: u64,
) -> Decoded {
    let effects = &prepare(effects, n)[..];
    let zero = lockline_engine::probe::provenance::zero_digest();
    let rec = |e: u32| ops.recs[effects[e as usize].op as usize];
    let stamp = |r: &OpRecord| Content::Stamp {
        op: r.op,
        thread: r.thread.unwrap_or(super::content::NO_THREAD),
    };
    // What was seen: [first, end); before it a read's caller ignores (one
    // run of zeros), past it the file ended.
    let first = seen.first_sector;
    let end = first + seen.digests.len() as u64;
    let mut runs = Vec::new();
    sweep(ops, effects, n, |lo, hi, seg, by_end| {
        push_run(&mut runs, lo, hi.min(first), Content::Zero);
        for s in lo.max(first)..hi.min(end) {
            let d = seen.digests[(s - first) as usize];
            // Writes of other inodes or of ops not in this history do not count.
            let matching = index.ops_at(ino, s, d).filter(|&op| ops.get(op).is_some());
            let due = seg.cands.iter().rev().find(|&&e| {
                let r = rec(e);
                r.kind == OpKind::Write
                    && !effects[e as usize].partial
                    && matching.clone().any(|op| op == r.op)
            });
            let latest = || {
                matching
                    .clone()
                    .filter_map(|op| ops.get(op))
                    .max_by_key(|r| (r.begin_ns, r.op))
            };
            // A candidate that changed the sector in part leaves a mix no
            // whole-sector digest names, and the mix may equal an older
            // write's sector (a page a kernel wrote back with zeros past
            // EOF, cut at that EOF again): anything is fine. The stamp
            // checker calls an older write's stamp there stale; digests
            // cannot, so a dropped partial write goes unseen here.
            let c = if let Some(&e) = due {
                stamp(rec(e))
            } else if d == zero && seg.accept_zero {
                Content::Zero
            } else if seg.accept_garbage {
                Content::Garbage(GarbageKind::Unmatched)
            } else if let Some(r) = latest() {
                stamp(r)
            } else if d == zero {
                Content::Zero
            } else if by_end.is_empty() {
                Content::Prior
            } else {
                Content::Garbage(GarbageKind::Unmatched)
            };
            push_run(&mut runs, s, s + 1, c);
        }
        push_run(&mut runs, lo.max(end), hi, Content::Absent);
    });
    Decoded::from_runs(runs)
}

/// The verdict on sectors from `s` on that share a segment and a content;
/// None when ok.
fn piece(
    ops: &Ops,
    effects: &[Effect],
    decoded: &Decoded,
    by_end: &BTreeSet<(u64, u32)>,
    seg: &Segment,
    s: u64,
    content: Content,
) -> Option<(Class, Detail, Vec<u64>)> {
    let rec = |e: u32| ops.recs[effects[e as usize].op as usize];
    match content {
        Content::Prior => None,
        Content::Zero | Content::Absent if seg.accept_zero => None,
        Content::Zero => Some((Class::Dropped, Detail::Zeros, seg.cand_ops.clone())),
        Content::Absent => Some((Class::Dropped, Detail::PastEof, seg.cand_ops.clone())),
        Content::Garbage(_) if seg.accept_garbage => None,
        Content::Garbage(g) => Some((Class::Torn, Detail::Garbage(g), seg.cand_ops.clone())),
        Content::Stamp { op: held, .. } => {
            let is_cand = seg.cands.iter().any(|&e| {
                let r = rec(e);
                r.op == held && r.kind == OpKind::Write && !effects[e as usize].partial
            });
            if is_cand {
                let others = mixed_with(ops, effects, decoded, by_end, held);
                if others.is_empty() {
                    return None;
                }
                let mut v = vec![held];
                v.extend(others);
                return Some((Class::Torn, Detail::Mixed { held }, v));
            }
            let covers = ops.index(held).is_some_and(|i| {
                let (lo, hi) = ops.full(i);
                lo <= s && s < hi
            });
            if covers {
                let mut v = vec![held];
                v.extend_from_slice(&seg.cand_ops);
                // The op that began last decides what was due: zeros after
                // a truncate or punch, its data after a write.
                let last = seg.cands.last().map(|&e| rec(e));
                let detail = match last {
                    Some(r) if r.kind != OpKind::Write => Detail::Resurrected { held, cut: r.op },
                    _ => Detail::Superseded { held },
                };
                return Some((Class::Stale, detail, v));
            }
            // Data of an op that never said it wrote here: it displaced
            // whatever write was due (dropped), or it sits where zeros were
            // due, which is the same failure as a superseded write (stale).
            if seg.any_write {
                let mut v = seg.cand_ops.clone();
                v.push(held);
                Some((Class::Dropped, Detail::Foreign { held }, v))
            } else {
                let mut v = vec![held];
                v.extend_from_slice(&seg.cand_ops);
                Some((Class::Stale, Detail::Foreign { held }, v))
            }
        }
    }
}

/// Writes overlapping `held` in time that hold some sector of the range
/// they and `held` both cover. Only writes active on this segment matter:
/// the piece lies in their common range, so it is their mix.
fn mixed_with(
    ops: &Ops,
    effects: &[Effect],
    decoded: &Decoded,
    by_end: &BTreeSet<(u64, u32)>,
    held: u64,
) -> Vec<u64> {
    let a = ops
        .index(held)
        .expect("a candidate is one of the inode's ops");
    let ra = ops.recs[a];
    let (alo, ahi) = ops.full(a);
    let mut out = Vec::new();
    // Ending at or after A began; those that also began before A ended
    // overlap it. A is a candidate, so every finished active op began
    // before A ended and the scan stays within A's window.
    for &(_, e) in by_end.range((ra.begin_ns, 0)..) {
        let eff = effects[e as usize];
        let b = eff.op as usize;
        let rb = ops.recs[b];
        if eff.partial || b == a || rb.kind != OpKind::Write || rb.begin_ns > ra.end_ns {
            continue;
        }
        let (blo, bhi) = ops.full(b);
        if decoded.holds_any(rb.op, alo.max(blo), ahi.min(bhi)) {
            out.push(rb.op);
        }
    }
    out.sort_unstable();
    out
}

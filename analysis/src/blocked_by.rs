//! Who blocked whom: every wait paired with the holds whose releases ended
//! it, computed from the holds alone (what perf lock's owner stacks and
//! klockstat's max holder answer in the kernel, here after the fact, for
//! every wait). The hand-off is the last of those releases: the holder the
//! waiter was really queued behind. Chains follow a hand-off's holder to
//! what it was itself waiting for while it held the lock.

use crate::holds::Hold;
use lockline_engine::probe::{LockClass, LockMode};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

/// One wait and what ended it. Indices are into the holds the analysis
/// was given (`holds_from_events` order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Wait {
    /// The waiter's hold (it carries the wait's start and end).
    pub hold: usize,
    /// Conflicting holds of other threads released while it waited, in
    /// release order: each had to go before the waiter could have the lock.
    pub holders: Vec<usize>,
    /// The last of `holders`: whose release handed the lock over. None
    /// when no conflicting release lies inside the wait (the holder's
    /// release was not traced, or the wait was for the fast path only).
    pub handoff: Option<usize>,
}

/// Every wait of a trace with its holders, and the chains they form.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BlockedBy {
    pub waits: Vec<Wait>,
    /// For each entry of `waits`, the wait its hand-off's holder was in
    /// while holding the lock (the last one that ended before the
    /// release), as an index into `waits`: the next link of the chain.
    pub next: Vec<Option<usize>>,
}

/// Locks that exclude each other share a resource: the two sides of the
/// pagecache add/block lock are one lock.
fn resource(class: LockClass) -> u8 {
    match class {
        LockClass::PagecacheBlock => LockClass::PagecacheAdd as u8,
        c => c as u8,
    }
}

/// Whether a holder of `a` keeps a taker of `b` out (same instance): one
/// side exclusive, or opposite sides of the two-state lock (each side is
/// shared with itself).
pub fn conflicts(a: (LockClass, LockMode), b: (LockClass, LockMode)) -> bool {
    use LockClass::{PagecacheAdd, PagecacheBlock};
    match (a.0, b.0) {
        (PagecacheAdd, PagecacheBlock) | (PagecacheBlock, PagecacheAdd) => true,
        (PagecacheAdd, PagecacheAdd) | (PagecacheBlock, PagecacheBlock) => false,
        _ => a.1 == LockMode::Exclusive || b.1 == LockMode::Exclusive,
    }
}

type Instance = (u8, u64, u64, u64);

fn instance(h: &Hold) -> Instance {
    (resource(h.class), h.inode, h.folio, h.fid)
}

/// Whether `holder`'s hold keeps `waiter` out: the same lock, another
/// thread, modes that conflict. (Times are the caller's business.)
pub fn blocks(holder: &Hold, waiter: &Hold) -> bool {
    holder.tid != waiter.tid
        && instance(holder) == instance(waiter)
        && conflicts((holder.class, holder.mode), (waiter.class, waiter.mode))
}

/// Pairs every wait in `holds` with the holds that ended it.
pub fn blocked_by(holds: &[Hold]) -> BlockedBy {
    // Releases per lock instance, by time, for the instances someone
    // waited on (a minority: most acquisitions do not wait).
    let mut released: HashMap<Instance, Vec<(u64, usize)>> = holds
        .iter()
        .filter(|h| h.wait_ns.is_some())
        .map(|h| (instance(h), Vec::new()))
        .collect();
    for (i, h) in holds.iter().enumerate() {
        if let (Some(r), Some(v)) = (h.released_ns, released.get_mut(&instance(h))) {
            v.push((r, i));
        }
    }
    for v in released.values_mut() {
        v.sort_unstable();
    }
    let mut waits = Vec::new();
    for (i, h) in holds.iter().enumerate() {
        let Some(since) = h.wait_ns else { continue };
        let mut holders = Vec::new();
        if let Some(rel) = released.get(&instance(h)) {
            let from = rel.partition_point(|&(r, _)| r < since);
            for &(r, j) in &rel[from..] {
                if r > h.acquired_ns {
                    break;
                }
                let g = &holds[j];
                if g.acquired_ns <= h.acquired_ns && blocks(g, h) {
                    holders.push(j);
                }
            }
        }
        waits.push(Wait {
            hold: i,
            handoff: holders.last().copied(),
            holders,
        });
    }
    let next = chain_links(holds, &waits);
    BlockedBy { waits, next }
}

/// For each wait, the wait of its hand-off's holder inside that hold that
/// ended last: what kept the holder from releasing sooner.
fn chain_links(holds: &[Hold], waits: &[Wait]) -> Vec<Option<usize>> {
    // Each thread's waits by the time they were granted.
    let mut by_tid: HashMap<u32, Vec<(u64, usize)>> = HashMap::default();
    for (w, wait) in waits.iter().enumerate() {
        let h = &holds[wait.hold];
        by_tid.entry(h.tid).or_default().push((h.acquired_ns, w));
    }
    for v in by_tid.values_mut() {
        v.sort_unstable();
    }
    waits
        .iter()
        .map(|w| {
            let g = &holds[w.handoff?];
            let end = g.released_ns?;
            let mine = by_tid.get(&g.tid)?;
            // The last wait granted before the release, begun after the
            // hold was taken.
            let k = mine.partition_point(|&(t, _)| t <= end);
            let &(_, cand) = mine.get(k.checked_sub(1)?)?;
            let c = &holds[waits[cand].hold];
            (c.wait_ns? >= g.acquired_ns).then_some(cand)
        })
        .collect()
}

impl BlockedBy {
    /// The chain from wait `w`: it, then the wait its holder was in, and so
    /// on (indices into `waits`). Stops at a repeat, which consistent
    /// traces never have.
    pub fn chain(&self, w: usize) -> Vec<usize> {
        let mut out = vec![w];
        let mut at = w;
        while let Some(n) = self.next[at] {
            if out.contains(&n) {
                break;
            }
            out.push(n);
            at = n;
        }
        out
    }

    /// Chain lengths of every wait, computed once (a link always points to
    /// a wait granted earlier, so a pass in grant order sees it first).
    fn depths(&self, holds: &[Hold]) -> Vec<(usize, u64)> {
        let mut order: Vec<usize> = (0..self.waits.len()).collect();
        order.sort_unstable_by_key(|&w| holds[self.waits[w].hold].acquired_ns);
        let mut depth = vec![(0usize, 0u64); self.waits.len()];
        for w in order {
            let own = holds[self.waits[w].hold].wait_time();
            depth[w] = match self.next[w] {
                Some(n) if depth[n].0 > 0 => (depth[n].0 + 1, depth[n].1 + own),
                _ => (1, own),
            };
        }
        depth
    }

    /// The `n` deepest chains (ties: the longer time waited), each as its
    /// waits from the first; chains of one wait are left out.
    pub fn longest_chains(&self, holds: &[Hold], n: usize) -> Vec<Vec<usize>> {
        let depth = self.depths(holds);
        let mut heads: Vec<usize> = (0..self.waits.len()).filter(|&w| depth[w].0 > 1).collect();
        heads.sort_unstable_by_key(|&w| std::cmp::Reverse(depth[w]));
        heads.truncate(n);
        heads.into_iter().map(|w| self.chain(w)).collect()
    }

    /// The wait of hold `hold`, if it waited.
    pub fn of_hold(&self, hold: usize) -> Option<&Wait> {
        let i = self.waits.partition_point(|w| w.hold < hold);
        self.waits.get(i).filter(|w| w.hold == hold)
    }
}

/// A lock instance as a reader says it: "folio 451 of inode 12".
pub fn lock_name(h: &Hold) -> String {
    match h.class {
        LockClass::Folio => format!("folio {} of inode {}", h.folio, h.inode),
        LockClass::Inode => format!("the inode lock of inode {}", h.inode),
        LockClass::ILock => format!("the i_lock of inode {}", h.inode),
        LockClass::Kernel => format!("kernel lock {:#x}", h.folio),
        c => format!("{c} of inode {}", h.inode),
    }
}

/// One line for a wait: "worker 2 waited 0.412 ms for folio 451 of inode
/// 12, held by worker 0 (op 418) for 1.204 ms".
pub fn wait_line(holds: &[Hold], w: &Wait, name: &dyn Fn(u32) -> String) -> String {
    let h = &holds[w.hold];
    let head = format!(
        "{} (op {}) waited {:.3} ms for {}",
        name(h.tid),
        h.op,
        h.wait_time() as f64 / 1e6,
        lock_name(h)
    );
    match w.handoff {
        Some(g) => {
            let g = &holds[g];
            let held = g.hold_time().unwrap_or(0);
            let others = match w.holders.len() {
                0 | 1 => String::new(),
                n => format!(" (after {} other holders)", n - 1),
            };
            format!(
                "{head}, held by {} (op {}) for {:.3} ms{others}",
                name(g.tid),
                g.op,
                held as f64 / 1e6
            )
        }
        None => format!("{head}; no holder's release is in the trace"),
    }
}

/// What `analyze` says about who blocked whom.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub waits: u64,
    /// Waits whose hand-off is in the trace.
    pub handed_off: u64,
    /// The longest waits, longest first (at most `TOP`), each in one line.
    pub longest: Vec<HandOffRow>,
    /// The deepest wait chains (at most `TOP`): each a list of waits, the
    /// first waiting on the second's thread, and so on.
    pub chains: Vec<Vec<HandOffRow>>,
    /// Per violation with a culprit: the waits of its victim's and its
    /// culprit's ops, in time order (what the victim waited on or raced
    /// with on the way to the loss).
    pub critical_paths: Vec<CriticalPath>,
}

/// How many longest waits and chains a summary keeps.
pub const TOP: usize = 5;

/// One wait and its hand-off, flattened for a report or a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HandOffRow {
    pub waiter_tid: u32,
    pub waiter_op: u64,
    pub class: LockClass,
    pub inode: u64,
    /// Folio index, or None for inode-wide locks.
    pub folio: Option<u64>,
    pub wait_ns: u64,
    pub granted_ns: u64,
    pub holder_tid: Option<u32>,
    pub holder_op: Option<u64>,
    pub holder_acquired_ns: Option<u64>,
    /// The release that handed the lock over.
    pub released_ns: Option<u64>,
    /// Conflicting holders released during the wait (the hand-off included).
    pub holders: u32,
    pub line: String,
}

impl HandOffRow {
    pub fn new(holds: &[Hold], w: &Wait, name: &dyn Fn(u32) -> String) -> HandOffRow {
        let h = &holds[w.hold];
        let g = w.handoff.map(|g| &holds[g]);
        HandOffRow {
            waiter_tid: h.tid,
            waiter_op: h.op,
            class: h.class,
            inode: h.inode,
            folio: (h.folio != lockline_engine::probe::NO_FOLIO).then_some(h.folio),
            wait_ns: h.wait_ns.unwrap_or(h.acquired_ns),
            granted_ns: h.acquired_ns,
            holder_tid: g.map(|g| g.tid),
            holder_op: g.map(|g| g.op),
            holder_acquired_ns: g.map(|g| g.acquired_ns),
            released_ns: g.and_then(|g| g.released_ns),
            holders: w.holders.len() as u32,
            line: wait_line(holds, w, name),
        }
    }
}

/// A violation's critical path.
#[derive(Clone, Debug, Serialize)]
pub struct CriticalPath {
    pub violation: u32,
    pub victim_op: u64,
    pub culprit_op: u64,
    pub waits: Vec<HandOffRow>,
}

impl BlockedBy {
    /// The waits of `ops`, in the order they began.
    pub fn waits_of_ops(&self, holds: &[Hold], ops: &[u64]) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.waits.len())
            .filter(|&w| {
                let h = &holds[self.waits[w].hold];
                h.op != 0 && ops.contains(&h.op)
            })
            .collect();
        v.sort_by_key(|&w| holds[self.waits[w].hold].wait_ns);
        v
    }

    /// The report's summary: counts, longest waits, deepest chains and,
    /// for each `(violation, victim op, culprit op)`, its critical path.
    pub fn summary(
        &self,
        holds: &[Hold],
        culprits: &[(u32, u64, u64)],
        name: &dyn Fn(u32) -> String,
    ) -> Summary {
        let row = |w: usize| HandOffRow::new(holds, &self.waits[w], name);
        let mut by_len: Vec<usize> = (0..self.waits.len()).collect();
        by_len.sort_by_key(|&w| std::cmp::Reverse(holds[self.waits[w].hold].wait_time()));
        Summary {
            waits: self.waits.len() as u64,
            handed_off: self.waits.iter().filter(|w| w.handoff.is_some()).count() as u64,
            longest: by_len.into_iter().take(TOP).map(row).collect(),
            chains: self
                .longest_chains(holds, TOP)
                .into_iter()
                .map(|c| c.into_iter().map(row).collect())
                .collect(),
            critical_paths: culprits
                .iter()
                .map(|&(violation, victim_op, culprit_op)| CriticalPath {
                    violation,
                    victim_op,
                    culprit_op,
                    waits: self
                        .waits_of_ops(holds, &[victim_op, culprit_op])
                        .into_iter()
                        .map(row)
                        .collect(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holds::holds_from_events;
    use crate::holds::tests::ev;
    use lockline_engine::probe::EventKind::*;

    #[test]
    fn a_wait_is_handed_off_by_the_last_conflicting_release() {
        let evs = [
            ev(10, 1, LockAcquired, LockClass::Folio, 3),
            ev(11, 2, LockWait, LockClass::Folio, 3),
            ev(12, 3, LockWait, LockClass::Folio, 3),
            ev(20, 1, LockReleased, LockClass::Folio, 3),
            ev(21, 2, LockAcquired, LockClass::Folio, 3),
            ev(30, 2, LockReleased, LockClass::Folio, 3),
            ev(31, 3, LockAcquired, LockClass::Folio, 3),
            // Another folio: not a holder of folio 3.
            ev(32, 4, LockAcquired, LockClass::Folio, 4),
        ];
        let h = holds_from_events(&evs);
        let b = blocked_by(&h);
        assert_eq!(b.waits.len(), 2);
        // Thread 2 waited for thread 1; thread 3 for 1 and then 2.
        assert_eq!(b.waits[0].handoff, Some(0));
        assert_eq!(b.waits[1].holders, vec![0, 1]);
        assert_eq!(b.waits[1].handoff, Some(1));
    }

    #[test]
    fn a_chain_follows_the_holder_to_its_own_wait() {
        let evs = [
            // Thread 1 holds the inode lock, then waits for folio 0 (held by 3).
            ev(5, 3, LockAcquired, LockClass::Folio, 0),
            ev(10, 1, LockAcquired, LockClass::Inode, u64::MAX),
            ev(11, 1, LockWait, LockClass::Folio, 0),
            ev(12, 2, LockWait, LockClass::Inode, u64::MAX),
            ev(20, 3, LockReleased, LockClass::Folio, 0),
            ev(21, 1, LockAcquired, LockClass::Folio, 0),
            ev(22, 1, LockReleased, LockClass::Folio, 0),
            ev(23, 1, LockReleased, LockClass::Inode, u64::MAX),
            ev(24, 2, LockAcquired, LockClass::Inode, u64::MAX),
        ];
        let h = holds_from_events(&evs);
        let b = blocked_by(&h);
        let chains = b.longest_chains(&h, 3);
        assert_eq!(chains.len(), 1);
        let c: Vec<u32> = chains[0].iter().map(|&w| h[b.waits[w].hold].tid).collect();
        // Thread 2 waited on 1, which waited on 3.
        assert_eq!(c, vec![2, 1]);
        let last = &b.waits[*chains[0].last().unwrap()];
        assert_eq!(h[last.handoff.unwrap()].tid, 3);
    }

    #[test]
    fn the_two_sides_of_the_pagecache_lock_exclude_each_other_only() {
        let s = LockMode::Shared;
        assert!(conflicts(
            (LockClass::PagecacheAdd, s),
            (LockClass::PagecacheBlock, s)
        ));
        assert!(!conflicts(
            (LockClass::PagecacheAdd, s),
            (LockClass::PagecacheAdd, s)
        ));
        assert!(!conflicts((LockClass::Inode, s), (LockClass::Inode, s)));
        assert!(conflicts(
            (LockClass::Inode, s),
            (LockClass::Inode, LockMode::Exclusive)
        ));
    }
}

//! The op history of a run: every op_begin paired with its op_end, so the
//! integrity checker knows what each op asked for, what it returned and
//! when it ran.

use lockline_engine::probe::{Event, EventKind, OpKind, ThreadRole};
use serde::Serialize;
use std::collections::HashMap;

/// `end_ns` of an op whose op_end never came.
pub const UNFINISHED: u64 = u64::MAX;

/// One op from begin to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct OpRecord {
    pub op: u64,
    /// Kernel thread id of the thread that ran the op.
    pub tid: u32,
    pub kind: OpKind,
    pub ino: u64,
    /// Write/read/punch/fallocate: file offset. Truncate: the new size.
    pub offset: u64,
    /// Bytes asked for (0 for truncate and fsync).
    pub len: u64,
    pub begin_ns: u64,
    /// [`UNFINISHED`] when the op never ended.
    pub end_ns: u64,
    /// Bytes done, 0, or a negative errno; 0 while unfinished.
    pub result: i64,
    /// The workload thread index its stamps carry, when a workload thread
    /// ran it (from the thread's thread_role event).
    pub thread: Option<u32>,
    /// The checked round it ran in: the last round_begin at or before its
    /// begin (0 when the trace has no round markers, or before the first).
    pub round: u32,
}

impl OpRecord {
    pub fn finished(&self) -> bool {
        self.end_ns != UNFINISHED
    }

    pub fn succeeded(&self) -> bool {
        self.finished() && self.result >= 0
    }

    /// Time-overlap: neither ended before the other began.
    pub fn overlaps_in_time(&self, other: &OpRecord) -> bool {
        self.begin_ns <= other.end_ns && other.begin_ns <= self.end_ns
    }

    /// `self` returned before `other` began.
    pub fn precedes(&self, other: &OpRecord) -> bool {
        self.end_ns < other.begin_ns
    }
}

/// Every op of a run, sorted by begin time.
#[derive(Clone, Debug, Default)]
pub struct History {
    ops: Vec<OpRecord>,
    /// (op id, index) sorted by op id; a sorted vector looks up as fast as
    /// a hash map here and builds several times faster for 1e6 ops.
    by_op: Vec<(u64, u32)>,
    orphan_ends: usize,
}

/// Pairs op_begin/op_end events into a [`History`].
pub fn from_events(events: &[Event]) -> History {
    History::from_events(events)
}

/// What one event did to the ops being paired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpStep {
    /// An op began; the caller keeps it at the slot it passed.
    Began(OpRecord),
    /// The op kept at `slot` ended.
    Ended {
        slot: usize,
        end_ns: u64,
        result: i64,
    },
    /// An op_end with no open op_begin (its begin was lost or dropped).
    Orphan,
    /// Not an op event.
    Nothing,
}

/// Pairs op_begin and op_end events as they come, in time order: each
/// op_end closes the latest open op_begin of the same op id, thread, kind
/// and inode. The key is that wide because one op id can span nested ops
/// (fsync's writeback runs under the fsync's id) and background work all
/// runs as op 0. The history and the TUI's ingest both pair through it.
#[derive(Debug, Default)]
pub struct OpPairer {
    open: HashMap<(u64, u32, u8, u64), Vec<usize>>,
}

impl OpPairer {
    /// Slots of the open-op map, for memory accounting.
    pub fn open_capacity(&self) -> usize {
        self.open.capacity()
    }

    /// Feeds one event; `slot` is where the caller will keep the op if it
    /// begins here.
    pub fn push(&mut self, e: &Event, slot: usize) -> OpStep {
        let begin = match e.kind() {
            Some(EventKind::OpBegin) => true,
            Some(EventKind::OpEnd) => false,
            _ => return OpStep::Nothing,
        };
        let Some(kind) = e.op_kind() else {
            return OpStep::Nothing;
        };
        let key = (e.op, e.tid, kind as u8, e.inode);
        match begin {
            true => {
                self.open.entry(key).or_default().push(slot);
                OpStep::Began(OpRecord {
                    op: e.op,
                    tid: e.tid,
                    kind,
                    ino: e.inode,
                    offset: e.a,
                    len: e.b,
                    begin_ns: e.ts_ns,
                    end_ns: UNFINISHED,
                    result: 0,
                    thread: None,
                    round: 0,
                })
            }
            false => {
                let Some(open) = self.open.get_mut(&key) else {
                    return OpStep::Orphan;
                };
                let slot = open.pop();
                // A key's ops are nested: keep no empty entries.
                if open.is_empty() {
                    self.open.remove(&key);
                }
                match slot {
                    Some(slot) => OpStep::Ended {
                        slot,
                        end_ns: e.ts_ns,
                        result: e.b as i64,
                    },
                    None => OpStep::Orphan,
                }
            }
        }
    }
}

impl History {
    /// Pairs the op events in time order through [`OpPairer`].
    pub fn from_events(events: &[Event]) -> History {
        let mut idx: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.kind(), Some(EventKind::OpBegin | EventKind::OpEnd)))
            .map(|(i, _)| i)
            .collect();
        // Per-thread buffers may arrive out of global order; a stable sort
        // by time keeps a begin and end with equal stamps in emit order.
        idx.sort_by_key(|&i| events[i].ts_ns);

        // Workload threads announce their stamp index before their first op.
        let workers: HashMap<u32, u32> = events
            .iter()
            .filter_map(|e| match e.thread_role()? {
                (ThreadRole::Worker, i) => Some((e.tid, i as u32)),
                _ => None,
            })
            .collect();

        // Round markers in time order: an op belongs to the last one at or
        // before its begin.
        let mut rounds: Vec<(u64, u32)> = events
            .iter()
            .filter(|e| e.kind() == Some(EventKind::RoundBegin))
            .map(|e| (e.ts_ns, e.a as u32))
            .collect();
        rounds.sort_unstable();
        let round_at = |ts: u64| match rounds.partition_point(|r| r.0 <= ts) {
            0 => 0,
            i => rounds[i - 1].1,
        };

        let mut pairer = OpPairer::default();
        let mut ops: Vec<OpRecord> = Vec::new();
        let mut orphan_ends = 0;
        for i in idx {
            let e = &events[i];
            match pairer.push(e, ops.len()) {
                OpStep::Began(mut o) => {
                    o.thread = workers.get(&e.tid).copied();
                    o.round = round_at(e.ts_ns);
                    ops.push(o);
                }
                OpStep::Ended {
                    slot,
                    end_ns,
                    result,
                } => {
                    ops[slot].end_ns = end_ns;
                    ops[slot].result = result;
                }
                OpStep::Orphan => orphan_ends += 1,
                OpStep::Nothing => {}
            }
        }
        let mut h = History::from_records(ops);
        h.orphan_ends = orphan_ends;
        h
    }

    /// A history from records made some other way (tests, other tracers).
    pub fn from_records(mut ops: Vec<OpRecord>) -> History {
        ops.sort_by_key(|o| (o.begin_ns, o.op));
        // An op id names the user op; writeback nested under it (or run as
        // background op 0) must not shadow it, so user ops sort first.
        let mut keyed: Vec<(u64, bool, u32)> = ops
            .iter()
            .enumerate()
            .map(|(i, o)| (o.op, o.kind == OpKind::Writeback, i as u32))
            .collect();
        keyed.sort_unstable();
        keyed.dedup_by_key(|k| k.0);
        let by_op = keyed.into_iter().map(|(op, _, i)| (op, i)).collect();
        History {
            ops,
            by_op,
            orphan_ends: 0,
        }
    }

    /// All ops, sorted by begin time (then op id).
    pub fn ops(&self) -> &[OpRecord] {
        &self.ops
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The user op with this id (not writeback nested under it).
    pub fn get(&self, op: u64) -> Option<&OpRecord> {
        let i = self.by_op.binary_search_by_key(&op, |k| k.0).ok()?;
        Some(&self.ops[self.by_op[i].1 as usize])
    }

    pub fn for_inode(&self, ino: u64) -> impl Iterator<Item = &OpRecord> + '_ {
        self.ops.iter().filter(move |o| o.ino == ino)
    }

    pub fn writes(&self, ino: u64) -> impl Iterator<Item = &OpRecord> + '_ {
        self.for_inode(ino).filter(|o| o.kind == OpKind::Write)
    }

    /// Ops whose op_end never came (the run was cut short, or events lost).
    pub fn unfinished(&self) -> impl Iterator<Item = &OpRecord> + '_ {
        self.ops.iter().filter(|o| !o.finished())
    }

    /// op_end events that matched no op_begin (lost events).
    pub fn orphan_ends(&self) -> usize {
        self.orphan_ends
    }

    /// Begin of the first op: time zero for human-readable windows.
    pub fn first_begin_ns(&self) -> Option<u64> {
        self.ops.first().map(|o| o.begin_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockline_engine::probe::Code;

    #[allow(clippy::too_many_arguments)]
    fn ev(
        ts: u64,
        tid: u32,
        kind: EventKind,
        op_kind: OpKind,
        ino: u64,
        op: u64,
        a: u64,
        b: u64,
    ) -> Event {
        Event {
            ts_ns: ts,
            tid,
            code: Code::pack(kind, op_kind as u8, 0),
            inode: ino,
            folio: lockline_engine::probe::NO_FOLIO,
            op,
            a,
            b,
            fid: 0,
        }
    }

    #[test]
    fn pairs_begin_and_end_by_op() {
        use EventKind::{OpBegin as B, OpEnd as E};
        let events = vec![
            ev(10, 1, B, OpKind::Write, 5, 1, 0, 4096),
            ev(11, 2, B, OpKind::Truncate, 5, 2, 8192, 0),
            ev(12, 2, E, OpKind::Truncate, 5, 2, 8192, 0),
            // lock events in between are ignored
            ev(13, 1, EventKind::LockAcquired, OpKind::Write, 5, 1, 0, 0),
            ev(20, 1, E, OpKind::Write, 5, 1, 0, 4096),
            ev(21, 3, B, OpKind::Fsync, 5, 3, 0, 0),
            ev(22, 3, B, OpKind::Writeback, 5, 3, 0, 0),
            ev(23, 3, E, OpKind::Writeback, 5, 3, 0, 0),
            ev(24, 3, E, OpKind::Fsync, 5, 3, 0, 0),
            ev(30, 4, B, OpKind::Write, 6, 4, 0, 512),
            ev(31, 4, E, OpKind::Punch, 6, 9, 0, (-5i64) as u64),
        ];
        let h = from_events(&events);
        assert_eq!(h.len(), 5);
        let w = h.get(1).unwrap();
        assert_eq!(
            (w.kind, w.offset, w.len, w.begin_ns, w.end_ns, w.result),
            (OpKind::Write, 0, 4096, 10, 20, 4096)
        );
        assert_eq!(h.get(2).unwrap().offset, 8192);
        assert_eq!(h.get(3).unwrap().kind, OpKind::Fsync);
        let u: Vec<_> = h.unfinished().map(|o| o.op).collect();
        assert_eq!(u, vec![4]);
        assert_eq!(h.orphan_ends(), 1);
        assert_eq!(h.for_inode(6).count(), 1);
        assert_eq!(h.writes(5).count(), 1);
        assert_eq!(h.first_begin_ns(), Some(10));
        let begins: Vec<_> = h.ops().iter().map(|o| o.begin_ns).collect();
        assert!(begins.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn negative_results_survive() {
        use EventKind::{OpBegin as B, OpEnd as E};
        let events = vec![
            ev(2, 1, E, OpKind::Write, 5, 1, 0, (-28i64) as u64),
            ev(1, 1, B, OpKind::Write, 5, 1, 0, 4096),
        ];
        let h = from_events(&events);
        let w = h.get(1).unwrap();
        assert_eq!(w.result, -28);
        assert!(w.finished() && !w.succeeded());
    }
}

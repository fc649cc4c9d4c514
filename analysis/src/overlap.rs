//! Writes inside the engine at once, from op spans: how often a write that
//! extended the file (moved i_size) ran beside another write of the same
//! file. The seed's race needs exactly that pair; the kernel's FUSE client
//! takes the inode lock for extending direct writes, so through a mount it
//! should be rare, and through `exec` it is the program's own doing.

use lockline_engine::probe::{Event, EventKind, OpKind};
use lockline_harness::history::OpRecord;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteOverlap {
    /// Write ops that returned.
    pub writes: u64,
    /// Of them, writes that moved i_size (an isize_changed event in the op).
    pub extending: u64,
    /// Extending writes whose span overlapped another write of the file.
    pub extending_beside_a_write: u64,
    /// Pairs of overlapping writes of one file, one of them extending.
    pub pairs_with_an_extending_write: u64,
    /// Pairs of overlapping writes of one file.
    pub overlapping_pairs: u64,
    /// Most writes of one file inside the engine at once.
    pub max_concurrent: u64,
    /// Overlapping pairs whose bytes share a 4 KiB page: the pairs that
    /// meet on one folio, where the lockless path's folio locks alone
    /// order them.
    #[serde(default)]
    pub same_page_pairs: u64,
    /// Of those, pairs with an extending write.
    #[serde(default)]
    pub same_page_with_an_extending_write: u64,
}

/// The 4 KiB pages a write's bytes touch.
fn pages(o: &OpRecord) -> (u64, u64) {
    let last = o.offset + o.len.max(1) - 1;
    (o.offset >> 12, last >> 12)
}

/// Counts the overlaps among `ops`' finished writes; `events` say which
/// extended the file.
pub fn write_overlap(ops: &[OpRecord], events: &[Event]) -> WriteOverlap {
    let extending: HashSet<u64> = events
        .iter()
        .filter(|e| e.kind() == Some(EventKind::IsizeChanged) && e.op != 0 && e.b > e.a)
        .map(|e| e.op)
        .collect();
    let mut writes: Vec<&OpRecord> = ops
        .iter()
        .filter(|o| o.kind == OpKind::Write && o.finished())
        .collect();
    writes.sort_by_key(|o| (o.ino, o.begin_ns, o.op));
    let mut out = WriteOverlap {
        writes: writes.len() as u64,
        extending: writes.iter().filter(|o| extending.contains(&o.op)).count() as u64,
        ..WriteOverlap::default()
    };
    let mut beside: HashSet<u64> = HashSet::new();
    // Writes of the current file still in the engine: (end, op, extends,
    // pages).
    let mut active: BTreeSet<(u64, u64, bool, (u64, u64))> = BTreeSet::new();
    let mut ino = None;
    for w in writes {
        if ino != Some(w.ino) {
            active.clear();
            ino = Some(w.ino);
        }
        while active.first().is_some_and(|a| a.0 < w.begin_ns) {
            active.pop_first();
        }
        let ext = extending.contains(&w.op);
        let (first, last) = pages(w);
        for &(_, other, other_ext, (of, ol)) in &active {
            out.overlapping_pairs += 1;
            if first <= ol && of <= last {
                out.same_page_pairs += 1;
                if ext || other_ext {
                    out.same_page_with_an_extending_write += 1;
                }
            }
            if ext || other_ext {
                out.pairs_with_an_extending_write += 1;
                if ext {
                    beside.insert(w.op);
                }
                if other_ext {
                    beside.insert(other);
                }
            }
        }
        active.insert((w.end_ns, w.op, ext, (first, last)));
        out.max_concurrent = out.max_concurrent.max(active.len() as u64);
    }
    out.extending_beside_a_write = beside.len() as u64;
    out
}

impl WriteOverlap {
    pub fn line(&self) -> String {
        format!(
            "writes inside the engine at once: {} of {} extending writes ran beside another write ({} such pairs; {} overlapping pairs of {} writes; at most {} at once); {} overlapping pairs shared a page ({} with an extending write)",
            self.extending_beside_a_write,
            self.extending,
            self.pairs_with_an_extending_write,
            self.overlapping_pairs,
            self.writes,
            self.max_concurrent,
            self.same_page_pairs,
            self.same_page_with_an_extending_write
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockline_engine::probe::{Code, NO_FID, NO_FOLIO};

    fn w(op: u64, ino: u64, b: u64, e: u64) -> OpRecord {
        OpRecord {
            op,
            tid: op as u32,
            kind: OpKind::Write,
            ino,
            offset: 0,
            len: 1,
            begin_ns: b,
            end_ns: e,
            result: 1,
            thread: None,
            round: 0,
        }
    }

    fn grew(op: u64) -> Event {
        Event {
            ts_ns: 0,
            tid: 1,
            code: Code::pack(EventKind::IsizeChanged, 0, 0),
            inode: 1,
            folio: NO_FOLIO,
            op,
            a: 10,
            b: 20,
            fid: NO_FID,
        }
    }

    #[test]
    fn counts_extending_writes_beside_others_per_file() {
        // 1 extends over [0, 10]; 2 overlaps it; 3 overlaps 2 only; 4 is
        // another file's write at the same time as 1.
        let ops = [
            w(1, 1, 0, 10),
            w(2, 1, 5, 20),
            w(3, 1, 15, 30),
            w(4, 2, 0, 10),
        ];
        let o = write_overlap(&ops, &[grew(1)]);
        assert_eq!(o.writes, 4);
        assert_eq!(o.extending, 1);
        assert_eq!(o.extending_beside_a_write, 1);
        assert_eq!(o.pairs_with_an_extending_write, 1);
        assert_eq!(o.overlapping_pairs, 2);
        assert_eq!(o.max_concurrent, 2);
        let o = write_overlap(&ops, &[]);
        assert_eq!((o.extending, o.extending_beside_a_write), (0, 0));
    }

    #[test]
    fn pairs_on_one_page_are_told_from_pairs_on_others() {
        let at = |op, b, e, offset, len| OpRecord {
            offset,
            len,
            ..w(op, 1, b, e)
        };
        // 1 extends over page 0 beside 2 on page 1; 3 shares page 1 with 2
        // but not with 1; 4 comes after all of them.
        let ops = [
            at(1, 0, 10, 0, 4096),
            at(2, 5, 20, 4096, 4096),
            at(3, 8, 30, 8000, 100),
            at(4, 40, 50, 0, 1),
        ];
        let o = write_overlap(&ops, &[grew(1)]);
        assert_eq!(o.overlapping_pairs, 3);
        assert_eq!(o.pairs_with_an_extending_write, 2);
        assert_eq!(o.same_page_pairs, 1);
        assert_eq!(o.same_page_with_an_extending_write, 0);
        let o = write_overlap(&ops, &[grew(3)]);
        assert_eq!(o.same_page_with_an_extending_write, 1);
    }
}

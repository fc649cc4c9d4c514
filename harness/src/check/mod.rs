//! The integrity checker: classifies every sector of a file read back
//! against the op history as ok, dropped, stale or torn (ARCHITECTURE.md,
//! "The checker's rules").
//!
//! Rules, per 512-byte sector s:
//! - the ops affecting s are the writes that returned success and whose
//!   first `result` bytes reach s (a whole sector, or part of it at an
//!   unaligned edge), punches covering s, and truncates to a size at or
//!   below s's end (a truncate zeroes everything past its size, which later
//!   extensions read back as zeros); failed ops affect nothing, unfinished
//!   ops may have done everything they asked;
//! - an op is a candidate (possibly the last) unless a finished op
//!   affecting s began after it ended;
//! - ok: s holds the stamp of a candidate write; zeros when a candidate is
//!   a punch or truncate or no finished op affects s; garbage when a
//!   candidate changed s only in part;
//! - stale: s holds a write that affects s but is not a candidate;
//! - dropped: zeros, nothing (past the read-back size) or another op's data
//!   where only writes are candidates;
//! - torn: garbage no candidate explains, or s holds candidate A while a
//!   write B that overlapped A in time holds another sector of the range
//!   both cover (no serial order of A and B gives that mix).
//!
//! Data of an op that never acknowledged writing s (failed, short, another
//! inode, not in the history) is dropped when a write was due and stale
//! when zeros were.

mod classify;
mod content;
pub mod provenance;
mod report;
mod round;

use crate::stamp::SECTOR;
pub use report::{CheckReport, Class, Counts, OpWindow, ShortFile, Violation};
pub use round::{check_round, read_whole, Checked, EngineFile, Remountable};

use crate::history::{History, OpRecord, UNFINISHED};
use lockline_engine::probe::OpKind;

/// When the content was taken; labels of the three standard checks.
pub const AFTER_RUN: &str = "after-run";
pub const AFTER_FSYNC: &str = "after-fsync";
pub const AFTER_REMOUNT: &str = "after-remount";

/// Checks inode `ino` whose whole content, read back at the moment named by
/// `label`, is `content` (its length is the size read back).
pub fn check(history: &History, ino: u64, content: &[u8], label: &str) -> CheckReport {
    check_with(history, ino, content.len() as u64, label, |_, _, n| {
        content::decode_file(content, n)
    })
}

/// [`check`] of a file of `size` bytes whose sectors `decode` reads (given
/// the inode's ops, their effects and the sectors to check).
fn check_with(
    history: &History,
    ino: u64,
    size: u64,
    label: &str,
    decode: impl FnOnce(&classify::Ops, &[classify::Effect], u64) -> content::Decoded,
) -> CheckReport {
    let (ops, effects) = classify::effects(history, ino);
    let n = classify::nr_sectors(&effects, size as usize);
    let decoded = decode(&ops, &effects, n);
    let out = classify::classify(&ops, effects, &decoded, n);
    let ex = report::Explainer::new(history, &ops, &decoded, ino, size);
    let violations: Vec<Violation> = out.findings.iter().map(|f| ex.violation(f)).collect();
    let short_file = violations
        .iter()
        .filter(|v| v.file_shorter)
        .map(|v| (v.first_sector + v.nr_sectors) * SECTOR as u64)
        .max()
        .map(|end| ShortFile {
            size,
            acknowledged_end: end,
        });
    let unfinished = history
        .for_inode(ino)
        .filter(|o| !o.finished())
        .map(|r| ex.window(r))
        .collect();
    CheckReport {
        label: label.to_string(),
        round: 0,
        ino,
        size,
        sectors_checked: n,
        ok: out.ok,
        violations,
        counts: out.counts,
        unfinished,
        short_file,
    }
}

/// One read made during the run, by a verifying reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRecord {
    /// The read's op id (its window comes from the history).
    pub op: u64,
    pub offset: u64,
    /// What it returned (sector-aligned reads; a short read at EOF is fine).
    pub data: Vec<u8>,
}

/// Every verifying read of a run, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReadChecks {
    pub reads: u64,
    /// Reads made but not kept for checking (over the run's bound).
    pub reads_not_kept: u64,
    pub sectors: u64,
    /// Sectors per class (stale: data a completed write had replaced;
    /// dropped: zeros or nothing where a completed write's data was due).
    pub counts: Counts,
    /// Reads with a violation.
    pub bad_reads: u64,
    /// The first [`MAX_READ_VIOLATIONS`] violations.
    pub violations: Vec<Violation>,
}

pub const MAX_READ_VIOLATIONS: usize = 50;

impl ReadChecks {
    /// Adds another run's (or round's) read checks: sums, and violations up
    /// to [`MAX_READ_VIOLATIONS`] in all.
    pub fn merge(&mut self, o: ReadChecks) {
        self.reads += o.reads;
        self.reads_not_kept += o.reads_not_kept;
        self.sectors += o.sectors;
        self.counts += o.counts;
        self.bad_reads += o.bad_reads;
        let room = MAX_READ_VIOLATIONS.saturating_sub(self.violations.len());
        self.violations.extend(o.violations.into_iter().take(room));
    }
}

/// Checks every read (see [`check_read`]).
pub fn check_reads(history: &History, ino: u64, reads: &[ReadRecord], not_kept: u64) -> ReadChecks {
    let mut out = ReadChecks {
        reads: reads.len() as u64,
        reads_not_kept: not_kept,
        ..ReadChecks::default()
    };
    for r in reads {
        out.sectors += (r.data.len() as u64).div_ceil(SECTOR as u64);
        if let Some(rep) = check_read(history, ino, r) {
            out.bad_reads += 1;
            out.counts.dropped += rep.counts.dropped;
            out.counts.stale += rep.counts.stale;
            let room = MAX_READ_VIOLATIONS.saturating_sub(out.violations.len());
            out.violations.extend(rep.violations.into_iter().take(room));
        }
    }
    out
}

/// Label of read checks.
pub const DURING_RUN: &str = "read-during-run";

/// Checks what one read returned against the history as it stood during
/// the read: ops that began after it ended did not exist yet; ops still in
/// flight when it began count as unfinished (they may have applied, wholly
/// or in part, or not at all). A sector holding data a write superseded
/// before the read began is a stale read; zeros where a write had
/// completed, a dropped one. Mixes are not judged: a read may see a write
/// in flight half done. None when the read is not in the history or the
/// data is fine.
pub fn check_read(history: &History, ino: u64, read: &ReadRecord) -> Option<CheckReport> {
    if read.data.is_empty() || !read.offset.is_multiple_of(SECTOR as u64) {
        return None;
    }
    let lo = read.offset / SECTOR as u64;
    let hi = lo + (read.data.len() as u64).div_ceil(SECTOR as u64);
    let end = read.offset + read.data.len() as u64;
    check_read_with(history, ino, read.op, lo, hi, end, |_, _| {
        content::decode_range(&read.data, lo, hi)
    })
}

/// [`check_read`] of read op `op` whose sectors [lo, hi) (ending at byte
/// `end`) `decode` reads, given the ops and effects as they stood then.
fn check_read_with(
    history: &History,
    ino: u64,
    op: u64,
    lo: u64,
    hi: u64,
    end: u64,
    decode: impl FnOnce(&classify::Ops, &[classify::Effect]) -> content::Decoded,
) -> Option<CheckReport> {
    let r = history.get(op)?;
    let (rb, re) = (r.begin_ns, r.end_ns);
    // Only ops that can change [lo, end) matter: a read of a few sectors
    // of a long history takes a short one.
    let (from, to) = (lo * SECTOR as u64, end);
    let touches = |o: &OpRecord| match o.kind {
        OpKind::Write | OpKind::Punch => {
            o.offset < to && o.offset.saturating_add(o.len.max(o.result.max(0) as u64)) > from
        }
        OpKind::Truncate => o.offset < to,
        OpKind::Create => true,
        _ => false,
    };
    // Ops are by begin time: those after the read's end never matter.
    let all = history.ops();
    let upto = all.partition_point(|o| o.begin_ns <= re);
    let ops: Vec<OpRecord> = all[..upto]
        .iter()
        .filter(|o| o.ino == ino && o.op != op && touches(o))
        .map(|o| {
            if o.finished() && o.end_ns < rb {
                *o
            } else {
                OpRecord {
                    end_ns: UNFINISHED,
                    result: 0,
                    ..*o
                }
            }
        })
        .collect();
    let h = History::from_records(ops);
    let (ops, effects) = classify::effects(&h, ino);
    let decoded = decode(&ops, &effects);
    let out = classify::classify(&ops, effects, &decoded, hi);
    let ex = report::Explainer::new(&h, &ops, &decoded, ino, end);
    let mut counts = Counts::default();
    let violations: Vec<Violation> = out
        .findings
        .iter()
        .filter(|f| f.class != Class::Torn && f.hi > lo && f.lo < hi)
        .map(|f| {
            let f = report::Finding {
                lo: f.lo.max(lo),
                hi: f.hi.min(hi),
                ..f.clone()
            };
            counts.add(f.class, f.hi - f.lo);
            let mut v = ex.violation(&f);
            v.explanation = format!("read op {op} saw: {}", v.explanation);
            v
        })
        .collect();
    if violations.is_empty() {
        return None;
    }
    Some(CheckReport {
        label: DURING_RUN.to_string(),
        round: 0,
        ino,
        size: end - lo * SECTOR as u64,
        sectors_checked: hi - lo,
        ok: (hi - lo) - counts.total(),
        violations,
        counts,
        unfinished: Vec::new(),
        short_file: None,
    })
}

/// Names, for each violation, the folio (first index, order) that held its
/// first page: the last one added to the inode's cache at or before the
/// end of the latest op involved.
pub fn annotate_folios(report: &mut CheckReport, events: &[lockline_engine::probe::Event]) {
    use lockline_engine::probe::EventKind;
    let mut added: Vec<(u64, u64, u8)> = events
        .iter()
        .filter(|e| e.inode == report.ino && e.kind() == Some(EventKind::FolioAdded))
        .map(|e| (e.ts_ns, e.folio, e.a as u8))
        .collect();
    added.sort_unstable();
    for v in &mut report.violations {
        let until = v.ops.iter().map(|o| o.end_ns).max().unwrap_or(u64::MAX);
        let page = v.folio_index;
        v.folio = added
            .iter()
            .take_while(|(ts, _, _)| *ts <= until)
            .filter(|(_, idx, order)| page >= *idx && page < idx + (1u64 << order))
            .last()
            .map(|(_, idx, order)| (*idx, *order));
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod annotate_tests {
    use super::*;
    use lockline_engine::probe::{Code, Event, EventKind};

    #[test]
    fn names_the_folio_cached_when_the_ops_ran() {
        let mut r = CheckReport {
            label: AFTER_RUN.into(),
            round: 0,
            ino: 3,
            size: 0,
            sectors_checked: 0,
            ok: 0,
            short_file: None,
            violations: vec![Violation {
                file_shorter: false,
                class: Class::Dropped,
                ino: 3,
                first_sector: 8 * 21,
                nr_sectors: 8,
                ops: vec![],
                folio_index: 21,
                folio: None,
                explanation: String::new(),
            }],
            counts: Counts::default(),
            unfinished: vec![],
        };
        let added = |ts, ino, index, order| Event {
            ts_ns: ts,
            tid: 1,
            code: Code::pack(EventKind::FolioAdded, 0, 0),
            inode: ino,
            folio: index,
            op: 0,
            a: order,
            b: 0,
            fid: 0,
        };
        let events = [
            added(1, 3, 16, 2),
            added(2, 9, 16, 4),
            added(3, 3, 20, 2),
            added(4, 3, 0, 0),
        ];
        annotate_folios(&mut r, &events);
        assert_eq!(r.violations[0].folio, Some((20, 2)));
    }
}

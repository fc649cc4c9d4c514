//! What the checker reports: violations grouped over adjacent sectors, each
//! with the ops involved, their time windows and one plain-language line,
//! as text and as JSON.

use super::classify::Ops;
use super::content::Decoded;
use crate::history::{History, OpRecord, UNFINISHED};
use crate::stamp::{GarbageKind, SECTOR};
use lockline_engine::probe::OpKind;
use serde::Serialize;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::fmt::{self, Write as _};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// An acknowledged write that may be the last to cover the sector is
    /// not there.
    Dropped,
    /// The sector holds a write that a later op strictly superseded.
    Stale,
    /// Two time-overlapping writes mixed within their common range, or the
    /// sector itself is damaged.
    Torn,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Class::Dropped => "dropped",
            Class::Stale => "stale",
            Class::Torn => "torn",
        })
    }
}

/// One op involved in a violation, with both thread identities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct OpWindow {
    pub op: u64,
    pub kind: OpKind,
    /// Kernel thread id from the trace.
    pub tid: u32,
    /// Workload thread index from the stamps (None when no sector of this
    /// op, nor of another op of the same tid, survived).
    pub thread: Option<u32>,
    pub begin_ns: u64,
    /// [`UNFINISHED`] when the op never returned.
    pub end_ns: u64,
    pub offset: u64,
    pub len: u64,
    pub result: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub class: Class,
    pub ino: u64,
    pub first_sector: u64,
    pub nr_sectors: u64,
    /// Ops named by the explanation; for stale the held op comes first, for
    /// a torn pair the holder and then the other writes.
    pub ops: Vec<OpWindow>,
    /// Page index of the first sector.
    pub folio_index: u64,
    /// The cached folio that held that page when the ops ran (first index,
    /// order), when the trace shows it; filled in from folio_added events by
    /// [`annotate_folios`](crate::check::annotate_folios).
    pub folio: Option<(u64, u8)>,
    /// Dropped because the file ends before the sectors: the size read back
    /// is below the end of an acknowledged write (a lost extending write on
    /// bcachefs shows as a short file, the on-disk size growing only with
    /// written extents).
    pub file_shorter: bool,
    pub explanation: String,
}

/// The file read back ends before an acknowledged write does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ShortFile {
    /// Bytes read back.
    pub size: u64,
    /// The end of the furthest acknowledged write the size cut off.
    pub acknowledged_end: u64,
}

/// Sectors in each class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Counts {
    pub dropped: u64,
    pub stale: u64,
    pub torn: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.dropped += o.dropped;
        self.stale += o.stale;
        self.torn += o.torn;
    }
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.dropped + self.stale + self.torn
    }

    pub(crate) fn add(&mut self, class: Class, n: u64) {
        match class {
            Class::Dropped => self.dropped += n,
            Class::Stale => self.stale += n,
            Class::Torn => self.torn += n,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// When the content was taken: "after-run", "after-fsync", "after-remount".
    pub label: String,
    /// The checked round it belongs to (1-based; 0 outside rounds, e.g.
    /// kernel runs and read checks).
    pub round: u64,
    pub ino: u64,
    /// Bytes read back.
    pub size: u64,
    /// Sectors classified, including those past `size` that some write
    /// once covered.
    pub sectors_checked: u64,
    pub ok: u64,
    pub violations: Vec<Violation>,
    /// Sectors per class.
    pub counts: Counts,
    /// Ops on this inode that never returned; their effects were allowed
    /// but not required.
    pub unfinished: Vec<OpWindow>,
    /// Set when the file is shorter than an acknowledged write's end: its
    /// own finding, beside the dropped sectors it implies.
    pub short_file: Option<ShortFile>,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.is_clean() {
            "clean"
        } else {
            "VIOLATIONS"
        };
        writeln!(
            f,
            "{} inode {}: {} ({} bytes, {} sectors checked, {} ok; dropped {}, stale {}, torn {} sectors)",
            self.label,
            self.ino,
            verdict,
            self.size,
            self.sectors_checked,
            self.ok,
            self.counts.dropped,
            self.counts.stale,
            self.counts.torn
        )?;
        if let Some(s) = self.short_file {
            writeln!(
                f,
                "  FILE SHORTER: {} bytes read back, acknowledged writes reach {} bytes",
                s.size, s.acknowledged_end
            )?;
        }
        for v in &self.violations {
            let last = v.first_sector + v.nr_sectors - 1;
            let range = if v.nr_sectors == 1 {
                format!("sector {}", v.first_sector)
            } else {
                format!("sectors {}-{last}", v.first_sector)
            };
            writeln!(
                f,
                "  {:<7} {range} (folio {}): {}",
                v.class, v.folio_index, v.explanation
            )?;
        }
        if !self.unfinished.is_empty() {
            let ops: Vec<String> = self.unfinished.iter().map(|o| o.op.to_string()).collect();
            writeln!(f, "  unfinished ops: {}", ops.join(", "))?;
        }
        Ok(())
    }
}

/// What distinguishes violations of one class from each other, beyond
/// their ops; adjacent sectors merge only when this matches too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Dropped: the sectors hold zeros.
    Zeros,
    /// Dropped: the sectors lie past the read-back size.
    PastEof,
    /// Dropped or stale: the sectors hold an op that never acknowledged
    /// writing them (failed, short, other inode, or not in the history).
    Foreign { held: u64 },
    /// Stale: the sectors hold `held`, which a later op superseded.
    Superseded { held: u64 },
    /// Stale: the sectors hold `held` where zeros are due, because `cut`
    /// (a truncate below them or a punch over them) began after `held`
    /// returned and nothing wrote them since: cut data came back.
    Resurrected { held: u64, cut: u64 },
    /// Torn: the sectors hold `held`, and other writes overlapping it in
    /// time hold other sectors of their common range.
    Mixed { held: u64 },
    /// Torn: the sector itself is damaged.
    Garbage(GarbageKind),
}

/// One classified piece of sectors before explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    pub lo: u64,
    pub hi: u64,
    pub class: Class,
    pub detail: Detail,
    /// Op ids, in the order [`Violation::ops`] documents.
    pub ops: Vec<u64>,
}

/// Merges adjacent findings with the same class, detail and ops.
#[derive(Default)]
pub(crate) struct Grouper {
    out: Vec<Finding>,
}

impl Grouper {
    pub fn push(&mut self, f: Finding) {
        if let Some(last) = self.out.last_mut() {
            if last.hi == f.lo
                && last.class == f.class
                && last.detail == f.detail
                && last.ops == f.ops
            {
                last.hi = f.hi;
                return;
            }
        }
        self.out.push(f);
    }

    pub fn finish(self) -> Vec<Finding> {
        self.out
    }
}

/// Turns findings into violations with their explanations.
pub(crate) struct Explainer<'a> {
    pub history: &'a History,
    /// The checked inode's own ops, ahead of the whole history (op ids are
    /// unique per process now; histories merged from several processes
    /// could still repeat them).
    pub ops: &'a Ops<'a>,
    pub decoded: &'a Decoded,
    pub ino: u64,
    pub size: u64,
    pub t0: u64,
    /// Kernel tid → workload thread index, for ops none of whose sectors
    /// survived; built on first need, as clean reports never need it.
    tid_threads: OnceCell<HashMap<u32, u32>>,
}

impl<'a> Explainer<'a> {
    pub fn new(
        history: &'a History,
        ops: &'a Ops<'a>,
        decoded: &'a Decoded,
        ino: u64,
        size: u64,
    ) -> Self {
        Explainer {
            history,
            ops,
            decoded,
            ino,
            size,
            t0: history.first_begin_ns().unwrap_or(0),
            tid_threads: OnceCell::new(),
        }
    }

    fn rec(&self, op: u64) -> Option<&'a OpRecord> {
        self.ops.get(op).or_else(|| self.history.get(op))
    }

    pub fn thread_of(&self, r: &OpRecord) -> Option<u32> {
        self.decoded.thread_of(r.op).or_else(|| {
            let tids = self.tid_threads.get_or_init(|| {
                let mut m = HashMap::new();
                for (op, t) in self.decoded.stamped_ops() {
                    if let Some(r) = self.rec(op) {
                        m.entry(r.tid).or_insert(t);
                    }
                }
                m
            });
            tids.get(&r.tid).copied()
        })
    }

    pub fn window(&self, r: &OpRecord) -> OpWindow {
        OpWindow {
            op: r.op,
            kind: r.kind,
            tid: r.tid,
            thread: self.thread_of(r),
            begin_ns: r.begin_ns,
            end_ns: r.end_ns,
            offset: r.offset,
            len: r.len,
            result: r.result,
        }
    }

    pub fn violation(&self, f: &Finding) -> Violation {
        let ops: Vec<OpWindow> = f
            .ops
            .iter()
            .filter_map(|&op| self.rec(op).map(|r| self.window(r)))
            .collect();
        Violation {
            class: f.class,
            ino: self.ino,
            first_sector: f.lo,
            nr_sectors: f.hi - f.lo,
            ops,
            folio_index: f.lo * SECTOR as u64 / lockline_engine::config::PAGE_SIZE,
            folio: None,
            file_shorter: matches!(f.detail, Detail::PastEof),
            explanation: self.explain(f),
        }
    }

    fn ms(&self, ns: u64) -> String {
        format!("{:.3}", ns.saturating_sub(self.t0) as f64 / 1e6)
    }

    /// "op 812 (write, thread 3, tid 4711, 10.118–10.120 ms)"
    fn who(&self, op: u64) -> String {
        let Some(r) = self.rec(op) else {
            return format!("op {op} (not in the history)");
        };
        let mut s = format!("op {op} ({}", r.kind);
        if let Some(t) = self.thread_of(r) {
            let _ = write!(s, ", thread {t}");
        }
        let _ = write!(s, ", tid {}, ", r.tid);
        if r.end_ns == UNFINISHED {
            let _ = write!(s, "began {} ms, never returned)", self.ms(r.begin_ns));
        } else {
            let _ = write!(s, "{}–{} ms)", self.ms(r.begin_ns), self.ms(r.end_ns));
        }
        s
    }

    /// What the op did: "returned 65536 bytes at offset 1048576".
    fn did(&self, op: u64) -> String {
        let Some(r) = self.rec(op) else {
            return String::new();
        };
        if !r.finished() {
            return match r.kind {
                OpKind::Truncate => format!("was truncating to {}", r.offset),
                _ => format!("was at work on {} bytes at offset {}", r.len, r.offset),
            };
        }
        match r.kind {
            OpKind::Write if r.result >= 0 && r.result as u64 == r.len => {
                format!("returned {} bytes at offset {}", r.result, r.offset)
            }
            OpKind::Write if r.result >= 0 => {
                format!(
                    "returned {} of {} bytes at offset {}",
                    r.result, r.len, r.offset
                )
            }
            OpKind::Truncate if r.result >= 0 => {
                format!("truncated the file to {} bytes", r.offset)
            }
            OpKind::Punch if r.result >= 0 => {
                format!("punched {} bytes at offset {}", r.len, r.offset)
            }
            _ if r.result < 0 => format!("failed with errno {}", -r.result),
            _ => format!("returned {}", r.result),
        }
    }

    fn who_did(&self, op: u64) -> String {
        let d = self.did(op);
        if d.is_empty() {
            self.who(op)
        } else {
            format!("{} {}", self.who(op), d)
        }
    }

    fn list(&self, ops: &[u64]) -> String {
        let parts: Vec<String> = ops.iter().map(|&o| self.who_did(o)).collect();
        match parts.len() {
            0 => "no op".into(),
            1 => parts[0].clone(),
            _ => format!(
                "{} and {}",
                parts[..parts.len() - 1].join(", "),
                parts[parts.len() - 1]
            ),
        }
    }

    /// The op among `ops` that began last: the one that superseded.
    fn latest(&self, ops: &[u64]) -> Option<u64> {
        ops.iter()
            .filter_map(|&o| self.rec(o))
            .filter(|r| r.finished())
            .max_by_key(|r| (r.begin_ns, r.op))
            .map(|r| r.op)
    }

    fn explain(&self, f: &Finding) -> String {
        let one = f.hi - f.lo == 1;
        let (sectors, hold, lie, them) = if one {
            (format!("sector {}", f.lo), "holds", "lies", "it")
        } else {
            (
                format!("sectors {}–{}", f.lo, f.hi - 1),
                "hold",
                "lie",
                "them",
            )
        };
        let expected = |ops: &[u64]| match ops.len() {
            0 => format!("no op covers {them}, so {them} should read as zeros"),
            1 => format!("{} and nothing began after it returned", self.list(ops)),
            _ => format!("{} may each be the last to cover {them}", self.list(ops)),
        };
        match f.detail {
            Detail::Zeros => format!("{}; {sectors} {hold} zeros", expected(&f.ops)),
            Detail::PastEof => format!(
                "file shorter: {}; {sectors} {lie} past the end of the file, which reads back as {} bytes",
                expected(&f.ops),
                self.size
            ),
            Detail::Foreign { held } => {
                let cands: Vec<u64> = f.ops.iter().copied().filter(|&o| o != held).collect();
                let why = match self.rec(held) {
                    None => "which is not in the history".to_string(),
                    Some(r) if r.ino != self.ino => format!("which wrote inode {}", r.ino),
                    Some(_) => format!(
                        "which never acknowledged writing {them} (it {})",
                        self.did(held)
                    ),
                };
                let head = match f.class {
                    Class::Dropped => expected(&cands),
                    _ if cands.is_empty() => format!("no op covers {them}"),
                    _ => format!("the last ops to cover {them} are {}", self.list(&cands)),
                };
                format!("{head}; {sectors} {hold} {}, {why}", self.who(held))
            }
            Detail::Superseded { held } => {
                let later = self.latest(&f.ops[1..]).unwrap_or(held);
                format!(
                    "{}; {sectors} {hold} {}, which finished before op {later} began",
                    self.who_did(later),
                    self.who(held)
                )
            }
            Detail::Resurrected { held, cut } => {
                let what = match self.rec(cut).map(|r| r.kind) {
                    Some(OpKind::Punch) => "punched",
                    _ => "truncated",
                };
                format!(
                    "{what} data came back: op {held}'s bytes, cut by op {cut}; {} {}; \
                     {sectors} {hold} {}, which finished before op {cut} began, where zeros \
                     are due",
                    self.who(cut),
                    self.did(cut),
                    self.who(held)
                )
            }
            Detail::Mixed { held } => {
                let others: Vec<u64> = f.ops.iter().copied().filter(|&o| o != held).collect();
                let names: Vec<String> = others.iter().map(|&o| self.who(o)).collect();
                let ids: Vec<String> = others.iter().map(|o| format!("op {o}")).collect();
                let common = match (
                    self.ops.index(held),
                    others.first().and_then(|&o| self.ops.index(o)),
                ) {
                    (Some(a), Some(b)) => {
                        let ((alo, ahi), (blo, bhi)) = (self.ops.full(a), self.ops.full(b));
                        format!(
                            " on sectors {}–{}",
                            alo.max(blo),
                            ahi.min(bhi).saturating_sub(1)
                        )
                    }
                    _ => String::new(),
                };
                format!(
                    "{} overlapped in time with {}{common}; {sectors} {hold} op {held} while other \
                     sectors of that common range hold {}: no serial order of the writes gives \
                     this mix",
                    self.who(held),
                    names.join(" and "),
                    ids.join(" and ")
                )
            }
            Detail::Garbage(g) => {
                let exp = if f.ops.is_empty() {
                    format!("no op covers {them}, so {them} should read as zeros")
                } else {
                    format!("expected the data of {}", self.list(&f.ops))
                };
                format!("{sectors} {hold} {}; {exp}", g.describe())
            }
        }
    }
}

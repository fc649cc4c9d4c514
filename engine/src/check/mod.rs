//! The integrity checker: classifies every sector of a file read back
//! against the op history as ok, dropped, stale or torn (DESIGN.md,
//! "Integrity: dropped, stale, torn").
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
mod report;

pub use report::{CheckReport, Class, Counts, OpWindow, Violation};

use crate::history::History;

/// When the content was taken; labels of the three standard checks.
pub const AFTER_RUN: &str = "after-run";
pub const AFTER_FSYNC: &str = "after-fsync";
pub const AFTER_REMOUNT: &str = "after-remount";

/// Checks inode `ino` whose whole content, read back at the moment named by
/// `label`, is `content` (its length is the size read back).
pub fn check(history: &History, ino: u64, content: &[u8], label: &str) -> CheckReport {
    let (ops, effects) = classify::effects(history, ino);
    let n = classify::nr_sectors(&effects, content.len());
    let decoded = content::decode_file(content, n);
    let out = classify::classify(&ops, effects, &decoded, n);
    let ex = report::Explainer::new(history, &ops, &decoded, ino, content.len() as u64);
    let violations = out.findings.iter().map(|f| ex.violation(f)).collect();
    let unfinished = history
        .for_inode(ino)
        .filter(|o| !o.finished())
        .map(|r| ex.window(r))
        .collect();
    CheckReport {
        label: label.to_string(),
        ino,
        size: content.len() as u64,
        sectors_checked: n,
        ok: out.ok,
        violations,
        counts: out.counts,
        unfinished,
    }
}

#[cfg(test)]
mod tests;

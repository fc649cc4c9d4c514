//! Lock-protocol lints: small named rules, each switchable, replayed over a
//! trace's events in order with the lock holdership of every thread. Each
//! finding names the rule, the event (its index in the trace), the thread,
//! the op and the folio, and says in one sentence what rule was broken.

mod dirty_without_add_lock;
mod folio_lock_across_io;
mod held;
mod isize_without_inode_lock;
mod lock_order;
mod remove_without_folio_lock;
mod truncate_without_block_lock;
mod unreleased_lock;

use crate::holds::Hold;
use held::Held;
use lockline_engine::probe::{Event, NO_FOLIO};
use serde::Serialize;

/// A rule's name and what it checks, for `--lint list` and the report.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct LintInfo {
    pub name: &'static str,
    pub description: &'static str,
    /// The rule reasons about the engine's own locks (inode, add/block,
    /// folio, i_lock); a kernel file system's trace has none of their
    /// events, so there it does not apply.
    pub engine_locks: bool,
}

/// Whether `events` carry the engine's lock events (not a kernel trace).
pub fn has_engine_locks(events: &[Event]) -> bool {
    use lockline_engine::probe::{EventKind, LockClass};
    events.iter().any(|e| {
        e.kind() == Some(EventKind::LockAcquired)
            && e.lock_class().is_some_and(|c| c != LockClass::Kernel)
    })
}

pub const ALL: &[LintInfo] = &[
    dirty_without_add_lock::INFO,
    isize_without_inode_lock::INFO,
    truncate_without_block_lock::INFO,
    remove_without_folio_lock::INFO,
    folio_lock_across_io::INFO,
    unreleased_lock::INFO,
    lock_order::INFO,
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub lint: &'static str,
    /// Index of the offending event in the trace's events.
    pub event: u64,
    pub ts_ns: u64,
    pub tid: u32,
    pub op: u64,
    pub inode: u64,
    /// Folio index, when the finding is about one.
    pub folio: Option<u64>,
    /// Folio identity, when the event carries one.
    pub fid: Option<u64>,
    pub message: String,
}

/// Settings of a lint run.
#[derive(Clone, Debug)]
pub struct LintOptions {
    /// Names of the lints to run.
    pub enabled: Vec<&'static str>,
    /// folio-lock-across-io: a folio lock held longer than this while its
    /// folio is under writeback is reported.
    pub folio_io_threshold_ns: u64,
}

impl Default for LintOptions {
    fn default() -> Self {
        LintOptions {
            enabled: ALL.iter().map(|l| l.name).collect(),
            folio_io_threshold_ns: 1_000_000,
        }
    }
}

/// What a rule sees for each event: the event, its index, and the
/// holdership just before it.
pub(crate) struct Ctx<'a> {
    pub e: &'a Event,
    /// The event's kind, decoded once for every rule.
    pub kind: Option<lockline_engine::probe::EventKind>,
    pub id: u64,
    pub held: &'a Held,
}

impl Ctx<'_> {
    /// Whether the event's thread holds a `class` lock of its inode.
    pub fn holds(&self, class: lockline_engine::probe::LockClass) -> bool {
        self.held.holds(self.e.tid, class, self.e.inode)
    }

    /// Whether the event's thread holds any of `classes` of its inode.
    pub fn holds_any(&self, classes: &[lockline_engine::probe::LockClass]) -> bool {
        classes.iter().any(|&c| self.holds(c))
    }

    pub fn finding(&self, lint: &'static str, message: String) -> Finding {
        Finding {
            lint,
            event: self.id,
            ts_ns: self.e.ts_ns,
            tid: self.e.tid,
            op: self.e.op,
            inode: self.e.inode,
            folio: (self.e.folio != NO_FOLIO).then_some(self.e.folio),
            fid: (self.e.fid != 0).then_some(self.e.fid),
            message,
        }
    }
}

/// A rule judging one event.
type Check = fn(&Ctx) -> Option<Finding>;

/// The rules that judge each event alone, given the holdership before it.
const PER_EVENT: [(LintInfo, Check); 4] = [
    (dirty_without_add_lock::INFO, dirty_without_add_lock::check),
    (
        isize_without_inode_lock::INFO,
        isize_without_inode_lock::check,
    ),
    (
        truncate_without_block_lock::INFO,
        truncate_without_block_lock::check,
    ),
    (
        remove_without_folio_lock::INFO,
        remove_without_folio_lock::check,
    ),
];

/// Runs the enabled lints over `events` (sorted by time) and their `holds`
/// (`holds_from_events`).
pub fn run(events: &[Event], holds: &[Hold], opts: &LintOptions) -> Vec<Finding> {
    // Which rules are on, looked up once: per event, name comparisons
    // cost more than the rules.
    let on = |n: &str| opts.enabled.contains(&n);
    let per_event: Vec<Check> = PER_EVENT
        .iter()
        .filter(|(info, _)| on(info.name))
        .map(|(_, check)| *check)
        .collect();
    let io_on = on(folio_lock_across_io::INFO.name);
    let mut io = folio_lock_across_io::State::new(opts.folio_io_threshold_ns);
    let mut held = Held::default();
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let cx = Ctx {
            e,
            kind: e.kind(),
            id: i as u64,
            held: &held,
        };
        for check in &per_event {
            out.extend(check(&cx));
        }
        if io_on {
            out.extend(io.check(&cx));
        }
        held.apply(e, cx.kind);
    }
    if on(unreleased_lock::INFO.name) {
        out.extend(unreleased_lock::at_end(&held, events));
    }
    if on(lock_order::INFO.name) {
        out.extend(lock_order::check(holds, events));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;

//! A violation's blame window: from the first op involved beginning to the
//! last one ending — widened to the culprit's event when that came later
//! (or earlier) — every event of every thread on that inode: the lock
//! hand-offs and folio changes one of which let the write go missing.

use crate::consistency::Consistency;
use crate::culprit::{self, Culprit};
use crate::trace::{Trace, ViolationRow};
use serde::Serialize;

/// At most this many events per window; the rest are counted.
pub const MAX_EVENTS: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlameWindow {
    pub violation: u32,
    pub class: String,
    pub explanation: String,
    pub ino: u64,
    pub first_sector: u64,
    pub nr_sectors: u64,
    pub ops: Vec<u64>,
    pub begin_ns: u64,
    pub end_ns: u64,
    /// Threads with events in the window.
    pub tids: Vec<u32>,
    /// Indices into the trace's events, in time order.
    pub events: Vec<u64>,
    /// Events in the window beyond MAX_EVENTS.
    pub cut: u64,
    /// The event that lost the data, when the trace shows it.
    pub culprit: Option<Culprit>,
    /// The window overlaps a stretch where the trace contradicts itself
    /// (see consistency/): its verdict cannot be trusted.
    pub inconclusive: bool,
}

/// The window of one violation: (begin, end) of its ops; an op that never
/// ended runs to the trace's end.
pub fn span(trace: &Trace, v: &ViolationRow) -> Option<(u64, u64)> {
    let end_of_trace = trace.events.last().map_or(0, |e| e.ts_ns);
    let ops: Vec<_> = trace.ops.iter().filter(|o| v.ops.contains(&o.op)).collect();
    let begin = ops.iter().map(|o| o.begin_ns).min()?;
    let end = ops
        .iter()
        .map(|o| if o.finished() { o.end_ns } else { end_of_trace })
        .max()?;
    Some((begin, end.max(begin)))
}

/// The ops' span widened to include the culprit's event.
pub fn span_with(trace: &Trace, v: &ViolationRow, c: Option<&Culprit>) -> Option<(u64, u64)> {
    let (b, e) = span(trace, v)?;
    Some(match c {
        Some(c) => (b.min(c.ts_ns), e.max(c.ts_ns)),
        None => (b, e),
    })
}

pub fn window(trace: &Trace, v: &ViolationRow, c: Option<Culprit>) -> Option<BlameWindow> {
    let (begin, end) = span_with(trace, v, c.as_ref())?;
    let ev = &trace.events;
    let lo = ev.partition_point(|e| e.ts_ns < begin);
    // Events out of time order (a damaged trace) can put the second
    // search before the first.
    let hi = ev.partition_point(|e| e.ts_ns <= end).max(lo);
    let mut events = Vec::new();
    let mut cut = 0u64;
    let mut tids = Vec::new();
    for (i, e) in ev[lo..hi].iter().enumerate() {
        if e.inode != v.ino {
            continue;
        }
        if events.len() == MAX_EVENTS {
            cut += 1;
            continue;
        }
        events.push((lo + i) as u64);
        if !tids.contains(&e.tid) {
            tids.push(e.tid);
        }
    }
    tids.sort_unstable();
    Some(BlameWindow {
        violation: v.id,
        class: v.class.clone(),
        explanation: v.explanation.clone(),
        ino: v.ino,
        first_sector: v.first_sector,
        nr_sectors: v.nr_sectors,
        ops: v.ops.clone(),
        begin_ns: begin,
        end_ns: end,
        tids,
        events,
        cut,
        culprit: c,
        inconclusive: false,
    })
}

/// Windows of every violation of the final check, each with its culprit
/// and marked inconclusive where `consistency` found the trace untrustworthy.
pub fn windows(trace: &Trace, consistency: &Consistency) -> Vec<BlameWindow> {
    let mut culprits = culprit::culprits(trace);
    trace
        .final_violations()
        .filter_map(|v| window(trace, v, culprits.remove(&v.id)))
        .map(|mut w| {
            w.inconclusive = consistency.overlaps(w.begin_ns, w.end_ns);
            w
        })
        .collect()
}

//! The lock timeline of one violation: from the first involved op's begin
//! to the last one's end, a lane per thread, every hold on the violated
//! inode as a bar coloured by lock class (waits pale, before the bar), the
//! involved ops outlined, the moment the last of them returned marked, and
//! the culprit's event (see analysis/culprit.rs) marked on its thread's
//! lane; the window stretches to include it.

use crate::error::PlotError;
use crate::render::{about, both};
use crate::timeline_draw::{Bar, OpBox, Timeline};
use lockline_analysis::{blame, culprit, holds_from_events, threads, Trace, ViolationRow};
use lockline_engine::probe::OpKind;
use lockline_harness::history::OpRecord;
use std::path::{Path, PathBuf};

/// The window's margin on each side, as a share of its length.
const MARGIN: f64 = 0.03;

/// Lanes top-down: threads of the involved ops first, then the other
/// workers, then writeback and mm threads; returns tids bottom-up.
fn lane_order(
    tids: &[u32],
    ops: &[&OpRecord],
    names: &std::collections::BTreeMap<u32, String>,
) -> Vec<u32> {
    let mut keyed: Vec<(u8, u64, String, u32)> = tids
        .iter()
        .map(|&t| {
            let name = names.get(&t).cloned().unwrap_or_default();
            let first_op = ops.iter().filter(|o| o.tid == t).map(|o| o.begin_ns).min();
            match first_op {
                Some(b) => (0, b, name, t),
                None if name.starts_with("worker") => (1, 0, name, t),
                None => (2, 0, name, t),
            }
        })
        .collect();
    keyed.sort();
    keyed.into_iter().rev().map(|k| k.3).collect()
}

fn op_label(o: &OpRecord) -> String {
    let what = match o.kind {
        OpKind::Write | OpKind::Read => format!(" {} B at {}", o.len, o.offset),
        _ => String::new(),
    };
    format!("op {} {}{what}", o.op, o.kind.name())
}

fn find(trace: &Trace, id: u32) -> Result<&ViolationRow, PlotError> {
    trace
        .violations
        .iter()
        .find(|v| v.id == id)
        .ok_or(PlotError::NoViolation(id))
}

/// `violation_<id>.png` / `.svg`.
pub fn violation_timeline(
    trace: &Trace,
    violation: u32,
    dir: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    let v = find(trace, violation)?;
    let (t0, ops_end) = blame::span(trace, v).ok_or(PlotError::NoWindow(violation))?;
    let found = culprit::culprit(&culprit::Index::new(trace), v);
    let (t0, t1) = blame::span_with(trace, v, found.as_ref()).unwrap_or((t0, ops_end));
    let margin = ((t1 - t0) as f64 * MARGIN).max(1.0) as u64;
    let (w0, w1) = (t0.saturating_sub(margin), t1 + margin);
    let us = |ns: u64| (ns as f64 - t0 as f64) / 1e3;
    // Holds that began before the window still matter: take its events
    // plus a lead-in of the same length.
    let from = trace
        .events
        .partition_point(|e| e.ts_ns < w0.saturating_sub(w1 - w0));
    let to = trace.events.partition_point(|e| e.ts_ns <= w1).max(from);
    let on_inode: Vec<_> = trace.events[from..to]
        .iter()
        .filter(|e| e.inode == v.ino)
        .copied()
        .collect();
    let holds: Vec<_> = holds_from_events(&on_inode)
        .into_iter()
        .filter(|h| h.released_ns.unwrap_or(w1) >= w0 && h.acquired_ns <= w1)
        .collect();
    let ops: Vec<&OpRecord> = trace.ops.iter().filter(|o| v.ops.contains(&o.op)).collect();
    let mut tids: Vec<u32> = holds
        .iter()
        .map(|h| h.tid)
        .chain(ops.iter().map(|o| o.tid))
        .chain(found.as_ref().map(|c| c.tid))
        .collect();
    tids.sort_unstable();
    tids.dedup();
    let names = threads::names(&trace.events);
    let tids = lane_order(&tids, &ops, &names);
    let lanes: Vec<String> = tids
        .iter()
        .map(|t| match names.get(t) {
            Some(n) if !n.starts_with("thread") => format!("{n} ({t})"),
            _ => format!("tid {t}"),
        })
        .collect();
    let lane = |tid: u32| tids.iter().position(|t| *t == tid).unwrap_or(0);
    let mut bars = Vec::new();
    for h in &holds {
        let end = h.released_ns.unwrap_or(w1).min(w1);
        if let Some(w) = h.wait_ns {
            bars.push(Bar {
                lane: lane(h.tid),
                from: us(w.max(w0)),
                to: us(h.acquired_ns.max(w0)),
                class: h.class,
                wait: true,
            });
        }
        bars.push(Bar {
            lane: lane(h.tid),
            from: us(h.acquired_ns.max(w0)),
            to: us(end),
            class: h.class,
            wait: false,
        });
    }
    let op_boxes = ops
        .iter()
        .map(|o| OpBox {
            lane: lane(o.tid),
            from: us(o.begin_ns.max(w0)),
            to: us(if o.finished() { o.end_ns } else { ops_end }),
            label: op_label(o),
        })
        .collect();
    let sectors = format!(
        "{} sectors {}..{}",
        v.class,
        v.first_sector,
        v.first_sector + v.nr_sectors
    );
    let title = format!(
        "{} — violation {} ({}): {sectors}",
        about(&trace.meta),
        v.id,
        v.check
    );
    let t = Timeline {
        title,
        explanation: v.explanation.clone(),
        lanes,
        bars,
        ops: op_boxes,
        x: (us(w0), us(w1)),
        mark: (us(ops_end), sectors),
        culprit: found.as_ref().map(|c| {
            let what = match c.fate {
                culprit::Fate::TruncatedWhileDirty => "truncated it",
                culprit::Fate::RemovedWhileDirty => "removed it",
                culprit::Fate::RemovedUnderWriter => "removed it under the write",
                culprit::Fate::CleanedUnwritten => "cleaned it unwritten",
                culprit::Fate::MigratedUnlocked => "migrated it unlocked",
                culprit::Fate::Interleaved => "interleaved",
                culprit::Fate::WrittenBackAcrossCut => "wrote it back across the cut",
                culprit::Fate::ReadCutBlock => "read the cut block back",
            };
            (
                lane(c.tid),
                us(c.ts_ns),
                format!("culprit: folio {} #{} {what}", c.folio, c.fid),
            )
        }),
    };
    both(dir, &format!("violation_{}", v.id), &t)
}

//! A trace in memory: the tables a run leaves behind (events, ops,
//! violations, counters) and its metadata. The Parquet store, the exports,
//! `analyze`, the plots and later the TUI all read this one shape.

use lockline_engine::probe::provenance::Extent;
use lockline_engine::probe::Event;
use lockline_harness::check::{CheckReport, Violation};
use lockline_harness::history::OpRecord;
use serde::{Deserialize, Serialize};

/// Bumped whenever a table's columns change meaning or type. Readers refuse
/// other versions rather than guess.
pub const SCHEMA_VERSION: u32 = 4;

/// What produced the trace. One row in the store's `meta` table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceMeta {
    pub schema_version: u32,
    /// lockline's version.
    pub tool_version: String,
    /// locked, lockless, lockless-min, or kernel-<fs>.
    pub build: String,
    pub workload: String,
    pub seed: u64,
    pub threads: u32,
    /// The knobs as one JSON object ("{}" for kernel runs).
    pub knobs_json: String,
    /// inproc or ebpf.
    pub probe_source: String,
    /// How events were stamped: tsc-rdtscp, monotonic, ktime (eBPF), or
    /// two joined by `+`; all are CLOCK_MONOTONIC ns in the trace.
    pub clock: String,
    /// Why that clock (the cross-CPU TSC check's outcome), one line.
    pub clock_note: String,
    pub lost_events: u64,
    /// uname nodename.
    pub host: String,
    /// uname release.
    pub kernel: String,
    /// Seconds since the epoch when the trace was written.
    pub created_unix_s: u64,
    /// The workload file's inode: the one the checker judged (with rounds,
    /// the last round's; each round has its own file).
    pub ino: u64,
    /// Wall time of the workload, seconds.
    pub seconds: f64,
    /// Label of the check whose violations a user keeps (the last one run,
    /// normally after-remount).
    pub final_check: String,
    /// The whole run summary (`lockline run --json`), for what the columns
    /// above do not carry.
    pub summary_json: String,
}

/// One violation of one check, flattened for a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationRow {
    /// Position in the trace's violation list; lints and plots name it.
    pub id: u32,
    /// The checked round whose check found it (0 outside rounds).
    pub round: u32,
    /// after-run, after-fsync or after-remount.
    pub check: String,
    /// dropped, stale or torn.
    pub class: String,
    pub ino: u64,
    pub first_sector: u64,
    pub nr_sectors: u64,
    /// Page index of the first sector.
    pub folio_index: u64,
    /// First page index and order of the cached folio, when the trace shows it.
    pub folio_first: Option<u64>,
    pub folio_order: Option<u8>,
    /// Ops the explanation names, in its order.
    pub ops: Vec<u64>,
    pub explanation: String,
}

impl ViolationRow {
    pub fn from_checks(checks: &[CheckReport]) -> Vec<ViolationRow> {
        let mut out = Vec::new();
        for c in checks {
            for v in &c.violations {
                out.push(ViolationRow::new(out.len() as u32, c, v));
            }
        }
        out
    }

    fn new(id: u32, check: &CheckReport, v: &Violation) -> ViolationRow {
        ViolationRow {
            id,
            round: check.round as u32,
            check: check.label.clone(),
            class: v.class.to_string(),
            ino: v.ino,
            first_sector: v.first_sector,
            nr_sectors: v.nr_sectors,
            folio_index: v.folio_index,
            folio_first: v.folio.map(|f| f.0),
            folio_order: v.folio.map(|f| f.1),
            ops: v.ops.iter().map(|o| o.op).collect(),
            explanation: v.explanation.clone(),
        }
    }
}

/// One sample of a counter track. Tracks are named `dirty_folios`,
/// `pagecache_bytes` (derived from folio events) and `perf.<counter>`
/// (per thread, from perf events).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CounterSample {
    pub ts_ns: u64,
    pub track: String,
    /// 0 for process-wide tracks.
    pub tid: u32,
    pub value: f64,
}

/// A whole trace. Events are sorted by (ts_ns, tid); ops by begin time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub meta: TraceMeta,
    pub events: Vec<Event>,
    pub ops: Vec<OpRecord>,
    pub violations: Vec<ViolationRow>,
    pub counters: Vec<CounterSample>,
    /// Content digests (engine `probe::provenance`), by time; empty when
    /// the run took none.
    pub extents: Vec<Extent>,
}

impl Trace {
    /// Builds a trace from a finished run: the ops come from the events'
    /// op_begin/op_end pairs, the violations from every check.
    pub fn from_run(
        mut meta: TraceMeta,
        events: Vec<Event>,
        checks: &[CheckReport],
        counters: Vec<CounterSample>,
    ) -> Trace {
        let ops = lockline_harness::history::History::from_events(&events)
            .ops()
            .to_vec();
        meta.schema_version = SCHEMA_VERSION;
        if let Some(c) = checks.last() {
            meta.final_check = c.label.clone();
            meta.ino = c.ino;
        }
        Trace {
            meta,
            events,
            ops,
            violations: ViolationRow::from_checks(checks),
            counters,
            extents: Vec::new(),
        }
    }

    /// The first time the trace knows (an event or an op's begin) and its
    /// last event's: the span an export draws.
    pub fn time_bounds(&self) -> (u64, u64) {
        let t0 = self
            .events
            .first()
            .map(|e| e.ts_ns)
            .into_iter()
            .chain(self.ops.first().map(|o| o.begin_ns))
            .min()
            .unwrap_or(0);
        (t0, self.events.last().map_or(t0, |e| e.ts_ns))
    }

    /// The violations of the final check: what a user keeps.
    pub fn final_violations(&self) -> impl Iterator<Item = &ViolationRow> + '_ {
        self.violations
            .iter()
            .filter(move |v| v.check == self.meta.final_check)
    }
}

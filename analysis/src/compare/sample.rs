//! One repetition of one column (an engine build or a kernel file system)
//! reduced to what a comparison shows, so its trace can be dropped before
//! the next repetition runs.

use crate::holds_from_events;
use crate::report::Analysis;
use crate::stats::{Dist, LockStats, LockStatsAcc};
use crate::trace::Trace;
use lockline_engine::probe::OpKind;
use lockline_harness::check::Counts;
use lockline_harness::history::OpRecord;
use lockline_harness::perf;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the run reported about itself (its report, not its trace).
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunFacts {
    pub ops: u64,
    pub bytes: u64,
    /// Wall time of the workloads (checks and remounts not included).
    pub seconds: f64,
    pub rounds: u64,
    pub rounds_with_violations: u64,
    /// Rounds whose final check found sectors of each class.
    pub rounds_with: Counts,
    /// Sectors after remount, summed over the rounds.
    pub violations: Counts,
    pub first_violation_round: Option<u64>,
    /// From the start of the repetition to the end of that round's checks.
    pub first_violation_s: Option<f64>,
    pub perf: perf::Counts,
    /// Engine counters (None for a kernel file system).
    pub restarts: Option<u64>,
    pub need_inode_lock: Option<u64>,
    pub events: u64,
    pub lost_events: u64,
    pub op_errors: u64,
    pub interrupted: bool,
}

impl RunFacts {
    /// Adds a later run of the same repetition (a kernel repetition is a
    /// run per round); `offset_s` is when that run began in the repetition.
    pub fn add(&mut self, o: &RunFacts, offset_s: f64) {
        if self.first_violation_round.is_none() {
            if let Some(r) = o.first_violation_round {
                self.first_violation_round = Some(self.rounds + r);
                self.first_violation_s = o.first_violation_s.map(|s| s + offset_s);
            }
        }
        self.ops += o.ops;
        self.bytes += o.bytes;
        self.seconds += o.seconds;
        self.rounds += o.rounds;
        self.rounds_with_violations += o.rounds_with_violations;
        self.rounds_with += o.rounds_with;
        self.violations += o.violations;
        self.perf.add(&o.perf);
        let sum = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        self.restarts = sum(self.restarts, o.restarts);
        self.need_inode_lock = sum(self.need_inode_lock, o.need_inode_lock);
        self.events += o.events;
        self.lost_events += o.lost_events;
        self.op_errors += o.op_errors;
        self.interrupted |= o.interrupted;
    }
}

/// One repetition, reduced.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RepSample {
    /// 1-based.
    pub rep: u32,
    #[serde(flatten)]
    pub facts: RunFacts,
    /// MiB of writes per second of workload.
    pub throughput_mib_s: f64,
    /// Per op kind: end - begin of its finished ops.
    pub latency: BTreeMap<&'static str, Dist>,
    pub locks: Vec<LockStats>,
    /// Lock wait of every class summed, per op: comparable between
    /// repetitions of different lengths. None without lock events (a
    /// kernel file system traced in process only).
    pub wait_us_per_op: Option<f64>,
    /// Findings per lint that applies to the trace.
    pub lints: BTreeMap<&'static str, u64>,
    /// Every finished op's latency by kind (for the CDF plot; not in JSON).
    #[serde(skip)]
    pub op_ns: BTreeMap<OpKind, Vec<u64>>,
}

/// Latencies of finished ops by kind: the workload threads' ops and the
/// flusher's writebacks. The checker's own reads, fsyncs and unlinks
/// between rounds are not the workload's and are left out, as is an op
/// that never ended.
pub fn op_latencies(ops: &[OpRecord]) -> BTreeMap<OpKind, Vec<u64>> {
    let mut by: BTreeMap<OpKind, Vec<u64>> = BTreeMap::new();
    let counted =
        |o: &&OpRecord| o.finished() && (o.thread.is_some() || o.kind == OpKind::Writeback);
    for o in ops.iter().filter(counted) {
        by.entry(o.kind)
            .or_default()
            .push(o.end_ns.saturating_sub(o.begin_ns));
    }
    by
}

/// Builds a [`RepSample`] from the traces of a repetition, one at a time.
#[derive(Default)]
pub struct RepBuilder {
    facts: RunFacts,
    op_ns: BTreeMap<OpKind, Vec<u64>>,
    locks: LockStatsAcc,
    lints: BTreeMap<&'static str, u64>,
}

impl RepBuilder {
    pub fn new() -> RepBuilder {
        RepBuilder::default()
    }

    /// Adds one run: its report's facts, its trace's ops and lock holds,
    /// and the lint hits of its analysis; the trace can go after this.
    pub fn add(&mut self, facts: &RunFacts, offset_s: f64, trace: &Trace, analysis: &Analysis) {
        self.facts.add(facts, offset_s);
        for (k, mut v) in op_latencies(&trace.ops) {
            self.op_ns.entry(k).or_default().append(&mut v);
        }
        for h in holds_from_events(&trace.events) {
            self.locks.add(&h);
        }
        for l in analysis.lints.iter().filter(|l| l.applies && l.enabled) {
            *self.lints.entry(l.name).or_default() += l.findings;
        }
    }

    pub fn finish(self, rep: u32) -> RepSample {
        let f = self.facts;
        let locks = self.locks.finish();
        let wait_ns: u64 = locks.iter().map(|l| l.wait.total_ns).sum();
        let latency = self
            .op_ns
            .iter()
            .map(|(k, v)| (k.name(), Dist::of(&mut v.clone())))
            .collect();
        let mut op_ns = self.op_ns;
        for v in op_ns.values_mut() {
            v.sort_unstable();
        }
        RepSample {
            rep,
            throughput_mib_s: mib_s(f.bytes, f.seconds),
            wait_us_per_op: (f.ops > 0 && !locks.is_empty())
                .then(|| wait_ns as f64 / 1e3 / f.ops as f64),
            facts: f,
            latency,
            locks,
            lints: self.lints,
            op_ns,
        }
    }
}

fn mib_s(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 / (1u64 << 20) as f64 / seconds
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockline_harness::history::UNFINISHED;

    fn op(kind: OpKind, begin: u64, end: u64) -> OpRecord {
        OpRecord {
            op: begin,
            tid: 1,
            kind,
            ino: 2,
            offset: 0,
            len: 4096,
            begin_ns: begin,
            end_ns: end,
            result: 4096,
            thread: Some(0),
            round: 1,
        }
    }

    #[test]
    fn latencies_by_kind_leave_out_unfinished_and_checker_ops() {
        let checker = |kind, b, e| OpRecord {
            thread: None,
            ..op(kind, b, e)
        };
        let ops = [
            op(OpKind::Write, 10, 30),
            op(OpKind::Write, 5, 6),
            op(OpKind::Fsync, 40, 100),
            op(OpKind::Write, 50, UNFINISHED),
            checker(OpKind::Read, 200, 300),
            checker(OpKind::Writeback, 200, 250),
        ];
        let l = op_latencies(&ops);
        assert_eq!(l[&OpKind::Write], vec![20, 1]);
        assert_eq!(l[&OpKind::Fsync], vec![60]);
        assert_eq!(l[&OpKind::Writeback], vec![50]);
        assert!(!l.contains_key(&OpKind::Read));
    }

    #[test]
    fn runs_of_a_repetition_add_up() {
        let mut a = RunFacts {
            ops: 10,
            bytes: 1 << 20,
            seconds: 1.0,
            rounds: 2,
            restarts: Some(1),
            ..RunFacts::default()
        };
        let b = RunFacts {
            ops: 5,
            bytes: 1 << 20,
            seconds: 1.0,
            rounds: 3,
            rounds_with_violations: 1,
            first_violation_round: Some(2),
            first_violation_s: Some(0.5),
            restarts: None,
            ..RunFacts::default()
        };
        a.add(&b, 4.0);
        assert_eq!((a.ops, a.rounds, a.restarts), (15, 5, Some(1)));
        // The second run's round 2 is the repetition's round 4, 4.5 s in.
        assert_eq!(a.first_violation_round, Some(4));
        assert_eq!(a.first_violation_s, Some(4.5));
        let mut bld = RepBuilder::new();
        bld.facts = a;
        let s = bld.finish(1);
        assert_eq!(s.throughput_mib_s, 1.0);
        assert_eq!(s.wait_us_per_op, None);
    }
}

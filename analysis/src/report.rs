//! `lockline analyze`: everything one pass over a trace can say about its
//! locks — per-class hold and wait distributions, contention, each thread's
//! time in each lock, the blame window of every violation and the lint
//! findings — as one serializable value with a text rendering.

use crate::blame::{self, BlameWindow};
use crate::consistency::{self, Consistency};
use crate::holds::{holds_from_events, Hold};
use crate::lints::{self, Finding, LintOptions};
use crate::stats::{lock_stats, LockStats};
use crate::threads;
use crate::trace::Trace;
use lockline_engine::probe::{Event, EventKind, LockClass};
use lockline_harness::history::OpRecord;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Findings kept per lint; the rest are counted.
pub const MAX_FINDINGS: usize = 1000;

#[derive(Clone, Debug, Default)]
pub struct AnalyzeOptions {
    pub lints: LintOptions,
    /// The text lists every thread instead of one line per role (a run of
    /// rounds has new threads each round).
    pub per_thread: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct TraceInfo {
    pub build: String,
    pub workload: String,
    pub seed: u64,
    pub probe_source: String,
    pub clock: String,
    pub events: u64,
    pub lost_events: u64,
    pub ops: u64,
    pub seconds: f64,
    pub violations: u64,
}

/// One thread's lock time, by class name.
#[derive(Clone, Debug, Serialize)]
pub struct ThreadLocks {
    pub tid: u32,
    pub name: String,
    pub ops: u64,
    pub held_ns: BTreeMap<&'static str, u64>,
    pub waited_ns: BTreeMap<&'static str, u64>,
}

/// The threads of one role ("worker 0" of every round, "flusher"), summed.
#[derive(Clone, Debug, Serialize)]
pub struct RoleLocks {
    pub name: String,
    /// How many threads had this role.
    pub threads: u32,
    pub ops: u64,
    pub held_ns: BTreeMap<&'static str, u64>,
    pub waited_ns: BTreeMap<&'static str, u64>,
}

/// Threads summed by name, in order of first appearance.
fn by_role(threads: &[ThreadLocks]) -> Vec<RoleLocks> {
    let mut out: Vec<RoleLocks> = Vec::new();
    for t in threads {
        let i = match out.iter().position(|r| r.name == t.name) {
            Some(i) => i,
            None => {
                out.push(RoleLocks {
                    name: t.name.clone(),
                    threads: 0,
                    ops: 0,
                    held_ns: BTreeMap::new(),
                    waited_ns: BTreeMap::new(),
                });
                out.len() - 1
            }
        };
        let r = &mut out[i];
        r.threads += 1;
        r.ops += t.ops;
        for (c, v) in &t.held_ns {
            let n = r.held_ns.entry(c).or_default();
            *n = n.saturating_add(*v);
        }
        for (c, v) in &t.waited_ns {
            let n = r.waited_ns.entry(c).or_default();
            *n = n.saturating_add(*v);
        }
    }
    out
}

#[derive(Clone, Debug, Serialize)]
pub struct LintSummary {
    pub name: &'static str,
    pub description: &'static str,
    pub enabled: bool,
    /// False when the trace lacks the events the rule reasons about (the
    /// engine's locks, in a kernel file system's trace).
    pub applies: bool,
    pub findings: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    pub trace: TraceInfo,
    /// The first event's time: the origin of the report's relative times.
    pub t0_ns: u64,
    /// The trace's own impossibilities, checked before anything else is
    /// believed.
    pub consistency: Consistency,
    pub events_by_kind: BTreeMap<&'static str, u64>,
    pub locks: Vec<LockStats>,
    pub threads: Vec<ThreadLocks>,
    /// `threads` summed by role: what the text shows unless per_thread.
    pub roles: Vec<RoleLocks>,
    #[serde(skip)]
    pub per_thread: bool,
    pub blame: Vec<BlameWindow>,
    pub lints: Vec<LintSummary>,
    /// Up to MAX_FINDINGS per lint, in event order.
    pub findings: Vec<Finding>,
    /// Which writes of one file ran inside the engine at once, and how
    /// many of those pairs met on one page.
    pub write_overlap: crate::overlap::WriteOverlap,
    /// Who blocked whom: every wait's hand-off, the longest waits and
    /// chains, and each violation's critical path.
    pub blocked_by: crate::blocked_by::Summary,
}

pub fn analyze(trace: &Trace, opts: &AnalyzeOptions) -> Analysis {
    let events = &trace.events;
    // Engine-protocol rules on a kernel trace would flag every event.
    let engine = lints::has_engine_locks(events);
    let mut lint_opts = opts.lints.clone();
    lint_opts
        .enabled
        .retain(|n| engine || lints::ALL.iter().any(|l| l.name == *n && !l.engine_locks));
    // Three strands on as many threads (10 M events: 1.1-1.2 s on this
    // machine's two cores, 2.2 s in one strand): the holds and the lints
    // on them here; what needs only the events beside them; what else
    // needs the holds beside the lints once they are paired.
    let (events_only, holds, (per, locks, blocked), all) = std::thread::scope(|s| {
        let events_only = s.spawn(|| {
            let consistency = consistency::check(trace);
            let blame = blame::windows(trace, &consistency);
            EventsOnly {
                by_kind: kinds(events),
                names: threads::names(events),
                write_overlap: crate::overlap::write_overlap(&trace.ops, events),
                consistency,
                blame,
            }
        });
        let holds = holds_from_events(events);
        let (on_holds, all) = std::thread::scope(|s| {
            let on_holds = s.spawn(|| {
                (
                    time_per_thread(&holds, &trace.ops),
                    lock_stats(&holds),
                    crate::blocked_by::blocked_by(&holds),
                )
            });
            let all = lints::run(events, &holds, &lint_opts);
            let on_holds = on_holds
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (on_holds, all)
        });
        let events_only = events_only
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (events_only, holds, on_holds, all)
    });
    let EventsOnly {
        by_kind,
        names,
        write_overlap,
        consistency,
        blame,
    } = events_only;
    let mut count: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut findings = Vec::new();
    for f in all {
        let n = count.entry(f.lint).or_default();
        *n += 1;
        if *n as usize <= MAX_FINDINGS {
            findings.push(f);
        }
    }
    let lint_rows = lints::ALL
        .iter()
        .map(|l| LintSummary {
            name: l.name,
            description: l.description,
            enabled: lint_opts.enabled.contains(&l.name),
            applies: engine || !l.engine_locks,
            findings: count.get(l.name).copied().unwrap_or(0),
        })
        .collect();
    let name_of = |tid: u32| {
        names
            .get(&tid)
            .cloned()
            .unwrap_or_else(|| format!("thread {tid}"))
    };
    let threads: Vec<ThreadLocks> = per
        .into_iter()
        .map(|(tid, t)| t.finish(tid, name_of(tid)))
        .collect();
    let culprit_ops: Vec<(u32, u64, u64)> = blame
        .iter()
        .filter_map(|b| b.culprit.as_ref())
        .map(|c| (c.violation, c.victim_op, c.op))
        .collect();
    let blocked_by = blocked.summary(&holds, &culprit_ops, &name_of);
    Analysis {
        trace: TraceInfo {
            build: trace.meta.build.clone(),
            workload: trace.meta.workload.clone(),
            seed: trace.meta.seed,
            probe_source: trace.meta.probe_source.clone(),
            clock: trace.meta.clock.clone(),
            events: events.len() as u64,
            lost_events: trace.meta.lost_events,
            ops: trace.ops.len() as u64,
            seconds: trace.meta.seconds,
            violations: trace.final_violations().count() as u64,
        },
        events_by_kind: by_kind,
        locks,
        roles: by_role(&threads),
        threads,
        per_thread: opts.per_thread,
        t0_ns: events.first().map_or(0, |e| e.ts_ns),
        blame,
        consistency,
        lints: lint_rows,
        findings,
        write_overlap,
        blocked_by,
    }
}

/// What analyze learns from the events alone.
struct EventsOnly {
    by_kind: BTreeMap<&'static str, u64>,
    names: BTreeMap<u32, String>,
    write_overlap: crate::overlap::WriteOverlap,
    consistency: Consistency,
    blame: Vec<BlameWindow>,
}

/// Events by kind name.
fn kinds(events: &[Event]) -> BTreeMap<&'static str, u64> {
    // Counted by kind byte first: a map lookup per event costs more than
    // the rest of this pass.
    let mut counts = [0u64; 256];
    for e in events {
        counts[(e.code & 0xff) as usize] += 1;
    }
    let mut by_kind: BTreeMap<&'static str, u64> = BTreeMap::new();
    for (k, n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
        let name = EventKind::from_u8(k as u8).map_or("unknown", EventKind::name);
        *by_kind.entry(name).or_default() += n;
    }
    by_kind
}

/// One thread's ops and time in each lock class, summed by class code
/// (a map keyed by name per hold costs more than the pairing).
struct ThreadTimes {
    ops: u64,
    held: [u64; 256],
    waited: [u64; 256],
    /// Classes with a wait, even one of 0 ns.
    waits: [bool; 256],
    holds: [bool; 256],
}

impl Default for ThreadTimes {
    fn default() -> Self {
        ThreadTimes {
            ops: 0,
            held: [0; 256],
            waited: [0; 256],
            waits: [false; 256],
            holds: [false; 256],
        }
    }
}

impl ThreadTimes {
    fn finish(&self, tid: u32, name: String) -> ThreadLocks {
        let by_name = |v: &[u64; 256], seen: &[bool; 256]| {
            (0..256)
                .filter(|&c| seen[c])
                .filter_map(|c| LockClass::from_u8(c as u8).map(|k| (k.name(), v[c])))
                .collect()
        };
        ThreadLocks {
            tid,
            name,
            ops: self.ops,
            held_ns: by_name(&self.held, &self.holds),
            waited_ns: by_name(&self.waited, &self.waits),
        }
    }
}

fn time_per_thread(holds: &[Hold], ops: &[OpRecord]) -> Vec<(u32, ThreadTimes)> {
    let mut per: Vec<(u32, ThreadTimes)> = Vec::new();
    let mut index: rustc_hash::FxHashMap<u32, usize> = Default::default();
    let mut slot = |per: &mut Vec<(u32, ThreadTimes)>, tid: u32| {
        *index.entry(tid).or_insert_with(|| {
            per.push((tid, ThreadTimes::default()));
            per.len() - 1
        })
    };
    // Holds come in runs of one thread: look its slot up once per run.
    let mut last: Option<(u32, usize)> = None;
    for h in holds {
        let i = match last {
            Some((tid, i)) if tid == h.tid => i,
            _ => {
                let i = slot(&mut per, h.tid);
                last = Some((h.tid, i));
                i
            }
        };
        let t = &mut per[i].1;
        let c = h.class as usize;
        if let Some(d) = h.hold_time() {
            // Saturating: a damaged trace's times can sum past u64
            // (found by fuzz/trace).
            t.held[c] = t.held[c].saturating_add(d);
            t.holds[c] = true;
        }
        if h.wait_ns.is_some() {
            t.waited[c] = t.waited[c].saturating_add(h.wait_time());
            t.waits[c] = true;
        }
    }
    for o in ops {
        let i = slot(&mut per, o.tid);
        per[i].1.ops += 1;
    }
    per.sort_unstable_by_key(|(tid, _)| *tid);
    per
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1e3)
}

impl Analysis {
    /// The human report `lockline analyze` prints.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let t = &self.trace;
        let _ = writeln!(
            s,
            "{} on {}, seed {}: {} events ({}; {} lost), {} ops in {:.2} s, {} violations in the final check",
            t.workload, t.build, t.seed, t.events, t.probe_source, t.lost_events, t.ops, t.seconds, t.violations
        );
        let _ = writeln!(s, "{}", self.write_overlap.line());
        let c = &self.consistency;
        let _ = writeln!(
            s,
            "\n{} (clock: {})",
            c.summary_line(t.events as usize),
            if t.clock.is_empty() {
                "unknown"
            } else {
                &t.clock
            }
        );
        for (rule, n) in c.counts.iter().filter(|(_, n)| *n > 0) {
            let _ = writeln!(s, "  {rule}: {n}");
            for f in c.findings.iter().filter(|f| f.rule == *rule).take(3) {
                let _ = writeln!(s, "    {}", f.message);
            }
        }
        if !c.untrusted.is_empty() {
            let total: u64 = c
                .untrusted
                .iter()
                .map(|w| w.1.saturating_sub(w.0))
                .fold(0, u64::saturating_add);
            let _ = writeln!(
                s,
                "  {} windows cannot be trusted ({:.3} ms in all; --json lists them), from +{:.3} ms",
                c.untrusted.len(),
                total as f64 / 1e6,
                c.untrusted[0].0.saturating_sub(self.t0_ns) as f64 / 1e6
            );
        }
        let _ = writeln!(s, "\nlock holds and waits (µs):");
        let _ = writeln!(
            s,
            "  {:<16} {:>9} {:>9} {:>9} {:>10} {:>12}   {:>8} {:>9} {:>10} {:>10}",
            "class", "holds", "p50", "p99", "max", "total", "waits", "p50", "p99", "contention"
        );
        for l in &self.locks {
            let _ = writeln!(
                s,
                "  {:<16} {:>9} {:>9} {:>9} {:>10} {:>12}   {:>8} {:>9} {:>10} {:>9.1}%",
                l.class.name(),
                l.hold.count,
                us(l.hold.p50_ns),
                us(l.hold.p99_ns),
                us(l.hold.max_ns),
                us(l.hold.total_ns),
                l.wait.count,
                us(l.wait.p50_ns),
                us(l.wait.p99_ns),
                l.contention_ratio * 100.0
            );
        }
        let times = |held: &BTreeMap<&str, u64>, waited: &BTreeMap<&str, u64>| {
            held.iter()
                .map(|(c, h)| {
                    let w = waited.get(c).copied().unwrap_or(0);
                    format!("{c} {:.2}/{:.2}", *h as f64 / 1e6, w as f64 / 1e6)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.per_thread || self.roles.len() == self.threads.len() {
            let _ = writeln!(s, "\ntime in each lock per thread (ms held / ms waited):");
            for th in &self.threads {
                let _ = writeln!(
                    s,
                    "  {:<12} tid {:<8} {:>6} ops  {}",
                    th.name,
                    th.tid,
                    th.ops,
                    times(&th.held_ns, &th.waited_ns)
                );
            }
        } else {
            let _ = writeln!(
                s,
                "\ntime in each lock per role, {} threads in all (ms held / ms waited; --per-thread lists each):",
                self.threads.len()
            );
            for r in &self.roles {
                let _ = writeln!(
                    s,
                    "  {:<12} {:>4} threads {:>6} ops  {}",
                    r.name,
                    r.threads,
                    r.ops,
                    times(&r.held_ns, &r.waited_ns)
                );
            }
        }
        let b = &self.blocked_by;
        let _ = writeln!(
            s,
            "\nwho blocked whom: {} waits, {} handed off by a holder in the trace",
            b.waits, b.handed_off
        );
        if !b.longest.is_empty() {
            let _ = writeln!(s, "  longest waits:");
            for r in &b.longest {
                let _ = writeln!(s, "    {}", r.line);
            }
        }
        for (i, c) in b.chains.iter().enumerate() {
            let total: u64 = c
                .iter()
                .map(|r| r.granted_ns.saturating_sub(r.wait_ns))
                .fold(0u64, u64::saturating_add);
            let _ = writeln!(
                s,
                "  wait chain {} ({} deep, {:.3} ms waited):",
                i + 1,
                c.len(),
                total as f64 / 1e6
            );
            for r in c {
                let _ = writeln!(s, "    {}", r.line);
            }
        }
        let _ = writeln!(s, "\nlints:");
        if self.lints.iter().any(|l| !l.applies) {
            let _ = writeln!(
                s,
                "  (n/a: the trace has no engine lock events, e.g. a kernel file system's)"
            );
        }
        for l in &self.lints {
            let state = if !l.applies {
                "n/a".to_string()
            } else if l.enabled {
                format!("{} findings", l.findings)
            } else {
                "off".into()
            };
            let _ = writeln!(s, "  {:<28} {:<14} {}", l.name, state, l.description);
        }
        for l in self.lints.iter().filter(|l| l.findings > 0) {
            let _ = writeln!(s, "\n{} (first 5 of {}):", l.name, l.findings);
            for f in self.findings.iter().filter(|f| f.lint == l.name).take(5) {
                let _ = writeln!(s, "  event {}: {}", f.event, f.message);
            }
        }
        if self.blame.is_empty() {
            let _ = writeln!(s, "\nno violations: no blame windows");
        } else {
            let _ = writeln!(s, "\nblame windows of the final check's violations:");
        }
        for b in &self.blame {
            let _ = writeln!(
                s,
                "  violation {} ({}, sectors {}..{}): {:.3} ms, ops {:?}, {} events of threads {:?}{}",
                b.violation,
                b.class,
                b.first_sector,
                b.first_sector + b.nr_sectors,
                (b.end_ns - b.begin_ns) as f64 / 1e6,
                b.ops,
                b.events.len(),
                b.tids,
                if b.cut > 0 {
                    format!(" (+{} not kept)", b.cut)
                } else {
                    String::new()
                }
            );
            if b.inconclusive {
                let _ = writeln!(
                    s,
                    "    INCONCLUSIVE: the window overlaps a stretch where the trace contradicts itself"
                );
            }
            let _ = writeln!(s, "    {}", b.explanation);
            match &b.culprit {
                Some(c) => {
                    let _ = writeln!(s, "    {}", c.line);
                    let path = self
                        .blocked_by
                        .critical_paths
                        .iter()
                        .find(|p| p.violation == b.violation);
                    for r in path.iter().flat_map(|p| &p.waits) {
                        let _ = writeln!(s, "      on the way: {}", r.line);
                    }
                }
                None => {
                    let _ = writeln!(
                        s,
                        "    culprit: not found (no event on the write's folios lost its data)"
                    );
                }
            }
        }
        s
    }
}

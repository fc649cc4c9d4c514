//! A comparison: each column's repetitions summarised (median and spread),
//! its ratios to the baseline with a Mann-Whitney test on the repetitions,
//! and a one-line verdict per column. What `lockline compare` prints,
//! writes as JSON and plots.

use super::sample::RepSample;
use super::stats::{mann_whitney, MannWhitney, Method, Spread, ALPHA};
use lockline_engine::probe::{LockClass, OpKind};
use lockline_harness::check::Counts;
use serde::Serialize;
use std::collections::BTreeMap;

/// Fewer repetitions than this and no test is run.
pub const MIN_REPEAT: usize = 3;

/// What was run, for the header.
#[derive(Clone, Debug, Serialize)]
pub struct Setup {
    pub workload: String,
    pub threads: u32,
    pub seed: u64,
    /// "20 rounds of 600 ops", "rounds for 5 s", ...
    pub plan: String,
    pub repeat: u32,
    /// The knobs as JSON (the same for every engine column).
    pub knobs: serde_json::Value,
}

/// An engine build or a kernel file system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Engine,
    Kernel,
}

/// A column's repetitions, as they ran.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
    pub reps: Vec<RepSample>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    /// Each repetition's p50 and p99, summarised over repetitions.
    pub p50_ns: Option<Spread>,
    pub p99_ns: Option<Spread>,
    /// The longest op of any repetition.
    pub max_ns: u64,
    /// Finished ops of this kind in all repetitions.
    pub ops: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ClassLocks {
    pub class: LockClass,
    /// Over repetitions, of each repetition's value.
    pub hold_p50_ns: Option<Spread>,
    pub hold_p99_ns: Option<Spread>,
    pub hold_total_ns: Option<Spread>,
    pub wait_p50_ns: Option<Spread>,
    pub wait_p99_ns: Option<Spread>,
    pub wait_total_ns: Option<Spread>,
    pub contention_ratio: Option<Spread>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Perf {
    pub context_switches: Option<Spread>,
    pub cpu_migrations: Option<Spread>,
    pub page_faults: Option<Spread>,
    pub task_clock_ns: Option<Spread>,
}

/// A column against the baseline on one measure.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    /// This column's median over the baseline's.
    pub ratio: Option<f64>,
    pub test: Option<MannWhitney>,
    /// No difference can be claimed: p >= ALPHA, too few repetitions, or
    /// nothing to test.
    pub within_noise: bool,
    /// Why, when within noise; the p-value otherwise.
    pub note: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct VsBaseline {
    pub throughput: Ratio,
    pub write_p50: Ratio,
    pub write_p99: Ratio,
    pub wait_per_op: Ratio,
}

#[derive(Clone, Debug, Serialize)]
pub struct FirstViolation {
    /// Repetitions with a violation at all.
    pub repetitions: usize,
    /// Over those repetitions: the round of the first, and the seconds from
    /// the repetition's start to the end of that round's checks.
    pub round: Option<Spread>,
    pub seconds: Option<Spread>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ColumnSummary {
    pub name: String,
    pub kind: Kind,
    pub repetitions: usize,
    pub throughput_mib_s: Option<Spread>,
    /// By op kind name.
    pub latency: BTreeMap<&'static str, Latency>,
    pub locks: Vec<ClassLocks>,
    pub wait_us_per_op: Option<Spread>,
    pub perf: Perf,
    /// Totals over repetitions (engine columns only).
    pub restarts: Option<u64>,
    pub need_inode_lock: Option<u64>,
    /// Sectors after remount, all repetitions.
    pub violations: Counts,
    pub rounds: u64,
    pub rounds_with_violations: u64,
    pub rounds_with: Counts,
    pub first_violation: FirstViolation,
    /// Findings per lint, all repetitions.
    pub lints: BTreeMap<&'static str, u64>,
    pub events: u64,
    pub lost_events: u64,
    pub op_errors: u64,
    /// None for the baseline itself.
    pub vs_baseline: Option<VsBaseline>,
    pub verdict: String,
    pub per_repetition: Vec<RepSample>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    #[serde(flatten)]
    pub setup: Setup,
    pub baseline: String,
    /// How the tests were run, one line.
    pub method: String,
    /// In column order.
    pub order: Vec<String>,
    /// By column name.
    pub columns: BTreeMap<String, ColumnSummary>,
    pub verdicts: Vec<String>,
    pub interrupted: bool,
    pub notes: Vec<String>,
    /// What the front end wrote (--out), relative to its directory.
    pub files: Vec<String>,
}

fn spread_of(reps: &[RepSample], f: impl Fn(&RepSample) -> Option<f64>) -> Option<Spread> {
    Spread::of(&reps.iter().filter_map(f).collect::<Vec<_>>())
}

fn write_lat(r: &RepSample, p99: bool) -> Option<f64> {
    let d = r.latency.get(OpKind::Write.name())?;
    Some(if p99 { d.p99_ns } else { d.p50_ns } as f64)
}

/// The one-line reading of a test: "p=0.008" or why it is noise.
fn judge(this: &[f64], base: &[f64]) -> Ratio {
    let ratio = match (Spread::of(this), Spread::of(base)) {
        (Some(a), Some(b)) if b.median > 0.0 => Some(a.median / b.median),
        _ => None,
    };
    let n = this.len().min(base.len());
    let test = mann_whitney(this, base);
    let (within_noise, note) = match &test {
        _ if n < MIN_REPEAT => (
            true,
            format!("{n} repetition{} < {MIN_REPEAT}: no test", plural(n)),
        ),
        None => (true, "nothing to test".to_string()),
        Some(t) if t.significant() => (false, format!("p={}", p_text(t.p))),
        Some(t) => match t.min_p {
            Some(m) if m >= ALPHA => (
                true,
                format!(
                    "p={}; {}+{} repetitions cannot reach p<{ALPHA}",
                    p_text(t.p),
                    t.n1,
                    t.n2
                ),
            ),
            _ => (true, format!("p={}", p_text(t.p))),
        },
    };
    Ratio {
        ratio,
        test,
        within_noise,
        note,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A p-value as printed: two decimals from 0.1, three below, "<0.0001"
/// at the end.
pub fn p_text(p: f64) -> String {
    if p >= 0.1 {
        format!("{p:.2}")
    } else if p >= 0.001 {
        format!("{p:.3}")
    } else if p >= 0.0001 {
        format!("{p:.4}")
    } else {
        "<0.0001".into()
    }
}

fn summarize(c: &Column) -> ColumnSummary {
    let reps = &c.reps;
    let mut kinds: Vec<OpKind> = reps.iter().flat_map(|r| r.op_ns.keys().copied()).collect();
    kinds.sort();
    kinds.dedup();
    let latency = kinds
        .iter()
        .map(|k| {
            let d = |r: &RepSample| r.latency.get(k.name()).cloned();
            (
                k.name(),
                Latency {
                    p50_ns: spread_of(reps, |r| d(r).map(|d| d.p50_ns as f64)),
                    p99_ns: spread_of(reps, |r| d(r).map(|d| d.p99_ns as f64)),
                    max_ns: reps
                        .iter()
                        .filter_map(|r| d(r).map(|d| d.max_ns))
                        .max()
                        .unwrap_or(0),
                    ops: reps.iter().filter_map(|r| d(r).map(|d| d.count)).sum(),
                },
            )
        })
        .collect();
    let mut classes: Vec<LockClass> = reps
        .iter()
        .flat_map(|r| r.locks.iter().map(|l| l.class))
        .collect();
    classes.sort();
    classes.dedup();
    let locks = classes
        .iter()
        .map(|&class| {
            let of = |f: &dyn Fn(&crate::stats::LockStats) -> f64| {
                spread_of(reps, |r| r.locks.iter().find(|l| l.class == class).map(f))
            };
            ClassLocks {
                class,
                hold_p50_ns: of(&|l| l.hold.p50_ns as f64),
                hold_p99_ns: of(&|l| l.hold.p99_ns as f64),
                hold_total_ns: of(&|l| l.hold.total_ns as f64),
                wait_p50_ns: of(&|l| l.wait.p50_ns as f64),
                wait_p99_ns: of(&|l| l.wait.p99_ns as f64),
                wait_total_ns: of(&|l| l.wait.total_ns as f64),
                contention_ratio: of(&|l| l.contention_ratio),
            }
        })
        .collect();
    let perf = |f: fn(&lockline_harness::perf::Counts) -> Option<u64>| {
        spread_of(reps, |r| f(&r.facts.perf).map(|v| v as f64))
    };
    let total = |f: fn(&RepSample) -> Option<u64>| -> Option<u64> {
        reps.iter().filter_map(f).reduce(|a, b| a + b)
    };
    let mut violations = Counts::default();
    let mut rounds_with = Counts::default();
    for r in reps {
        violations += r.facts.violations;
        rounds_with += r.facts.rounds_with;
    }
    let mut lints: BTreeMap<&'static str, u64> = BTreeMap::new();
    for r in reps {
        for (k, v) in &r.lints {
            *lints.entry(k).or_default() += v;
        }
    }
    let firsts: Vec<&RepSample> = reps
        .iter()
        .filter(|r| r.facts.first_violation_round.is_some())
        .collect();
    ColumnSummary {
        name: c.name.clone(),
        kind: c.kind,
        repetitions: reps.len(),
        throughput_mib_s: spread_of(reps, |r| Some(r.throughput_mib_s)),
        latency,
        locks,
        wait_us_per_op: spread_of(reps, |r| r.wait_us_per_op),
        perf: Perf {
            context_switches: perf(|p| p.context_switches),
            cpu_migrations: perf(|p| p.cpu_migrations),
            page_faults: perf(|p| p.page_faults),
            task_clock_ns: perf(|p| p.task_clock_ns),
        },
        restarts: total(|r| r.facts.restarts),
        need_inode_lock: total(|r| r.facts.need_inode_lock),
        violations,
        rounds: reps.iter().map(|r| r.facts.rounds).sum(),
        rounds_with_violations: reps.iter().map(|r| r.facts.rounds_with_violations).sum(),
        rounds_with,
        first_violation: FirstViolation {
            repetitions: firsts.len(),
            round: Spread::of(
                &firsts
                    .iter()
                    .filter_map(|r| r.facts.first_violation_round.map(|v| v as f64))
                    .collect::<Vec<_>>(),
            ),
            seconds: Spread::of(
                &firsts
                    .iter()
                    .filter_map(|r| r.facts.first_violation_s)
                    .collect::<Vec<_>>(),
            ),
        },
        lints,
        events: reps.iter().map(|r| r.facts.events).sum(),
        lost_events: reps.iter().map(|r| r.facts.lost_events).sum(),
        op_errors: reps.iter().map(|r| r.facts.op_errors).sum(),
        vs_baseline: None,
        verdict: String::new(),
        per_repetition: reps.clone(),
    }
}

fn vs(this: &Column, base: &Column) -> VsBaseline {
    let col = |c: &Column, f: &dyn Fn(&RepSample) -> Option<f64>| -> Vec<f64> {
        c.reps.iter().filter_map(f).collect()
    };
    let both = |f: &dyn Fn(&RepSample) -> Option<f64>| judge(&col(this, f), &col(base, f));
    VsBaseline {
        throughput: both(&|r| Some(r.throughput_mib_s)),
        write_p50: both(&|r| write_lat(r, false)),
        write_p99: both(&|r| write_lat(r, true)),
        wait_per_op: both(&|r| r.wait_us_per_op),
    }
}

/// "1.9x", "0.52x".
pub fn times(r: Option<f64>) -> String {
    match r {
        Some(r) if r >= 10.0 => format!("{r:.0}x"),
        Some(r) => format!("{r:.2}x"),
        None => "-".into(),
    }
}

/// What the column lost, in words: "lost writes in 4/60 rounds, torn
/// writes in 2/60 (first after 3.1 s)".
fn losses(s: &ColumnSummary) -> String {
    if s.rounds_with_violations == 0 {
        return format!(
            "no violations in {} round{}",
            s.rounds,
            plural(s.rounds as usize)
        );
    }
    let mut parts = Vec::new();
    for (what, n) in [
        ("lost writes", s.rounds_with.dropped),
        ("torn writes", s.rounds_with.torn),
        ("stale data", s.rounds_with.stale),
    ] {
        if n > 0 {
            let of = if parts.is_empty() {
                format!("{n}/{} rounds", s.rounds)
            } else {
                format!("{n}/{}", s.rounds)
            };
            parts.push(format!("{what} in {of}"));
        }
    }
    let f = &s.first_violation;
    if let Some(sec) = f.seconds {
        let of = if s.repetitions > 1 {
            format!(
                ", median of the {}/{} repetitions with one",
                f.repetitions, s.repetitions
            )
        } else {
            String::new()
        };
        if let Some(p) = parts.last_mut() {
            p.push_str(&format!(
                " (first after {} s{of})",
                super::table::num(sec.median)
            ));
        }
    }
    parts.join(", ")
}

fn verdict(s: &ColumnSummary, baseline: &str) -> String {
    if s.repetitions == 0 {
        return format!("{}: no repetition ran", s.name);
    }
    let Some(v) = &s.vs_baseline else {
        return format!("{}: baseline; {}", s.name, losses(s));
    };
    let judged = |what: &str, r: &Ratio| {
        let how = if r.within_noise {
            format!("within noise: {}", r.note)
        } else {
            r.note.clone()
        };
        format!("{} {what} ({how})", times(r.ratio))
    };
    format!(
        "{}: {}; {}; {}",
        s.name,
        judged(&format!("{baseline} throughput"), &v.throughput),
        judged("write p99", &v.write_p99),
        losses(s)
    )
}

impl Comparison {
    /// Summarises `columns` against `baseline` (a column name; the first
    /// column when it names none).
    pub fn new(setup: Setup, columns: &[Column], baseline: &str, interrupted: bool) -> Comparison {
        let base = columns.iter().position(|c| c.name == baseline).unwrap_or(0);
        let base_name = columns.get(base).map_or(String::new(), |c| c.name.clone());
        let mut out = BTreeMap::new();
        let mut verdicts = Vec::new();
        for (i, c) in columns.iter().enumerate() {
            let mut s = summarize(c);
            if i != base {
                s.vs_baseline = Some(vs(c, &columns[base]));
            }
            s.verdict = verdict(&s, &base_name);
            verdicts.push(s.verdict.clone());
            out.insert(c.name.clone(), s);
        }
        let reps = columns.iter().map(|c| c.reps.len()).max().unwrap_or(0);
        let method = if reps * 2 <= super::stats::EXACT_MAX_N {
            Method::Exact
        } else {
            Method::Normal
        };
        Comparison {
            setup,
            baseline: base_name,
            method: format!(
                "two-sided Mann-Whitney U on the repetitions against the baseline, {} \
                 ({}); within noise when p >= {ALPHA} or fewer than {MIN_REPEAT} repetitions",
                method.name(),
                match method {
                    Method::Exact =>
                        "the rank sum's permutation distribution counted, ties included",
                    Method::Normal => "ties-corrected variance, continuity correction",
                }
            ),
            order: columns.iter().map(|c| c.name.clone()).collect(),
            columns: out,
            verdicts,
            interrupted,
            notes: Vec::new(),
            files: Vec::new(),
        }
    }

    /// The columns in the order they ran.
    pub fn ordered(&self) -> impl Iterator<Item = &ColumnSummary> + '_ {
        self.order.iter().filter_map(|n| self.columns.get(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Dist;

    fn rep(i: u32, mib_s: f64, write_p99_ns: u64, dropped_rounds: u64) -> RepSample {
        let mut r = RepSample {
            rep: i,
            throughput_mib_s: mib_s,
            wait_us_per_op: Some(1.0),
            ..RepSample::default()
        };
        r.facts.rounds = 20;
        r.facts.rounds_with_violations = dropped_rounds;
        r.facts.rounds_with.dropped = dropped_rounds;
        r.facts.violations.dropped = 8 * dropped_rounds;
        if dropped_rounds > 0 {
            r.facts.first_violation_round = Some(3);
            r.facts.first_violation_s = Some(3.1);
        }
        r.latency.insert(
            "write",
            Dist {
                count: 100,
                p50_ns: 1000,
                p99_ns: write_p99_ns,
                max_ns: 2 * write_p99_ns,
                total_ns: 100_000,
            },
        );
        r
    }

    fn setup(repeat: u32) -> Setup {
        Setup {
            workload: "overlap".into(),
            threads: 4,
            seed: 1,
            plan: "20 rounds of 600 ops".into(),
            repeat,
            knobs: serde_json::Value::Null,
        }
    }

    fn column(name: &str, reps: Vec<RepSample>) -> Column {
        Column {
            name: name.into(),
            kind: Kind::Engine,
            reps,
        }
    }

    #[test]
    fn ratios_tests_and_verdicts_against_the_baseline() {
        let locked = column(
            "locked",
            (0..5)
                .map(|i| rep(i + 1, 100.0 + i as f64, 5000, 0))
                .collect(),
        );
        // Twice as fast in every repetition, the same p99, lost writes in
        // one round of each of three repetitions.
        let lockless = column(
            "lockless",
            (0..5)
                .map(|i| rep(i + 1, 200.0 + i as f64, 5000, u64::from(i < 3)))
                .collect(),
        );
        let c = Comparison::new(setup(5), &[lockless, locked], "locked", false);
        assert_eq!(c.baseline, "locked");
        assert_eq!(c.order, vec!["lockless", "locked"]);
        assert!(c.method.contains("exact"), "{}", c.method);
        let l = &c.columns["lockless"];
        let v = l.vs_baseline.as_ref().unwrap();
        assert!((v.throughput.ratio.unwrap() - 202.0 / 102.0).abs() < 1e-9);
        // Complete separation of 5 + 5: p = 2/252.
        assert!(!v.throughput.within_noise, "{:?}", v.throughput);
        assert_eq!(v.throughput.note, "p=0.008");
        // Identical values: p = 1.
        assert!(v.write_p99.within_noise);
        assert_eq!(v.write_p99.test.unwrap().p, 1.0);
        assert_eq!(
            l.verdict,
            "lockless: 1.98x locked throughput (p=0.008); 1.00x write p99 (within noise: p=1.00); \
             lost writes in 3/100 rounds (first after 3.1 s, median of the 3/5 repetitions with one)"
        );
        assert_eq!(l.rounds_with_violations, 3);
        assert_eq!(l.violations.dropped, 24);
        assert_eq!(l.first_violation.repetitions, 3);
        assert!(c.columns["locked"].vs_baseline.is_none());
        assert_eq!(
            c.columns["locked"].verdict,
            "locked: baseline; no violations in 100 rounds"
        );
        let text = c.text();
        assert!(text.contains("1.98x (p=0.008)"), "{text}");
        assert!(text.contains("1.00x (noise)"), "{text}");
        let md = c.markdown();
        assert!(md.contains("| | lockless | locked |"), "{md}");
        assert!(md.contains("| median | 202 | 102 |"), "{md}");
    }

    #[test]
    fn few_repetitions_are_noise_and_say_why() {
        let a = column("locked", vec![rep(1, 100.0, 10, 0), rep(2, 101.0, 10, 0)]);
        let b = column("lockless", vec![rep(1, 300.0, 10, 0), rep(2, 301.0, 10, 0)]);
        let c = Comparison::new(setup(2), &[a.clone(), b.clone()], "locked", false);
        let t = &c.columns["lockless"]
            .vs_baseline
            .as_ref()
            .unwrap()
            .throughput;
        assert!(t.within_noise);
        assert_eq!(t.note, "2 repetitions < 3: no test");
        assert!(
            c.text().contains("fewer than 3 repetitions"),
            "{}",
            c.text()
        );
        // Three each: the smallest exact p is 0.1, and the note says so.
        let mut a3 = a;
        a3.reps.push(rep(3, 102.0, 10, 0));
        let mut b3 = b;
        b3.reps.push(rep(3, 302.0, 10, 0));
        let c = Comparison::new(setup(3), &[a3, b3], "nonexistent", false);
        // No column is called that: the first is the baseline.
        assert_eq!(c.baseline, "locked");
        let t = &c.columns["lockless"]
            .vs_baseline
            .as_ref()
            .unwrap()
            .throughput;
        assert!(t.within_noise);
        assert_eq!(t.note, "p=0.10; 3+3 repetitions cannot reach p<0.05");
        assert!(
            c.text().contains("the smallest possible p is 0.10"),
            "{}",
            c.text()
        );
    }
}

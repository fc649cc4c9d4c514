//! Power of `lockline explore` (a bench binary): for each known way the
//! engine loses data — the early-exit truncate hazard (need-inode-lock on
//! `lockless`; an allocation failure on `lockless` and on the reduced patch,
//! `lockless-min`), the torn writes of `lockless-min`, and each planted bug —
//! the schedules and wall time to the first violating schedule under each
//! strategy, over several seeds, beside the anchor: free-running checked
//! rounds (`lockline run`) of the same workload, build and knobs, rounds and
//! seconds to the first violation. Then `locked`: schedules with none.
//!
//! Run: cargo bench -p lockline-engine --bench explore [-- --quick]
//! (scratch disks in /dev/shm, as `lockline explore` makes them)

use lockline_harness::check::Counts;
use lockline_harness::explore::id::ScheduleId;
use lockline_harness::explore::round::ScheduleRun;
use lockline_harness::explore::{self, ExploreSpec, Progress, StrategyKind};
use lockline_harness::rounds::{run_rounds, Live, RoundsSpec, DEFAULT_ROUND_OPS};
use lockline_harness::session::SessionSpec;
use lockline_harness::workload::{self, RunSpec, Stop};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// What a target's violation looks like.
#[derive(Clone, Copy)]
enum Want {
    Any,
    /// A tear and nothing dropped: what isize-before-copy adds to lockless,
    /// whose own early-exit hazard drops.
    PureTear,
}

impl Want {
    fn matches(self, c: Counts) -> bool {
        match self {
            Want::Any => c.total() > 0,
            Want::PureTear => c.torn > 0 && c.dropped == 0,
        }
    }
    fn run(self, r: &ScheduleRun) -> bool {
        r.checks.iter().any(|c| self.matches(c.counts))
    }
}

struct Target {
    name: &'static str,
    /// The schedule-id template: build, workload, threads, ops, knobs.
    template: &'static str,
    want: Want,
    /// Free-running knobs beyond the template's: the mm on timers.
    migration_us: u64,
    writeback_ms: u64,
}

const TARGETS: &[Target] = &[
    Target {
        name: "early-exit hazard, need-inode-lock (lockless)",
        template: "v1/lockless/claim-mix/t3/k8/w1/e0",
        want: Want::Any,
        migration_us: 0,
        writeback_ms: 100,
    },
    Target {
        name: "early-exit hazard, allocation failure (lockless)",
        template: "v1/lockless/qemu-snapshot/t2/k4/w1/e0/afail=0.1",
        want: Want::Any,
        migration_us: 0,
        writeback_ms: 100,
    },
    Target {
        name: "early-exit hazard, allocation failure (lockless-min)",
        template: "v1/lockless-min/qemu-snapshot/t2/k4/w1/e0/afail=0.1",
        want: Want::Any,
        migration_us: 0,
        writeback_ms: 100,
    },
    Target {
        name: "torn writes (lockless-min)",
        template: "v1/lockless-min/qemu-snapshot/t3/k6/w1/e0/short=0.2",
        want: Want::Any,
        migration_us: 0,
        writeback_ms: 100,
    },
    Target {
        name: "planted writeback-clear-after-copy (locked)",
        template: "v1/locked/qemu-snapshot/t2/k6/w1/e0/inject=writeback-clear-after-copy",
        want: Want::Any,
        migration_us: 0,
        writeback_ms: 1,
    },
    Target {
        name: "planted migrate-without-folio-lock (locked)",
        template: "v1/locked/overlap/t2/k4/w1/e0/inject=migrate-without-folio-lock",
        want: Want::Any,
        migration_us: 10,
        writeback_ms: 100,
    },
    Target {
        name: "planted isize-before-copy (lockless, torn only)",
        template: "v1/lockless/claim-mix/t3/k6/w1/e0/short=0.2/inject=isize-before-copy",
        want: Want::PureTear,
        migration_us: 0,
        writeback_ms: 100,
    },
    Target {
        name: "planted cut-to-recorded-size (locked, issue 21: cut data comes back)",
        template: "v1/locked/fsx-mix/t1/k8/w1/e0/inject=cut-to-recorded-size",
        want: Want::Any,
        migration_us: 0,
        writeback_ms: 1,
    },
];

const CAP_S: f64 = 10.0;

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in(explore::scratch_parent()).expect("scratch")
}

/// Schedules and seconds to the first wanted violation, or None in CAP_S.
fn explore_once(t: &Target, strategy: StrategyKind, seed: u64) -> (Option<(u64, f64)>, u64) {
    let d = scratch();
    let template = format!("{}/explicit:", t.template)
        .parse()
        .expect("template");
    let spec = ExploreSpec {
        seed,
        max_seconds: Some(CAP_S),
        all: true,
        ..ExploreSpec::new(template, strategy, d.path().join("explore.img"))
    };
    let stop = AtomicBool::new(false);
    let t0 = Instant::now();
    let mut n = 0u64;
    let mut found = None;
    explore::explore(&spec, &stop, |p| {
        let Progress::Schedule { run, .. } = p;
        n += 1;
        if found.is_none() && t.want.run(run) {
            found = Some((n, t0.elapsed().as_secs_f64()));
            stop.store(true, Ordering::Relaxed);
        }
    })
    .expect("explore");
    (found, n)
}

/// Free-running checked rounds of the same workload, build and knobs:
/// rounds and seconds to the first wanted violation, or None in `cap`.
fn free_once(t: &Target, seed: u64, cap: f64) -> Option<(u64, f64)> {
    let id: ScheduleId = format!("{}/explicit:", t.template).parse().unwrap();
    let d = scratch();
    let mut knobs = id.knobs();
    knobs.writeback_interval_ms = t.writeback_ms;
    knobs.reclaim_limit_bytes = 256 << 20;
    knobs.migration_interval_us = t.migration_us;
    knobs.seed = seed;
    let run = RunSpec {
        workload: id.workload,
        threads: id.threads,
        stop: Stop::Seconds(cap),
        seed,
        file: "/bench.dat".to_string(),
        file_size: 8 << 20,
        write_size: 64 << 10,
        readers: 0,
    };
    let mut spec = SessionSpec::new(d.path().join("free.img"), id.build, knobs, run);
    spec.mkfs = Some(256 << 20);
    spec.perf = false;
    spec.keep_events = false;
    let rounds = RoundsSpec {
        rounds: None,
        seconds: Some(cap),
        round_ops: DEFAULT_ROUND_OPS,
    };
    let stop = AtomicBool::new(false);
    let first = Mutex::new(None);
    let t0 = Instant::now();
    let live = |l: Live| {
        if let Live::Check { round, check } = l {
            let mut f = first.lock().unwrap();
            if f.is_none() && t.want.matches(check.counts) {
                *f = Some((round, t0.elapsed().as_secs_f64()));
                stop.store(true, Ordering::Relaxed);
            }
        }
    };
    run_rounds(
        &spec,
        &rounds,
        &workload::Progress::default(),
        None,
        Some(&live),
        &stop,
    )
    .expect("free-running rounds");
    first.into_inner().unwrap()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn summary(found: &[Option<(u64, f64)>], unit: &str) -> String {
    let hit: Vec<(u64, f64)> = found.iter().flatten().copied().collect();
    if hit.is_empty() {
        return format!("0/{} found", found.len());
    }
    let mut n: Vec<f64> = hit.iter().map(|h| h.0 as f64).collect();
    let mut s: Vec<f64> = hit.iter().map(|h| h.1).collect();
    let max_s = s.iter().cloned().fold(0.0, f64::max);
    format!(
        "{}/{} found; median {:.0} {unit}, {:.2} s (max {:.2} s)",
        hit.len(),
        found.len(),
        median(&mut n),
        median(&mut s),
        max_s
    )
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let seeds: u64 = if quick { 2 } else { 5 };
    let free_seeds: u64 = if quick { 1 } else { 3 };
    let free_cap = if quick { 10.0 } else { 60.0 };
    println!(
        "explore power: to the first violation, {seeds} seeds per strategy, {CAP_S} s cap each"
    );
    // `-- --only TEXT`: the targets whose name contains TEXT.
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    for t in TARGETS
        .iter()
        .filter(|t| only.as_ref().is_none_or(|o| t.name.contains(o.as_str())))
    {
        println!("\n{}  [{}]", t.name, t.template);
        for strategy in [
            StrategyKind::Pct,
            StrategyKind::Random,
            StrategyKind::Bounded,
        ] {
            let mut found = Vec::new();
            let mut total = 0;
            for seed in 1..=seeds {
                let (f, n) = explore_once(t, strategy, seed);
                found.push(f);
                total += n;
            }
            println!(
                "  explore {:<8} {}  ({} schedules run)",
                strategy.to_string(),
                summary(&found, "schedules"),
                total
            );
        }
        let free: Vec<_> = (1..=free_seeds)
            .map(|s| free_once(t, s, free_cap))
            .collect();
        println!(
            "  run (free)       {}  ({DEFAULT_ROUND_OPS}-op rounds, {free_cap} s cap)",
            summary(&free, "rounds")
        );
    }
    // locked: every knob that makes the others lose, no violation.
    let d = scratch();
    let n = if quick { 300 } else { 3000 };
    for (template, strategy) in [
        (
            "v1/locked/claim-mix/t3/k8/w1/e0/short=0.2/afail=0.05",
            StrategyKind::Pct,
        ),
        (
            "v1/locked/qemu-snapshot/t3/k6/w1/e0/short=0.2/afail=0.1",
            StrategyKind::Random,
        ),
    ] {
        let template_id = format!("{template}/explicit:").parse().unwrap();
        let spec = ExploreSpec {
            max_schedules: Some(n),
            all: true,
            ..ExploreSpec::new(template_id, strategy, d.path().join("locked.img"))
        };
        let (r, _) = explore::explore(&spec, &AtomicBool::new(false), |_| {}).expect("explore");
        println!(
            "\nlocked [{template}] {strategy}: {} schedules in {:.1} s ({:.0}/s), {} violating, {} lost control",
            r.schedules, r.seconds, r.schedules_per_s, r.violating, r.lost_control
        );
    }
}

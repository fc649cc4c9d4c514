//! Systematic exploration of interleavings: `lockline explore` runs many
//! short schedules of a handful of ops under the controlled scheduler
//! ([`sched`]), each one a pure function of its id ([`id`]), checks every one
//! with the integrity checker, and names the first that loses data;
//! `lockline replay` runs one id again and [`minimize`] shrinks it.
//!
//! Schedules are numbered. Number i's id depends only on the spec and i,
//! so `--shard K/N` runs the numbers congruent to K-1 mod N and N machines
//! split the space with no coordination; [`merge`] joins their reports.

pub mod id;
pub mod minimize;
pub mod round;
pub mod saved;
pub mod sched;
pub mod strategy;

use crate::check::Counts;
use id::{ScheduleId, StrategySpec};
use lockline_engine::error::{Error, Result};
use lockline_engine::usercopy::splitmix64;
use round::{run_schedule, ScheduleRun};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    Random,
    Pct,
    Bounded,
}

lockline_engine::named_choices!(StrategyKind, "strategy", {
    Random => "random",
    Pct => "pct",
    Bounded => "bounded",
});

#[derive(Clone, Debug)]
pub struct ExploreSpec {
    /// Build, workload, threads, ops, injected bugs and rates; its
    /// strategy and seeds are set per schedule.
    pub template: ScheduleId,
    pub strategy: StrategyKind,
    /// PCT's depth d.
    pub depth: u32,
    /// Preemptions at most (bounded).
    pub bound: u32,
    pub seed: u64,
    /// random and pct: schedules per set of ops before the workload seed
    /// moves on (bounded moves on after every schedule within its bound).
    pub per_program: u64,
    pub max_schedules: Option<u64>,
    pub max_seconds: Option<f64>,
    /// Go on after the first violating schedule.
    pub all: bool,
    /// (K, N): this is shard K of N, 1-based.
    pub shard: (u64, u64),
    /// The scratch disk image, formatted afresh for every schedule.
    pub image: PathBuf,
}

impl ExploreSpec {
    /// Schedules of `template` by `strategy` on `image`, with `explore`'s
    /// defaults: depth 3, bound 1, seed 1, 8 schedules per program, no
    /// limit, stop at the first violation, one shard.
    pub fn new(template: ScheduleId, strategy: StrategyKind, image: PathBuf) -> ExploreSpec {
        ExploreSpec {
            template,
            strategy,
            depth: 3,
            bound: 1,
            seed: 1,
            per_program: 8,
            max_schedules: None,
            max_seconds: None,
            all: false,
            shard: (1, 1),
            image,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        let (k, n) = self.shard;
        if n == 0 || k == 0 || k > n || n > MAX_SHARDS {
            return bad(format!(
                "--shard {k}/{n}: K must be in 1..=N and N at most {MAX_SHARDS}"
            ));
        }
        if self.strategy == StrategyKind::Pct && !(1..=id::MAX_DEPTH).contains(&self.depth) {
            return bad(format!(
                "--depth {} must be in 1..={}",
                self.depth,
                id::MAX_DEPTH
            ));
        }
        if self.strategy == StrategyKind::Bounded && self.bound > id::MAX_BOUND {
            return bad(format!(
                "--bound {} must be at most {}",
                self.bound,
                id::MAX_BOUND
            ));
        }
        if self.per_program == 0 {
            return bad("--per-program must be at least 1".into());
        }
        if self.max_schedules == Some(0) {
            return bad("--schedules must be at least 1".into());
        }
        if let Some(s) = self.max_seconds {
            if !(s > 0.0 && s.is_finite()) {
                return bad(format!("--seconds {s} is not a positive duration"));
            }
        }
        Ok(())
    }
}

/// A violating schedule.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Found {
    /// Its number in the exploration.
    pub index: u64,
    pub id: String,
    /// The same schedule as explicit switches (replays without the strategy).
    pub explicit: String,
    pub steps: u64,
    pub switches: usize,
    /// The first check that saw a violation, and what it counted.
    pub check: String,
    pub counts: Counts,
    pub explanation: String,
    /// Seconds into the exploration (of its shard) when it was found.
    pub at_s: f64,
}

impl Found {
    fn of(index: u64, run: &ScheduleRun, at_s: f64) -> Found {
        let c = run
            .checks
            .iter()
            .find(|c| !c.violations.is_empty())
            .expect("a violating run has a violating check");
        Found {
            index,
            id: run.id.to_string(),
            explicit: run.explicit_id().to_string(),
            steps: run.steps,
            switches: run.switches.len(),
            check: c.label.clone(),
            counts: c.counts,
            explanation: c.to_string().trim_end().to_string(),
            at_s,
        }
    }
}

/// At most this many violating schedules are listed (all are counted).
const FOUND_LISTED: usize = 100;

/// Shards an exploration may be split into.
pub const MAX_SHARDS: u64 = 1_000_000;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExploreReport {
    /// What every schedule shares (the id's fields but seeds and strategy):
    /// shards of one exploration have the same.
    pub template: String,
    pub build: String,
    pub workload: String,
    pub strategy: StrategyKind,
    pub seed: u64,
    pub threads: u32,
    pub ops: u32,
    pub depth: u32,
    pub bound: u32,
    pub per_program: u64,
    /// The shards this report covers, "K/N" each.
    pub shards: Vec<String>,
    pub schedules: u64,
    pub violating: u64,
    /// Schedules where the scheduler had to give up control (see
    /// `sched`): their verdicts stand, their ids do not replay exactly.
    pub lost_control: u64,
    pub decisions: u64,
    pub seconds: f64,
    pub schedules_per_s: f64,
    /// The lowest-numbered violating schedule.
    pub first: Option<Found>,
    pub found: Vec<Found>,
}

/// Program `p`'s seeds: its ops (workload seed) and the engine's random
/// choices (short copies, faults, the migration victim).
fn program_seeds(spec: &ExploreSpec, p: u64) -> (u64, u64) {
    // Hashed, not seed + p: explorations with nearby seeds must not walk
    // the same programs shifted by one.
    let mut s = spec.seed ^ 0x0065_7870_6c6f_7265 ^ p.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let wseed = splitmix64(&mut s) >> 24;
    (wseed, splitmix64(&mut s))
}

/// The id of schedule `index` (of the exploration), which runs program
/// `p`; `local` is its number within the program (bounded).
fn schedule_id(spec: &ExploreSpec, p: u64, index: u64, local: u64, horizon: u64) -> ScheduleId {
    let (wseed, eseed) = program_seeds(spec, p);
    let mut mix = spec.seed ^ 0x7363_6865_6400 ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let sseed = splitmix64(&mut mix);
    let strategy = match spec.strategy {
        StrategyKind::Random => StrategySpec::Random { seed: sseed },
        StrategyKind::Pct => StrategySpec::Pct {
            depth: spec.depth,
            horizon,
            seed: sseed,
        },
        StrategyKind::Bounded => StrategySpec::Bounded {
            bound: spec.bound,
            horizon,
            index: local as u128,
        },
    };
    ScheduleId {
        wseed,
        eseed,
        strategy,
        kept: None,
        ..spec.template.clone()
    }
}

/// Decisions the default schedule of program `p` takes: PCT's and the
/// bounded enumeration's horizon.
fn horizon(spec: &ExploreSpec, p: u64, cache: &mut HashMap<u64, u64>) -> Result<u64> {
    if let Some(&h) = cache.get(&p) {
        return Ok(h);
    }
    let mut id = schedule_id(spec, p, 0, 0, 0);
    id.strategy = StrategySpec::Explicit { switches: vec![] };
    let h = run_schedule(&id, &spec.image)?.steps.max(1);
    cache.insert(p, h);
    Ok(h)
}

/// Bounded exploration walks programs in turn, each through all its
/// schedules within the bound: which program and which of its schedules
/// global number `index` is. Indices must be asked in increasing order.
struct BoundedWalk {
    program: u64,
    start: u64,
    count: Option<u64>,
}

impl BoundedWalk {
    fn locate(
        &mut self,
        spec: &ExploreSpec,
        index: u64,
        actors: usize,
        horizons: &mut HashMap<u64, u64>,
    ) -> Result<(u64, u64, u64)> {
        loop {
            let h = horizon(spec, self.program, horizons)?;
            let count = *self.count.get_or_insert_with(|| {
                strategy::bounded_count(spec.bound, h, actors).min(u64::MAX as u128) as u64
            });
            if index < self.start.saturating_add(count) {
                return Ok((self.program, index - self.start, h));
            }
            self.start = self.start.saturating_add(count);
            self.program += 1;
            self.count = None;
            horizons.retain(|&p, _| p >= self.program);
        }
    }
}

/// Where schedules' scratch disks go unless told otherwise: RAM
/// (/dev/shm) when the machine has it, else the temporary directory. Each
/// schedule formats, fsyncs and remounts its disk; on a real disk those
/// syncs are most of a schedule's time (4 ms against 0.8 ms here), and they
/// do not change which interleavings lose data.
pub fn scratch_parent() -> PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// What a front end hears while exploring.
pub enum Progress<'a> {
    Schedule { index: u64, run: &'a ScheduleRun },
}

/// Runs schedules until the budget is spent or (without `all`) one
/// violates. Returns the report and the first violating run.
pub fn explore(
    spec: &ExploreSpec,
    stop: &std::sync::atomic::AtomicBool,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<(ExploreReport, Option<ScheduleRun>)> {
    spec.validate()?;
    let t0 = Instant::now();
    let (k, n) = spec.shard;
    let mut report = ExploreReport {
        template: template_key(&spec.template),
        build: spec.template.build.to_string(),
        workload: spec.template.workload.to_string(),
        strategy: spec.strategy,
        seed: spec.seed,
        threads: spec.template.threads,
        ops: spec.template.ops,
        depth: spec.depth,
        bound: spec.bound,
        per_program: spec.per_program,
        shards: vec![format!("{k}/{n}")],
        schedules: 0,
        violating: 0,
        lost_control: 0,
        decisions: 0,
        seconds: 0.0,
        schedules_per_s: 0.0,
        first: None,
        found: Vec::new(),
    };
    let mut first_run = None;
    let mut horizons = HashMap::new();
    let mut walk = BoundedWalk {
        program: 0,
        start: 0,
        count: None,
    };
    let actors = round::plan(&spec.template).len();
    let mut index = k - 1;
    loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed)
            || spec.max_schedules.is_some_and(|m| report.schedules >= m)
            || spec
                .max_seconds
                .is_some_and(|s| t0.elapsed().as_secs_f64() >= s)
        {
            break;
        }
        let (p, local, h) = match spec.strategy {
            StrategyKind::Random => (index / spec.per_program, 0, 0),
            StrategyKind::Pct => {
                let p = index / spec.per_program;
                (p, 0, horizon(spec, p, &mut horizons)?)
            }
            StrategyKind::Bounded => walk.locate(spec, index, actors, &mut horizons)?,
        };
        let id = schedule_id(spec, p, index, local, h);
        let run = run_schedule(&id, &spec.image)?;
        report.schedules += 1;
        report.decisions += run.steps;
        report.lost_control += run.lost_control.is_some() as u64;
        progress(Progress::Schedule { index, run: &run });
        if run.violating() {
            report.violating += 1;
            let f = Found::of(index, &run, t0.elapsed().as_secs_f64());
            if report.first.is_none() {
                report.first = Some(f.clone());
                first_run = Some(run);
            }
            if report.found.len() < FOUND_LISTED {
                report.found.push(f);
            }
            if !spec.all {
                break;
            }
        }
        index += n;
    }
    report.seconds = t0.elapsed().as_secs_f64();
    report.schedules_per_s = report.schedules as f64 / report.seconds.max(1e-9);
    Ok((report, first_run))
}

/// Joins the reports of shards of one exploration: counts add up, the
/// wall time is the longest shard's, the first violation is the
/// lowest-numbered. Reports of different explorations, or one shard twice,
/// are refused.
pub fn merge(reports: Vec<ExploreReport>) -> Result<ExploreReport> {
    let mut it = reports.into_iter();
    let mut m = it
        .next()
        .ok_or_else(|| Error::Invalid("nothing to merge".into()))?;
    for r in it {
        let same = (
            &r.template,
            r.strategy,
            r.seed,
            r.depth,
            r.bound,
            r.per_program,
        ) == (
            &m.template,
            m.strategy,
            m.seed,
            m.depth,
            m.bound,
            m.per_program,
        );
        if !same {
            return Err(Error::Invalid(format!(
                "shard {} explored {} with {} seed {}, not {} with {} seed {} like the others",
                r.shards.join(","),
                r.template,
                r.strategy,
                r.seed,
                m.template,
                m.strategy,
                m.seed
            )));
        }
        if let Some(dup) = r.shards.iter().find(|s| m.shards.contains(s)) {
            return Err(Error::Invalid(format!("shard {dup} appears twice")));
        }
        let n_of = |s: &String| s.split_once('/').map(|(_, n)| n.to_string());
        if r.shards.first().and_then(n_of) != m.shards.first().and_then(n_of) {
            return Err(Error::Invalid(format!(
                "shard {} splits the space differently from shard {}",
                r.shards.join(","),
                m.shards.join(",")
            )));
        }
        // Counts from files a user hands over: a sum past u64 is a report
        // that did not come from explore, not a count to wrap.
        let add = |a: u64, b: u64, what: &str| {
            a.checked_add(b).ok_or_else(|| {
                Error::Invalid(format!(
                    "shard {}: {what} overflow when added up",
                    r.shards.join(",")
                ))
            })
        };
        m.schedules = add(m.schedules, r.schedules, "schedules")?;
        m.violating = add(m.violating, r.violating, "violating schedules")?;
        m.lost_control = add(m.lost_control, r.lost_control, "lost-control counts")?;
        m.decisions = add(m.decisions, r.decisions, "decisions")?;
        m.shards.extend(r.shards);
        m.seconds = m.seconds.max(r.seconds);
        m.found.extend(r.found);
        m.first = match (m.first.take(), r.first) {
            (Some(a), Some(b)) => Some(if b.index < a.index { b } else { a }),
            (a, b) => a.or(b),
        };
    }
    m.found.sort_by_key(|f| f.index);
    m.found.truncate(FOUND_LISTED);
    m.shards.sort_by_key(|s| {
        s.split_once('/')
            .and_then(|(k, _)| k.parse::<u64>().ok())
            .unwrap_or(0)
    });
    m.schedules_per_s = m.schedules as f64 / m.seconds.max(1e-9);
    Ok(m)
}

/// A template as text without its seeds and strategy.
fn template_key(t: &ScheduleId) -> String {
    let id = ScheduleId {
        wseed: 0,
        eseed: 0,
        strategy: StrategySpec::Explicit { switches: vec![] },
        ..t.clone()
    };
    let text = id.to_string();
    text.trim_end_matches("/explicit:").to_string()
}

/// Which shards of N are missing from a merged report (at most the first
/// 100 named).
pub fn missing_shards(r: &ExploreReport) -> Vec<String> {
    let Some(n) = r
        .shards
        .first()
        .and_then(|s| s.split_once('/'))
        .and_then(|(_, n)| n.parse::<u64>().ok())
    else {
        return Vec::new();
    };
    let have: std::collections::HashSet<&String> = r.shards.iter().collect();
    (1..=n.min(MAX_SHARDS))
        .map(|k| format!("{k}/{n}"))
        .filter(|s| !have.contains(s))
        .take(100)
        .collect()
}

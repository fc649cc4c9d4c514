//! Schedule ids: everything a schedule is a function of, as one string a
//! developer can paste into `lockline replay`.
//!
//! `v1/<build>/<workload>/t<threads>/k<ops>/w<workload seed>/e<engine seed>
//! [/inject=<bug>,..][/short=<rate>][/afail=<rate>][/bg=<threads>][/ops=<kept>]/<strategy>`
//! with the strategy one of `random:s<seed>`, `pct:d<depth>:h<horizon>:s<seed>`,
//! `bounded:b<bound>:h<horizon>:i<index>`, `explicit:<switch>,..` where a
//! switch `T@O.P>U` runs thread U when thread T is at its P-th decision
//! point (0-based) in round op O, `T.P>U` the same before T's first op or
//! on a thread without ops, and `s>U` starts with U (`explicit:` alone is
//! the default schedule). `ops` marks with 1 and 0 which
//! of the round's ops (in issue order) a minimized schedule kept; `bg`
//! names the background threads when not both of `flusher` and `migrate`
//! run (`bg=none` for neither).

use super::sched::Switch;
use crate::workload::WorkloadKind;
use lockline_engine::config::{Build, Inject, Knobs};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Debug, PartialEq)]
pub enum StrategySpec {
    Random {
        seed: u64,
    },
    Pct {
        depth: u32,
        horizon: u64,
        seed: u64,
    },
    Bounded {
        bound: u32,
        horizon: u64,
        index: u128,
    },
    Explicit {
        switches: Vec<Switch>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleId {
    pub build: Build,
    pub workload: WorkloadKind,
    pub threads: u32,
    pub ops: u32,
    pub wseed: u64,
    pub eseed: u64,
    pub inject: Inject,
    pub short_copy_rate: f64,
    pub alloc_fail_rate: f64,
    /// Which ops run (None: all).
    pub kept: Option<Vec<bool>>,
    /// The flusher's pass and the migration run as threads of their own.
    pub flusher: bool,
    pub migrate: bool,
    pub strategy: StrategySpec,
}

impl ScheduleId {
    /// The engine's knobs for this schedule: no background threads (the
    /// flusher and the mm run as scheduled steps), migration sleeping on
    /// the folio lock so it can meet a writer.
    pub fn knobs(&self) -> Knobs {
        Knobs {
            writeback_interval_ms: 0,
            reclaim_limit_bytes: 0,
            migration_interval_us: 0,
            compaction_interval_ms: 0,
            migrate_mode: lockline_engine::config::MigrateMode::SyncLight,
            short_copy_rate: self.short_copy_rate,
            alloc_fail_rate: self.alloc_fail_rate,
            seed: self.eseed,
            inject: self.inject,
            ..Knobs::default()
        }
    }

    /// Whether the id stays within what a schedule may be (the same limits
    /// for a pasted id and for explore's arguments).
    pub fn check_limits(&self) -> Result<(), String> {
        within(self.threads, 1, MAX_THREADS, "threads")?;
        within(self.ops, 1, MAX_OPS, "ops per round")?;
        rate_within(self.short_copy_rate, MAX_SHORT_COPY_RATE, "short copy rate")?;
        rate_within(
            self.alloc_fail_rate,
            MAX_ALLOC_FAIL_RATE,
            "allocation failure rate",
        )
    }

    /// The ops run, out of `total`.
    pub fn kept(&self, i: usize) -> bool {
        self.kept
            .as_ref()
            .is_none_or(|k| k.get(i).copied().unwrap_or(false))
    }
}

impl fmt::Display for ScheduleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "v1/{}/{}/t{}/k{}/w{}/e{:x}",
            self.build, self.workload, self.threads, self.ops, self.wseed, self.eseed
        )?;
        let bugs = self.inject.enabled();
        if !bugs.is_empty() {
            write!(f, "/inject={}", bugs.join(","))?;
        }
        if self.short_copy_rate > 0.0 {
            write!(f, "/short={}", self.short_copy_rate)?;
        }
        if self.alloc_fail_rate > 0.0 {
            write!(f, "/afail={}", self.alloc_fail_rate)?;
        }
        if !(self.flusher && self.migrate) {
            let bg = match (self.flusher, self.migrate) {
                (true, false) => "flusher",
                (false, true) => "migrate",
                _ => "none",
            };
            write!(f, "/bg={bg}")?;
        }
        if let Some(k) = &self.kept {
            let bits: String = k.iter().map(|&b| if b { '1' } else { '0' }).collect();
            write!(f, "/ops={bits}")?;
        }
        match &self.strategy {
            StrategySpec::Random { seed } => write!(f, "/random:s{seed:x}"),
            StrategySpec::Pct {
                depth,
                horizon,
                seed,
            } => write!(f, "/pct:d{depth}:h{horizon}:s{seed:x}"),
            StrategySpec::Bounded {
                bound,
                horizon,
                index,
            } => write!(f, "/bounded:b{bound}:h{horizon}:i{index}"),
            StrategySpec::Explicit { switches } => {
                let s: Vec<String> = switches
                    .iter()
                    .map(|s| match s.from {
                        Some(f) => match s.op {
                            Some(o) => format!("{f}@{o}.{}>{}", s.point, s.to),
                            None => format!("{f}.{}>{}", s.point, s.to),
                        },
                        None => format!("s>{}", s.to),
                    })
                    .collect();
                write!(f, "/explicit:{}", s.join(","))
            }
        }
    }
}

fn num<T: TryFrom<u128>>(s: &str, prefix: &str, what: &str, radix16: bool) -> Result<T, String> {
    let body = s
        .strip_prefix(prefix)
        .ok_or_else(|| format!("expected {what} as '{prefix}N', found '{s}'"))?;
    let v = if radix16 {
        u128::from_str_radix(body, 16)
    } else {
        body.parse::<u128>()
    }
    .map_err(|_| format!("{what} '{body}' is not a number"))?;
    T::try_from(v).map_err(|_| format!("{what} '{body}' is out of range"))
}

/// Limits an id may not pass (explore's own arguments stay within them).
pub const MAX_DEPTH: u32 = 16;
pub const MAX_BOUND: u32 = 4;
pub const MAX_HORIZON: u64 = 1_000_000;
pub const MAX_THREADS: u32 = 16;
pub const MAX_OPS: u32 = 64;
pub const MAX_SHORT_COPY_RATE: f64 = 0.9;
pub const MAX_ALLOC_FAIL_RATE: f64 = 0.5;

fn within<T: PartialOrd + std::fmt::Display>(v: T, lo: T, hi: T, what: &str) -> Result<T, String> {
    if v < lo || v > hi {
        return Err(format!("{what} {v} is outside {lo}..={hi}"));
    }
    Ok(v)
}

fn rate(s: &str, what: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .map_err(|_| format!("{what} '{s}' is not a number"))
}

fn rate_within(r: f64, max: f64, what: &str) -> Result<(), String> {
    if !(0.0..=max).contains(&r) {
        return Err(format!("{what} {r} is not a rate in 0..{max}"));
    }
    Ok(())
}

fn strategy(s: &str) -> Result<StrategySpec, String> {
    let mut parts = s.split(':');
    let name = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let want = |n: usize| {
        if rest.len() == n {
            Ok(())
        } else {
            Err(format!(
                "strategy '{s}' has {} fields, expected {n}",
                rest.len()
            ))
        }
    };
    // pct and bounded: the second field.
    let horizon = || {
        within(
            num(rest[1], "h", "horizon", false)?,
            0,
            MAX_HORIZON,
            "horizon",
        )
    };
    match name {
        "random" => {
            want(1)?;
            Ok(StrategySpec::Random {
                seed: num(rest[0], "s", "seed", true)?,
            })
        }
        "pct" => {
            want(3)?;
            Ok(StrategySpec::Pct {
                depth: within(num(rest[0], "d", "depth", false)?, 1, MAX_DEPTH, "depth")?,
                horizon: horizon()?,
                seed: num(rest[2], "s", "seed", true)?,
            })
        }
        "bounded" => {
            want(3)?;
            Ok(StrategySpec::Bounded {
                bound: within(num(rest[0], "b", "bound", false)?, 0, MAX_BOUND, "bound")?,
                horizon: horizon()?,
                index: num(rest[2], "i", "index", false)?,
            })
        }
        "explicit" => {
            want(1)?;
            let mut switches = Vec::new();
            for sw in rest[0].split(',').filter(|p| !p.is_empty()) {
                let shape = || format!("switch '{sw}' is not THREAD.POINT>THREAD or s>THREAD");
                let (at, to) = sw.split_once('>').ok_or_else(shape)?;
                let to: usize = to
                    .parse()
                    .map_err(|_| format!("thread '{to}' is not a number"))?;
                let (from, op, point) = if at == "s" {
                    (None, None, 0)
                } else {
                    let (f, p) = at.split_once('.').ok_or_else(shape)?;
                    let (f, op) = match f.split_once('@') {
                        Some((f, o)) => (
                            f,
                            Some(o.parse().map_err(|_| format!("op '{o}' is not a number"))?),
                        ),
                        None => (f, None),
                    };
                    (
                        Some(
                            f.parse()
                                .map_err(|_| format!("thread '{f}' is not a number"))?,
                        ),
                        op,
                        p.parse()
                            .map_err(|_| format!("point '{p}' is not a number"))?,
                    )
                };
                if switches
                    .iter()
                    .any(|o: &Switch| (o.from, o.op, o.point) == (from, op, point))
                {
                    return Err(format!("switch '{sw}' names a decision twice"));
                }
                switches.push(Switch {
                    from,
                    op,
                    point,
                    to,
                });
            }
            Ok(StrategySpec::Explicit { switches })
        }
        _ => Err(format!(
            "unknown strategy '{name}' (expected random, pct, bounded or explicit)"
        )),
    }
}

impl FromStr for ScheduleId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |m: String| format!("schedule id '{s}': {m}");
        let parts: Vec<&str> = s.trim().split('/').collect();
        if parts.first() != Some(&"v1") || parts.len() < 8 {
            return Err(bad(
                "not a lockline schedule id (v1/BUILD/WORKLOAD/tN/kN/wN/eN/.../STRATEGY)".into(),
            ));
        }
        let build: Build = parts[1].parse().map_err(bad)?;
        let workload: WorkloadKind = parts[2].parse().map_err(bad)?;
        let threads: u32 = num(parts[3], "t", "threads", false).map_err(bad)?;
        let ops: u32 = num(parts[4], "k", "ops", false).map_err(bad)?;
        let mut id = ScheduleId {
            build,
            workload,
            threads,
            ops,
            wseed: num(parts[5], "w", "workload seed", false).map_err(bad)?,
            eseed: num(parts[6], "e", "engine seed", true).map_err(bad)?,
            inject: Inject::default(),
            short_copy_rate: 0.0,
            alloc_fail_rate: 0.0,
            kept: None,
            flusher: true,
            migrate: true,
            strategy: strategy(parts[parts.len() - 1]).map_err(bad)?,
        };
        for p in &parts[7..parts.len() - 1] {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| bad(format!("'{p}' is not KEY=VALUE")))?;
            match k {
                "inject" => {
                    for b in v.split(',') {
                        id.inject.enable(b).map_err(bad)?;
                    }
                }
                "short" => id.short_copy_rate = rate(v, "short copy rate").map_err(bad)?,
                "afail" => id.alloc_fail_rate = rate(v, "allocation failure rate").map_err(bad)?,
                "bg" => {
                    (id.flusher, id.migrate) = match v {
                        "flusher" => (true, false),
                        "migrate" => (false, true),
                        "none" => (false, false),
                        _ => return Err(bad(format!("bg '{v}' is not flusher, migrate or none"))),
                    }
                }
                "ops" => {
                    if v.len() != ops as usize || !v.chars().all(|c| c == '0' || c == '1') {
                        return Err(bad(format!("ops '{v}' is not {ops} digits of 0 and 1")));
                    }
                    id.kept = Some(v.chars().map(|c| c == '1').collect());
                }
                _ => return Err(bad(format!("unknown field '{k}'"))),
            }
        }
        id.check_limits().map_err(bad)?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(strategy: StrategySpec) -> ScheduleId {
        let mut inject = Inject::default();
        inject.enable("isize-before-copy").unwrap();
        ScheduleId {
            build: Build::Lockless,
            workload: WorkloadKind::ClaimMix,
            threads: 2,
            ops: 4,
            wseed: 7,
            eseed: 0xabc,
            inject,
            short_copy_rate: 0.05,
            alloc_fail_rate: 0.0,
            kept: Some(vec![true, false, true, true]),
            flusher: false,
            migrate: true,
            strategy,
        }
    }

    #[test]
    fn ids_round_trip() {
        for s in [
            StrategySpec::Random { seed: 0xdead },
            StrategySpec::Pct {
                depth: 3,
                horizon: 400,
                seed: 9,
            },
            StrategySpec::Bounded {
                bound: 2,
                horizon: 50,
                index: 1234,
            },
            StrategySpec::Explicit {
                switches: vec![
                    Switch {
                        from: None,
                        op: None,
                        point: 0,
                        to: 1,
                    },
                    Switch {
                        from: Some(2),
                        op: Some(3),
                        point: 40,
                        to: 0,
                    },
                    Switch {
                        from: Some(4),
                        op: None,
                        point: 2,
                        to: 0,
                    },
                ],
            },
            StrategySpec::Explicit { switches: vec![] },
        ] {
            let i = id(s);
            let text = i.to_string();
            assert_eq!(text.parse::<ScheduleId>(), Ok(i), "{text}");
        }
    }

    #[test]
    fn bad_ids_say_what_is_wrong() {
        for (s, want) in [
            ("nope", "not a lockline schedule id"),
            ("v1/locked/overlap/t2/k4/w1/e1/zig:1", "unknown strategy"),
            ("v1/lockd/overlap/t2/k4/w1/e1/random:s1", "unknown build"),
            ("v1/locked/overlap/t2/k4/w1/e1/random:sxyz", "not a number"),
            ("v1/locked/overlap/t2/k4/w1/e1/ops=11/random:s1", "4 digits"),
            (
                "v1/locked/overlap/t2/k4/w1/e1/explicit:1.5>1,1.5>0",
                "twice",
            ),
            ("v1/locked/overlap/t2/k4/w1/e1/explicit:5>1", "THREAD.POINT"),
            (
                "v1/locked/overlap/t2/k4/w1/e1/pct:d4000000000:h9:s1",
                "outside",
            ),
            ("v1/locked/overlap/t2/k4/w1/e1/bounded:b99:h0:i5", "outside"),
            (
                "v1/locked/overlap/t2/k4/w1/e1/afail=0.7/random:s1",
                "0..0.5",
            ),
        ] {
            let e = s.parse::<ScheduleId>().unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
        }
    }
}

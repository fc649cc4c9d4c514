//! The strategies that choose who runs at each decision of a schedule:
//! a random walk, PCT (Burckhardt et al., ASPLOS 2010: random thread
//! priorities, d-1 priority change points over the schedule's length, the
//! highest-priority runnable thread runs), preemption bounding (CHESS: every
//! schedule with at most b preemptions, enumerated by index) and an explicit
//! list of switches (a replayed or minimized schedule).

use super::sched::{Decision, Switch};
use lockline_engine::usercopy::splitmix64;

/// Chooses the thread to run at a decision; `runnable` is sorted and has
/// at least two threads.
pub trait Strategy: Send {
    fn pick(&mut self, d: &Decision, runnable: &[usize]) -> usize;
}

/// Uniformly among the runnable threads at every decision.
pub struct RandomWalk {
    rng: u64,
}

impl RandomWalk {
    pub fn new(seed: u64) -> RandomWalk {
        RandomWalk { rng: seed }
    }
}

impl Strategy for RandomWalk {
    fn pick(&mut self, _: &Decision, runnable: &[usize]) -> usize {
        runnable[(splitmix64(&mut self.rng) % runnable.len() as u64) as usize]
    }
}

/// PCT with depth `d`: distinct random initial priorities d+1.., and at
/// each of d-1 steps drawn from [0, horizon) the thread at the decision
/// drops to priority d-i.
pub struct Pct {
    prio: Vec<u64>,
    changes: Vec<u64>,
    /// The thread that ran last (its priority drops at a change point).
    last: Option<usize>,
}

impl Pct {
    pub fn new(seed: u64, actors: usize, depth: u32, horizon: u64) -> Pct {
        let mut rng = seed;
        let mut order: Vec<usize> = (0..actors).collect();
        for i in (1..order.len()).rev() {
            let j = (splitmix64(&mut rng) % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let mut prio = vec![0; actors];
        for (rank, &a) in order.iter().enumerate() {
            prio[a] = depth as u64 + 1 + rank as u64;
        }
        let mut changes: Vec<u64> = Vec::new();
        let want = (depth.max(1) - 1) as usize;
        let horizon = horizon.max(1);
        while changes.len() < want.min(horizon as usize) {
            let c = splitmix64(&mut rng) % horizon;
            if !changes.contains(&c) {
                changes.push(c);
            }
        }
        // Change point i lowers its thread to priority d-1-i: the points
        // are drawn in random order, so which of two demoted threads ranks
        // higher is random too, as in PCT.
        Pct {
            prio,
            changes,
            last: None,
        }
    }
}

impl Strategy for Pct {
    fn pick(&mut self, d: &Decision, runnable: &[usize]) -> usize {
        if let Some(i) = self.changes.iter().position(|&c| c == d.step) {
            // The thread at this decision, whether it could go on or not.
            if let Some(t) = d.me.or(self.last) {
                self.prio[t] = (self.changes.len() - i) as u64;
            }
        }
        let t = *runnable
            .iter()
            .max_by_key(|&&t| self.prio[t])
            .expect("runnable is never empty");
        self.last = Some(t);
        t
    }
}

/// The `index`th schedule with at most `bound` preemptions over the first
/// `horizon` decisions of `actors` threads: all schedules with 0
/// preemptions first (one: the default), then every choice of 1 step and
/// 1 other thread, and so on. A preemption at step s with choice j runs
/// the j-th runnable thread other than the default (cyclically).
pub struct Bounded {
    pre: Vec<(u64, usize)>,
}

/// How many schedules [`Bounded`] enumerates (saturating).
pub fn bounded_count(bound: u32, horizon: u64, actors: usize) -> u128 {
    (0..=bound).fold(0u128, |acc, c| {
        acc.saturating_add(bounded_count_exactly(c, horizon, actors))
    })
}

fn bounded_count_exactly(c: u32, horizon: u64, actors: usize) -> u128 {
    let others = actors.saturating_sub(1) as u128;
    binomial(horizon as u128, c as u128).saturating_mul(others.saturating_pow(c))
}

fn binomial(n: u128, k: u128) -> u128 {
    if k > n {
        return 0;
    }
    let mut r: u128 = 1;
    for i in 0..k {
        r = r.saturating_mul(n - i) / (i + 1);
    }
    r
}

impl Bounded {
    /// None when `index` is past the last schedule.
    pub fn new(index: u128, bound: u32, horizon: u64, actors: usize) -> Option<Bounded> {
        let mut n = index;
        for c in 0..=bound {
            let count = bounded_count_exactly(c, horizon, actors);
            if n >= count {
                n -= count;
                continue;
            }
            let others = actors.saturating_sub(1).max(1) as u128;
            let per_combo = others.pow(c);
            let (mut combo, mut choice) = (n / per_combo, n % per_combo);
            // Unrank the combo'th c-subset of [0, horizon), lexicographic.
            let mut steps = Vec::new();
            let mut from = 0u64;
            for left in (1..=c as u128).rev() {
                let mut s = from;
                loop {
                    let rest = binomial((horizon - s - 1) as u128, left - 1);
                    if combo < rest {
                        break;
                    }
                    combo -= rest;
                    s += 1;
                }
                steps.push(s);
                from = s + 1;
            }
            let mut pre = Vec::new();
            for s in steps {
                pre.push((s, (choice % others) as usize));
                choice /= others;
            }
            return Some(Bounded { pre });
        }
        None
    }
}

impl Strategy for Bounded {
    fn pick(&mut self, d: &Decision, runnable: &[usize]) -> usize {
        match self.pre.iter().find(|(s, _)| *s == d.step) {
            Some(&(_, j)) => {
                let others: Vec<usize> = runnable
                    .iter()
                    .copied()
                    .filter(|&t| t != d.default)
                    .collect();
                others[j % others.len()]
            }
            _ => d.default,
        }
    }
}

/// The default policy except at the listed switches: what any schedule
/// is, written down.
pub struct Explicit {
    switches: Vec<Switch>,
}

impl Explicit {
    pub fn new(switches: Vec<Switch>) -> Explicit {
        Explicit { switches }
    }
}

impl Strategy for Explicit {
    fn pick(&mut self, d: &Decision, runnable: &[usize]) -> usize {
        match self
            .switches
            .iter()
            .find(|s| (s.from, s.op, s.point) == (d.me, d.op, d.point))
        {
            Some(s) if runnable.contains(&s.to) => s.to,
            _ => d.default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_enumerates_every_schedule_once() {
        let (b, h, n) = (2, 6, 3);
        let total = bounded_count(b, h, n);
        assert_eq!(total, 1 + 6 * 2 + 15 * 4);
        let mut seen = std::collections::HashSet::new();
        for i in 0..total {
            let s = Bounded::new(i, b, h, n).unwrap();
            assert!(s.pre.len() <= b as usize);
            assert!(s.pre.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(s.pre.iter().all(|&(st, j)| st < h && j < n - 1));
            assert!(seen.insert(s.pre.clone()), "{i}: {:?}", s.pre);
        }
        assert!(Bounded::new(total, b, h, n).is_none());
        assert!(Bounded::new(0, b, h, n).unwrap().pre.is_empty());
    }

    fn at(step: u64, cur: Option<usize>, point: u64) -> Decision {
        Decision {
            step,
            me: cur,
            op: None,
            point,
            cur,
            default: cur.unwrap_or(0),
        }
    }

    #[test]
    fn pct_runs_the_highest_priority_and_changes_it() {
        let mut p = Pct::new(1, 3, 2, 10);
        let first = p.pick(&at(0, None, 0), &[0, 1, 2]);
        // Without a change point the same thread keeps running.
        let c = p.changes[0];
        for s in 1..c {
            assert_eq!(p.pick(&at(s, Some(first), s), &[0, 1, 2]), first);
        }
        if c > 0 {
            // At the change point the running thread drops below the others.
            assert_ne!(p.pick(&at(c, Some(first), c), &[0, 1, 2]), first);
        }
    }

    #[test]
    fn explicit_switches_only_where_listed() {
        let sw = Switch {
            from: Some(0),
            op: None,
            point: 3,
            to: 2,
        };
        let mut e = Explicit::new(vec![sw]);
        assert_eq!(e.pick(&at(9, Some(0), 2), &[0, 1, 2]), 0);
        assert_eq!(e.pick(&at(9, Some(0), 3), &[0, 1, 2]), 2);
        // Another thread's third point is not this switch.
        assert_eq!(e.pick(&at(9, Some(1), 3), &[0, 1, 2]), 1);
        // Not runnable: the default.
        assert_eq!(e.pick(&at(9, Some(0), 3), &[0, 1]), 0);
    }
}

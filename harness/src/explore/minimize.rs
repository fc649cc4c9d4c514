//! Shrinks a violating schedule while it still loses data the same way
//! (a violation of a class the original had): the background threads
//! dropped if they are not needed, delta debugging (Zeller's ddmin) over
//! its switches, then its ops one at a time, until nothing shrinks. Every candidate is a schedule id of its own, run afresh.

use super::id::{ScheduleId, StrategySpec};
use super::round::{run_schedule, ScheduleRun};
use super::sched::Switch;
use crate::check::Class;
use lockline_engine::error::{Error, Result};
use std::collections::BTreeSet;
use std::path::Path;

pub struct Minimized {
    pub run: ScheduleRun,
    /// Schedules run while shrinking.
    pub tries: u64,
}

fn classes(run: &ScheduleRun) -> BTreeSet<Class> {
    run.checks
        .iter()
        .flat_map(|c| c.violations.iter().map(|v| v.class))
        .collect()
}

struct Shrinker<'a> {
    image: &'a Path,
    want: BTreeSet<Class>,
    tries: u64,
    on_try: &'a mut dyn FnMut(u64),
}

impl Shrinker<'_> {
    /// Runs `id`; Some(run) if it still violates as wanted.
    fn still(&mut self, id: &ScheduleId) -> Result<Option<ScheduleRun>> {
        self.tries += 1;
        (self.on_try)(self.tries);
        let run = run_schedule(id, self.image)?;
        let ok = run.lost_control.is_none() && !classes(&run).is_disjoint(&self.want);
        Ok(ok.then_some(run))
    }

    fn with_switches(best: &ScheduleRun, switches: Vec<Switch>) -> ScheduleId {
        ScheduleId {
            strategy: StrategySpec::Explicit { switches },
            ..best.id.clone()
        }
    }

    /// ddmin over the switches of `best`.
    fn switches(&mut self, mut best: ScheduleRun) -> Result<ScheduleRun> {
        if best.switches.is_empty() {
            return Ok(best);
        }
        if let Some(r) = self.still(&Self::with_switches(&best, Vec::new()))? {
            return Ok(r);
        }
        let mut n = 2usize;
        while best.switches.len() >= 2 {
            let len = best.switches.len();
            let chunk = len.div_ceil(n);
            let mut reduced = false;
            for start in (0..len).step_by(chunk) {
                let rest: Vec<Switch> = best.switches[..start]
                    .iter()
                    .chain(&best.switches[(start + chunk).min(len)..])
                    .copied()
                    .collect();
                if let Some(r) = self.still(&Self::with_switches(&best, rest))? {
                    best = r;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
            if !reduced {
                if n >= len {
                    break;
                }
                n = (2 * n).min(len);
            }
        }
        Ok(best)
    }

    /// Drops ops one at a time, keeping at least one.
    fn ops(&mut self, mut best: ScheduleRun) -> Result<ScheduleRun> {
        let total = best.id.ops as usize;
        let mut i = 0;
        while i < total {
            let mut kept: Vec<bool> = (0..total).map(|j| best.id.kept(j)).collect();
            if kept[i] && kept.iter().filter(|&&k| k).count() > 1 {
                kept[i] = false;
                let id = ScheduleId {
                    kept: Some(kept),
                    ..Self::with_switches(&best, best.switches.clone())
                };
                if let Some(r) = self.still(&id)? {
                    best = r;
                }
            }
            i += 1;
        }
        Ok(best)
    }
}

impl Shrinker<'_> {
    /// Drops the flusher, then the migration thread, if the loss stays
    /// without it. Switches to threads after it move down one place.
    fn background(&mut self, mut best: ScheduleRun) -> Result<ScheduleRun> {
        let workers = best.id.threads as usize;
        for which in [0, 1] {
            let on = [best.id.flusher, best.id.migrate];
            if !on[which] {
                continue;
            }
            let slot = workers + on[..which].iter().filter(|&&o| o).count();
            let down = |a: usize| if a > slot { a - 1 } else { a };
            let switches = best
                .switches
                .iter()
                .filter(|s| s.to != slot && s.from != Some(slot))
                .map(|s| Switch {
                    from: s.from.map(down),
                    op: s.op,
                    point: s.point,
                    to: down(s.to),
                })
                .collect();
            let mut id = Self::with_switches(&best, switches);
            if which == 0 {
                id.flusher = false;
            } else {
                id.migrate = false;
            }
            if let Some(r) = self.still(&id)? {
                best = r;
            }
        }
        Ok(best)
    }
}

fn size(r: &ScheduleRun) -> (usize, usize, usize) {
    let ops = (0..r.id.ops as usize).filter(|&j| r.id.kept(j)).count();
    let bg = r.id.flusher as usize + r.id.migrate as usize;
    (r.switches.len(), ops, bg)
}

/// The smallest schedule found that still violates as `run` did.
pub fn minimize(run: &ScheduleRun, image: &Path, on_try: &mut dyn FnMut(u64)) -> Result<Minimized> {
    let mut s = Shrinker {
        image,
        want: classes(run),
        tries: 0,
        on_try,
    };
    if s.want.is_empty() {
        return Err(Error::Invalid(format!(
            "schedule {} loses no data: nothing to minimize",
            run.id
        )));
    }
    let Some(mut best) = s.still(&run.explicit_id())? else {
        return Err(Error::Invalid(format!(
            "schedule {} did not violate again when replayed from its switches",
            run.id
        )));
    };
    loop {
        let before = size(&best);
        best = s.background(best)?;
        best = s.switches(best)?;
        best = s.ops(best)?;
        if size(&best) >= before {
            break;
        }
    }
    Ok(Minimized {
        run: best,
        tries: s.tries,
    })
}

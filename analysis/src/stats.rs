//! Per lock class hold and wait statistics.

use crate::holds::Hold;
use lockline_engine::probe::LockClass;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Dist {
    pub count: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    pub total_ns: u64,
}

impl Dist {
    /// Nearest-rank percentiles over `v` (sorted in place).
    pub fn of(v: &mut [u64]) -> Dist {
        if v.is_empty() {
            return Dist::default();
        }
        v.sort_unstable();
        let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Dist {
            count: v.len() as u64,
            p50_ns: rank(0.50),
            p99_ns: rank(0.99),
            max_ns: *v.last().unwrap_or(&0),
            // Saturating: a damaged trace's times can sum past u64.
            total_ns: v.iter().fold(0u64, |a, &b| a.saturating_add(b)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LockStats {
    pub class: LockClass,
    pub hold: Dist,
    /// Waits of the acquisitions that had to wait.
    pub wait: Dist,
    /// Share of acquisitions that had to wait.
    pub contention_ratio: f64,
}

pub fn lock_stats(holds: &[Hold]) -> Vec<LockStats> {
    let mut acc = LockStatsAcc::default();
    for h in holds {
        acc.add(h);
    }
    acc.finish()
}

/// [`lock_stats`] over holds that arrive a trace at a time (a comparison's
/// repetition of several kernel runs), keeping only their durations.
#[derive(Clone, Debug, Default)]
pub struct LockStatsAcc {
    /// class -> (hold times, wait times, acquisitions)
    by: BTreeMap<LockClass, (Vec<u64>, Vec<u64>, u64)>,
}

impl LockStatsAcc {
    pub fn add(&mut self, h: &Hold) {
        let e = self.by.entry(h.class).or_default();
        if let Some(t) = h.hold_time() {
            e.0.push(t);
        }
        if h.wait_ns.is_some() {
            e.1.push(h.wait_time());
        }
        e.2 += 1;
    }

    pub fn finish(self) -> Vec<LockStats> {
        self.by
            .into_iter()
            .map(|(class, (mut hold, mut wait, n))| LockStats {
                class,
                contention_ratio: wait.len() as f64 / n as f64,
                hold: Dist::of(&mut hold),
                wait: Dist::of(&mut wait),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holds::holds_from_events;
    use crate::holds::tests::ev;
    use lockline_engine::probe::EventKind::*;

    #[test]
    fn percentiles_by_hand() {
        let mut v: Vec<u64> = (1..=100).collect();
        let d = Dist::of(&mut v);
        assert_eq!(
            (d.count, d.p50_ns, d.p99_ns, d.max_ns, d.total_ns),
            (100, 50, 99, 100, 5050)
        );
        assert_eq!(Dist::of(&mut []), Dist::default());
    }

    #[test]
    fn contention_ratio_counts_waiters() {
        let evs = [
            ev(0, 1, LockAcquired, LockClass::Folio, 0),
            ev(1, 2, LockWait, LockClass::Folio, 0),
            ev(4, 1, LockReleased, LockClass::Folio, 0),
            ev(5, 2, LockAcquired, LockClass::Folio, 0),
            ev(7, 2, LockReleased, LockClass::Folio, 0),
        ];
        let s = lock_stats(&holds_from_events(&evs));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].contention_ratio, 0.5);
        assert_eq!(s[0].hold.total_ns, 4 + 2);
        assert_eq!(s[0].wait.max_ns, 4);
    }
}

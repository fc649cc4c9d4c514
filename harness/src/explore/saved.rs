//! A schedule's saved form: what its trace's `summary_json` says of it, so
//! `replay --trace` can check that a replay is the same run again.

use super::round::ScheduleRun;
use crate::check::Counts;
use serde::{Deserialize, Serialize};

/// Per check: its label and (dropped, stale, torn) sectors.
pub type Verdict = Vec<(String, u64, u64, u64)>;

/// The schedule as saved in its trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleSummary {
    /// The schedule id as asked (any strategy).
    pub schedule: String,
    /// The same schedule as its explicit switches.
    pub explicit: String,
    pub steps: u64,
    pub verdict: Verdict,
    /// The final check's sectors by class, as every trace's summary has
    /// them (`lockline run --json`'s `violations`); traces written before
    /// it was kept read as none.
    #[serde(default)]
    pub violations: Counts,
}

impl ScheduleSummary {
    pub fn of(run: &ScheduleRun) -> ScheduleSummary {
        ScheduleSummary {
            schedule: run.id.to_string(),
            explicit: run.explicit_id().to_string(),
            steps: run.steps,
            verdict: run.verdict(),
            violations: run.checks.last().map(|c| c.counts).unwrap_or_default(),
        }
    }
}

impl ScheduleRun {
    /// Each check's label and counts: what two runs of one schedule must
    /// agree on.
    pub fn verdict(&self) -> Verdict {
        self.checks
            .iter()
            .map(|c| {
                (
                    c.label.clone(),
                    c.counts.dropped,
                    c.counts.stale,
                    c.counts.torn,
                )
            })
            .collect()
    }
}

//! Per-thread perf counters for any workload target: opened on each worker
//! thread as it starts, read every [`PERIOD`] into samples (the trace's
//! counter tracks) and once more as it finishes (the summary's totals).

mod counted;
mod counters;

pub use counted::{run_counted, Counted};
pub use counters::{Collector, Counts, PerfReport, PerfSample, PerfThread, ThreadCounters};

/// How often a run reads its threads' perf counters.
pub const PERIOD: std::time::Duration = std::time::Duration::from_millis(10);

//! Per-thread perf counters for any workload target: opened on each worker
//! thread as it starts, read every [`PERIOD`] into samples (the trace's
//! counter tracks) and once more as it finishes (the summary's totals). The
//! counters themselves live in the lockline-perf crate (perf-event2).

mod counted;

pub use counted::{run_counted, Counted};
pub use lockline_perf::{Collector, Counts, PerfReport, PerfSample, PerfThread};

/// How often a run reads its threads' perf counters.
pub const PERIOD: std::time::Duration = std::time::Duration::from_millis(10);

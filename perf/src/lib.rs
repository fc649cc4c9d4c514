//! Per-thread perf counters, as `perf stat --per-thread` counts them:
//! software counters (context switches, CPU migrations, page faults, task
//! clock) and, where the PMU allows, cycles and instructions, opened through
//! the perf-event2 crate. Its own crate so the engine's build gains only
//! perf-event2's few small dependencies.

mod collector;
mod counts;
mod thread;

pub use collector::{Collector, PerfSample};
pub use counts::{Counts, PerfReport, PerfThread};
pub use thread::ThreadCounters;

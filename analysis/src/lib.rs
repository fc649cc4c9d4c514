//! Analysis over lockline traces: the in-memory trace every front end
//! reads, lock holdership (who held which lock when, and who waited) and
//! its statistics.

pub mod blame;
pub mod blocked_by;
pub mod bytes_at;
pub mod chrome;
pub mod compare;
pub mod consistency;
pub mod counters;
pub mod culprit;
pub mod holds;
pub mod lints;
pub mod overlap;
pub mod perfetto;
pub mod report;
pub mod run_trace;
pub mod stats;
pub mod synth;
pub mod threads;
pub mod trace;

pub use holds::{holds_from_events, Hold, Pairer, Step};
pub use stats::{lock_stats, LockStats};
pub use trace::{CounterSample, Trace, TraceMeta, ViolationRow, SCHEMA_VERSION};

//! lockline-harness: what drives and judges the engine. Workloads issue ops
//! and stamp their data; sessions and rounds run them on a mount with the
//! probes recording; the checker judges every read-back against the ops'
//! history; scenarios pin one race deterministically; the explorer runs the
//! engine's threads one at a time under a strategy; the kernel runner drives
//! the same workloads on a real filesystem for comparison.
//!
//! Dependency rule: the harness reaches the model only through
//! lockline-engine's public surface and its probe hooks; the engine never
//! names the harness.

pub mod check;
pub mod client_output;
pub mod explore;
pub mod history;
pub mod kernel;
pub mod perf;
pub mod rounds;
pub mod scenario;
pub mod session;
pub mod stamp;
pub mod workload;

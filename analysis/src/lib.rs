//! Analysis over lockline event streams. Starts with lock holdership (who
//! held which lock when, and who waited) and its statistics; the Parquet
//! trace store and plots build on these values.

pub mod holds;
pub mod stats;

pub use holds::{holds_from_events, Hold};
pub use stats::{lock_stats, LockStats};

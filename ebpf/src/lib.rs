//! Trace sources beyond the in-process recorder: the eBPF tracer (C
//! programs on the engine's probe symbols and on kernel tracepoints, loaded
//! with aya) and what this kernel lets lockline attach.
//!
//! `--probe auto` consults [`probe_available`] and [`caps::detect`] to pick
//! a source; [`EbpfTracer`] records a session into `probe::Event`s, the
//! same schema the in-process recorder produces.

mod available;
pub mod caps;
mod error;
mod filters;
mod loader;
mod object;
mod reader;
mod session;
pub mod tracefs;

pub use available::probe_available;
pub use caps::{detect, Capabilities};
pub use error::EbpfError;
pub use filters::KernelFilters;
pub use loader::{EbpfTracer, EngineProgram, EngineTarget, TraceStats, TracerOptions};
pub use object::{DEFAULT_RING_BYTES, RINGS, TRACEPOINTS};
pub use session::{EbpfSource, SESSION_RING_BYTES};

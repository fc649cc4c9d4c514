//! Probe points and the event schema shared by every trace source.
//!
//! Every lock hand-off, folio change and IO boundary in the engine calls one
//! of the `lockline_*` symbols in [`points`]. They all share one ABI so one
//! eBPF program (or one bpftrace line) can read any of them:
//!
//! | register | meaning |
//! |---|---|
//! | arg0 (u32) | event code: kind \| class << 8 \| mode << 16 (see [`Code`]) |
//! | arg1 (u64) | inode number (0 for none) |
//! | arg2 (u64) | folio index in pages ([`NO_FOLIO`] for none) |
//! | arg3 (u64) | op id of the calling thread's current op (0 for background work) |
//! | arg4 (u64) | per-kind argument a |
//! | arg5 (u64) | per-kind argument b |
//! | arg6 (u64, on the stack) | folio identity ([`NO_FID`] for none) |
//!
//! The seventh argument is passed on the stack by the System V ABI: at the
//! symbol's first instruction it is at `sp + 8`, above the return address.
//! The in-process recorder ([`recorder`]) sees the same seven values plus a
//! timestamp and thread id, so a trace from either source has one schema.

pub mod clock;
pub mod points;
pub mod provenance;
pub mod recorder;
mod schema;
pub mod tracer;
pub mod yield_point;

pub use schema::*;
pub use tracer::ExternalTracer;

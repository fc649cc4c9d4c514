//! Trace sources that live outside the engine (the eBPF tracer), seen by
//! sessions through one trait so the engine need not depend on them.

use super::Event;
use std::path::Path;

pub trait ExternalTracer: Send {
    /// Short name for summaries: "ebpf".
    fn name(&self) -> &'static str;
    /// The workload's file now exists at `path`: narrow file events to it.
    /// Sessions call this once, before the workload starts.
    fn watch_file(&mut self, _path: &Path) -> Result<(), String> {
        Ok(())
    }
    /// Every event emitted so far and not yet taken; tracing goes on.
    fn take(&mut self) -> Result<Vec<Event>, String>;
    /// Events lost so far (ring full).
    fn lost(&self) -> u64;
    /// What the source skipped or did differently, one line each.
    fn notes(&self) -> Vec<String>;
}

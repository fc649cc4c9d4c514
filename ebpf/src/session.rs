//! The eBPF tracer as a session's event source (`--probe ebpf`): engine
//! runs trace the probe symbols of this process; kernel runs add the
//! tracepoints, narrowed to the workload's file once it exists.

use crate::{EbpfError, EbpfTracer, EngineProgram, EngineTarget, KernelFilters, TracerOptions};
use lockline_engine::probe::{Event, ExternalTracer};
use std::path::Path;

/// Ring size for sessions: at the ~2 M events/s two engine threads can
/// produce under uprobes, 64 MiB holds about half a second of events, far
/// more than the reader's 1 ms polling lag.
pub const SESSION_RING_BYTES: u32 = 64 << 20;

pub struct EbpfSource {
    tracer: EbpfTracer,
    kernel: bool,
}

impl EbpfSource {
    /// Traces this process's engine probe symbols.
    pub fn engine() -> Result<EbpfSource, EbpfError> {
        let mut tracer = EbpfTracer::new(session_options())?;
        tracer.add_engine(&EngineTarget::this_process()?, EngineProgram::Record)?;
        Ok(EbpfSource {
            tracer,
            kernel: false,
        })
    }

    /// Loads the programs for a kernel run; the tracepoints attach in
    /// `watch_file`, when the file to filter on exists.
    pub fn kernel() -> Result<EbpfSource, EbpfError> {
        Ok(EbpfSource {
            tracer: EbpfTracer::new(session_options())?,
            kernel: true,
        })
    }
}

fn session_options() -> TracerOptions {
    TracerOptions {
        ring_bytes: SESSION_RING_BYTES,
        keep_events: true,
    }
}

impl ExternalTracer for EbpfSource {
    fn name(&self) -> &'static str {
        "ebpf"
    }

    fn watch_file(&mut self, path: &Path) -> Result<(), String> {
        if !self.kernel {
            return Ok(());
        }
        let filters = KernelFilters::this_process()
            .with_file(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.tracer
            .add_kernel(&filters)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn take(&mut self) -> Result<Vec<Event>, String> {
        self.tracer.take_events().map_err(|e| e.to_string())
    }

    fn lost(&self) -> u64 {
        self.tracer.lost_so_far()
    }

    fn notes(&self) -> Vec<String> {
        self.tracer.notes().to_vec()
    }
}

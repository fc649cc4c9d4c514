//! `--probe auto|ebpf|inproc`: which event source a run uses, and one line
//! saying which and why.

use crate::exit::usage;
use anyhow::Result;
use lockline_ebpf::{probe_available, EbpfSource};
use lockline_engine::probe::ExternalTracer;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Probe {
    /// eBPF when it loads here, the in-process recorder otherwise.
    Auto,
    /// eBPF uprobes (engine) or tracepoints (kernel); fail if BPF is not permitted.
    Ebpf,
    /// The in-process recorder only.
    Inproc,
}

/// What a run traces: engine probe symbols, or a kernel file system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Engine,
    Kernel,
}

/// The chosen source (None: in process) and the line explaining it.
pub struct Choice {
    pub tracer: Option<Box<dyn ExternalTracer>>,
    pub reason: String,
}

fn open(target: Target) -> Result<Box<dyn ExternalTracer>, String> {
    probe_available()?;
    let src = match target {
        Target::Engine => EbpfSource::engine(),
        Target::Kernel => EbpfSource::kernel(),
    };
    src.map(|s| Box::new(s) as Box<dyn ExternalTracer>)
        .map_err(|e| e.to_string())
}

pub fn choose(probe: Probe, target: Target) -> Result<Choice> {
    let what = match target {
        Target::Engine => "uprobes on the engine's lockline_* symbols",
        Target::Kernel => "kernel tracepoints on the workload's file, op events in process",
    };
    Ok(match probe {
        Probe::Inproc => Choice {
            tracer: None,
            reason: "probe: inproc (--probe inproc)".into(),
        },
        Probe::Ebpf => match open(target) {
            Ok(t) => Choice {
                tracer: Some(t),
                reason: format!("probe: ebpf ({what})"),
            },
            Err(e) => {
                return Err(usage(format!(
                    "--probe ebpf: {e}; use --probe inproc or auto"
                )))
            }
        },
        Probe::Auto => match open(target) {
            Ok(t) => Choice {
                tracer: Some(t),
                reason: format!("probe: ebpf (auto: BPF loads here; {what})"),
            },
            Err(e) => Choice {
                tracer: None,
                reason: format!("probe: inproc (auto: eBPF unavailable: {e})"),
            },
        },
    })
}

//! `--probe auto`'s question: can this process use eBPF uprobes at all?

use crate::error::load_error;
use crate::object::{EMPTY_PROBE, MAP_EVENTS, OBJECT};
use aya::programs::UProbe;
use aya::EbpfLoader;

/// Ok when a trivial uprobe program loads here; otherwise one line saying
/// why (not permitted, no uprobe PMU, ...). Attaches nothing.
pub fn probe_available() -> Result<(), String> {
    let caps = crate::caps::detect();
    if !caps.uprobe_pmu {
        return Err(
            "no uprobe PMU (/sys/bus/event_source/devices/uprobe): kernel built without uprobes"
                .into(),
        );
    }
    // The smallest ring the kernel accepts: this is a probe, not a session.
    let mut loader = EbpfLoader::new();
    for ring in MAP_EVENTS {
        loader.map_max_entries(ring, 4096);
    }
    let mut bpf = loader
        .load(OBJECT)
        .map_err(|e| load_error(&e).to_string())?;
    let prog: &mut UProbe = bpf
        .program_mut(EMPTY_PROBE)
        .ok_or("empty_probe missing from the eBPF object")?
        .try_into()
        .map_err(|e| load_error(&e).to_string())?;
    prog.load().map_err(|e| load_error(&e).to_string())
}

//! Trace sources beyond the in-process recorder: what this kernel lets
//! lockline attach (tracefs, BTF, uprobe and kprobe PMUs, privileges), and
//! the probe-point symbols an eBPF program or bpftrace attaches to.
//!
//! The loader itself (aya, C programs) lands with the eBPF issue; this
//! module is what `--probe auto` will consult to pick a source.

pub mod caps;

pub use caps::{detect, Capabilities};

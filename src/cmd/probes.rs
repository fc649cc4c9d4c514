//! `lockline probes`: the probe-point symbols and the kernel's tracing
//! facilities, with a bpftrace line that attaches to all of them.

use crate::exit;
use anyhow::{Context, Result};
use lockline_engine::probe::points::SYMBOLS;

#[derive(clap::Args)]
pub struct Args {
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<u8> {
    let caps = lockline_ebpf::detect();
    let exe = std::env::current_exe().context("cannot find this executable")?;
    if a.json {
        let syms: Vec<_> = SYMBOLS
            .iter()
            .map(|(k, s)| serde_json::json!({"symbol": s, "kind": k.name()}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"binary": exe, "probes": syms, "capabilities": caps})
        );
        return Ok(exit::OK);
    }
    println!("probe points in {}:", exe.display());
    for (k, s) in SYMBOLS {
        println!("  {s:<34} {k}");
    }
    println!("arguments: arg0=code (kind|class<<8|mode<<16) arg1=inode arg2=folio index arg3=op id arg4, arg5=per kind");
    println!();
    println!("this kernel:");
    println!(
        "  root: {}  tracefs: {}  btf: {}  uprobe pmu: {}  kprobe pmu: {}",
        caps.root,
        caps.tracefs.as_deref().unwrap_or("not mounted"),
        caps.btf,
        caps.uprobe_pmu,
        caps.kprobe_pmu
    );
    for n in &caps.notes {
        println!("  note: {n}");
    }
    println!();
    println!("count every probe hit with bpftrace:");
    println!(
        "  bpftrace -e '{}'",
        lockline_ebpf::caps::bpftrace_count_all(&exe)
    );
    Ok(exit::OK)
}

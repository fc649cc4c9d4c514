//! Writing and reading a trace of 10 M synthetic events through the
//! Parquet store; with `--keep DIR` the trace stays for timing
//! `lockline analyze DIR` end to end.
//! Run: cargo bench -p lockline-store --bench store [-- --quick] [-- --keep DIR]

use lockline_analysis::synth;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let keep = args
        .iter()
        .position(|a| a == "--keep")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from);
    let n = if quick { 1_000_000 } else { 10_000_000 };
    let t = synth::generate(n, 4, 1);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = keep.unwrap_or_else(|| tmp.path().join("trace"));
    let s = Instant::now();
    lockline_store::write(&dir, &t).expect("write");
    let w = s.elapsed().as_secs_f64();
    let bytes: u64 = std::fs::read_dir(&dir)
        .expect("trace dir")
        .map(|e| {
            e.map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                .unwrap_or(0)
        })
        .sum();
    let s = Instant::now();
    let back = lockline_store::read(&dir).expect("read");
    let r = s.elapsed().as_secs_f64();
    assert_eq!(back.events.len(), t.events.len());
    println!(
        "store, {} events ({} ops): write {:.2} s, read {:.2} s, {:.0} MB on disk ({:.1} bytes/event) at {}",
        t.events.len(),
        t.ops.len(),
        w,
        r,
        bytes as f64 / 1e6,
        bytes as f64 / t.events.len() as f64,
        dir.display()
    );
}

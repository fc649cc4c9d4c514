//! `analyze` and the Chrome export on generated traces: the issue's
//! targets are analyze of 10 M events in 2 s and a Chrome export of 1 M
//! events in 3 s on this 2-core machine.
//! Run: cargo bench -p lockline-analysis --bench analyze [-- --quick]

use lockline_analysis::chrome::{self, ChromeOptions};
use lockline_analysis::report::{analyze, AnalyzeOptions};
use lockline_analysis::synth;
use std::io::Write;
use std::time::Instant;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sizes: &[usize] = if quick {
        &[1_000_000]
    } else {
        &[1_000_000, 10_000_000]
    };
    println!("analyze (all lints on), synthetic lockless-shaped traces, 4 workers + flusher");
    for &n in sizes {
        let t = synth::generate(n, 4, 1);
        let s = Instant::now();
        let a = analyze(&t, &AnalyzeOptions::default());
        let secs = s.elapsed().as_secs_f64();
        let target = if n >= 10_000_000 {
            "  (target <= 2 s)"
        } else {
            ""
        };
        println!(
            "  {:>10} events: {:.2} s = {:.1} M events/s, {} lock classes, {} findings{target}",
            t.events.len(),
            secs,
            t.events.len() as f64 / secs / 1e6,
            a.locks.len(),
            a.findings.len()
        );
    }
    println!("Chrome trace-event export (to a file in $TMPDIR)");
    {
        let t = synth::generate(1_000_000, 4, 1);
        let path = std::env::temp_dir().join(format!("lockline-bench-{}.json", std::process::id()));
        let s = Instant::now();
        let f = std::fs::File::create(&path).expect("temp file");
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let st = chrome::write(&t, &mut w, &ChromeOptions::default()).expect("export");
        w.flush().expect("flush");
        let secs = s.elapsed().as_secs_f64();
        let mb = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
        let _ = std::fs::remove_file(&path);
        println!(
            "  {:>10} events: {:.2} s, {} trace events, {:.0} MB  (target <= 3 s)",
            t.events.len(),
            secs,
            st.trace_events,
            mb
        );
    }
}

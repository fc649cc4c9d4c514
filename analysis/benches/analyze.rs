//! `analyze` and the exports on generated traces: analyze of 10 M events
//! (target 1.5 s on this 2-core machine), and the Chrome JSON and Perfetto
//! exports of the same traces side by side (time, bytes, peak memory).
//! `--phases` times analyze's passes one by one on 10 M events instead.
//! Run: cargo bench -p lockline-analysis --bench analyze [-- --quick | --phases]

use lockline_analysis::chrome::{self, ChromeOptions};
use lockline_analysis::perfetto;
use lockline_analysis::report::{analyze, AnalyzeOptions};
use lockline_analysis::synth;
use std::io::Write;
use std::time::Instant;

fn main() {
    if std::env::args().any(|a| a == "--phases") {
        return phases(10_000_000);
    }
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
            "  (target <= 1.5 s)"
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
    println!("exports to a file in $TMPDIR: Chrome JSON (the anchor) and Perfetto protobuf;");
    println!("  peak RSS above the loaded trace (VmHWM, reset before each export)");
    for &n in sizes {
        let t = synth::generate(n, 4, 1);
        let chrome = export(&t, "json", |t, w| {
            chrome::write(t, w, &ChromeOptions::default()).map(|s| s.trace_events)
        });
        let pf = export(&t, "pftrace", |t, w| {
            perfetto::write(t, w, &ChromeOptions::default()).map(|s| s.packets)
        });
        for (name, (secs, bytes, items, rss)) in [("chrome", chrome), ("perfetto", pf)] {
            println!(
                "  {:>10} events, {name:<8}: {secs:.2} s, {items} {}, {:.0} MB ({:.2}x chrome), +{:.0} MB RSS",
                t.events.len(),
                if name == "chrome" { "trace events" } else { "packets" },
                bytes as f64 / 1e6,
                bytes as f64 / chrome.1 as f64,
                rss as f64 / 1e6
            );
        }
    }
}

/// VmHWM of this process in bytes, after resetting it to the current RSS
/// when `reset`.
fn peak_rss(reset: bool) -> u64 {
    if reset {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// One export: (seconds, bytes, items written, peak RSS growth).
fn export(
    t: &lockline_analysis::Trace,
    ext: &str,
    f: impl Fn(&lockline_analysis::Trace, &mut dyn Write) -> std::io::Result<u64>,
) -> (f64, u64, u64, u64) {
    let path = std::env::temp_dir().join(format!("lockline-bench-{}.{ext}", std::process::id()));
    let before = peak_rss(true);
    let s = Instant::now();
    let file = std::fs::File::create(&path).expect("temp file");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let items = f(t, &mut w).expect("export");
    w.flush().expect("flush");
    let secs = s.elapsed().as_secs_f64();
    let rss = peak_rss(false).saturating_sub(before);
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&path);
    (secs, bytes, items, rss)
}

/// analyze's passes one at a time (what `analyze()` runs, in its order).
fn phases(n: usize) {
    use lockline_analysis::{
        blame, blocked_by, consistency, holds_from_events, lints, overlap, threads,
    };
    let t = synth::generate(n, 4, 1);
    println!(
        "analyze's passes on {} events (synthetic, 4 workers + flusher)",
        t.events.len()
    );
    let time = |name: &str, f: &mut dyn FnMut()| {
        let s = Instant::now();
        f();
        println!("  {name:<14} {:.3} s", s.elapsed().as_secs_f64());
    };
    let mut c = None;
    time("consistency", &mut || c = Some(consistency::check(&t)));
    let mut holds = Vec::new();
    time("holds", &mut || holds = holds_from_events(&t.events));
    time("thread names", &mut || {
        threads::names(&t.events);
    });
    time("lints", &mut || {
        lints::run(&t.events, &holds, &Default::default());
    });
    time("blame", &mut || {
        blame::windows(&t, c.as_ref().unwrap());
    });
    time("blocked-by", &mut || {
        blocked_by::blocked_by(&holds);
    });
    time("lock stats", &mut || {
        lockline_analysis::lock_stats(&holds);
    });
    time("write overlap", &mut || {
        overlap::write_overlap(&t.ops, &t.events);
    });
    let s = Instant::now();
    analyze(&t, &AnalyzeOptions::default());
    println!("  {:<14} {:.3} s", "analyze", s.elapsed().as_secs_f64());
}

//! Frame time and live ingest of the terminal UI (a bench binary; figures
//! in the README).
//!
//! cargo bench -p lockline-tui --bench frame            full: 10 M events, 5 min live
//! cargo bench -p lockline-tui --bench frame -- --quick  1 M events, 20 s live
//! cargo bench -p lockline-tui --bench frame -- --replay  the replay alone (its RSS)
//! cargo bench -p lockline-tui --bench frame -- --peak  the replay as `lockline tui`
//!     runs it (its own thread, paced, with the analysis): peak RSS above
//!     the loaded trace
//!
//! Frames: a synthetic trace (analysis::synth) ingested whole, drawn into
//! ratatui's TestBackend at 200x50 and 80x24, fitted and zoomed, with the
//! cursor moving so every frame asks "held at cursor". Live: synthetic
//! batches stamped at 1 M events per second of trace time fed through the
//! bounded live state (Retention::default()), RSS reported at 1 and 5 minutes of
//! trace time.

use lockline_analysis::synth;
use lockline_tui::state::data::Retention;
use lockline_tui::state::App;
use lockline_tui::{Key, Msg};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::Instant;

fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// VmHWM in MiB; `reset` first sets it to the current RSS.
fn peak_mib(reset: bool) -> f64 {
    if reset {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The replay as `lockline tui` runs it: the trace handed to
/// `source::spawn_replay` (batches paced, then the analysis, then the
/// trace dropped), the messages applied to the state as the loop does.
fn replay_peak(quick: bool) {
    let events = if quick { 1_000_000 } else { 10_000_000 };
    let trace = synth::generate(events, 8, 1);
    let loaded = peak_mib(true);
    let t = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = lockline_tui::source::spawn_replay(move || Ok(trace), tx);
    let mut app = App::new(false, None);
    for m in rx.iter() {
        let done = matches!(m, Msg::Done(_));
        app.on_msg(m);
        if done {
            break;
        }
    }
    h.join().unwrap();
    println!(
        "replay as `lockline tui` of {events} events: {:.1} s to Done; RSS with the trace loaded {:.0} MiB, peak {:.0} MiB (+{:.0}), {:.0} MiB once done",
        t.elapsed().as_secs_f64(),
        loaded,
        peak_mib(false),
        peak_mib(false) - loaded,
        rss_mib()
    );
}

fn frames(app: &mut App, w: u16, h: u16, label: &str, n: usize) {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    // As the terminal does: the state learns the size the frames are
    // drawn at, so cursor steps are a cell of this timeline.
    app.on_msg(Msg::Resize(w, h));
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        // Alternate cursor steps so each frame redraws and re-queries.
        app.on_msg(Msg::Key(if i % 2 == 0 { Key::Right } else { Key::Left }));
        let t = Instant::now();
        term.draw(|f| lockline_tui::view::draw(f, app)).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "frame {w}x{h} {label:<22} median {:6.2} ms  p95 {:6.2} ms  max {:6.2} ms",
        times[n / 2],
        times[n * 95 / 100],
        times[n - 1]
    );
}

fn live(quick: bool) {
    // Live: 1 M events per second of trace time through the bounded state.
    let minutes = if quick { 1.0 / 3.0 } else { 5.0 };
    let chunk = synth::generate(1_000_000, 8, 2).events;
    let (first, last) = (chunk[0].ts_ns, chunk[chunk.len() - 1].ts_ns);
    // Stretch the chunk to one second of trace time.
    let scale = 1e9 / (last - first).max(1) as f64;
    let base: Vec<_> = chunk
        .iter()
        .map(|e| {
            let mut e = *e;
            e.ts_ns = ((e.ts_ns - first) as f64 * scale) as u64;
            e
        })
        .collect();
    let keep = Retention::default();
    println!(
        "live window: {} s or {} events, whichever is less",
        keep.keep_ns / 1_000_000_000,
        keep.keep_events
    );
    let mut live = App::new(true, Some(keep));
    let seconds = (minutes * 60.0) as u64;
    let start = Instant::now();
    let mut busy = 0.0;
    for s in 0..seconds {
        let mut batch = base.clone();
        for e in &mut batch {
            e.ts_ns += s * 1_000_000_000 + 1_000_000_000;
            e.op += s * 10_000_000;
        }
        let t = Instant::now();
        for b in batch.chunks(4096) {
            live.on_msg(Msg::Events(b.to_vec().into()));
        }
        busy += t.elapsed().as_secs_f64();
        if s + 1 == 60 || s + 1 == seconds {
            println!(
                "live after {:>3} s of trace time: {} events, ingest {:.2} M events/s, RSS {:.0} MiB, UI state {:.0} MiB, {} events summarised, {} spans merged",
                s + 1,
                live.data.total_events,
                live.data.total_events as f64 / busy / 1e6,
                rss_mib(),
                live.data.bytes() as f64 / (1 << 20) as f64,
                live.data.evicted_events,
                live.data.merged_spans
            );
        }
    }
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    live.on_msg(Msg::Resize(200, 50));
    let t = Instant::now();
    term.draw(|f| lockline_tui::view::draw(f, &live)).unwrap();
    println!(
        "live frame 200x50 following: {:.2} ms; wall {:.1} s",
        t.elapsed().as_secs_f64() * 1e3,
        start.elapsed().as_secs_f64()
    );
}

fn replay(quick: bool) {
    let events = if quick { 1_000_000 } else { 10_000_000 };
    let t0 = Instant::now();
    let trace = synth::generate(events, 8, 1);
    println!(
        "synthetic trace: {} events, {} ops, 8 writer threads + flusher ({:.1} s to generate)",
        trace.events.len(),
        trace.ops.len(),
        t0.elapsed().as_secs_f64()
    );
    let t1 = Instant::now();
    let mut app = App::from_trace(&trace, None);
    let load = t1.elapsed().as_secs_f64();
    let f = app.data.footprint();
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    println!(
        "replay ingest: {:.2} s = {:.2} M events/s; UI state {:.0} MiB (events {:.0}, holds {:.0}, spans {:.0}, ops {:.0}); RSS {:.0} MiB with the trace",
        load,
        events as f64 / load / 1e6,
        mib(f.total()),
        mib(f.events),
        mib(f.holds),
        mib(f.spans),
        mib(f.ops),
        rss_mib()
    );
    drop(trace);
    println!("RSS {:.0} MiB once the trace is dropped", rss_mib());
    let n = if quick { 20 } else { 60 };
    for (w, h) in [(200u16, 50u16), (80, 24)] {
        app.on_msg(Msg::Key(Key::Char('0')));
        frames(&mut app, w, h, "whole trace", n);
        // Zoomed far in, in the middle of the trace.
        for _ in 0..10 {
            app.on_msg(Msg::Key(Key::Char('+')));
        }
        frames(&mut app, w, h, "zoomed in 1024x", n);
    }
    drop(app);
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    if std::env::args().any(|a| a == "--peak") {
        return replay_peak(quick);
    }
    // Live first, so its RSS is not the allocator keeping the replay's;
    // `--replay` alone for the replay's RSS without the live run's heap.
    if !std::env::args().any(|a| a == "--replay") {
        live(quick);
    }
    replay(quick);
}

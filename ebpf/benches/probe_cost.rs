//! Probe cost per backend: what one `points::lock_acquired` hit costs with
//! nothing attached, with the in-process recorder, with the eBPF recording
//! program, and with an empty eBPF program (the kernel's uprobe floor).
//! Run: `cargo bench -p lockline-ebpf --bench probe_cost` (root for eBPF).

use lockline_ebpf::{
    EbpfTracer, EngineProgram, EngineTarget, TraceStats, TracerOptions, DEFAULT_RING_BYTES,
};
use lockline_engine::probe::clock::{Clock, TscRead};
use lockline_engine::probe::points;
use lockline_engine::probe::recorder::{self, Recorder};
use lockline_engine::probe::{LockClass, LockMode};
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    None,
    Clock,
    /// The recorder with the clock a trace gets (`Clock::best()`).
    Recorder,
    /// The recorder forced onto one clock, to compare the orderings.
    RecorderWith(&'static str),
    Ebpf,
    EbpfEmpty,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::None => "none (symbol only)",
            Backend::Clock => "(clock_gettime alone)",
            Backend::Recorder => "in-process recorder",
            Backend::RecorderWith(c) => c,
            Backend::Ebpf => "eBPF engine_probe",
            Backend::EbpfEmpty => "eBPF empty_probe",
        }
    }
}

struct Run {
    ns_per_hit: f64,
    wall: Duration,
    calls: u64,
}

/// `threads` threads each make `calls` probe calls; ns per hit is the mean
/// per-thread time divided by calls (what one caller pays).
fn hammer(threads: usize, calls: u64, rec: Option<&Arc<Recorder>>) -> Run {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let hs: Vec<_> = (0..threads as u64)
        .map(|t| {
            let (barrier, rec) = (barrier.clone(), rec.cloned());
            std::thread::spawn(move || {
                recorder::attach(rec.as_ref());
                barrier.wait();
                let s = Instant::now();
                for i in 0..calls {
                    points::lock_acquired(
                        LockClass::Folio,
                        LockMode::Exclusive,
                        t,
                        black_box(i),
                        i + 1,
                    );
                }
                let d = s.elapsed();
                recorder::attach(None);
                d
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let per: Vec<Duration> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    let wall = start.elapsed();
    let mean = per.iter().map(|d| d.as_nanos() as f64).sum::<f64>() / threads as f64;
    Run {
        ns_per_hit: mean / calls as f64,
        wall,
        calls: calls * threads as u64,
    }
}

struct Row {
    backend: Backend,
    threads: usize,
    run: Run,
    captured: u64,
    lost: u64,
}

fn measure(backend: Backend, threads: usize, calls: u64) -> Result<Row, String> {
    let (run, captured, lost) = match backend {
        Backend::None => (hammer(threads, calls, None), 0, 0),
        Backend::Clock => {
            // What the recorder pays for its timestamp, to explain its cost.
            let s = Instant::now();
            for _ in 0..calls {
                black_box(lockline_engine::probe::now_ns());
            }
            let wall = s.elapsed();
            let run = Run {
                ns_per_hit: wall.as_nanos() as f64 / calls as f64,
                wall,
                calls,
            };
            (run, 0, 0)
        }
        Backend::Recorder | Backend::RecorderWith(_) => {
            let clock = match backend {
                Backend::RecorderWith(" recorder, rdtscp") => Clock::tsc(TscRead::Rdtscp),
                Backend::RecorderWith(" recorder, lfence+rdtsc") => Clock::tsc(TscRead::Lfence),
                Backend::RecorderWith(" recorder, rdtsc (old)") => Clock::tsc(TscRead::Unordered),
                Backend::RecorderWith(_) => Clock::Monotonic,
                _ => Clock::best(),
            };
            let rec = Recorder::with_clock(calls * threads as u64, clock);
            let run = hammer(threads, calls, Some(&rec));
            let st = rec.stats();
            (run, st.recorded, st.dropped)
        }
        Backend::Ebpf | Backend::EbpfEmpty => {
            let opts = TracerOptions {
                ring_bytes: DEFAULT_RING_BYTES,
                keep_events: false,
            };
            let mut tracer = EbpfTracer::new(opts).map_err(|e| e.to_string())?;
            let program = if backend == Backend::Ebpf {
                EngineProgram::Record
            } else {
                EngineProgram::Empty
            };
            let target = EngineTarget::this_process().map_err(|e| e.to_string())?;
            tracer
                .add_engine(&target, program)
                .map_err(|e| e.to_string())?;
            // The first hit of each thread traps on int3 and installs the
            // trampoline; keep that out of the measurement.
            hammer(threads, 10_000, None);
            let warm = tracer.events_so_far();
            std::thread::sleep(Duration::from_millis(50));
            let run = hammer(threads, calls, None);
            // Let the reader catch up before counting.
            std::thread::sleep(Duration::from_millis(200));
            let TraceStats { events, lost, .. } = tracer.stop_counting();
            let captured = events.saturating_sub(warm.max(if backend == Backend::Ebpf {
                10_000 * threads as u64
            } else {
                0
            }));
            (run, captured, lost)
        }
    };
    Ok(Row {
        backend,
        threads,
        run,
        captured,
        lost,
    })
}

fn main() {
    // `cargo bench` passes --bench; `-- --quick` shortens the runs.
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for threads in [1, 2] {
        for (backend, calls) in [
            (Backend::None, 20_000_000),
            (Backend::Clock, 2_000_000),
            (Backend::Recorder, 2_000_000),
            (Backend::RecorderWith(" recorder, rdtscp"), 2_000_000),
            (Backend::RecorderWith(" recorder, lfence+rdtsc"), 2_000_000),
            (Backend::RecorderWith(" recorder, rdtsc (old)"), 2_000_000),
            (Backend::RecorderWith(" recorder, monotonic"), 2_000_000),
            (Backend::Ebpf, 1_000_000),
            (Backend::EbpfEmpty, 1_000_000),
        ] {
            match measure(backend, threads, calls / scale) {
                Ok(r) => rows.push(r),
                Err(e) => notes.push(format!("{} skipped: {e}", backend.name())),
            }
        }
    }
    println!(
        "probe cost per hit (eBPF: {} rings of {} MiB, a CPU writes to ring cpu % {}; reader drains every 1 ms when idle)",
        lockline_ebpf::RINGS,
        (DEFAULT_RING_BYTES as usize / lockline_ebpf::RINGS) >> 20,
        lockline_ebpf::RINGS
    );
    println!(
        "{:<22} {:>3} {:>10} {:>12} {:>14} {:>12} {:>8}",
        "backend", "thr", "calls", "ns/hit", "events/s", "captured", "lost"
    );
    for r in &rows {
        let rate = r.run.calls as f64 / r.run.wall.as_secs_f64();
        println!(
            "{:<22} {:>3} {:>10} {:>12.1} {:>14.0} {:>12} {:>8}",
            r.backend.name(),
            r.threads,
            r.run.calls,
            r.run.ns_per_hit,
            rate,
            r.captured,
            r.lost
        );
    }
    for n in &notes {
        println!("note: {n}");
    }
    println!(
        "in-process clock: {} ({})",
        Clock::best().name(),
        lockline_engine::probe::clock::choice_note()
    );
    println!("targets:");
    let find = |b: Backend, t: usize| rows.iter().find(|r| r.backend == b && r.threads == t);
    for t in [1, 2] {
        if let Some(r) = find(Backend::Recorder, t) {
            let ok = r.run.ns_per_hit <= 25.0;
            println!(
                "  in-process <= 25 ns/event ({t} thr): {:.1} ns  {}",
                r.run.ns_per_hit,
                verdict(ok)
            );
        }
        if let (Some(e), Some(f)) = (find(Backend::Ebpf, t), find(Backend::EbpfEmpty, t)) {
            let ratio = e.run.ns_per_hit / f.run.ns_per_hit;
            println!(
                "  eBPF within 1.2x of the empty-uprobe floor ({t} thr): {ratio:.2}x  {}",
                verdict(ratio <= 1.2)
            );
            let rate = e.captured as f64 / e.run.wall.as_secs_f64();
            println!(
                "  >= 1 M events/s with 0 lost ({t} thr): {:.2} M/s captured, {} lost  {}",
                rate / 1e6,
                e.lost,
                verdict(rate >= 1e6 && e.lost == 0)
            );
        }
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

//! Engine benchmark (a bench binary, not a timed test): memcpy bandwidth as
//! the anchor, buffered write throughput with the page cache hot for 4 KiB,
//! 64 KiB and 1 MiB writes on one thread, and N writer threads on disjoint
//! ranges of one file for the locked and the lockless builds; and what
//! content provenance costs: the same writes recorded with digests off and
//! on, as seconds per GiB written.
//!
//! Run: cargo bench -p lockline-engine --bench engine [-- --quick]

use lockline_engine::disk::{mkfs, MkfsOptions};
use lockline_engine::probe::recorder::{Recorder, DEFAULT_CAPACITY};
use lockline_engine::{Build, Fs, Knobs, MountOptions};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SPAN: usize = 64 << 20;

fn knobs() -> Knobs {
    // No background threads: the measurement is the write path itself.
    Knobs {
        writeback_interval_ms: 0,
        reclaim_limit_bytes: 0,
        ..Knobs::default()
    }
}

fn mount(dir: &std::path::Path, build: Build) -> Arc<Fs> {
    mount_with(dir, build, None)
}

fn mount_with(dir: &std::path::Path, build: Build, recorder: Option<Arc<Recorder>>) -> Arc<Fs> {
    let img = dir.join(format!("bench-{build}.img"));
    let _ = std::fs::remove_file(&img);
    mkfs(
        &img,
        &MkfsOptions {
            size: Some(512 << 20),
            force: true,
        },
    )
    .expect("mkfs");
    Fs::mount(
        &img,
        MountOptions {
            build,
            knobs: knobs(),
            recorder,
        },
    )
    .expect("mount")
}

/// Write throughput of `size`-byte writes on one thread with every event
/// recorded, content digests on or off; each pass's events and digests
/// are taken and dropped, as a pumping session would.
fn recorded(dir: &std::path::Path, size: usize, digests: bool, min: Duration) -> f64 {
    let rec = Recorder::new(DEFAULT_CAPACITY);
    rec.record_digests(digests);
    let fs = mount_with(dir, Build::Locked, Some(rec.clone()));
    let ino = fs.open(&format!("/recorded-{size}"), true).unwrap();
    let buf: Vec<u8> = (0..size).map(|i| (i * 7) as u8).collect();
    let r = rate(min, SPAN, || {
        let mut off = 0;
        while off < SPAN {
            fs.write(ino, off as u64, &buf).unwrap();
            off += size;
        }
        rec.forget_extents();
        drop(rec.take());
        rec.give_back(u64::MAX);
    });
    fs.unmount().unwrap();
    r
}

/// Runs `f` repeatedly for at least `min`; returns bytes per second.
fn rate(min: Duration, bytes_per_iter: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < min {
        f();
        n += 1;
    }
    n as f64 * bytes_per_iter as f64 / t.elapsed().as_secs_f64()
}

/// The anchor: memcpy of one `chunk`-sized source buffer over a 64 MiB
/// destination, the same access pattern as the engine's writes (a small
/// hot source, a large destination).
fn memcpy_bw(chunk: usize, min: Duration) -> f64 {
    let src = vec![7u8; chunk];
    let mut dst = vec![0u8; SPAN];
    rate(min, SPAN, || {
        for d in dst.chunks_exact_mut(chunk) {
            d.copy_from_slice(black_box(&src));
        }
        black_box(&mut dst);
    })
}

fn single_thread(fs: &Fs, size: usize, min: Duration) -> f64 {
    let ino = fs.open(&format!("/single-{size}"), true).unwrap();
    let buf = vec![0x5au8; size];
    let fill = |ino| {
        let mut off = 0;
        while off < SPAN {
            fs.write(ino, off as u64, &buf).unwrap();
            off += size;
        }
    };
    fill(ino); // page cache now holds every folio: hot
    rate(min, SPAN, || fill(ino))
}

fn disjoint(fs: &Fs, threads: usize, size: usize, min: Duration) -> f64 {
    let ino = fs
        .open(&format!("/disjoint-{threads}-{size}"), true)
        .unwrap();
    let slice = SPAN / threads;
    let pass = |t: usize| {
        let buf = vec![t as u8; size];
        let mut off = t * slice;
        while off < (t + 1) * slice {
            fs.write(ino, off as u64, &buf).unwrap();
            off += size;
        }
    };
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || pass(t));
        }
    });
    let t0 = Instant::now();
    let mut bytes = 0usize;
    while t0.elapsed() < min {
        std::thread::scope(|s| {
            for t in 0..threads {
                s.spawn(move || pass(t));
            }
        });
        bytes += slice * threads;
    }
    bytes as f64 / t0.elapsed().as_secs_f64()
}

fn gib(x: f64) -> String {
    format!("{:.2} GiB/s", x / (1u64 << 30) as f64)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let min = Duration::from_millis(if quick { 200 } else { 1500 });
    let dir =
        tempfile::tempdir_in(std::env::var("LOCKLINE_BENCH_DIR").unwrap_or_else(|_| ".".into()))
            .expect("tempdir");
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2);

    let fs = mount(dir.path(), Build::Locked);
    for size in [4 << 10, 64 << 10, 1 << 20] {
        let mc = memcpy_bw(size, min);
        let r = single_thread(&fs, size, min);
        println!(
            "{:>5} KiB writes over {} MiB, 1 thread: memcpy {}  engine (locked, cache hot) {}  = {:.2}x memcpy",
            size >> 10,
            SPAN >> 20,
            gib(mc),
            gib(r),
            r / mc
        );
    }
    fs.unmount().unwrap();

    for size in [64 << 10, 1 << 20] {
        // Alternate so drift in the machine's speed hits both alike.
        let (mut off, mut on) = (0.0, 0.0);
        for _ in 0..2 {
            off += recorded(dir.path(), size, false, min) / 2.0;
            on += recorded(dir.path(), size, true, min) / 2.0;
        }
        let gib_b = (1u64 << 30) as f64;
        println!(
            "provenance, {:>5} KiB writes, 1 thread, recorder on: digests off {}  on {}  = +{:.3} s per GiB written ({:.2}x)",
            size >> 10,
            gib(off),
            gib(on),
            gib_b / on - gib_b / off,
            on / off
        );
    }

    for size in [4 << 10, 64 << 10] {
        let mut res = Vec::new();
        for build in [Build::Locked, Build::Lockless, Build::LocklessMin] {
            let fs = mount(dir.path(), build);
            let one = disjoint(&fs, 1, size, min);
            let n = disjoint(&fs, threads, size, min);
            fs.unmount().unwrap();
            println!(
                "disjoint {:>3} KiB writes, {build:<12} 1 thread {}  {threads} threads {}  (scaling {:.2}x)",
                size >> 10,
                gib(one),
                gib(n),
                n / one
            );
            res.push(n);
        }
        println!(
            "  => lockless/locked at {threads} threads, {} KiB: {:.2}x",
            size >> 10,
            res[1] / res[0]
        );
    }
}

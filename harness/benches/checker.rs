//! Checker benchmark (a bench binary): verified data per second for a
//! stamped file read back from a page-cache-hot image, next to the plain
//! read of the same file as the anchor.
//!
//! Run: cargo bench -p lockline-engine --bench checker [-- --quick]

use lockline_engine::disk::{mkfs, MkfsOptions};
use lockline_engine::probe::recorder::Recorder;
use lockline_engine::{Build, Fs, Knobs, MountOptions};
use lockline_harness::check;
use lockline_harness::history::History;
use lockline_harness::stamp;
use std::time::Instant;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let size: usize = if quick { 64 << 20 } else { 512 << 20 };
    let write = 1 << 20;
    let dir =
        tempfile::tempdir_in(std::env::var("LOCKLINE_BENCH_DIR").unwrap_or_else(|_| ".".into()))
            .expect("tempdir");
    let img = dir.path().join("checker.img");
    mkfs(
        &img,
        &MkfsOptions {
            size: Some(size as u64 * 2 + (64 << 20)),
            force: true,
        },
    )
    .expect("mkfs");
    let rec = Recorder::new(1 << 24);
    let knobs = Knobs {
        writeback_interval_ms: 0,
        reclaim_limit_bytes: 0,
        ..Knobs::default()
    };
    let fs = Fs::mount(
        &img,
        MountOptions {
            build: Build::Locked,
            knobs,
            recorder: Some(rec.clone()),
        },
    )
    .expect("mount");
    let ino = fs.open("/stamped", true).unwrap();
    let mut buf = vec![0u8; write];
    for off in (0..size).step_by(write) {
        let g = fs.begin_op();
        stamp::fill(&mut buf, off as u64, g.op, 0);
        fs.write_in(&g, ino, off as u64, &buf).unwrap();
    }
    let history = History::from_events(&rec.drain());
    let mut content = vec![0u8; size];

    let t = Instant::now();
    fs.read(ino, 0, &mut content).unwrap();
    let read_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let report = check::check(&history, ino, &content, check::AFTER_RUN);
    let check_s = t.elapsed().as_secs_f64();
    assert!(report.is_clean(), "{report}");

    let t = Instant::now();
    fs.read(ino, 0, &mut content).unwrap();
    let report = check::check(&history, ino, &content, check::AFTER_RUN);
    let both_s = t.elapsed().as_secs_f64();
    assert!(report.is_clean());

    let gb = |s: f64| size as f64 / s / 1e9;
    println!(
        "checker, {} MiB stamped file, {} ops, cache hot: read {:.2} GB/s, check {:.2} GB/s, read+check {:.2} GB/s",
        size >> 20,
        history.len(),
        gb(read_s),
        gb(check_s),
        gb(both_s)
    );
    fs.unmount().unwrap();
}

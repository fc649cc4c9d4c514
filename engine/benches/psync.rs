//! fio's psync random-write job run on the engine in-process: the third
//! column of `scripts/bench_exec.sh` beside the same job through `lockline
//! exec` and through the FUSE mount, so what the preloaded library and
//! what FUSE each add to the engine is measured in one run.
//!
//! The job as bench_exec.sh gives fio: `--rw=randwrite --ioengine=psync
//! --numjobs=JOBS --size=SIZE --offset_increment=SIZE --end_fsync=1
//! --thread`, one file. Each job thread owns [j*SIZE, (j+1)*SIZE), sizes
//! it (fio's layout of a write job: fallocate, no data), writes every
//! block of it once in a random order (fio's random map) and fsyncs. The
//! figure is fio's group bandwidth: every job's bytes over the slowest
//! job's time. Where it differs from fio: the order is a seeded shuffle,
//! not fio's tausworthe sequence, and the buffer is one pattern.
//!
//! Run: cargo bench -p lockline-engine --bench psync -- BS JOBS SIZE DIR
//! (BS and SIZE in bytes with an optional k/M/G; DIR holds the disk image;
//! prints the bandwidth in MiB/s).

use lockline_engine::disk::{mkfs, MkfsOptions};
use lockline_engine::{Build, Fs, Knobs, MountOptions};
use std::time::Instant;

fn bytes(s: &str) -> Result<u64, String> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let n: u64 = num.parse().map_err(|_| format!("not a size: {s}"))?;
    let shift = match unit {
        "" => 0,
        "k" | "K" => 10,
        "m" | "M" => 20,
        "g" | "G" => 30,
        _ => return Err(format!("not a size: {s}")),
    };
    Ok(n << shift)
}

/// A Fisher-Yates shuffle of 0..n from an xorshift stream.
fn shuffled(n: u64, seed: u64) -> Vec<u64> {
    let mut v: Vec<u64> = (0..n).collect();
    let mut x = seed | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

fn main() {
    // cargo bench passes --bench; a bare `cargo bench` with no arguments
    // gets the quick default, so the bench target always runs.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let quick = args.is_empty() || args.iter().any(|a| a == "--quick");
    let (bs, jobs, size, dir) = if quick {
        (64 << 10, 2, 16 << 20, std::env::temp_dir())
    } else {
        let parsed = (|| -> Result<_, String> {
            let [bs, jobs, size, dir] = args.as_slice() else {
                return Err("usage: psync BS JOBS SIZE DIR".into());
            };
            let jobs: u64 = jobs
                .parse()
                .map_err(|_| format!("not a job count: {jobs}"))?;
            Ok((
                bytes(bs)?,
                jobs,
                bytes(size)?,
                std::path::PathBuf::from(dir),
            ))
        })();
        match parsed {
            Ok(p) => p,
            Err(e) => {
                eprintln!("psync: {e}");
                std::process::exit(2);
            }
        }
    };
    let img = dir.join(format!("psync-{}.img", std::process::id()));
    // The disk exec makes for a new path: 1 GiB, or what the job needs.
    let disk = (jobs * size + (256 << 20)).max(1 << 30);
    mkfs(
        &img,
        &MkfsOptions {
            size: Some(disk),
            force: true,
        },
    )
    .expect("mkfs");
    // exec's and the mount's defaults: the flusher and reclaim run.
    let fs = Fs::mount(
        &img,
        MountOptions {
            build: Build::Locked,
            knobs: Knobs::default(),
            recorder: None,
        },
    )
    .expect("mount");
    let ino = fs.open("/f", true).expect("create");
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for j in 0..jobs {
            let fs = &fs;
            s.spawn(move || {
                let base = j * size;
                fs.fallocate(ino, base, size, false).expect("fallocate");
                let buf = vec![0xa5u8 ^ j as u8; bs as usize];
                for b in shuffled(size / bs, 0x9e37_79b9 + j) {
                    fs.write(ino, base + b * bs, &buf).expect("write");
                }
                fs.fsync(ino).expect("fsync");
            });
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    fs.unmount().expect("unmount");
    drop(fs);
    let _ = std::fs::remove_file(&img);
    println!("{:.0}", (jobs * size) as f64 / secs / (1 << 20) as f64);
}

//! Integration tests of the `lockline` command, run through the real binary.
//!
//! Exit codes: 0 ok, 1 fsck found problems, 2 bad arguments or input (also
//! clap's usage errors), 3 IO errors. Every error of ours is one stderr line
//! starting "lockline: error:"; no input may make the command panic.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::*;

fn mkfs(img: &Path, size: &str) {
    let o = lockline(["mkfs", &s(img), "--size", size]);
    assert_ok(&o);
}

/// A fresh image of `size` in a temporary directory.
fn made_image(size: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.img");
    mkfs(&img, size);
    (dir, img)
}

/// fsck on a damaged disk: exit 1 naming problems, or exit 2/3 with one line.
#[track_caller]
fn assert_fsck_rejects(img: &Path) {
    let o = lockline(["fsck", &s(img)]);
    match o.code {
        1 => assert!(o.stdout.contains("problem(s) found"), "{o:?}"),
        _ => assert_error(&o, &[2, 3]),
    }
    let j = lockline(["fsck", &s(img), "--json"]);
    assert_eq!(j.code, o.code, "--json changes the verdict: {o:?}\n{j:?}");
    if j.code == 1 {
        let v: serde_json::Value = serde_json::from_str(&j.stdout).expect("fsck --json");
        let problems = v["problems"].as_array().expect("problems array");
        assert!(!problems.is_empty(), "exit 1 without problems: {j:?}");
    } else {
        assert_error(&j, &[2, 3]);
    }
}

fn find_mkfs_ext4() -> Option<PathBuf> {
    for p in ["/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4"] {
        if Path::new(p).exists() {
            return Some(p.into());
        }
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("mkfs.ext4"))
            .find(|p| p.exists())
    })
}

// ---------------------------------------------------------------- mkfs

#[test]
fn mkfs_creates_a_sparse_image_that_fscks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.img");
    let o = lockline(["mkfs", &s(&img), "--size", "64M"]);
    assert_ok(&o);
    assert!(o.stdout.contains("new image"), "{o:?}");
    let m = std::fs::metadata(&img).expect("image exists");
    assert_eq!(m.len(), 64 << 20);
    assert!(
        m.blocks() * 512 < 8 << 20,
        "image is not sparse: {} bytes allocated",
        m.blocks() * 512
    );
    assert_ok(&lockline(["fsck", &s(&img)]));
}

#[test]
fn mkfs_json_reports_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.img");
    let o = lockline(["mkfs", &s(&img), "--size", "64M", "--json"]);
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("mkfs --json");
    assert_eq!(v["size"], 64 << 20);
    assert_eq!(v["block_size"], BLOCK);
    assert_eq!(v["created_image"], true);
    let r = metadata_blocks(64 << 20);
    assert_eq!(v["data_blocks"], (64 << 20) / BLOCK - r.end);
}

#[test]
fn mkfs_too_small_names_the_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("small.img");
    for size in ["100K", "0"] {
        let o = lockline(["mkfs", &s(&img), "--size", size]);
        assert_error(&o, &[2]);
        assert!(o.stderr.contains("minimum"), "{o:?}");
        assert!(!img.exists(), "a failed mkfs left {} behind", img.display());
    }
}

#[test]
fn mkfs_refuses_an_existing_lockline_image_without_force() {
    let (_dir, img) = made_image("64M");
    let o = lockline(["mkfs", &s(&img), "--size", "64M"]);
    assert_error(&o, &[2]);
    assert!(o.stderr.contains("--force"), "{o:?}");
    // The refused image is intact.
    assert_ok(&lockline(["fsck", &s(&img)]));

    let o = lockline(["mkfs", &s(&img), "--size", "64M", "--force"]);
    assert_ok(&o);
    assert_ok(&lockline(["fsck", &s(&img)]));
}

#[test]
fn mkfs_refuses_an_ext4_image() {
    let Some(mkfs_ext4) = find_mkfs_ext4() else {
        eprintln!("note: mkfs.ext4 not found; skipping mkfs_refuses_an_ext4_image");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("ext4.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let st = Command::new(&mkfs_ext4)
        .args(["-q", "-F"])
        .arg(&img)
        .output()
        .expect("run mkfs.ext4");
    if !st.status.success() {
        eprintln!(
            "note: mkfs.ext4 failed ({}); skipping",
            String::from_utf8_lossy(&st.stderr).trim()
        );
        return;
    }
    let before = std::fs::read(&img).unwrap();
    let o = lockline(["mkfs", &s(&img)]);
    assert_error(&o, &[2]);
    assert!(o.stderr.contains("--force"), "{o:?}");
    assert!(
        std::fs::read(&img).unwrap() == before,
        "refused mkfs wrote to the image"
    );
    // Nor is it a lockline disk.
    assert_error(&lockline(["fsck", &s(&img)]), &[2]);
}

#[test]
fn mkfs_bad_size_unit_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.img");
    assert_clap_usage(&lockline(["mkfs", &s(&img), "--size", "12Q"]));
    assert_clap_usage(&lockline(["mkfs", &s(&img), "--size", "lots"]));
    assert_clap_usage(&lockline(["mkfs", &s(&img), "--size", "99999999999T"]));
    assert!(!img.exists());
}

#[test]
fn mkfs_in_a_missing_directory_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("no/such/dir/a.img");
    let o = lockline(["mkfs", &s(&img), "--size", "64M"]);
    assert_ne!(o.code, 0, "{o:?}");
    assert_error(&o, &[2, 3]);
}

#[test]
fn mkfs_on_a_directory_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let o = lockline(["mkfs", &s(dir.path()), "--size", "64M"]);
    assert_error(&o, &[2, 3]);
}

#[test]
fn clap_usage_errors_exit_2() {
    assert_clap_usage(&lockline(["frobnicate"]));
    assert_clap_usage(&lockline(["mkfs"]));
    assert_clap_usage(&lockline(["fsck"]));
    assert_clap_usage(&lockline(["run", "--disk", "x.img"]));
    assert_clap_usage(&lockline::<[&str; 0], &str>([]));
    // --help and --version are not errors.
    assert_ok(&lockline(["--help"]));
    assert_ok(&lockline(["--version"]));
}

// ---------------------------------------------------------------- fsck

#[test]
fn fsck_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = lockline(["fsck", &s(&dir.path().join("missing.img"))]);
    assert_ne!(o.code, 0);
    assert_error(&o, &[2, 3]);
}

#[test]
fn fsck_garbage_and_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    // 1 MiB of deterministic pseudo-random bytes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let garbage: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let g = dir.path().join("garbage.img");
    std::fs::write(&g, &garbage).unwrap();
    let o = lockline(["fsck", &s(&g)]);
    assert_ne!(o.code, 0);
    assert_error(&o, &[2, 3]);

    let e = dir.path().join("empty.img");
    std::fs::write(&e, b"").unwrap();
    let o = lockline(["fsck", &s(&e)]);
    assert_error(&o, &[2, 3]);

    let o = lockline(["fsck", &s(dir.path())]);
    assert_error(&o, &[2, 3]);
}

#[test]
fn fsck_json_on_a_good_image() {
    let (_dir, img) = made_image("64M");
    let o = lockline(["fsck", &s(&img), "--json"]);
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("fsck --json");
    assert_eq!(v["problems"], serde_json::json!([]), "{o:?}");
    assert_eq!(v["clean"], true);
    assert_eq!(v["inodes"], 1);
    assert_eq!(v["used_blocks"], 0);
    let o = lockline(["fsck", &s(&img)]);
    assert_ok(&o);
    assert!(o.stdout.contains("no problems found"), "{o:?}");
}

#[test]
fn fsck_corrupted_metadata_regions() {
    let (_dir, img) = made_image("64M");
    // Flip the head of every block of both metadata regions.
    let at: Vec<(u64, usize)> = metadata_blocks(64 << 20).map(|b| (b * BLOCK, 64)).collect();
    xor_bytes(&img, &at, 0xA5);
    assert_fsck_rejects(&img);
}

#[test]
fn fsck_corrupted_metadata_scattered_flips_never_panic() {
    let (_dir, img) = made_image("4M");
    let pristine = std::fs::read(&img).unwrap();
    let meta = metadata_blocks(4 << 20);
    let mut x: u64 = 12345;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    for _ in 0..12 {
        std::fs::write(&img, &pristine).unwrap();
        // A few bytes each in both regions, front-weighted (the blob
        // header and the first records live there).
        let mut at = Vec::new();
        for _ in 0..4 {
            let blk = meta.start + next() % (meta.end - meta.start);
            let off = if next() % 2 == 0 {
                next() % 64
            } else {
                next() % BLOCK
            };
            at.push((blk * BLOCK + off, 1));
        }
        // Make sure the active and the standby region heads are both hit.
        let m = (meta.end - meta.start) / 2;
        at.push((meta.start * BLOCK + next() % 32, 1));
        at.push(((meta.start + m) * BLOCK + next() % 32, 1));
        xor_bytes(&img, &at, 1 << (next() % 8));
        assert_fsck_rejects(&img);
    }
}

#[test]
fn fsck_corrupted_superblocks() {
    let (_dir, img) = made_image("64M");
    xor_bytes(&img, &[(0, 512), (BLOCK, 512)], 0xFF);
    assert_fsck_rejects(&img);
}

/// A damaged image given to fsck or run: fsck reports its problems with
/// exit 1 or refuses it in one line; run refuses it in one line, exit 2 as
/// bad input, naming the image once; neither writes a byte of it.
#[test]
fn a_damaged_image_is_refused_in_one_line_and_never_written() {
    let dir = tempfile::tempdir().unwrap();
    for (damage, img) in damaged_images(dir.path()) {
        let before = std::fs::read(&img).unwrap();
        let o = lockline(["fsck", &s(&img)]);
        match damage {
            "metadata" => assert_eq!(o.code, 1, "{damage}: {o:?}"),
            _ => assert_error(&o, &[2]),
        }
        let o = lockline(run_args(
            &img,
            "locked",
            "overlap",
            &["--file-size", "4M", "--ops", "10"],
        ));
        assert_error(&o, &[2]);
        assert_eq!(o.stderr.matches(&s(&img)).count(), 1, "{damage}: {o:?}");
        assert!(
            std::fs::read(&img).unwrap() == before,
            "{damage}: the image was written"
        );
    }
}

// ---------------------------------------------------------------- run

const RUN_FAST: [&str; 12] = [
    "--build",
    "locked",
    "--workload",
    "overlap",
    "--ops",
    "200",
    "--threads",
    "2",
    "--file-size",
    "8M",
    "--size",
    "256M",
];

/// `run --mkfs` of `img` (and `--force` when `force`) with RUN_FAST.
fn run_fast(img: &Path, force: bool) -> Vec<String> {
    let mut args = vec!["run".to_string(), "--disk".into(), s(img), "--mkfs".into()];
    if force {
        args.push("--force".into());
    }
    args.extend(RUN_FAST.iter().map(|a| a.to_string()));
    args
}

/// Gives `flag` (which `args` has) the value `value`.
fn set_arg(args: &mut [String], flag: &str, value: &str) {
    let at = args.iter().position(|a| a == flag).unwrap() + 1;
    args[at] = value.into();
}

/// Drops `flag` (which `args` has) and its value.
fn drop_arg(args: &mut Vec<String>, flag: &str) {
    let at = args.iter().position(|a| a == flag).unwrap();
    args.drain(at..at + 2);
}

#[test]
fn readers_are_checked_and_bad_knobs_refused() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("r.img");
    let mut args = run_fast(&img, false);
    args.extend(["--readers", "2", "--json"].map(String::from));
    let o = lockline(&args);
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("run --json");
    assert!(v["reads"]["reads"].as_u64().unwrap() > 0, "{o:?}");
    assert_eq!(v["reads"]["bad_reads"], 0, "{o:?}");
    // Out-of-range fault knobs: one line, exit 2.
    for (flag, value) in [
        ("--alloc-fail-rate", "0.9"),
        ("--read-error-rate", "1.5"),
        ("--readers", "65"),
    ] {
        let mut args = run_fast(&img, true);
        args.extend([flag, value].map(String::from));
        let o = lockline(&args);
        assert_eq!(o.code, 2, "{flag} {value}: {o:?}");
        assert_eq!(o.stderr.trim().lines().count(), 1, "{o:?}");
    }
}

#[test]
fn run_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("run.img");
    let mut args = run_fast(&img, false);
    args.push("--json".into());
    let o = lockline(&args);
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("run --json");
    for key in [
        "build",
        "workload",
        "seed",
        "threads",
        "ops",
        "bytes",
        "seconds",
        "throughput_mib_s",
        "violations",
        "events",
        "lost_events",
        "probe_source",
        "checks",
    ] {
        assert!(v.get(key).is_some(), "missing key {key}: {o:?}");
    }
    assert_eq!(v["build"], "locked");
    assert_eq!(v["workload"], "overlap");
    assert_eq!(v["seed"], 1);
    assert_eq!(v["threads"], 2);
    assert_eq!(v["ops"], 200);
    assert!(v["bytes"].as_u64().unwrap() > 0);
    assert!(v["seconds"].as_f64().unwrap() > 0.0);
    assert!(v["throughput_mib_s"].as_f64().unwrap() > 0.0);
    assert!(v["events"].as_u64().unwrap() > 0);
    assert!(v["lost_events"].is_u64());
    assert!(v["probe_source"].is_string());
    let viol = &v["violations"];
    for k in ["dropped", "stale", "torn"] {
        assert!(viol[k].is_u64(), "violations.{k}: {o:?}");
    }
    // The locked build is the reference: it must lose nothing.
    assert_eq!(
        viol,
        &serde_json::json!({"dropped": 0, "stale": 0, "torn": 0}),
        "{o:?}"
    );
    let checks = v["checks"].as_array().expect("checks array");
    assert_eq!(checks.len(), 3, "{o:?}");
    let labels: Vec<_> = checks
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["after-run", "after-fsync", "after-remount"]);
    // 200 ops are one round of the default 600: its checks carry round 1.
    assert!(checks.iter().all(|c| c["round"] == 1), "{o:?}");
    assert_eq!(v["rounds"], 1);
    assert_eq!(v["round_ops"], 600);
    assert_eq!(v["rounds_with_violations"], 0);
    assert!(v["first_violation_round"].is_null());
    assert!(v["first_violation_s"].is_null());
    assert_eq!(v["interrupted"], false);
    let per = v["per_round"].as_array().expect("per_round array");
    assert_eq!(per.len(), 1, "{o:?}");
    assert_eq!(per[0]["round"], 1);
    assert_eq!(per[0]["seed"], 1);
    assert_eq!(per[0]["ops"], 200);
    assert_eq!(per[0]["ino"], checks[2]["ino"]);
    // JSON mode prints one object and nothing else on stdout.
    assert_eq!(o.stdout.trim().lines().count(), 1, "{o:?}");
    // The disk is left consistent.
    assert_ok(&lockline(["fsck", &s(&img)]));
}

/// --ops N is N ops in all, in rounds of --round-ops (the last shorter),
/// each round on a fresh file seeded seed + round - 1.
#[test]
fn run_ops_split_into_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("run.img");
    let mut args = run_fast(&img, false);
    set_arg(&mut args, "--ops", "250");
    args.extend(["--round-ops", "100", "--seed", "7", "--json"].map(String::from));
    let o = lockline(&args);
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("run --json");
    assert_eq!(v["ops"], 250);
    assert_eq!(v["rounds"], 3);
    let per = v["per_round"].as_array().unwrap();
    let ops: Vec<u64> = per.iter().map(|r| r["ops"].as_u64().unwrap()).collect();
    assert_eq!(ops, [100, 100, 50]);
    let seeds: Vec<u64> = per.iter().map(|r| r["seed"].as_u64().unwrap()).collect();
    assert_eq!(seeds, [7, 8, 9]);
    let mut inos: Vec<u64> = per.iter().map(|r| r["ino"].as_u64().unwrap()).collect();
    inos.dedup();
    assert_eq!(inos.len(), 3, "a fresh file per round: {o:?}");
    let rounds: Vec<u64> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["round"].as_u64().unwrap())
        .collect();
    assert_eq!(rounds, [1, 1, 1, 2, 2, 2, 3, 3, 3]);
    // Only the last round's file is left, and the disk is consistent.
    assert_ok(&lockline(["fsck", &s(&img)]));
    let j = lockline(["fsck", &s(&img), "--json"]);
    let f: serde_json::Value = serde_json::from_str(j.stdout.trim()).unwrap();
    assert_eq!(f["inodes"], 2, "{j:?}");

    // --rounds N: exactly N rounds, text mode.
    let mut args = run_fast(&img, true);
    drop_arg(&mut args, "--ops");
    args.extend(["--rounds", "2", "--round-ops", "50"].map(String::from));
    let o = lockline(&args);
    assert_ok(&o);
    assert!(
        o.stdout
            .contains("2 rounds of 50 ops (seeds 1..2), none with violations"),
        "{o:?}"
    );
    assert!(o.stdout.contains("overlap on locked: 100 ops"), "{o:?}");
}

#[test]
fn run_text_summary_and_trace_csv() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("run.img");
    let trace = dir.path().join("trace.csv");
    let mut args = run_fast(&img, false);
    args.extend(["--trace".to_string(), s(&trace)]);
    let o = lockline(&args);
    assert_ok(&o);
    assert!(o.stdout.contains("after-remount"), "{o:?}");
    assert!(o.stdout.contains("overlap on locked"), "{o:?}");
    let csv = std::fs::read_to_string(&trace).expect("trace written");
    let mut lines = csv.lines();
    let header = lines.next().expect("trace header");
    assert!(header.starts_with("ts_ns,tid,kind"), "header {header:?}");
    let cols = header.split(',').count();
    let rows: Vec<&str> = lines.collect();
    assert!(!rows.is_empty(), "trace has no events");
    for r in rows.iter().take(1000) {
        assert_eq!(r.split(',').count(), cols, "ragged row {r:?}");
        assert!(
            r.split(',').next().unwrap().parse::<u64>().is_ok(),
            "row {r:?}"
        );
    }
}

#[test]
fn run_on_an_existing_disk_without_mkfs() {
    let (_dir, img) = made_image("64M");
    let more = ["--ops", "50", "--threads", "2", "--file-size", "4M"];
    let o = lockline(run_args(
        &img,
        "lockless",
        "disjoint",
        &[&more[..], &["--write-size", "64K", "--json"]].concat(),
    ));
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_str(o.stdout.trim()).unwrap();
    assert_eq!(v["build"], "lockless");
    assert_eq!(v["workload"], "disjoint");
    assert_ok(&lockline(["fsck", &s(&img)]));
}

/// `run` with a --mkfs of a new image under `dir` plus `extra`; the image
/// must not be created when the arguments are rejected.
fn run_bad(dir: &Path, extra: &[&str]) -> Out {
    let img = dir.join("bad.img");
    let mut args = run_fast(&img, false);
    // An option RUN_FAST already gives is overridden, not repeated.
    let mut i = 0;
    while i < extra.len() {
        match args.iter().position(|a| a == extra[i]) {
            Some(_) if i + 1 < extra.len() => {
                set_arg(&mut args, extra[i], extra[i + 1]);
                i += 2;
            }
            _ => {
                args.push(extra[i].to_string());
                i += 1;
            }
        }
    }
    let o = lockline(&args);
    assert!(
        !img.exists(),
        "rejected run left {} behind: {o:?}",
        img.display()
    );
    o
}

#[test]
fn run_rejects_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = d.join("x.img");
    // clap's value parsers
    let ops = ["--ops", "10"];
    assert_clap_usage(&lockline(run_args(&img, "locked", "nope", &ops)));
    assert_clap_usage(&lockline(run_args(&img, "nope", "overlap", &ops)));
    let both = ["--ops", "10", "--seconds", "1"];
    assert_clap_usage(&lockline(run_args(&img, "locked", "overlap", &both)));
    assert_clap_usage(&run_bad(d, &["--large-folios=maybe"]));
    assert_clap_usage(&run_bad(d, &["--file-size", "12Q"]));
    assert_clap_usage(&run_bad(d, &["--probe", "nonsense"]));

    // ours
    for (extra, needle) in [
        (&["--inject", "nope"][..], "nope"),
        (&["--threads", "0"][..], "threads"),
        (&["--short-copy-rate", "2"][..], "2"),
        (&["--max-folio-order", "12"][..], "12"),
        (&["--file-size", "5000K"][..], "5120000"),
        (&["--ops", "0"][..], "ops"),
        (&["--round-ops", "0"][..], "--round-ops"),
    ] {
        let o = run_bad(d, extra);
        assert_error(&o, &[2]);
        assert!(o.stderr.contains(needle), "{extra:?}: {o:?}");
    }
    // --rounds instead of --ops: 0 is ours to refuse; beside --ops or
    // --seconds, clap's.
    let rounds = |extra: &[&str]| {
        let img = d.join("rounds.img");
        let mut args = run_fast(&img, false);
        drop_arg(&mut args, "--ops");
        args.extend(extra.iter().map(|a| a.to_string()));
        let o = lockline(&args);
        assert!(!img.exists(), "rejected run left {}: {o:?}", img.display());
        o
    };
    let o = rounds(&["--rounds", "0"]);
    assert_error(&o, &[2]);
    assert!(o.stderr.contains("--rounds"), "{o:?}");
    assert_clap_usage(&rounds(&["--rounds", "2", "--ops", "10"]));
    assert_clap_usage(&rounds(&["--rounds", "2", "--seconds", "1"]));
    let missing = d.join("no/such/dir/trace.csv");
    let o = run_bad(d, &["--trace", &s(&missing)]);
    assert_error(&o, &[2]);
    let o = run_bad(d, &["--trace", &s(d)]);
    assert_error(&o, &[2]);
}

/// Ten ops of locked overlap on `disk`, then `more`.
fn small_run(disk: &Path, more: &[&str]) -> Out {
    lockline(run_args(
        disk,
        "locked",
        "overlap",
        &[&["--ops", "10"][..], more].concat(),
    ))
}

#[test]
fn run_disk_too_small_for_the_workload() {
    let (_dir, img) = made_image("2M");
    let o = small_run(&img, &["--threads", "2", "--file-size", "64M"]);
    assert_error(&o, &[2]);
    // The refused run leaves a consistent disk behind.
    assert_ok(&lockline(["fsck", &s(&img)]));
}

#[test]
fn run_on_a_disk_that_is_not_lockline() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("zero.img");
    std::fs::write(&img, vec![0u8; 4 << 20]).unwrap();
    let o = small_run(&img, &["--threads", "2", "--file-size", "4M"]);
    assert_error(&o, &[2, 3]);
    let after = std::fs::read(&img).unwrap();
    assert!(
        after.len() == 4 << 20 && after.iter().all(|&b| b == 0),
        "run wrote to a foreign disk"
    );

    let o = small_run(&dir.path().join("missing.img"), &["--file-size", "4M"]);
    assert_error(&o, &[2, 3]);
}

// ---------------------------------------------------------------- probes, demo

#[test]
fn probes_json_lists_the_probe_points() {
    let o = lockline(["probes", "--json"]);
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("probes --json");
    let syms: Vec<&str> = v["probes"]
        .as_array()
        .expect("probes array")
        .iter()
        .map(|p| p["symbol"].as_str().expect("symbol"))
        .collect();
    assert!(syms.contains(&"lockline_folio_dirtied"), "{syms:?}");
    assert!(syms.iter().all(|s| s.starts_with("lockline_")), "{syms:?}");
    assert!(v["capabilities"].is_object(), "{o:?}");
    let t = lockline(["probes"]);
    assert_ok(&t);
    assert!(t.stdout.contains("lockline_folio_dirtied"), "{t:?}");
}

#[test]
fn demo_runs_every_build_and_keeps_traces() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = lockline([
        "demo",
        "--seconds",
        "0.3",
        "--threads",
        "2",
        "--out",
        &s(&out),
    ]);
    assert_ok(&o);
    for b in ["lockless-min", "lockless", "locked"] {
        assert!(
            o.stdout
                .lines()
                .any(|l| l.split_whitespace().next() == Some(b)),
            "no table row for {b}: {o:?}"
        );
        for table in ["meta", "events", "ops", "violations", "counters"] {
            let f = out.join(b).join(format!("{table}.parquet"));
            assert!(f.is_file(), "{} missing", f.display());
        }
    }
    // The scratch images are gone; only the traces remain.
    let builds = ["lockless-min", "lockless", "locked"];
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !builds.contains(&n.as_str()))
        .collect();
    assert!(left.is_empty(), "demo left {left:?} in {}", out.display());
}

#[test]
fn demo_rejects_bad_arguments() {
    for secs in ["0", "nan", "inf"] {
        let o = lockline(["demo", "--seconds", secs]);
        assert_error(&o, &[2]);
    }
    let dir = tempfile::tempdir().unwrap();
    let o = lockline([
        "demo",
        "--seconds",
        "0.1",
        "--threads",
        "0",
        "--out",
        &s(dir.path()),
    ]);
    assert_error(&o, &[2]);
}

// ------------------------------------------------- bugs found by this file

/// `run --mkfs` refuses an image an earlier `run --mkfs` made, tells the user
/// to use --force, and `run --mkfs --force` then formats it.
#[test]
fn run_mkfs_twice_on_the_same_image() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("run.img");
    let mut args = run_fast(&img, false);
    set_arg(&mut args, "--ops", "20");
    assert_ok(&lockline(&args));
    let o = lockline(&args);
    assert_error(&o, &[2]);
    assert!(o.stderr.contains("--force"), "{o:?}");
    args.push("--force".into());
    assert_ok(&lockline(&args));
}

/// An IO error's cause appears twice on the error line ("No such file or
/// directory (os error 2): No such file or directory (os error 2)").
#[test]
fn io_error_line_does_not_repeat_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let o = lockline(["fsck", &s(&dir.path().join("missing.img"))]);
    assert_error(&o, &[2, 3]);
    let cause = "No such file or directory (os error 2)";
    assert_eq!(o.stderr.matches(cause).count(), 1, "{o:?}");
}

/// `--timeline` draws lock lanes around the first violation; a clean
/// locked run says there is none to show.
#[test]
fn run_timeline_on_a_clean_run() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("tl.img");
    let mut args = run_fast(&img, false);
    args.push("--timeline".into());
    let o = lockline(&args);
    assert_ok(&o);
    assert!(o.stdout.contains("timeline: no violation to show"), "{o:?}");
    args.push("--json".into());
    assert_eq!(lockline(&args).code, 2, "--timeline and --json conflict");
}

#[test]
fn knob_values_large_folios_and_migrate_mode() {
    let (_dir, img) = made_image("64M");
    let knobs_run = |flag: &[&str]| {
        let base = ["--ops", "20", "--file-size", "4M", "--json"];
        let o = lockline(run_args(
            &img,
            "locked",
            "overlap",
            &[&base[..], flag].concat(),
        ));
        assert_ok(&o);
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        (o, v)
    };
    for (flag, want) in [
        (&["--large-folios", "off"][..], false),
        (&["--large-folios=on"][..], true),
        (&[][..], true),
    ] {
        let (o, v) = knobs_run(flag);
        assert_eq!(v["knobs"]["large_folios"], want, "{flag:?}: {o:?}");
    }
    let (o, v) = knobs_run(&["--migrate-mode", "sync-light", "--migration-us", "50"]);
    assert_eq!(v["knobs"]["migrate_mode"], "sync-light", "{o:?}");
    let eager = ["--migrate-mode", "eager"];
    assert_clap_usage(&lockline(run_args(&img, "locked", "overlap", &eager)));
}

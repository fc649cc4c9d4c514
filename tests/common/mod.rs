//! Shared helpers of the command-line tests: run the real binary, and
//! judge its exit code and its one-line errors.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub what: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`lockline {}` exited {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }
}

pub fn lockline<I, S>(args: I) -> Out
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let what = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let o = Command::new(env!("CARGO_BIN_EXE_lockline"))
        .args(&args)
        .output()
        .expect("cannot start lockline");
    let out = Out {
        // None means a signal killed it (abort, segfault): never acceptable.
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        what,
    };
    assert!(
        o.status.code().is_some(),
        "killed by a signal: {:?}\n{out:?}",
        o.status
    );
    assert!(!out.stderr.contains("panicked"), "panicked: {out:?}");
    out
}

pub fn s(p: &Path) -> String {
    p.to_str().expect("temp paths are UTF-8").to_string()
}

#[track_caller]
pub fn assert_ok(o: &Out) {
    assert_eq!(o.code, 0, "expected success: {o:?}");
}

/// One of our own errors: an expected exit code, exactly one non-empty
/// stderr line that starts "lockline: error:".
#[track_caller]
pub fn assert_error(o: &Out, codes: &[i32]) {
    assert!(codes.contains(&o.code), "expected exit {codes:?}: {o:?}");
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line: {o:?}");
    assert!(
        lines[0].starts_with("lockline: error:") && lines[0].len() > "lockline: error:".len(),
        "expected 'lockline: error: ...': {o:?}"
    );
}

/// A clap usage error: exit 2 and no panic (the message is clap's own).
#[track_caller]
pub fn assert_clap_usage(o: &Out) {
    assert_eq!(o.code, 2, "expected a usage error: {o:?}");
    assert!(
        !o.stderr.trim().is_empty(),
        "usage error without message: {o:?}"
    );
}

/// Whether `tool` is on PATH; under CI=true its absence is a failure
/// (scripts/test.sh installs it), elsewhere a skip.
pub fn have(tool: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").is_err(),
            "CI installs {tool} (scripts/test.sh)"
        );
        eprintln!("note: skipping: {tool} is not installed");
    }
    ok
}

/// fio rewriting 64 KiB blocks of disjoint 8 MiB segments over 10 loops
/// with crc32c verify headers, reading each back soon after
/// (`verify_backlog`): the job that meets the planted migration bug.
pub fn fio_rewrite_job(dir: &Path) -> Vec<String> {
    let mut v = vec![format!("--directory={}", dir.display())];
    v.extend(
        [
            "--name=s",
            "--filename=f",
            "--rw=randwrite",
            "--bs=64k",
            "--size=8M",
            "--numjobs=4",
            "--offset_increment=8M",
            "--ioengine=psync",
            "--thread",
            "--verify=crc32c",
            "--verify_backlog=16",
            "--verify_fatal=0",
            "--verify_state_save=0",
            "--loops=10",
        ]
        .map(String::from),
    );
    v
}

/// Whether fio reported a block that failed verification, in the words
/// `lockline client` reads (`client_output::fio`). Matching "bad header"
/// alone missed fio's "verify: bad magic header" (a zeroed block): the
/// test then expected exit 0 from a run whose loss fio had reported.
pub fn fio_saw_a_loss(output: &str) -> bool {
    lockline_harness::client_output::fio::bad_blocks(output) > 0
}

/// The trace at `trace` found a lost or stale read of the program's, as
/// its program (`output`) did.
#[track_caller]
pub fn provenance_saw_the_loss(trace: &Path, output: &str) {
    let t = lockline_store::read(trace).unwrap();
    assert!(
        t.violations
            .iter()
            .any(|v| v.check == "read-during-run" && v.class != "torn"),
        "the program saw a loss the provenance check did not: {output}"
    );
    assert_summary_matches_violations(trace);
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `mkfs.<fs>` is installed in /sbin or /usr/sbin.
pub fn has_mkfs(fs: &str) -> bool {
    ["/sbin", "/usr/sbin"]
        .iter()
        .any(|d| Path::new(d).join(format!("mkfs.{fs}")).exists())
}

/// `lockline run --disk DISK --build BUILD --workload WORKLOAD`, then `more`.
pub fn run_args(disk: &Path, build: &str, workload: &str, more: &[&str]) -> Vec<String> {
    let mut args = vec![
        "run".to_string(),
        "--disk".into(),
        s(disk),
        "--build".into(),
        build.into(),
        "--workload".into(),
        workload.into(),
    ];
    args.extend(more.iter().map(|a| a.to_string()));
    args
}

/// `lockline export TRACE --format FORMAT --out OUT`.
pub fn export(trace: &Path, format: &str, out: &Path) -> Out {
    lockline(["export", &s(trace), "--format", format, "--out", &s(out)])
}

/// `run --mkfs --size 128M` of `img` on `build` and `workload`, then
/// `more`, traced by `probe` into `trace`.
pub fn run_traced(
    img: &Path,
    build: &str,
    workload: &str,
    more: &[&str],
    probe: &str,
    trace: &Path,
) -> Out {
    let mut args = run_args(img, build, workload, &["--mkfs", "--size", "128M"]);
    args.extend(more.iter().map(|a| a.to_string()));
    args.extend(["--probe".into(), probe.into(), "--trace".into(), s(trace)]);
    lockline(args)
}

/// The knobs under which lockless-min tears a write now and then: short
/// copies split writes into passes, and eight writers race into the gap
/// (as engine/tests/integrity.rs hunts them).
pub const TEAR_HUNT: [&str; 10] = [
    "--threads",
    "8",
    "--rounds",
    "10",
    "--round-ops",
    "200",
    "--file-size",
    "4M",
    "--short-copy-rate",
    "0.6",
];

/// The seeds a tearing hunt tries, 40 rounds in all.
pub const TEAR_SEEDS: [&str; 4] = ["1", "41", "81", "121"];

/// Whether eBPF tracing is available to the tests: root, and a kernel
/// that loads the probes.
pub fn ebpf_ok() -> bool {
    is_root() && lockline_ebpf::probe_available().is_ok()
}

/// Whether eBPF is unavailable, saying so for the test that skips.
pub fn no_ebpf() -> bool {
    let no = !ebpf_ok();
    if no {
        eprintln!("note: skipped: eBPF not available to this test");
    }
    no
}

/// Starts `lockline ARGS`, sends it SIGINT after `after`, and returns its
/// stdout once it has exited 130 within `limit`.
pub fn ctrl_c<I, S>(args: I, after: std::time::Duration, limit: std::time::Duration) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    use std::process::Stdio;
    let child = Command::new(env!("CARGO_BIN_EXE_lockline"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let t0 = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(t0.elapsed() < limit, "{:?}", t0.elapsed());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    stdout
}

/// The trace's meta summary says what its violations table holds: the
/// final check's sectors by class, as `run --json` reports them (every
/// trace source writes `violations` in its summary).
pub fn assert_summary_matches_violations(trace: &Path) {
    let t = lockline_store::read(trace).expect("trace reads back");
    let v: serde_json::Value =
        serde_json::from_str(&t.meta.summary_json).expect("summary_json is JSON");
    let said = &v["violations"];
    assert!(
        said.is_object(),
        "{}: summary has no violations object: {}",
        trace.display(),
        t.meta.summary_json
    );
    for class in ["dropped", "stale", "torn"] {
        let table: u64 = t
            .final_violations()
            .filter(|r| r.class == class)
            .map(|r| r.nr_sectors)
            .sum();
        assert_eq!(
            said[class].as_u64(),
            Some(table),
            "{}: summary says {class} {}, the violations table {table}",
            trace.display(),
            said[class]
        );
    }
}

/// A lockline disk's block size.
pub const BLOCK: u64 = 4096;

/// The metadata regions of a lockline image of this size, in blocks
/// (engine/src/disk/layout.rs: blocks 2 .. 2+2M, M = total/64 clamped).
pub fn metadata_blocks(size: u64) -> std::ops::Range<u64> {
    let total = size / BLOCK;
    let m = (total / 64).clamp(64, 1 << 18);
    2..2 + 2 * m
}

pub fn xor_bytes(img: &Path, at: &[(u64, usize)], mask: u8) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(img)
        .unwrap();
    for &(off, len) in at {
        let mut buf = vec![0u8; len];
        f.seek(SeekFrom::Start(off)).unwrap();
        f.read_exact(&mut buf).unwrap();
        for b in &mut buf {
            *b ^= mask;
        }
        f.seek(SeekFrom::Start(off)).unwrap();
        f.write_all(&buf).unwrap();
    }
    f.sync_all().unwrap();
}

/// An image with files on it (`run --mkfs`, 64 MiB) and two damaged copies
/// of it, each named by its damage: every superblock flipped, and the head
/// of every block of both metadata regions flipped.
pub fn damaged_images(dir: &Path) -> Vec<(&'static str, std::path::PathBuf)> {
    let good = dir.join("good.img");
    let o = lockline(run_args(
        &good,
        "locked",
        "overlap",
        &[
            "--mkfs",
            "--size",
            "64M",
            "--file-size",
            "4M",
            "--ops",
            "100",
            "--threads",
            "2",
        ],
    ));
    assert_ok(&o);
    let superblocks = dir.join("superblocks.img");
    std::fs::copy(&good, &superblocks).unwrap();
    xor_bytes(&superblocks, &[(0, 512), (BLOCK, 512)], 0xFF);
    let metadata = dir.join("metadata.img");
    std::fs::copy(&good, &metadata).unwrap();
    let at: Vec<(u64, usize)> = metadata_blocks(64 << 20).map(|b| (b * BLOCK, 64)).collect();
    xor_bytes(&metadata, &at, 0xA5);
    vec![("superblocks", superblocks), ("metadata", metadata)]
}

//! `lockline exec` and `client --via exec` through the real binary and real
//! programs (python3, fsx, qemu-io/qemu-img, fio, sh) with
//! liblockline_preload.so: their file calls land in the engine, fsck and
//! content provenance judge what they left, bad input is one line and exit
//! 2. The library must be built beside the binary (scripts/test.sh does);
//! under CI=true its absence, or a missing program, is a failure.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn library_built() -> bool {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_lockline"));
    let ok = exe.with_file_name("liblockline_preload.so").is_file();
    if !ok {
        assert!(
            std::env::var("CI").is_err(),
            "CI builds liblockline_preload.so (scripts/test.sh)"
        );
        eprintln!("note: skipping: cargo build -p lockline-preload first");
    }
    ok
}

fn summary(trace: &Path) -> (lockline_analysis::Trace, serde_json::Value) {
    let t = lockline_store::read(trace).unwrap();
    let v = serde_json::from_str(&t.meta.summary_json).unwrap();
    (t, v)
}

/// Every family of calls the library serves, from a real program whose own
/// checks would fail on a wrong answer; what it left is on the disk after
/// it exits (fsck clean, read back by a second program) and its trace,
/// judged by provenance, is clean.
#[test]
fn a_programs_file_calls_land_in_the_engine() {
    if !library_built() || !have("python3") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (disk, dir, trace) = (
        tmp.path().join("d.img"),
        tmp.path().join("files"),
        tmp.path().join("t"),
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/exec/calls.py");
    let o = lockline([
        "exec",
        "--disk",
        &s(&disk),
        "--dir",
        &s(&dir),
        "--trace",
        &s(&trace),
        "--writeback-ms",
        "5",
        "--",
        "python3",
        script,
    ]);
    assert_ok(&o);
    assert!(o.stdout.contains("all calls OK"), "{o:?}");
    assert!(o.stdout.contains("1 process(es) used the engine"), "{o:?}");
    assert!(o.stdout.contains("fsck: clean"), "{o:?}");
    assert!(!o.stdout.contains("not served"), "{o:?}");
    // The routed directory shows the engine's names; the bytes are in the
    // engine, not in the placeholders.
    assert_eq!(std::fs::metadata(dir.join("kept")).unwrap().len(), 0);
    let (t, v) = summary(&trace);
    assert_eq!(t.meta.workload, "exec");
    assert_eq!(v["files_checked"], 1, "{v}");
    // Reads of whole sectors are judged (most of the script's are a few
    // bytes, which no sector digest covers).
    assert!(v["reads"]["reads"].as_u64().unwrap() >= 1, "{v}");
    assert!(t.violations.is_empty(), "{:?}", t.violations.first());
    // A second program on the same disk and directory reads it back.
    let o = lockline([
        "exec",
        "--disk",
        &s(&disk),
        "--dir",
        &s(&tmp.path().join("again")),
        "--",
        "python3",
        "-c",
        "import os; b = open(os.environ['LOCKLINE_DIR'] + '/kept', 'rb').read(); \
         assert b == b'kept' * 1024, len(b); print('read back', len(b))",
    ]);
    assert_ok(&o);
    assert!(o.stdout.contains("read back 4096"), "{o:?}");
}

/// fsx through exec: the locked build with busy knobs passes fsx and the
/// provenance check; the planted migration bug fails fsx's own
/// verification and the provenance check finds the loss too.
#[test]
fn client_fsx_via_exec_is_clean_on_locked_and_finds_a_planted_bug() {
    if !library_built() || !have("fsx") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let trace = tmp.path().join("t");
    let o = lockline([
        "client",
        "fsx",
        "--via",
        "exec",
        "--seeds",
        "2",
        "--ops",
        "3000",
        "--writeback-ms",
        "5",
        "--migration-us",
        "500",
        "--short-copy-rate",
        "0.05",
        "--trace",
        &s(&trace),
    ]);
    assert_ok(&o);
    assert!(o.stdout.contains("preloaded"), "{o:?}");
    assert!(o.stdout.contains("checked by provenance: 2 files"), "{o:?}");
    let (t, _) = summary(&trace);
    assert!(t.violations.is_empty(), "{:?}", t.violations.first());

    let planted = tmp.path().join("p");
    let o = lockline([
        "client",
        "fsx",
        "--via",
        "exec",
        "--seeds",
        "3",
        "--ops",
        "3000",
        "--inject",
        "migrate-without-folio-lock",
        "--migration-us",
        "10",
        "--trace",
        &s(&planted),
    ]);
    assert_eq!(o.code, 1, "fsx should fail: {o:?}");
    assert!(o.stdout.contains("FAILED"), "{o:?}");
    let (t, _) = summary(&planted);
    assert!(
        t.violations.iter().any(|v| v.check == "read-during-run"),
        "no read saw the loss: {}",
        t.meta.summary_json
    );
}

/// QEMU through exec: qemu-io's snapshot overlay (mkstemp in $TMPDIR,
/// unlinked while open, OFD locks) and qcow2 images live in the engine,
/// QEMU's own checks pass on locked, and — unlike through the kernel's
/// FUSE client — extending writes run inside the engine beside others.
#[test]
fn client_qemu_via_exec_puts_extending_writes_beside_others() {
    if !library_built() || !have("qemu-io") || !have("qemu-img") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let trace = tmp.path().join("t");
    let o = lockline([
        "client",
        "qemu",
        "--via",
        "exec",
        "--threads",
        "4",
        "--trace",
        &s(&trace),
    ]);
    assert_ok(&o);
    assert!(!o.stdout.contains("FAILED"), "{o:?}");
    let (t, v) = summary(&trace);
    assert!(t.violations.is_empty(), "{:?}", t.violations.first());
    let beside = v["write_overlap"]["extending_beside_a_write"]
        .as_u64()
        .unwrap();
    assert!(beside > 0, "no extending write met another: {v}");
}

/// fio (psync, threads) through exec: verified after the run and after a
/// remount, with writes of several jobs inside the engine at once.
#[test]
fn client_fio_via_exec_verifies() {
    if !library_built() || !have("fio") {
        return;
    }
    let o = lockline(["client", "fio", "--via", "exec", "--threads", "2"]);
    assert_ok(&o);
    assert!(o.stdout.contains("4096/4096 4 KiB blocks"), "{o:?}");
}

/// Strict mode names a call it does not serve (a shared mapping of a
/// routed file) and fails the run; a write that reaches the directory
/// around the library (through a symlink) is reported as bypassing the
/// engine.
#[test]
fn strict_mode_and_bypasses_fail_the_run() {
    if !library_built() || !have("python3") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let map = "import mmap, os\n\
        fd = os.open(os.environ['LOCKLINE_DIR'] + '/f', os.O_CREAT | os.O_RDWR)\n\
        os.write(fd, b'x' * 4096)\n\
        try:\n    mmap.mmap(fd, 4096)\nexcept OSError as e:\n    print('mmap refused', e.errno)\n";
    let o = lockline([
        "exec",
        "--strict",
        "--dir",
        &s(&dir),
        "--",
        "python3",
        "-c",
        map,
    ]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stdout.contains("mmap refused 19"), "{o:?}");
    assert!(
        o.stdout.contains("not served: mmap of /f -> ENODEV"),
        "{o:?}"
    );
    assert!(
        o.stderr.contains("lockline exec: strict: not served"),
        "{o:?}"
    );
    // Without --strict the refusal is listed and the run passes.
    let o = lockline(["exec", "--", "python3", "-c", map]);
    assert_ok(&o);
    assert!(o.stdout.contains("not served: mmap"), "{o:?}");

    let dir = tmp.path().join("e");
    let link = tmp.path().join("link");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    let o = lockline([
        "exec",
        "--dir",
        &s(&dir),
        "--",
        "sh",
        "-c",
        &format!("echo bytes > {}/f", link.display()),
    ]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stdout.contains("BYPASSED the engine"), "{o:?}");
}

/// A damaged disk is refused in one line, exit 2, naming it once, the
/// program never run and the image not written.
#[test]
fn exec_refuses_a_damaged_disk_and_leaves_it_as_it_was() {
    if !library_built() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    for (damage, img) in damaged_images(dir.path()) {
        let before = std::fs::read(&img).unwrap();
        let o = lockline(["exec", "--disk", &s(&img), "--", "touch", &s(&ran)]);
        assert_error(&o, &[2]);
        assert_eq!(o.stderr.matches(&s(&img)).count(), 1, "{damage}: {o:?}");
        assert!(!ran.exists(), "{damage}: the program ran");
        assert!(
            std::fs::read(&img).unwrap() == before,
            "{damage}: the image was written"
        );
    }
}

/// Bad input: one line, exit 2, nothing run.
#[test]
fn bad_exec_input_is_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    assert_clap_usage(&lockline(["exec"]));
    if !library_built() {
        return;
    }
    let full = tmp.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("x"), "x").unwrap();
    assert_error(&lockline(["exec", "--dir", &s(&full), "--", "true"]), &[2]);
    let disk = tmp.path().join("in").join("d.img");
    std::fs::create_dir(tmp.path().join("in")).unwrap();
    let o = lockline([
        "exec",
        "--disk",
        &s(&disk),
        "--dir",
        &s(&tmp.path().join("in")),
        "--",
        "true",
    ]);
    assert_error(&o, &[2]);
    assert_error(&lockline(["exec", "--tui", "--", "true"]), &[2]);
    assert_error(&lockline(["exec", "--", "/nonexistent/program"]), &[2]);
    assert_error(
        &lockline(["exec", "--disk", "/etc/passwd", "--", "true"]),
        &[2],
    );
    let o = Command::new(env!("CARGO_BIN_EXE_lockline"))
        .args(["exec", "--", "true"])
        .env("LOCKLINE_PRELOAD", "/nonexistent.so")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
}

/// fio's own verification and content provenance both see the planted
/// migration bug's losses through exec: fio reads a block back with an
/// older loop's header, and the trace's reads show the same stale sectors.
/// (fio's verify header holds its own crc32c, which a plain crc32c digest
/// cannot see change: `engine/src/crc32c.rs`, sector digests.)
#[test]
fn fio_and_provenance_both_find_a_planted_bug_through_exec() {
    if !library_built() || !have("fio") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // The loss needs a migration to meet a write: a few tries at most.
    for attempt in 1..=4 {
        let dir = tmp.path().join(format!("d{attempt}"));
        let trace = tmp.path().join(format!("t{attempt}"));
        let exec = [
            "exec",
            "--dir",
            &s(&dir),
            "--inject",
            "migrate-without-folio-lock",
            "--migration-us",
            "10",
            "--trace",
            &s(&trace),
            "--",
            "fio",
        ]
        .map(String::from);
        let o = lockline(exec.into_iter().chain(fio_rewrite_job(&dir)));
        let text = format!("{}{}", o.stdout, o.stderr);
        if !fio_saw_a_loss(&text) {
            assert_eq!(o.code, 0, "{o:?}");
            continue;
        }
        assert_eq!(o.code, 1, "{o:?}");
        provenance_saw_the_loss(&trace, &text);
        return;
    }
    panic!("4 runs of fio never met the planted bug");
}

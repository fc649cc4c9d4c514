//! `lockline kernel` through the real binary: Ctrl-C stops the workload
//! and still cleans up; a missing mkfs is one error line and exit 2.
//! Skipped with a note when not root or mkfs.ext4 is absent.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root_with_ext4() -> bool {
    // SAFETY: geteuid has no preconditions.
    let ok = unsafe { libc::geteuid() } == 0
        && ["/sbin", "/usr/sbin"]
            .iter()
            .any(|d| Path::new(d).join("mkfs.ext4").exists());
    if !ok {
        eprintln!("note: skipping: needs root and mkfs.ext4");
    }
    ok
}

fn assert_clean(dir: &Path) {
    let d = dir.to_string_lossy().to_string();
    let out = Command::new("losetup").arg("-a").output().unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(!list.contains(&d), "loop device left over: {list}");
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!info.contains(&d), "mount left over");
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0);
}

#[test]
fn ctrl_c_stops_the_run_and_cleans_up() {
    if !root_with_ext4() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_lockline"))
        .args(["kernel", "--fs", "ext4", "--workload", "overlap"])
        .args(["--seconds", "60", "--size", "256M", "--file-size", "16M"])
        .arg("--workdir")
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let t0 = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(20));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("(interrupted)"), "{stdout}");
    assert!(stdout.contains("after-remount"), "{stdout}");
    assert_clean(tmp.path());
}

#[test]
fn missing_mkfs_is_exit_2_with_the_package_name() {
    if !root_with_ext4() {
        return;
    }
    let have_xfs = ["/sbin", "/usr/sbin"]
        .iter()
        .any(|d| Path::new(d).join("mkfs.xfs").exists());
    if have_xfs {
        eprintln!("note: skipping: mkfs.xfs is installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lockline"))
        .args([
            "kernel",
            "--fs",
            "xfs",
            "--workload",
            "overlap",
            "--ops",
            "10",
        ])
        .arg("--workdir")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "lockline: error: mkfs.xfs not found: install the Debian package xfsprogs (apt-get install xfsprogs)"
    );
    assert_clean(tmp.path());
}

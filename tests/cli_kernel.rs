//! `lockline kernel` through the real binary: Ctrl-C stops the workload
//! and still cleans up; a missing mkfs is one error line and exit 2.
//! Skipped with a note when not root or mkfs.ext4 is absent.

mod common;
use common::{ctrl_c, has_mkfs, is_root, s};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn root_with_ext4() -> bool {
    let ok = is_root() && has_mkfs("ext4");
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
    let stdout = ctrl_c(
        [
            "kernel",
            "--fs",
            "ext4",
            "--workload",
            "overlap",
            "--seconds",
            "60",
            "--size",
            "256M",
            "--file-size",
            "16M",
            "--workdir",
            &s(tmp.path()),
        ],
        Duration::from_millis(1500),
        Duration::from_secs(20),
    );
    assert!(stdout.contains("(interrupted)"), "{stdout}");
    assert!(stdout.contains("after-remount"), "{stdout}");
    assert_clean(tmp.path());
}

#[test]
fn missing_mkfs_is_exit_2_with_the_package_name() {
    if !root_with_ext4() {
        return;
    }
    if has_mkfs("xfs") {
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

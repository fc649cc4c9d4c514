//! Kernel runs on a real ext4 on a loop device: the overlap workload comes
//! back clean in all three checks, and every run (good or failed) leaves no
//! loop device and no mount behind. Skipped with a note when not root or
//! mkfs.ext4 is absent.

use lockline_harness::kernel::{run_kernel_session, KernelError, KernelFs, KernelSpec};
use lockline_harness::workload::{Progress, RunSpec, Stop, WorkloadKind};
use std::path::Path;
use std::process::Command;

fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("note: skipping kernel test: not root");
        return false;
    }
    let found = ["/sbin", "/usr/sbin", "/usr/bin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join("mkfs.ext4").exists());
    if !found {
        eprintln!("note: skipping kernel test: mkfs.ext4 absent (e2fsprogs)");
    }
    found
}

fn spec(workdir: &Path, ops: u64) -> KernelSpec {
    let run = RunSpec {
        workload: WorkloadKind::Overlap,
        threads: 4,
        stop: Stop::Ops(ops),
        seed: 7,
        file: "/overlap.dat".into(),
        file_size: 16 << 20,
        write_size: 65536,
        readers: 0,
    };
    let mut s = KernelSpec::new(KernelFs::Ext4, run);
    s.image_size = 128 << 20;
    s.workdir = Some(workdir.to_path_buf());
    s
}

/// Nothing under `dir` is a loop device's backing file or mounted.
fn assert_clean(dir: &Path) {
    let d = dir.to_string_lossy().to_string();
    let out = Command::new("losetup")
        .arg("-a")
        .output()
        .expect("losetup -a");
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(!list.contains(&d), "loop device left over: {list}");
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!info.contains(&d), "mount left over: {info}");
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert!(left.is_empty(), "work files left over: {left:?}");
}

#[test]
fn overlap_on_ext4_is_clean_and_cleans_up() {
    if !can_run() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (report, events) = run_kernel_session(&spec(tmp.path(), 400), &Progress::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.summary.ops, 400);
    assert_eq!(
        report.summary.op_errors, 0,
        "{:?}",
        report.summary.first_error
    );
    assert_eq!(report.build, "kernel-ext4");
    assert_eq!(report.summary.checks.len(), 3);
    for c in &report.summary.checks {
        assert_eq!(c.violations.len(), 0, "{}: {:?}", c.label, c.violations);
        assert_eq!((c.counts.dropped, c.counts.stale, c.counts.torn), (0, 0, 0));
        assert!(c.sectors_checked > 0);
    }
    // One begin and one end per op, plus the preallocate, the check's
    // fsync and its three read-backs.
    let history = lockline_harness::history::History::from_events(&events);
    assert_eq!(history.len() as u64, 400 + 2 + 3);
    assert_eq!(history.unfinished().count(), 0);
    assert_eq!(report.perf.per_thread.len(), 4);
    let loop_dev = Path::new(&report.device.loop_device);
    let sys = Path::new("/sys/block")
        .join(loop_dev.file_name().unwrap())
        .join("loop/backing_file");
    if let Ok(b) = std::fs::read_to_string(&sys) {
        assert!(!b.contains(&report.device.image), "{b}");
    }
    let out = Command::new("losetup")
        .arg("-j")
        .arg(&report.device.image)
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_clean(tmp.path());
}

#[test]
fn a_missing_mkfs_is_one_clear_error_and_leaves_nothing() {
    if !can_run() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), 10);
    s.mkfs_program = Some(tmp.path().join("no-such-mkfs.ext4"));
    let e = run_kernel_session(&s, &Progress::default()).unwrap_err();
    assert!(matches!(e, KernelError::MissingTool { .. }), "{e}");
    assert!(e.to_string().contains("e2fsprogs"), "{e}");
    assert!(e.is_user_error());
    assert_clean(tmp.path());

    // xfs without mkfs.xfs: the error names xfsprogs.
    let xfs = ["/sbin", "/usr/sbin", "/usr/bin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join("mkfs.xfs").exists());
    if !xfs {
        let mut s = spec(tmp.path(), 10);
        s.fs = KernelFs::Xfs;
        s.image_size = 512 << 20;
        let e = run_kernel_session(&s, &Progress::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "mkfs.xfs not found: install the Debian package xfsprogs (apt-get install xfsprogs)"
        );
        assert_clean(tmp.path());
    }
}

#[test]
fn a_failing_mkfs_after_losetup_still_detaches() {
    if !can_run() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), 10);
    // Exists and fails: the loop device is attached by then.
    s.mkfs_program = Some("/bin/false".into());
    let e = run_kernel_session(&s, &Progress::default()).unwrap_err();
    assert!(matches!(e, KernelError::Command { .. }), "{e}");
    assert!(e.to_string().starts_with("false "), "{e}");
    assert_clean(tmp.path());
}

/// Content provenance on a kernel file system: ext4's writes, reads and
/// check read-backs carry digests as the engine's do, and judged by them
/// the run has exactly what the stamp checker says: three checks and no
/// violation.
#[test]
fn provenance_on_ext4_finds_what_the_stamps_find() {
    if !can_run() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec(tmp.path(), 400);
    s.digests = true;
    let (report, events) =
        run_kernel_session(&s, &Progress::default()).unwrap_or_else(|e| panic!("{e}"));
    use lockline_engine::probe::ExtentKind;
    let kinds = |k| report.extents.iter().filter(|x| x.kind == k).count();
    assert!(kinds(ExtentKind::Write) >= 300, "a digest per write");
    assert_eq!(
        kinds(ExtentKind::Check),
        3,
        "one whole-file read per check: {} writes, {} reads, {} writeback",
        kinds(ExtentKind::Write),
        kinds(ExtentKind::Read),
        kinds(ExtentKind::WritebackIo)
    );
    let judged = lockline_harness::check::provenance::judge(&events, &report.extents);
    assert_eq!(judged.checks.len(), report.summary.checks.len());
    for (p, st) in judged.checks.iter().zip(&report.summary.checks) {
        assert_eq!(p.label, st.label);
        assert!(p.sectors_checked > 0, "{}", p.label);
        assert!(
            p.violations.is_empty(),
            "{}: {:?}",
            p.label,
            p.violations.first()
        );
        assert_eq!(p.counts, st.counts, "{}", p.label);
    }
    assert_clean(tmp.path());
}

//! `lockline mount` through the real binary and real clients: threads
//! writing pattern data through the kernel's FUSE client, overlapping
//! writes inside the engine, fio and qemu-io verification, remounts, fsck,
//! and a daemon killed with -9. Needs root and /dev/fuse; under CI=true
//! their absence is a failure, elsewhere a skip.

mod common;
use common::*;
use lockline_engine::probe::OpKind;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn can_mount() -> bool {
    // SAFETY: geteuid has no preconditions.
    let ok = unsafe { libc::geteuid() } == 0 && Path::new("/dev/fuse").exists();
    if !ok {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the FUSE tests as root"
        );
        eprintln!("note: skipping: needs root and /dev/fuse");
    }
    ok
}

/// A fresh lockline disk and an empty mount point; unmounts on drop.
struct Fixture {
    dir: tempfile::TempDir,
    img: PathBuf,
    mnt: PathBuf,
}

impl Fixture {
    fn new(size: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("disk.img");
        std::fs::File::create(&img).unwrap();
        assert_ok(&lockline(["mkfs", &s(&img), "--size", size]));
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        Fixture { dir, img, mnt }
    }

    fn mount(&self, extra: &[&str]) {
        let mut args = vec!["mount".to_string(), s(&self.img), s(&self.mnt)];
        args.extend(extra.iter().map(|a| a.to_string()));
        let o = lockline(&args);
        assert_ok(&o);
        assert!(o.stdout.contains("mounted"), "{o:?}");
    }

    fn umount(&self) -> Out {
        let o = lockline(["umount", &s(&self.mnt)]);
        assert_ok(&o);
        o
    }

    fn path(&self, name: &str) -> PathBuf {
        self.mnt.join(name)
    }

    fn fsck_clean(&self) {
        let o = lockline(["fsck", &s(&self.img)]);
        assert_ok(&o);
        assert!(o.stdout.contains("no problems found"), "{o:?}");
    }

    fn daemon_pid(&self) -> i32 {
        let key: String = s(&self.mnt)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        std::fs::read_to_string(format!("/run/lockline/{key}.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_lockline"))
            .args(["umount", &s(&self.mnt)])
            .output();
        let _ = &self.dir;
    }
}

/// Thread `t`'s byte at `off`: distinct per thread and per 4 KiB block.
fn pattern(t: u64, off: u64) -> u8 {
    (t * 31 + off / 4096 * 7 + off % 251) as u8
}

fn fill(t: u64, off: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| pattern(t, off + i)).collect()
}

const REGION: u64 = 4 << 20;
const CHUNK: usize = 64 << 10;

/// `threads` threads each writing their own 4 MiB region of `file` in
/// 64 KiB pwrites (interleaved across regions), then reading it back.
fn write_regions(file: &Path, threads: u64) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .unwrap();
    std::thread::scope(|sc| {
        for t in 0..threads {
            let f = &f;
            sc.spawn(move || {
                for off in (t * REGION..(t + 1) * REGION).step_by(CHUNK) {
                    f.write_all_at(&fill(t, off, CHUNK), off).unwrap();
                }
            });
        }
    });
    f.sync_all().unwrap();
}

fn verify_regions(file: &Path, threads: u64) {
    let f = std::fs::File::open(file).unwrap();
    assert_eq!(f.metadata().unwrap().len(), threads * REGION);
    let mut buf = vec![0u8; CHUNK];
    for t in 0..threads {
        for off in (t * REGION..(t + 1) * REGION).step_by(CHUNK) {
            f.read_exact_at(&mut buf, off).unwrap();
            assert!(buf == fill(t, off, CHUNK), "thread {t} data wrong at {off}");
        }
    }
}

#[test]
fn threads_write_patterns_that_survive_unmount_remount_and_fsck() {
    if !can_mount() {
        return;
    }
    let fx = Fixture::new("256M");
    fx.mount(&["--build", "locked", "--threads", "4"]);
    std::fs::create_dir(fx.path("d")).unwrap();
    let file = fx.path("d/data");
    std::fs::File::create(&file)
        .unwrap()
        .set_len(4 * REGION)
        .unwrap();
    write_regions(&file, 4);
    verify_regions(&file, 4);
    // Namespace operations a client's tools use.
    std::fs::write(fx.path("tmp"), b"x").unwrap();
    std::fs::rename(fx.path("tmp"), fx.path("d/renamed")).unwrap();
    std::fs::remove_file(fx.path("d/renamed")).unwrap();
    std::fs::create_dir(fx.path("e")).unwrap();
    std::fs::remove_dir(fx.path("e")).unwrap();
    let names: Vec<_> = std::fs::read_dir(fx.path("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["data"]);
    let o = fx.umount();
    assert!(o.stdout.contains("written back and committed"), "{o:?}");
    fx.fsck_clean();
    fx.mount(&["--build", "locked"]);
    verify_regions(&file, 4);
    fx.umount();
    fx.fsck_clean();
}

#[test]
fn unlinked_open_file_stays_usable_until_closed() {
    if !can_mount() {
        return;
    }
    let fx = Fixture::new("64M");
    fx.mount(&[]);
    let p = fx.path("scratch");
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .unwrap();
    std::fs::remove_file(&p).unwrap();
    f.write_all_at(b"still here", 4096).unwrap();
    let mut b = [0u8; 10];
    f.read_exact_at(&mut b, 4096).unwrap();
    assert_eq!(&b, b"still here");
    drop(f);
    fx.umount();
    // The last close (or the unmount) freed it: no orphan is left.
    let o = lockline(["fsck", &s(&fx.img)]);
    assert!(!o.stdout.contains("orphan"), "{o:?}");
    fx.fsck_clean();
}

/// Free 4 KiB blocks of the file system mounted at `mnt`, after a commit
/// (fsync of the mount's root directory is the engine's sync).
fn free_blocks(mnt: &Path) -> u64 {
    std::fs::File::open(mnt).unwrap().sync_all().unwrap();
    let c = std::ffi::CString::new(s(mnt)).unwrap();
    // SAFETY: zeroed statvfs is a valid out-buffer; the path is valid.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
    st.f_bfree as u64 * st.f_frsize as u64 / 4096
}

/// Polls `free_blocks` until it reaches `want` (the kernel sends a close's
/// RELEASE after close returns), at most 5 s; returns the last reading.
fn free_blocks_reach(mnt: &Path, want: u64) -> u64 {
    let t0 = std::time::Instant::now();
    loop {
        let n = free_blocks(mnt);
        if n >= want || t0.elapsed() > std::time::Duration::from_secs(5) {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn the_last_close_of_an_unlinked_file_frees_its_blocks_while_mounted() {
    if !can_mount() {
        return;
    }
    let fx = Fixture::new("64M");
    fx.mount(&[]);
    let blocks = 16 << 20 >> 12;
    let empty = free_blocks(&fx.mnt);
    // Written, closed, then removed: freed by the unlink.
    let p = fx.path("closed");
    std::fs::write(&p, vec![7u8; 16 << 20]).unwrap();
    assert!(free_blocks(&fx.mnt) + blocks <= empty);
    std::fs::remove_file(&p).unwrap();
    let after = free_blocks_reach(&fx.mnt, empty);
    assert_eq!(
        after, empty,
        "a closed file's blocks came back at its unlink"
    );
    // Removed while open (QEMU's -snapshot overlay): freed by the last close.
    let p = fx.path("open");
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&p)
        .unwrap();
    f.write_all_at(&vec![9u8; 16 << 20], 0).unwrap();
    std::fs::remove_file(&p).unwrap();
    f.sync_all().unwrap();
    assert!(free_blocks(&fx.mnt) + blocks <= empty, "in use while open");
    drop(f);
    let after = free_blocks_reach(&fx.mnt, empty);
    assert_eq!(
        after, empty,
        "an unlinked file's blocks came back at its last close"
    );
    fx.umount();
    fx.fsck_clean();
}

#[test]
fn client_writes_overlap_in_time_inside_the_engine() {
    if !can_mount() {
        return;
    }
    let fx = Fixture::new("256M");
    let trace = fx.dir.path().join("trace");
    fx.mount(&[
        "--build",
        "lockless",
        "--threads",
        "4",
        "--trace",
        &s(&trace),
        // The first write waits in the engine until another thread's write
        // begins: overlap then shows whether the kernel passed writes on in
        // parallel, not whether two happened to meet on a loaded machine.
        "--hold-first-write",
    ]);
    let file = fx.path("data");
    // Sized first: writes inside EOF are the ones the kernel passes on in
    // parallel (FOPEN_PARALLEL_DIRECT_WRITES).
    std::fs::File::create(&file)
        .unwrap()
        .set_len(4 * REGION)
        .unwrap();
    write_regions(&file, 4);
    let o = fx.umount();
    assert!(o.stdout.contains("trace:"), "{o:?}");
    let t = lockline_store::read(&trace).unwrap();
    let mut writes: Vec<_> = t
        .ops
        .iter()
        .filter(|o| o.kind == OpKind::Write && o.len == CHUNK as u64)
        .collect();
    assert_eq!(
        writes.len(),
        4 * (REGION as usize / CHUNK),
        "every write is an op"
    );
    let tids: std::collections::BTreeSet<_> = writes.iter().map(|o| o.tid).collect();
    assert!(tids.len() >= 2, "served by one thread only: {tids:?}");
    writes.sort_by_key(|o| o.begin_ns);
    let overlapping = writes
        .windows(2)
        .filter(|w| w[0].tid != w[1].tid && w[1].begin_ns < w[0].end_ns)
        .count();
    assert!(
        overlapping > 0,
        "no two writes were inside the engine at once: the kernel serialised them"
    );
    eprintln!(
        "{overlapping} of {} consecutive write pairs overlapped",
        writes.len() - 1
    );
}

#[test]
fn daemon_killed_with_9_keeps_fsynced_data_and_fsck_is_clean() {
    if !can_mount() {
        return;
    }
    let fx = Fixture::new("64M");
    fx.mount(&["--build", "locked"]);
    let kept = fill(9, 0, 1 << 20);
    let f = std::fs::File::create(fx.path("kept")).unwrap();
    f.write_all_at(&kept, 0).unwrap();
    f.sync_all().unwrap();
    drop(f);
    // Written but never fsynced: may be lost, must not corrupt anything.
    std::fs::write(fx.path("loose"), fill(3, 0, 1 << 20)).unwrap();
    let pid = fx.daemon_pid();
    // SAFETY: signalling our own daemon.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    while unsafe { libc::kill(pid, 0) } == 0 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let o = fx.umount();
    assert!(o.stdout.contains("no daemon"), "{o:?}");
    let o = lockline(["fsck", &s(&fx.img)]);
    assert_ok(&o);
    assert!(o.stdout.contains("no problems found"), "{o:?}");
    fx.mount(&["--build", "locked"]);
    assert_eq!(std::fs::read(fx.path("kept")).unwrap(), kept);
    fx.umount();
    fx.fsck_clean();
}

#[test]
fn fio_verifies_on_locked_before_and_after_remount() {
    if !can_mount() || !have("fio") {
        return;
    }
    let fx = Fixture::new("256M");
    fx.mount(&["--build", "locked", "--threads", "4"]);
    let file = s(&fx.path("fio.dat"));
    let fio = |extra: &[&str]| {
        let mut c = Command::new("fio");
        c.args([
            "--name=segments",
            &format!("--filename={file}"),
            "--rw=randwrite",
            "--bs=4k",
            "--size=4M",
            "--numjobs=4",
            "--offset_increment=4M",
            "--ioengine=psync",
            "--thread",
            "--verify=crc32c",
            "--verify_fatal=1",
            // No verify state files left in the caller's directory.
            "--verify_state_save=0",
            "--group_reporting",
        ])
        .args(extra);
        let o = c.output().unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "fio failed:\n{text}");
        assert!(text.contains("err= 0"), "{text}");
        assert!(!text.contains("verify: bad"), "{text}");
    };
    fio(&["--verify_backlog=64"]);
    fx.umount();
    fx.fsck_clean();
    fx.mount(&["--build", "locked"]);
    fio(&["--verify_only=1"]);
    fx.umount();
    fx.fsck_clean();
}

/// qemu-io's output with every command's result; fails on any pattern
/// mismatch or error.
fn qemu_io(tmpdir: &Path, args: &[String]) -> String {
    let o = Command::new("qemu-io")
        .env("TMPDIR", tmpdir)
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "qemu-io failed:\n{text}");
    assert!(!text.contains("Pattern verification failed"), "{text}");
    assert!(!text.contains("failed"), "{text}");
    text
}

#[test]
fn qemu_snapshot_mode_and_bench_on_the_mount() {
    if !can_mount() || !have("qemu-io") || !have("qemu-img") {
        return;
    }
    let fx = Fixture::new("512M");
    fx.mount(&["--build", "locked", "--threads", "8"]);
    let base = s(&fx.path("base.qcow2"));
    let tmp = fx.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let img = |args: &[&str]| {
        let o = Command::new("qemu-img").args(args).output().unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "qemu-img {args:?} failed:\n{text}");
        text
    };
    img(&["create", "-f", "qcow2", &base, "64M"]);
    // Snapshot mode: the temporary overlay goes to $TMPDIR, on the mount.
    // 16 concurrent 1 MiB writes into disjoint regions, then each read back.
    let mut args = vec!["-s".to_string()];
    for r in 0..16u32 {
        args.push("-c".into());
        args.push(format!("aio_write -P {} {}M 1M", 0x40 + r, r * 2));
    }
    args.push("-c".into());
    args.push("aio_flush".into());
    for r in 0..16u32 {
        args.push("-c".into());
        args.push(format!("read -P {} {}M 1M", 0x40 + r, r * 2));
    }
    args.push(base.clone());
    let text = qemu_io(&tmp, &args);
    assert_eq!(text.matches("read 1048576/1048576").count(), 16, "{text}");
    // The overlay was created on the mount and removed at exit.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    // Overlays written by qemu-img bench's thread pool, sparse and
    // preallocated (rewrites inside EOF run in parallel), then checked.
    for (name, opts) in [
        ("ov.qcow2", None),
        ("ovfull.qcow2", Some("preallocation=full,extended_l2=on")),
    ] {
        let ov = s(&fx.path(name));
        let mut a = vec!["create", "-f", "qcow2", "-b", &base, "-F", "qcow2"];
        if let Some(o) = opts {
            a.extend(["-o", o]);
        }
        a.extend([ov.as_str(), "64M"]);
        img(&a);
        img(&[
            "bench", "-w", "-t", "none", "-i", "threads", "-c", "2000", "-d", "16", "-s", "64k",
            &ov,
        ]);
        let t = img(&["check", &ov]);
        assert!(t.contains("No errors were found"), "{t}");
    }
    fx.umount();
    fx.fsck_clean();
}

/// A damaged image is refused by mount in one line, exit 2, before
/// anything is mounted, and not a byte of it is written.
#[test]
fn mount_refuses_a_damaged_image_and_leaves_it_as_it_was() {
    if !can_mount() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    for (damage, img) in damaged_images(dir.path()) {
        let before = std::fs::read(&img).unwrap();
        let o = lockline(["mount", &s(&img), &s(&mnt)]);
        assert_error(&o, &[2]);
        assert_eq!(o.stderr.matches(&s(&img)).count(), 1, "{damage}: {o:?}");
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        assert!(!mounts.contains(&s(&mnt)), "{damage}: mounted anyway");
        assert!(
            std::fs::read(&img).unwrap() == before,
            "{damage}: the image was written"
        );
    }
}

#[test]
fn bad_mount_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    std::fs::File::create(&img).unwrap();
    assert_ok(&lockline(["mkfs", &s(&img), "--size", "64M"]));
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("x"), b"x").unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for args in [
        vec!["mount", &s(&img), "/nonexistent/dir"],
        vec!["mount", &s(&img), &s(&file)],
        vec!["mount", &s(&img), &s(&full)],
        vec!["mount", "/nonexistent.img", &s(&empty)],
        vec!["mount", &s(&img), &s(&empty), "--threads", "0"],
        vec!["mount", &s(&img), &s(&empty), "--short-copy-rate", "2"],
        vec!["umount", &s(&empty)],
    ] {
        assert_error(&lockline(&args), &[2]);
    }
    let o = lockline(["mount", &s(&img), &s(&empty), "--build", "nope"]);
    assert_eq!(o.code, 2, "{o:?}");
}

#[test]
fn client_fio_and_qemu_verify_clean_on_locked() {
    if !can_mount() || !have("fio") || !have("qemu-io") {
        return;
    }
    let o = lockline([
        "client",
        "fio",
        "--build",
        "locked",
        "--threads",
        "2",
        "--json",
    ]);
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("one JSON object");
    let checks: Vec<_> = v["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(checks, ["after-run", "after-remount"]);
    for c in v["verdicts"].as_array().unwrap() {
        assert_eq!(c["checked"], 2 * 2048, "{c}");
        assert_eq!(c["failed"], 0, "{c}");
    }
    assert_eq!(v["fsck_problems"], 0);
    assert!(v["writes"].as_u64().unwrap() >= 4096, "{v}");
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t");
    let o = lockline([
        "client",
        "qemu",
        "--build",
        "lockless",
        "--trace",
        &s(&trace),
    ]);
    assert_ok(&o);
    assert!(o.stdout.contains("after-remount  ok"), "{o:?}");
    assert!(!o.stdout.contains("FAILED"), "{o:?}");
    let t = lockline_store::read(&trace).unwrap();
    assert_eq!(t.meta.workload, "fuse-mount");
    assert!(t.ops.iter().any(|o| o.kind == OpKind::Write));
}

#[test]
fn client_bad_input_is_one_line_and_exit_2() {
    assert_error(&lockline(["client", "fio", "--threads", "0"]), &[2]);
    assert_error(&lockline(["client", "fio", "--short-copy-rate", "7"]), &[2]);
    assert_error(
        &lockline(["client", "fio", "--trace", "/nonexistent/dir/t"]),
        &[2],
    );
    assert_error(&lockline(["client", "fsx", "--seeds", "0"]), &[2]);
    assert_error(&lockline(["client", "fsx", "--ops", "0"]), &[2]);
    assert_error(
        &lockline(["client", "fsx", "--fsx-config", "/nonexistent.toml"]),
        &[2],
    );
    let o = lockline(["client", "xfstests"]);
    assert_eq!(o.code, 2, "{o:?}");
}

/// fsx-rs through the mount, its default mix (mmap included) plus punch,
/// fallocate and fsync, on every build with the busy knobs: no seed fails
/// that passes on tmpfs, and every file equals the tmpfs run's after a
/// remount.
#[test]
fn client_fsx_passes_on_every_build_with_busy_knobs() {
    if !can_mount() || !have("fsx") {
        return;
    }
    for build in ["locked", "lockless", "lockless-min"] {
        let o = lockline([
            "client",
            "fsx",
            "--build",
            build,
            "--threads",
            "2",
            "--seeds",
            "10",
            "--ops",
            "20000",
            "--writeback-ms",
            "5",
            "--migration-us",
            "500",
            "--compaction-ms",
            "50",
            "--reclaim",
            "4M",
            "--short-copy-rate",
            "0.05",
            "--json",
        ]);
        assert_ok(&o);
        let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("one JSON object");
        let verdicts = v["verdicts"].as_array().unwrap();
        assert_eq!(verdicts.len(), 2, "{v}");
        assert_eq!(verdicts[0]["check"], "after-run");
        assert_eq!(verdicts[0]["checked"], 10, "{v}");
        for c in verdicts {
            assert_eq!(c["failed"], 0, "{build}: {c}");
        }
        assert_eq!(v["fsck_problems"], 0, "{build}");
    }
}

#[test]
fn sigterm_to_the_daemon_unmounts_and_writes_back() {
    if !can_mount() {
        return;
    }
    let fx = Fixture::new("64M");
    fx.mount(&["--build", "lockless"]);
    let data = fill(5, 0, 3 << 20);
    std::fs::write(fx.path("f"), &data).unwrap();
    let pid = fx.daemon_pid();
    // SAFETY: signalling our own daemon.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    while unsafe { libc::kill(pid, 0) } == 0 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!lockline_fuse::is_fuse_mount(&fx.mnt), "still mounted");
    // Never fsynced, but the daemon wrote everything back on its way out.
    let o = lockline(["fsck", &s(&fx.img)]);
    assert!(o.stdout.contains("clean unmount"), "{o:?}");
    fx.mount(&[]);
    assert_eq!(std::fs::read(fx.path("f")).unwrap(), data);
    fx.umount();
}

/// `lockline client fsx` on locked with 2 threads and a trace, plus `more`;
/// returns the run, the directory holding the trace, and the trace.
fn client_fsx_traced(more: &[&str]) -> (Out, tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t");
    let args = ["client", "fsx", "--build", "locked", "--threads", "2"];
    let t = s(&trace);
    let o = lockline([&args[..], more, &["--trace", &t]].concat());
    (o, dir, trace)
}

/// fsx's data, unstamped, judged by content provenance: the client's trace
/// carries every write's and read's digests, every file read back at
/// unmount is checked against them, and the locked build with busy knobs
/// has nothing to report.
#[test]
fn client_fsx_trace_is_judged_by_provenance_and_locked_is_clean() {
    if !can_mount() || !have("fsx") {
        return;
    }
    let (o, _dir, trace) = client_fsx_traced(&[
        "--seeds",
        "2",
        "--ops",
        "2000",
        "--writeback-ms",
        "5",
        "--migration-us",
        "500",
        "--short-copy-rate",
        "0.05",
    ]);
    assert_ok(&o);
    assert!(o.stdout.contains("checked by provenance: 2 files"), "{o:?}");
    let t = lockline_store::read(&trace).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&t.meta.summary_json).unwrap();
    assert_eq!(summary["files_checked"], 2, "{summary}");
    assert!(
        summary["reads"]["reads"].as_u64().unwrap() > 100,
        "{summary}"
    );
    assert!(summary["digests"].as_u64().unwrap() > 1000, "{summary}");
    assert!(t
        .extents
        .iter()
        .any(|x| x.kind == lockline_engine::probe::ExtentKind::Check));
    assert!(
        t.violations.is_empty(),
        "{:#?}",
        &t.violations[..t.violations.len().min(3)]
    );
    assert_eq!(t.meta.final_check, "at-unmount");

    // Everything the trace knows about the first KiB of a file fsx wrote.
    let ino = t
        .ops
        .iter()
        .find(|o| o.kind == OpKind::Write && o.offset == 0 && o.result >= 1024)
        .map(|o| o.ino)
        .expect("fsx writes at offset 0");
    let o = lockline(["analyze", &s(&trace), "--at", &format!("{ino}:0+1K")]);
    assert_ok(&o);
    for want in [
        "sector 0 (bytes 0..512)",
        "sector 1 (bytes 512..1024)",
        "created the file, empty",
        "asked",
        "read back ",
        "(check at-unmount)",
    ] {
        assert!(o.stdout.contains(want), "{want}: {}", o.stdout);
    }
    let o = lockline(["analyze", &s(&trace), "--at", &format!("{ino}:0"), "--json"]);
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("one JSON object");
    assert_eq!(v["sectors"].as_array().unwrap().len(), 1, "{v}");
    for bad in ["3", "x:0", &format!("{ino}:0+0"), "999999:0"] {
        assert_error(&lockline(["analyze", &s(&trace), "--at", bad]), &[2]);
    }
}

/// A planted bug (migration without the folio lock) under fsx through the
/// mount: fsx's own verification fails, and the trace's provenance checks
/// find the lost data in fsx's reads and in the files at unmount, with
/// culprits, though lockline stamped none of it.
#[test]
fn client_fsx_planted_bug_is_found_by_fsx_and_by_provenance() {
    if !can_mount() || !have("fsx") {
        return;
    }
    let (o, _dir, trace) = client_fsx_traced(&[
        "--seeds",
        "3",
        "--ops",
        "3000",
        "--inject",
        "migrate-without-folio-lock",
        "--migration-us",
        "10",
    ]);
    assert_eq!(o.code, 1, "fsx should fail: {o:?}");
    assert!(o.stdout.contains("FAILED"), "{o:?}");
    let t = lockline_store::read(&trace).unwrap();
    assert!(
        t.violations.iter().any(|v| v.check == "read-during-run"),
        "no read saw the loss: {:?}",
        t.meta.summary_json
    );
    let o = lockline(["analyze", &s(&trace), "--json"]);
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("one JSON object");
    let text = v.to_string();
    assert!(
        text.contains("migrated the folio without its folio lock"),
        "no culprit names the migration"
    );
}

/// The planted migration bug under fio through the mount: fio's own
/// verification reads an older loop's block, and the trace's provenance
/// checks of fio's reads find the same loss.
#[test]
fn fio_and_provenance_both_find_a_planted_bug_through_the_mount() {
    if !can_mount() || !have("fio") {
        return;
    }
    // The loss needs a migration to meet a write: a few tries at most.
    for _ in 0..4 {
        let fx = Fixture::new("256M");
        let trace = fx.dir.path().join("trace");
        fx.mount(&[
            "--inject",
            "migrate-without-folio-lock",
            "--migration-us",
            "10",
            "--threads",
            "4",
            "--trace",
            &s(&trace),
        ]);
        let o = Command::new("fio")
            .args(fio_rewrite_job(&fx.mnt))
            .output()
            .unwrap();
        fx.umount();
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        if !fio_saw_a_loss(&text) {
            continue;
        }
        provenance_saw_the_loss(&trace, &text);
        return;
    }
    panic!("4 runs of fio never met the planted bug");
}

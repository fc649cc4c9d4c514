//! The eBPF tracer as a session's only event source: an engine run traced
//! by uprobes alone checks as the in-process recorder's would, and a kernel
//! ext4 run sees the workload's pwrite syscalls and the folios they dirty.

mod common;

use lockline_ebpf::EbpfSource;
use lockline_engine::probe::{EventKind, OpKind};
use lockline_engine::{Build, Knobs};
use lockline_harness::history::History;
use lockline_harness::kernel::{run_kernel_session_with, KernelFs, KernelSpec};
use lockline_harness::session::{quiet_progress, run_session_with, SessionSpec};
use lockline_harness::workload::{RunSpec, Stop, WorkloadKind};
use std::path::Path;

fn run_spec(workload: WorkloadKind, ops: u64) -> RunSpec {
    RunSpec {
        workload,
        threads: 2,
        stop: Stop::Ops(ops),
        seed: 3,
        file: format!("/{}.dat", workload.name()),
        file_size: 8 << 20,
        write_size: 65536,
        readers: 0,
    }
}

#[test]
fn engine_session_traced_by_ebpf_alone() {
    if !common::can_trace("engine_session_traced_by_ebpf_alone") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut spec = SessionSpec::new(
        dir.path().join("disk.img"),
        Build::Locked,
        Knobs::default(),
        run_spec(WorkloadKind::Overlap, 400),
    );
    spec.mkfs = Some(64 << 20);
    let src = EbpfSource::engine().unwrap();
    let (report, events) = run_session_with(&spec, &quiet_progress(), Some(Box::new(src))).unwrap();
    let s = &report.summary;
    assert_eq!(s.probe_source, "ebpf");
    assert_eq!(s.lost_events, 0);
    assert_eq!(s.ops, 400);
    // Every workload op reached the history through the ring, begin and end.
    // (The uprobes see the whole test process: count this run's inode only.)
    let h = History::from_events(&events);
    let ino = s.checks[0].ino;
    let writes = h.writes(ino).filter(|o| o.finished()).count();
    assert!(writes >= 300, "only {writes} finished writes traced");
    assert!(events
        .iter()
        .any(|e| e.kind() == Some(EventKind::FolioDirtied)));
    assert!(events.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
    for c in &s.checks {
        assert!(c.is_clean(), "{c}");
    }
}

fn has_mkfs_ext4() -> bool {
    ["/sbin", "/usr/sbin", "/usr/bin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join("mkfs.ext4").exists())
}

#[test]
fn kernel_ext4_session_sees_pwrite_and_dirty_folios() {
    if !common::can_trace("kernel_ext4_session_sees_pwrite_and_dirty_folios") {
        return;
    }
    if !has_mkfs_ext4() {
        eprintln!("note: skipped: mkfs.ext4 absent (e2fsprogs)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut spec = KernelSpec::new(KernelFs::Ext4, run_spec(WorkloadKind::QemuSnapshot, 300));
    spec.image_size = 128 << 20;
    spec.workdir = Some(dir.path().to_path_buf());
    let src = EbpfSource::kernel().unwrap();
    let (report, events) =
        run_kernel_session_with(&spec, &quiet_progress(), Some(Box::new(src))).unwrap();
    let s = &report.summary;
    assert_eq!(s.probe_source, "inproc+ebpf");
    assert_eq!(s.lost_events, 0);
    let ino = s.checks[0].ino;
    let pwrites = events
        .iter()
        .filter(|e| e.kind() == Some(EventKind::SyscallEnter) && e.op_kind() == Some(OpKind::Write))
        .count();
    let dirtied = events
        .iter()
        .filter(|e| e.kind() == Some(EventKind::FolioDirtied) && e.inode == ino)
        .count();
    assert!(pwrites >= 100, "{pwrites} pwrite64 enters traced");
    assert!(dirtied > 0, "no folio of inode {ino} dirtied in the trace");
    // The filters keep other files' folios out.
    assert!(events
        .iter()
        .filter(|e| e.kind() == Some(EventKind::FolioDirtied))
        .all(|e| e.inode == ino));
    assert!(!report.perf_samples.is_empty() || !report.perf.notes.is_empty());
    for c in &s.checks {
        assert!(c.is_clean(), "{c}");
    }
}

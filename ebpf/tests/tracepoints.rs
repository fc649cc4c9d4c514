//! Kernel tracepoints: pwrite + fsync from this process show up as syscall
//! enter/exit events and as dirtied folios of the file's inode.

mod common;

use lockline_ebpf::{EbpfTracer, KernelFilters};
use lockline_engine::probe::{EventKind, OpKind};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};

#[test]
fn pwrite_and_fsync_are_traced() {
    if !common::can_trace("pwrite_and_fsync_are_traced") {
        return;
    }
    // A disk-backed directory: tmpfs folios never pass writeback accounting.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("f");
    let file = std::fs::File::create(&path).unwrap();
    let ino = file.metadata().unwrap().ino();
    let fd = file.as_raw_fd() as u64;

    // The tgid filter admits the other tests of this binary, running on
    // other threads: judge only this thread's syscalls.
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() } as u32;
    let tracer = EbpfTracer::attach_kernel(KernelFilters::this_process()).unwrap();
    let page = vec![0xa5u8; 4096];
    for i in 0..4u64 {
        file.write_at(&page, i * 4096).unwrap();
    }
    file.sync_all().unwrap(); // fsync(2)
    let (events, stats) = tracer.stop();
    assert!(stats.attached >= 13, "{stats:?}");
    assert_eq!(stats.lost, 0);

    let me = std::process::id();
    let count = |kind: EventKind, class: OpKind| {
        events
            .iter()
            .filter(|e| {
                e.tid == tid && e.kind() == Some(kind) && e.op_kind() == Some(class) && e.a == fd
            })
            .count()
    };
    assert_eq!(
        count(EventKind::SyscallEnter, OpKind::Write),
        4,
        "{stats:?}"
    );
    assert_eq!(count(EventKind::SyscallExit, OpKind::Write), 4);
    assert_eq!(count(EventKind::SyscallEnter, OpKind::Fsync), 1);
    assert_eq!(count(EventKind::SyscallExit, OpKind::Fsync), 1);
    for e in events
        .iter()
        .filter(|e| e.tid == tid && e.kind() == Some(EventKind::SyscallExit))
    {
        if e.op_kind() == Some(OpKind::Write) {
            assert_eq!(e.b, 4096, "pwrite64 return value");
        }
    }
    // The tgid filter keeps other processes' syscalls out.
    let mut dirtied: Vec<u64> = events
        .iter()
        .filter(|e| e.kind() == Some(EventKind::FolioDirtied) && e.inode == ino)
        .map(|e| e.folio)
        .collect();
    dirtied.sort();
    dirtied.dedup();
    assert_eq!(
        dirtied,
        vec![0, 1, 2, 3],
        "dirtied folios of inode {ino} (pid {me})"
    );
}

#[test]
fn file_filter_drops_other_inodes() {
    if !common::can_trace("file_filter_drops_other_inodes") {
        return;
    }
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (fa, fb) = (
        std::fs::File::create(&a).unwrap(),
        std::fs::File::create(&b).unwrap(),
    );
    let filters = KernelFilters::this_process().with_file(&a).unwrap();
    let tracer = EbpfTracer::attach_kernel(filters).unwrap();
    fa.write_at(&[1u8; 8192], 0).unwrap();
    fb.write_at(&[2u8; 8192], 0).unwrap();
    let (events, _) = tracer.stop();
    let ino_of = |f: &std::fs::File| f.metadata().unwrap().ino();
    let added: Vec<u64> = events
        .iter()
        .filter(|e| e.kind() == Some(EventKind::FolioAdded))
        .map(|e| e.inode)
        .collect();
    assert!(
        added.contains(&ino_of(&fa)),
        "no folio_added for a: {added:?}"
    );
    assert!(added.iter().all(|&i| i == ino_of(&fa)), "{added:?}");
}

//! The eBPF engine probe and the in-process recorder see the same events:
//! one deterministic single-thread engine session traced by both.

mod common;

use lockline_ebpf::{EbpfTracer, EngineTarget};
use lockline_engine::disk::{mkfs, MkfsOptions};
use lockline_engine::probe::recorder::Recorder;
use lockline_engine::probe::Event;
use lockline_engine::{Build, Fs, Knobs, MountOptions};

fn key(e: &Event) -> (u32, u64, u64, u64, u64, u64, u64) {
    (e.code, e.inode, e.folio, e.op, e.a, e.b, e.fid)
}

#[test]
fn ebpf_and_recorder_agree() {
    if !common::can_trace("ebpf_and_recorder_agree") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    let size = Some(64 << 20);
    mkfs(&img, &MkfsOptions { size, force: false }).unwrap();
    let rec = Recorder::new(1 << 20);
    let knobs = Knobs {
        writeback_interval_ms: 0,
        reclaim_limit_bytes: 0,
        migration_interval_us: 0,
        compaction_interval_ms: 0,
        ..Knobs::default()
    };
    let opts = MountOptions {
        build: Build::Locked,
        knobs,
        recorder: Some(rec.clone()),
    };
    let fs = Fs::mount(&img, opts).unwrap();
    let ino = fs.open("/f", true).unwrap();
    // Attach this thread to the recorder before tracing starts, so both
    // sources begin at the same event.
    drop(fs.begin_op());
    // The file's create op was recorded before tracing started.
    drop(rec.drain());
    let tid = common::gettid();

    let tracer = EbpfTracer::attach_engine(EngineTarget::this_process().unwrap()).unwrap();
    let buf = vec![0x5au8; 3 * 4096];
    fs.write(ino, 100, &buf[..200]).unwrap(); // inside one folio
    fs.write(ino, 4000, &buf[..5000]).unwrap(); // across folios
    fs.write(ino, 40_000, &buf[..4096]).unwrap(); // extends past a hole
    fs.truncate(ino, 20_000).unwrap();
    fs.punch_hole(ino, 4096, 8192).unwrap();
    fs.fsync(ino).unwrap();
    let (ebpf, stats) = tracer.stop();

    let recorded = rec.drain();
    let mine = |v: &[Event]| -> Vec<_> { v.iter().filter(|e| e.tid == tid).map(key).collect() };
    let mut ebpf = ebpf;
    ebpf.sort_by_key(|e| e.ts_ns);
    let (from_ebpf, from_rec) = (mine(&ebpf), mine(&recorded));
    assert_eq!(stats.lost, 0, "{stats:?}");
    assert_eq!(
        stats.attached,
        lockline_engine::probe::points::SYMBOLS.len()
    );
    assert!(from_rec.len() > 50, "too few events: {}", from_rec.len());
    // Folio identities come through the stack-passed seventh argument.
    assert!(
        from_rec.iter().any(|k| k.6 != 0),
        "no folio identity in the events"
    );
    if from_ebpf != from_rec {
        let first = from_ebpf.iter().zip(&from_rec).position(|(a, b)| a != b);
        panic!(
            "sequences differ: ebpf {} events, recorder {}, first difference at {first:?}: {:?} vs {:?}",
            from_ebpf.len(),
            from_rec.len(),
            first.map(|i| from_ebpf[i]),
            first.map(|i| from_rec[i]),
        );
    }
    // Both clocks are CLOCK_MONOTONIC: the eBPF stamp follows the
    // recorder's (taken just before the probe call) within a millisecond.
    let rec_mine: Vec<_> = recorded.iter().filter(|e| e.tid == tid).collect();
    let eb_mine: Vec<_> = ebpf.iter().filter(|e| e.tid == tid).collect();
    for (r, b) in rec_mine.iter().zip(&eb_mine) {
        assert!(
            b.ts_ns >= r.ts_ns && b.ts_ns - r.ts_ns < 1_000_000,
            "{r:?} {b:?}"
        );
    }
    fs.unmount().unwrap();
}

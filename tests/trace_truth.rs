//! Traces obey the lock rules they depict: runs from every source (the
//! in-process recorder on each build with a busy mm, eBPF uprobes, kernel
//! ext4 through eBPF tracepoints) leave traces on which analyze's
//! consistency check finds nothing; op ids are a key of the ops table;
//! folio identities tell migration's old and new folio apart and come
//! through Parquet, CSV and Chrome JSON; threads are named by the engine.

mod common;
use common::*;
use lockline_analysis::consistency;
use lockline_analysis::Trace;
use lockline_engine::probe::{EventKind, MmAction};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

/// Four writers and a busy mm: migration, compaction, reclaim, writeback
/// and short copies.
const BUSY_MM: [&str; 19] = [
    "--threads",
    "4",
    "--ops",
    "600",
    "--file-size",
    "4M",
    "--seed",
    "11",
    "--migration-us",
    "50",
    "--compaction-ms",
    "5",
    "--reclaim",
    "2M",
    "--writeback-ms",
    "5",
    "--short-copy-rate",
    "0.05",
    "--json",
];

/// `lockline run` with a busy mm, traced by `probe`, into `dir/<name>`.
fn run(dir: &Path, name: &str, build: &str, probe: &str, workload: &str) -> PathBuf {
    let trace = dir.join(name);
    let img = dir.join(format!("{name}.img"));
    let o = run_traced(&img, build, workload, &BUSY_MM, probe, &trace);
    assert_ok(&o);
    trace
}

fn read(trace: &Path) -> Trace {
    lockline_store::read(trace).unwrap_or_else(|e| panic!("{}: {e}", trace.display()))
}

/// Every trace: consistent, op ids unique, clock named.
fn truthful(t: &Trace, what: &str) {
    let c = consistency::check(t);
    assert!(
        c.is_clean(),
        "{what}: {}\n{:#?}",
        c.summary_line(t.events.len()),
        &c.findings[..c.findings.len().min(5)]
    );
    let mut seen = HashSet::new();
    for o in &t.ops {
        assert!(seen.insert(o.op), "{what}: op {} appears twice", o.op);
    }
    assert!(!t.meta.clock.is_empty(), "{what}: no clock in meta");
}

/// Engine traces: roles from the engine, stamps' thread on every workload
/// write, a folio identity on every folio and folio-lock event.
fn engine_identities(t: &Trace, what: &str) {
    let names = lockline_analysis::threads::names(&t.events);
    let named: BTreeSet<&str> = names.values().map(String::as_str).collect();
    assert!(named.contains("main"), "{what}: {named:?}");
    for w in 0..4 {
        assert!(
            named.contains(format!("worker {w}").as_str()),
            "{what}: {named:?}"
        );
    }
    assert!(
        named.contains("flusher") && named.contains("migrate"),
        "{what}: {named:?}"
    );
    let main_tid = names.iter().find(|(_, n)| *n == "main").map(|(t, _)| *t);
    for o in t
        .ops
        .iter()
        .filter(|o| Some(o.tid) != main_tid && o.kind.name() == "write")
    {
        assert!(
            o.thread.is_some(),
            "{what}: op {} has no stamp thread",
            o.op
        );
    }
    for e in &t.events {
        let folio_lock = matches!(
            e.kind(),
            Some(EventKind::LockWait | EventKind::LockAcquired | EventKind::LockReleased)
        ) && e.lock_class() == Some(lockline_engine::probe::LockClass::Folio);
        let folio_event = matches!(
            e.kind(),
            Some(
                EventKind::FolioAdded
                    | EventKind::FolioDirtied
                    | EventKind::FolioCleaned
                    | EventKind::FolioMigrated
                    | EventKind::FolioTruncated
                    | EventKind::FolioRemoved
            )
        );
        assert!(!(folio_lock || folio_event) || e.fid != 0, "{what}: {e:?}");
    }
    // A migration leaves two identities at one index.
    let m = t
        .events
        .iter()
        .find(|e| e.kind() == Some(EventKind::FolioMigrated))
        .unwrap_or_else(|| panic!("{what}: no migration"));
    let fids: BTreeSet<u64> = t
        .events
        .iter()
        .filter(|e| e.inode == m.inode && e.folio == m.folio && e.fid != 0)
        .map(|e| e.fid)
        .collect();
    assert!(fids.len() >= 2, "{what}: {fids:?} at index {}", m.folio);
    assert!(fids.contains(&m.fid) && fids.contains(&m.b));
    assert!(t.events.iter().any(
        |e| e.kind() == Some(EventKind::MmAction) && e.class_name() == MmAction::Migrate.name()
    ));
}

#[test]
fn inproc_traces_of_every_build_are_consistent() {
    let dir = tempfile::tempdir().unwrap();
    for build in ["locked", "lockless", "lockless-min"] {
        for workload in ["append-mix", "overlap"] {
            let name = format!("{build}-{workload}");
            let t = read(&run(dir.path(), &name, build, "inproc", workload));
            truthful(&t, &name);
            engine_identities(&t, &name);
            assert_ne!(t.meta.clock, "tsc-unordered");
        }
    }
}

#[test]
fn ebpf_engine_trace_is_consistent() {
    if no_ebpf() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = read(&run(dir.path(), "ebpf", "lockless", "ebpf", "append-mix"));
    assert_eq!(t.meta.probe_source, "ebpf");
    assert_eq!(t.meta.clock, "ktime");
    truthful(&t, "ebpf");
    engine_identities(&t, "ebpf");
}

#[test]
fn kernel_ext4_trace_is_consistent() {
    if !ebpf_ok() || !has_mkfs("ext4") {
        eprintln!("note: skipped: needs root, eBPF and mkfs.ext4");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("ext4");
    assert_ok(&lockline([
        "kernel",
        "--fs",
        "ext4",
        "--workload",
        "overlap",
        "--threads",
        "4",
        "--ops",
        "400",
        "--file-size",
        "4M",
        "--probe",
        "ebpf",
        "--trace",
        &s(&trace),
        "--json",
    ]));
    let t = read(&trace);
    truthful(&t, "ext4");
    assert!(t.meta.clock.ends_with("+ktime"), "{}", t.meta.clock);
    let names = lockline_analysis::threads::names(&t.events);
    assert!(names.values().any(|n| n == "worker 0"), "{names:?}");
}

#[test]
fn identities_survive_csv_and_chrome_exports() {
    let dir = tempfile::tempdir().unwrap();
    let trace = run(dir.path(), "t", "lockless", "inproc", "overlap");
    let t = read(&trace);

    let csv = dir.path().join("csv");
    assert_ok(&export(&trace, "csv", &csv));
    let events = std::fs::read_to_string(csv.join("events.csv")).unwrap();
    let header: Vec<&str> = events.lines().next().unwrap().split(',').collect();
    let fid_col = header.iter().position(|c| *c == "fid").expect("fid column");
    let fids: BTreeSet<u64> = events
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(fid_col)?.parse().ok())
        .collect();
    let want: BTreeSet<u64> = t
        .events
        .iter()
        .filter(|e| e.fid != 0)
        .map(|e| e.fid)
        .collect();
    assert_eq!(fids, want);
    let ops = std::fs::read_to_string(csv.join("ops.csv")).unwrap();
    assert!(ops
        .lines()
        .next()
        .unwrap()
        .split(',')
        .any(|c| c == "thread"));

    let json = dir.path().join("t.json");
    assert_ok(&export(&trace, "chrome", &json));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let with_fid = v["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["args"]["fid"].as_u64().is_some_and(|f| f != 0))
        .count();
    assert!(with_fid > 0);

    // analyze: the consistency verdict first, in text and JSON.
    let o = lockline(["analyze", &s(&trace)]);
    assert_ok(&o);
    let first = o
        .stdout
        .lines()
        .find(|l| l.starts_with("consistent") || l.starts_with("INCONSISTENT"));
    assert!(
        first.is_some_and(|l| l.starts_with("consistent")),
        "{}",
        o.stdout
    );
    let o = lockline(["analyze", &s(&trace), "--json"]);
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(
        v["consistency"]["findings"].as_array().map(Vec::len),
        Some(0)
    );
}

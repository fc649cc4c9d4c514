//! The Chrome trace-event export, parsed back and held to the rules
//! Perfetto relies on: the object form, µs timestamps, properly nested
//! complete slices per thread, matched async begin/end pairs, flows with one
//! start and one finish whose points sit inside a slice of their thread,
//! named threads, numeric counters.

use lockline_analysis::chrome::{write, ChromeOptions};
use lockline_analysis::{synth, Trace, TraceMeta, ViolationRow};
use lockline_engine::{Build, Knobs};
use lockline_harness::session::{quiet_progress, run_session, SessionSpec};
use lockline_harness::workload::{RunSpec, Stop, WorkloadKind};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

fn export(t: &Trace) -> Value {
    let mut buf = Vec::new();
    write(t, &mut buf, &ChromeOptions::default()).unwrap();
    serde_json::from_slice(&buf).expect("valid JSON")
}

fn us(v: &Value) -> f64 {
    v.as_f64().expect("numeric ts/dur")
}

/// Checks every rule; returns the events for test-specific checks.
fn validate(doc: &Value) -> Vec<Value> {
    let evs = doc["traceEvents"]
        .as_array()
        .expect("object form with traceEvents")
        .clone();
    assert!(!evs.is_empty());
    let named: HashSet<u64> = evs
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["tid"].as_u64().unwrap())
        .collect();
    let mut slices: BTreeMap<u64, Vec<(f64, f64)>> = BTreeMap::new();
    let mut open: HashMap<(String, String, String), f64> = HashMap::new();
    let mut flows: HashMap<u64, Vec<(String, f64, u64)>> = HashMap::new();
    for e in &evs {
        let ph = e["ph"].as_str().unwrap();
        if ph != "M" && ph != "C" && !(ph == "i" && e["s"] == "g") {
            let tid = e["tid"].as_u64().unwrap();
            assert!(named.contains(&tid), "tid {tid} has no thread_name: {e}");
        }
        match ph {
            "X" => {
                let (ts, dur) = (us(&e["ts"]), us(&e["dur"]));
                assert!(dur >= 0.0 && ts >= 0.0, "{e}");
                slices
                    .entry(e["tid"].as_u64().unwrap())
                    .or_default()
                    .push((ts, ts + dur));
            }
            "b" | "e" => {
                let key = (
                    e["cat"].as_str().unwrap().to_string(),
                    e["id"].as_str().unwrap().to_string(),
                    e["name"].as_str().unwrap().to_string(),
                );
                if ph == "b" {
                    assert!(open.insert(key, us(&e["ts"])).is_none(), "id reused: {e}");
                } else {
                    let b = open
                        .remove(&key)
                        .unwrap_or_else(|| panic!("e without b: {e}"));
                    assert!(us(&e["ts"]) >= b, "{e}");
                }
            }
            "s" | "t" | "f" => {
                if ph == "f" {
                    assert_eq!(e["bp"], "e");
                }
                flows.entry(e["id"].as_u64().unwrap()).or_default().push((
                    ph.into(),
                    us(&e["ts"]),
                    e["tid"].as_u64().unwrap(),
                ));
            }
            "C" => assert!(e["args"]["value"].is_number(), "{e}"),
            "i" | "M" => {}
            other => panic!("unexpected phase {other}"),
        }
    }
    assert!(open.is_empty(), "{} async slices never ended", open.len());
    // Complete slices nest per thread: sorted by start (longer first), each
    // ends inside every slice it starts in.
    for (tid, v) in &mut slices {
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        let mut stack: Vec<(f64, f64)> = Vec::new();
        for &(s, e) in v.iter() {
            while stack
                .last()
                .is_some_and(|t| t.1 <= s && !(t.0 == s && t.1 == s))
            {
                stack.pop();
            }
            if let Some(top) = stack.last() {
                assert!(
                    e <= top.1 + 1e-9,
                    "tid {tid}: [{s}, {e}] overlaps [{}, {}]",
                    top.0,
                    top.1
                );
            }
            stack.push((s, e));
        }
    }
    for (id, pts) in &flows {
        let phs: Vec<&str> = pts.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(
            phs.iter().filter(|p| **p == "s").count(),
            1,
            "flow {id}: {phs:?}"
        );
        assert_eq!(
            phs.iter().filter(|p| **p == "f").count(),
            1,
            "flow {id}: {phs:?}"
        );
        assert_eq!(phs[0], "s");
        assert_eq!(*phs.last().unwrap(), "f");
        assert!(
            pts.windows(2).all(|w| w[0].1 <= w[1].1),
            "flow {id} goes back in time"
        );
        for (ph, ts, tid) in pts {
            let inside = slices
                .get(tid)
                .is_some_and(|v| v.iter().any(|(s, e)| s <= ts && ts <= e));
            assert!(inside, "flow {id} {ph} at {ts} on tid {tid} is in no slice");
        }
    }
    evs
}

#[test]
fn synthetic_trace_follows_the_rules() {
    let mut t = synth::generate(50_000, 3, 4);
    let (a, b) = (t.ops[10].op, t.ops[11].op);
    t.meta.final_check = "after-remount".into();
    t.violations.push(ViolationRow {
        id: 0,
        round: 0,
        check: "after-remount".into(),
        class: "dropped".into(),
        ino: synth::INO,
        first_sector: 8,
        nr_sectors: 8,
        folio_index: 1,
        folio_first: Some(0),
        folio_order: Some(4),
        ops: vec![a, b],
        explanation: "op \"x\" lost".into(),
    });
    let doc = export(&t);
    let evs = validate(&doc);
    // Microseconds from the first event: the first op begins at 0.
    let first = &t.events[0];
    let op0 = evs
        .iter()
        .find(|e| e["ph"] == "X" && e["cat"] == "op" && e["args"]["op"] == t.ops[0].op)
        .unwrap();
    assert_eq!(
        us(&op0["ts"]),
        (t.ops[0].begin_ns - first.ts_ns) as f64 / 1000.0
    );
    let v = evs
        .iter()
        .find(|e| e["cat"] == "violation")
        .expect("violation instant");
    assert_eq!(v["s"], "g");
    assert!(evs.iter().any(|e| e["ph"] == "s"), "no flows");
    assert!(evs
        .iter()
        .any(|e| e["ph"] == "C" && e["name"] == "dirty_folios"));
    assert_eq!(doc["otherData"]["build"], "synthetic");
}

#[test]
fn engine_trace_follows_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunSpec {
        workload: WorkloadKind::QemuSnapshot,
        threads: 3,
        stop: Stop::Ops(300),
        seed: 3,
        file: "/q".into(),
        file_size: 8 << 20,
        write_size: 65536,
        readers: 0,
    };
    let knobs = Knobs {
        writeback_interval_ms: 5,
        migration_interval_us: 500,
        ..Knobs::default()
    };
    let mut s = SessionSpec::new(dir.path().join("d.img"), Build::Lockless, knobs, run);
    s.mkfs = Some(128 << 20);
    let (report, events) = run_session(&s, &quiet_progress()).unwrap();
    let t = Trace::from_run(TraceMeta::default(), events, &report.summary.checks, vec![]);
    let evs = validate(&export(&t));
    assert!(evs.iter().any(|e| e["ph"] == "b" && e["cat"] == "lock"));
    assert!(
        evs.iter().any(|e| e["ph"] == "f"),
        "no write reached disk through a flow"
    );
}

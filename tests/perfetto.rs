//! `export --format perfetto`: Perfetto's protobuf trace of a run with
//! violations, decoded by the PyPI `perfetto` package's own classes and
//! checked for structure (scripts/check_perfetto.py), smaller than the
//! Chrome JSON of the same trace; and who blocked whom on every build:
//! hand-offs found, no lock-order cycle.

mod common;
use common::*;
use lockline_analysis::blocked_by::blocked_by;
use lockline_analysis::{holds_from_events, threads};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether Python can decode Perfetto traces (under CI=true it must:
/// scripts/test.sh installs the package).
fn have_perfetto_py() -> bool {
    let ok = Command::new("python3")
        .args([
            "-c",
            "from perfetto.protos.perfetto.trace import perfetto_trace_pb2",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").is_err(),
            "CI installs perfetto and protobuf (scripts/test.sh)"
        );
        eprintln!("note: skipping: python3 cannot import perfetto");
    }
    ok
}

/// A traced run of the planted migration bug that found violations.
fn planted_trace(dir: &Path) -> PathBuf {
    for seed in ["1", "2", "3", "4", "5", "6"] {
        let trace = dir.join(format!("planted-{seed}"));
        let more = [
            "--threads",
            "4",
            "--ops",
            "400",
            "--file-size",
            "4M",
            "--seed",
            seed,
            "--migration-us",
            "10",
            "--inject",
            "migrate-without-folio-lock",
            "--json",
        ];
        let o = run_traced(
            &dir.join(format!("p{seed}.img")),
            "locked",
            "overlap",
            &more,
            "inproc",
            &trace,
        );
        let v: serde_json::Value =
            serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("run --json: {e}: {o:?}"));
        let found: u64 = v["violations"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        if found > 0 {
            return trace;
        }
    }
    panic!("the planted migration bug found nothing in six seeds");
}

#[test]
fn perfetto_export_decodes_nests_and_is_smaller_than_chrome() {
    let dir = tempfile::tempdir().unwrap();
    let trace = planted_trace(dir.path());
    assert_summary_matches_violations(&trace);
    let chrome = dir.path().join("t.json");
    let pb = dir.path().join("t.pftrace");
    assert_ok(&export(&trace, "chrome", &chrome));
    let o = export(&trace, "perfetto", &pb);
    assert_ok(&o);
    assert!(o.stdout.contains("lock hand-offs"), "{}", o.stdout);
    let (cb, pbb) = (
        std::fs::metadata(&chrome).unwrap().len(),
        std::fs::metadata(&pb).unwrap().len(),
    );
    assert!(
        pbb * 10 <= cb * 3,
        "perfetto {pbb} bytes is more than 0.3x chrome's {cb}"
    );
    let gz = dir.path().join("t.pftrace.gz");
    assert_ok(&lockline([
        "export",
        &s(&trace),
        "--format",
        "perfetto",
        "--out",
        &s(&gz),
        "--gzip",
    ]));
    assert!(std::fs::metadata(&gz).unwrap().len() < pbb);

    // What the file must hold, from the trace itself.
    let t = lockline_store::read(&trace).unwrap();
    let holds = holds_from_events(&t.events);
    let b = blocked_by(&holds);
    let names = threads::names(&t.events);
    let mut tids: Vec<u32> = t.events.iter().map(|e| e.tid).collect();
    tids.extend(t.ops.iter().map(|o| o.tid));
    tids.sort_unstable();
    tids.dedup();
    let threads: serde_json::Map<String, serde_json::Value> = tids
        .iter()
        .map(|tid| {
            let n = names
                .get(tid)
                .cloned()
                .unwrap_or_else(|| format!("tid {tid}"));
            (tid.to_string(), n.into())
        })
        .collect();
    let handoffs = b.waits.iter().filter(|w| w.handoff.is_some()).count();
    assert!(handoffs > 0, "four writers on one file never waited");
    let expect = serde_json::json!({
        "threads": threads,
        "ops": t.ops.len(),
        "holds": holds.len(),
        "waits": b.waits.len(),
        "handoffs": handoffs,
        "violations": t.final_violations().count(),
    });
    let ej = dir.path().join("expect.json");
    std::fs::write(&ej, expect.to_string()).unwrap();
    if !have_perfetto_py() {
        return;
    }
    for f in [&pb, &gz] {
        let out = Command::new("python3")
            .args(["scripts/check_perfetto.py", &s(f), &s(&ej)])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{}: {text}", f.display());
    }
}

#[test]
fn every_build_hands_locks_over_with_no_lock_order_cycle() {
    let dir = tempfile::tempdir().unwrap();
    for build in ["locked", "lockless", "lockless-min"] {
        let trace = dir.path().join(build);
        let more = [
            "--threads",
            "4",
            "--ops",
            "400",
            "--file-size",
            "4M",
            "--migration-us",
            "200",
            "--writeback-ms",
            "1",
        ];
        let img = dir.path().join(format!("{build}.img"));
        assert_ok(&run_traced(&img, build, "overlap", &more, "inproc", &trace));
        let o = lockline(["analyze", &s(&trace), "--json"]);
        assert_ok(&o);
        let a: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        let lint = a["lints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "lock-order-cycle")
            .expect("the lint is listed");
        assert_eq!(lint["findings"], 0, "{build}: {lint}");
        let b = &a["blocked_by"];
        assert!(b["waits"].as_u64().unwrap() > 0, "{build}: no waits");
        assert!(
            b["handed_off"].as_u64().unwrap() > 0,
            "{build}: no hand-off"
        );
        let text = lockline(["analyze", &s(&trace)]).stdout;
        assert!(text.contains("who blocked whom:"), "{text}");
        assert!(text.contains(", held by "), "{text}");
    }
}

#[test]
fn gzip_of_a_table_directory_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = lockline([
        "export",
        &s(&dir.path().join("t")),
        "--format",
        "csv",
        "--out",
        &s(&dir.path().join("out")),
        "--gzip",
    ]);
    assert_error(&o, &[2]);
    assert!(o.stderr.contains("--gzip"), "{o:?}");
}

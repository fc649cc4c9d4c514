//! `lockline explore` and `lockline replay` as a user runs them: a planted
//! bug found, its trace written and read back by analyze, the id replayed
//! against that trace, minimized; shards merged; bad input refused in one
//! line.

mod common;
use common::{assert_clap_usage, assert_error, assert_summary_matches_violations, lockline, s};

const PLANTED: [&str; 12] = [
    "explore",
    "--build",
    "locked",
    "--workload",
    "overlap",
    "--threads",
    "2",
    "--ops-per-round",
    "4",
    "--inject",
    "migrate-without-folio-lock",
    "--schedules",
];

fn id_of(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("id:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no id line in:\n{stdout}"))
}

#[test]
fn explore_finds_the_planted_bug_and_replay_reproduces_it() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("found");
    let mut args: Vec<String> = PLANTED.iter().map(|a| a.to_string()).collect();
    args.extend(["200".into(), "--trace".into(), s(&trace)]);
    let o = lockline(&args);
    assert_eq!(o.code, 1, "a violation exits 1: {o:?}");
    assert!(o.stdout.contains("violating schedule"), "{o:?}");
    assert!(o.stdout.contains("dropped"), "{o:?}");
    let id = id_of(&o.stdout);
    assert!(id.starts_with("v1/locked/overlap/"), "{id}");

    // The trace is a real trace: its summary counts what its violations
    // table holds, and analyze reads it and sees the violation.
    assert_summary_matches_violations(&trace);
    let a = lockline(["analyze", &s(&trace)]);
    assert!(a.code == 0 || a.code == 1, "{a:?}");
    assert!(a.stdout.contains("dropped"), "{a:?}");

    // Replayed against that trace: the same events and verdict.
    let r = lockline(["replay", &id, "--trace", &s(&trace)]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("identical to the"), "{r:?}");

    // Minimized: a readable list of steps, the minimal schedule still loses.
    let m = lockline(["replay", &id, "--minimize", "--json"]);
    assert_eq!(m.code, 1, "{m:?}");
    let v: serde_json::Value = serde_json::from_str(&m.stdout).unwrap();
    assert_eq!(v["identical"], true, "{m:?}");
    let min = &v["minimized"];
    let minimal = min["schedule"].as_str().unwrap().to_string();
    assert!(minimal.contains("/explicit:"), "{minimal}");
    assert!(!min["steps"].as_array().unwrap().is_empty(), "{m:?}");
    let again = lockline(["replay", &minimal, "--json"]);
    assert_eq!(again.code, 1, "the minimal schedule still loses: {again:?}");

    // A trace of another schedule is refused in one line.
    let other = lockline([
        "replay",
        &minimal.replace("/locked/", "/lockless/"),
        "--trace",
        &s(&trace),
    ]);
    assert_error(&other, &[2]);
    assert!(other.stderr.contains("locked"), "{other:?}");
}

#[test]
fn shards_merge_into_one_report() {
    let dir = tempfile::tempdir().unwrap();
    for k in 1..=2 {
        let mut args: Vec<String> = PLANTED.iter().map(|a| a.to_string()).collect();
        args.extend([
            "12".into(),
            "--all".into(),
            "--json".into(),
            "--shard".into(),
            format!("{k}/2"),
            "--trace".into(),
            s(&dir.path().join(format!("t{k}"))),
        ]);
        let o = lockline(&args);
        assert!(o.code == 0 || o.code == 1, "{o:?}");
        std::fs::write(dir.path().join(format!("shard-{k}.json")), &o.stdout).unwrap();
    }
    let m = lockline(["explore", "--merge", &s(dir.path()), "--json"]);
    assert!(m.code == 0 || m.code == 1, "{m:?}");
    let v: serde_json::Value = serde_json::from_str(&m.stdout).unwrap();
    assert_eq!(v["schedules"], 24, "{m:?}");
    assert_eq!(v["shards"], serde_json::json!(["1/2", "2/2"]), "{m:?}");

    // One shard alone: merged, with a note on what is missing.
    let one = lockline(["explore", "--merge", &s(&dir.path().join("shard-1.json"))]);
    assert!(one.stderr.contains("2/2"), "{one:?}");
    // The same shard twice is refused.
    let f = s(&dir.path().join("shard-1.json"));
    assert_error(&lockline(["explore", "--merge", &f, &f]), &[2]);
    // Counts that overflow when added are refused, not wrapped (found by
    // fuzz/fuzz_targets/report_merge.rs: a debug build panicked).
    let huge = dir.path().join("huge");
    std::fs::create_dir(&huge).unwrap();
    for k in 1..=2 {
        let text = std::fs::read_to_string(dir.path().join(format!("shard-{k}.json"))).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["schedules"] = serde_json::json!(u64::MAX - 1);
        std::fs::write(huge.join(format!("shard-{k}.json")), v.to_string()).unwrap();
    }
    let o = lockline(["explore", "--merge", &s(&huge)]);
    assert_error(&o, &[2]);
    assert!(o.stderr.contains("overflow"), "{o:?}");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for id in [
        "nonsense",
        "v2/locked/overlap/t2/k4/w1/e1/random:s1",
        "v1/locked/overlap/t2/k4/w1/e1/zigzag:s1",
        "v1/locked/nope/t2/k4/w1/e1/random:s1",
        "v1/locked/overlap/t99/k4/w1/e1/random:s1",
    ] {
        assert_error(&lockline(["replay", id]), &[2]);
    }
    assert_clap_usage(&lockline(["explore", "--shard", "3/2", "--schedules", "1"]));
    assert_error(
        &lockline(["explore", "--threads", "0", "--schedules", "1"]),
        &[2],
    );
    assert_error(
        &lockline(["explore", "--inject", "nope", "--schedules", "1"]),
        &[2],
    );
    assert_clap_usage(&lockline(["explore", "--strategy", "dfs"]));
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{}").unwrap();
    assert_error(&lockline(["explore", "--merge", &s(&junk)]), &[2]);
    // A scratch disk path that holds something is never formatted.
    let o = lockline(["explore", "--disk", &s(&junk), "--schedules", "1"]);
    assert_error(&o, &[2]);
    assert_eq!(std::fs::read_to_string(&junk).unwrap(), "{}");
    // One that does not exist is made, used and removed.
    let img = dir.path().join("scratch.img");
    let o = lockline([
        "explore",
        "--disk",
        &s(&img),
        "--schedules",
        "2",
        "--build",
        "locked",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!img.exists());
    // Ids out of range are refused before anything runs.
    assert_error(
        &lockline([
            "replay",
            "v1/locked/overlap/t2/k4/w1/e1/pct:d4000000000:h9:s1",
        ]),
        &[2],
    );
}

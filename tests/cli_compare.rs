//! `lockline compare` through the real binary: each build's losses show in
//! its own column only (lockless-min's torn writes, lockless's lost writes
//! under allocation failures, none for locked), the JSON and the --out
//! files, and bad input as one line with exit 2 before any disk is made.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

/// `compare --json ARGS` (on a 128 MiB disk unless ARGS say), parsed.
fn compare_json(args: &[&str]) -> Value {
    let mut all = vec!["compare", "--json"];
    if !args.contains(&"--size") {
        all.extend(["--size", "128M"]);
    }
    all.extend_from_slice(args);
    let o = lockline(&all);
    assert_ok(&o);
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {o:?}"))
}

fn col<'a>(v: &'a Value, name: &str) -> &'a Value {
    let c = &v["columns"][name];
    assert!(c.is_object(), "no column {name}: {v}");
    c
}

/// A JSON array of strings.
fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect()
}

fn sectors(c: &Value, class: &str) -> u64 {
    c["violations"][class].as_u64().unwrap()
}

fn total(c: &Value) -> u64 {
    ["dropped", "stale", "torn"]
        .iter()
        .map(|k| sectors(c, k))
        .sum()
}

/// `compare --json ARGS --seed S` for each seed until the column `lost.0`
/// loses sectors of class `lost.1`; locked loses none in any, and `each`
/// holds of each.
fn hunt(
    seeds: &[impl AsRef<str>],
    args: &[&str],
    lost: (&str, &str),
    each: impl Fn(&Value),
) -> Option<Value> {
    for seed in seeds {
        let seed = seed.as_ref();
        let v = compare_json(&[args, &["--seed", seed]].concat());
        let locked = col(&v, "locked");
        assert_eq!(total(locked), 0, "locked lost data (seed {seed}): {locked}");
        each(&v);
        if sectors(col(&v, lost.0), lost.1) > 0 {
            return Some(v);
        }
    }
    None
}

/// lockless-min tears only when a write needs several passes: short copies
/// split writes, and a writer waiting on one of their folio locks runs in
/// the gap (as tests/trace_cli.rs hunts it with `run`). The same seeded
/// rounds on locked stay clean.
#[test]
fn lockless_min_tears_and_locked_does_not() {
    let args = [
        &["--builds", "locked,lockless-min", "--workload", "overlap"][..],
        &TEAR_HUNT,
        &["--repeat", "1"],
    ]
    .concat();
    let v = hunt(&TEAR_SEEDS, &args, ("lockless-min", "torn"), |v| {
        assert_eq!(col(v, "locked")["rounds_with_violations"], 0);
        let min = col(v, "lockless-min");
        assert_eq!(min["rounds"], 10, "{min}");
    })
    .expect("lockless-min tore nothing in 40 rounds");
    let min = col(&v, "lockless-min");
    assert!(min["rounds_with"]["torn"].as_u64().unwrap() > 0, "{min}");
    let verdicts = strings(&v["verdicts"]);
    assert!(
        verdicts.iter().any(|l| l.starts_with("lockless-min: ")
            && l.contains("locked throughput")
            && l.contains("torn writes in ")),
        "{verdicts:?}"
    );
    assert!(
        verdicts
            .iter()
            .any(|l| l.starts_with("locked: baseline; no violations in 10 rounds")),
        "{verdicts:?}"
    );
    // One repetition: nothing can be told from noise, and it says so.
    let t = &min["vs_baseline"]["throughput"];
    assert_eq!(t["within_noise"], true, "{t}");
    assert!(t["note"].as_str().unwrap().contains("no test"), "{t}");
}

/// With a fifth of folio allocations failing, lockless's non-extending
/// writers leave their pass early without the inode lock and truncate the
/// page cache under an extending writer (ARCHITECTURE.md): acknowledged
/// writes drop. locked runs the same cleanup under the inode lock.
#[test]
fn lockless_loses_writes_under_allocation_failures_and_locked_does_not() {
    let args = [
        "--builds",
        "locked,lockless",
        "--workload",
        "claim-mix",
        "--threads",
        "4",
        "--rounds",
        "8",
        "--round-ops",
        "300",
        "--file-size",
        "4M",
        "--alloc-fail-rate",
        "0.2",
        "--repeat",
        "1",
    ];
    // A round drops about one time in six on an idle machine (14 of 80)
    // but one in thirteen with both cores busy (6 of 80), as the suite
    // keeps them: 40 rounds missed about once in 25 runs (and did, in CI).
    // 160 rounds miss once in 10^5; the hunt ends at the first drop.
    let seeds: Vec<String> = (0..20).map(|i| (1 + 20 * i).to_string()).collect();
    let v = hunt(&seeds, &args, ("lockless", "dropped"), |_| {})
        .expect("lockless dropped no write in 160 rounds at 20% allocation failures");
    let l = col(&v, "lockless");
    assert!(l["rounds_with"]["dropped"].as_u64().unwrap() > 0, "{l}");
    assert!(l["first_violation"]["repetitions"].as_u64().unwrap() == 1);
    let verdict = l["verdict"].as_str().unwrap();
    assert!(verdict.contains("lost writes in "), "{verdict}");
    assert!(verdict.contains("(first after "), "{verdict}");
    // The engine's counters reach the table: lockless restarts writes.
    assert!(l["restarts"].as_u64().is_some(), "{l}");
    assert!(l["need_inode_lock"].as_u64().is_some(), "{l}");
}

fn is_png(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n") && b.len() > 1000)
}

/// --out: the table as markdown, the JSON, each build's last trace and the
/// plots; --json: one object with a key per build, its repetitions and
/// the statistics' method.
#[test]
fn out_writes_table_json_traces_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let v = compare_json(&[
        "--builds",
        "locked,lockless",
        "--workload",
        "overlap",
        "--threads",
        "2",
        "--rounds",
        "2",
        "--round-ops",
        "40",
        "--file-size",
        "4M",
        "--repeat",
        "2",
        "--out",
        &s(&out),
    ]);
    assert_eq!(v["order"], serde_json::json!(["locked", "lockless"]));
    assert_eq!(v["baseline"], "locked");
    assert_eq!(v["repeat"], 2);
    assert!(
        v["method"].as_str().unwrap().contains("Mann-Whitney"),
        "{v}"
    );
    for b in ["locked", "lockless"] {
        let c = col(&v, b);
        assert_eq!(c["repetitions"], 2, "{c}");
        assert_eq!(c["per_repetition"].as_array().unwrap().len(), 2);
        assert_eq!(c["rounds"], 4);
        assert!(
            c["throughput_mib_s"]["median"].as_f64().unwrap() > 0.0,
            "{c}"
        );
        assert!(c["latency"]["write"]["ops"].as_u64().unwrap() > 0, "{c}");
        assert!(c["locks"].as_array().unwrap().len() >= 3, "{c}");
        assert!(c["lints"].is_object());
    }
    assert!(col(&v, "locked")["vs_baseline"].is_null());
    assert!(col(&v, "lockless")["vs_baseline"]["throughput"]["ratio"].is_number());

    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.contains("| | locked | lockless |"), "{md}");
    assert!(md.contains("## Verdicts"), "{md}");
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(j["order"], v["order"]);
    for b in ["locked", "lockless"] {
        let t = lockline_store::read(&out.join("traces").join(b)).unwrap();
        assert_eq!(t.meta.build, b);
        assert!(!t.ops.is_empty());
    }
    for p in ["throughput", "latency_cdf", "locks", "violations"] {
        let png = out.join("plots").join(format!("compare_{p}.png"));
        assert!(is_png(&png), "{} is not a PNG", png.display());
        assert!(out.join("plots").join(format!("compare_{p}.svg")).is_file());
    }
    let files = strings(&v["files"]);
    assert!(
        files.contains(&"compare.md") && files.contains(&"traces/lockless"),
        "{files:?}"
    );

    // Text: one table, a verdict per build.
    let o = lockline([
        "compare",
        "--builds",
        "locked,lockless",
        "--workload",
        "disjoint",
        "--threads",
        "2",
        "--rounds",
        "1",
        "--round-ops",
        "40",
        "--file-size",
        "4M",
        "--size",
        "128M",
        "--repeat",
        "1",
    ]);
    assert_ok(&o);
    assert!(
        o.stdout
            .starts_with("compare: disjoint on locked, lockless"),
        "{o:?}"
    );
    for needle in [
        "throughput, MiB/s",
        "write p99",
        "need-inode-lock fallbacks",
        "rounds with violations",
        "locked: baseline; no violations in 1 round",
        "lockless: ",
        "within noise: 1 repetition < 3: no test",
        "statistics: two-sided Mann-Whitney U",
    ] {
        assert!(o.stdout.contains(needle), "{needle}: {o:?}");
    }
}

/// Everything wrong with the input is one line and exit 2, before any disk
/// is formatted (the --disk image stays as it was).
#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let disk = d.join("d.img");
    std::fs::write(&disk, b"not a disk").unwrap();
    let file = d.join("file");
    std::fs::write(&file, b"x").unwrap();
    let base = |disk: &Path, extra: &[&str]| {
        let mut v: Vec<String> = [
            "compare",
            "--workload",
            "overlap",
            "--rounds",
            "1",
            "--disk",
            &s(disk),
            "--size",
            "128M",
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        v.extend(extra.iter().map(|x| x.to_string()));
        v
    };
    for (extra, needle) in [
        (vec!["--builds", "locked,nope"], "unknown build 'nope'"),
        (vec!["--builds", ""], "--builds is empty"),
        (vec!["--builds", "locked,,lockless"], "empty entry"),
        (vec!["--builds", "locked,locked"], "twice"),
        (vec!["--repeat", "0"], "--repeat"),
        (vec!["--out", &s(&file)], "is not a directory"),
        (
            vec!["--out", &s(&d.join("missing").join("out"))],
            "does not exist",
        ),
        (vec!["--inject", "no-such-bug"], "unknown injected bug"),
        (vec!["--short-copy-rate", "3"], "short"),
        (vec!["--kernel", "zfs"], "unknown file system 'zfs'"),
        (vec!["--round-ops", "0"], "--round-ops"),
        (vec!["--threads", "0"], "thread"),
    ] {
        let o = lockline(base(&disk, &extra));
        assert_error(&o, &[2]);
        assert!(o.stderr.contains(needle), "{needle}: {o:?}");
        assert_eq!(std::fs::read(&disk).unwrap(), b"not a disk", "{o:?}");
    }
    // An --out that cannot be written to (a read-only bind would be truer;
    // /proc refuses files even to root).
    let o = lockline(base(&disk, &["--out", "/proc/self"]));
    assert_error(&o, &[2]);
    // A disk that looks in use is refused without --force, as run --mkfs.
    let ext4 = d.join("ext4.img");
    let mut head = vec![0u8; 4096];
    head[1080] = 0x53;
    head[1081] = 0xef;
    std::fs::write(&ext4, &head).unwrap();
    let o = lockline(base(&ext4, &[]));
    assert_error(&o, &[2]);
    assert!(o.stderr.contains("ext2/3/4"), "{o:?}");
    // Unknown flags are clap's (exit 2 with its usage text).
    assert_clap_usage(&lockline([
        "compare",
        "--workload",
        "overlap",
        "--no-such-knob",
        "1",
    ]));
}

/// Ctrl-C ends the current round's workload, its checks still run, and
/// the table of what finished prints before exit 130.
#[test]
fn ctrl_c_prints_what_finished_and_exits_130() {
    use std::time::Duration;
    let stdout = ctrl_c(
        [
            "compare",
            "--builds",
            "locked,lockless",
            "--workload",
            "overlap",
            "--threads",
            "2",
            "--file-size",
            "4M",
            "--size",
            "128M",
            "--rounds",
            "100000",
            "--round-ops",
            "50",
            "--repeat",
            "3",
        ],
        Duration::from_millis(3000),
        Duration::from_secs(60),
    );
    assert!(
        stdout.starts_with("compare: overlap on locked, lockless")
            && stdout.contains("(interrupted)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("interrupted: repetitions finished per column: locked 1"),
        "{stdout}"
    );
    assert!(stdout.contains("locked: baseline; "), "{stdout}");
}

/// --kernel ext4 adds a column of the same rounds on a kernel file system
/// (a `lockline kernel` run per round); a file system whose mkfs is
/// missing is skipped with a note. Root only.
#[test]
fn kernel_columns_run_the_same_rounds() {
    if !(is_root() && has_mkfs("ext4")) {
        eprintln!("note: skipping: needs root and mkfs.ext4");
        return;
    }
    let have_xfs = has_mkfs("xfs");
    let v = compare_json(&[
        "--builds",
        "locked",
        "--kernel",
        "ext4,xfs",
        "--workload",
        "overlap",
        "--threads",
        "2",
        "--rounds",
        "2",
        "--round-ops",
        "30",
        "--file-size",
        "4M",
        "--repeat",
        "1",
        "--size",
        "512M",
    ]);
    let k = col(&v, "kernel-ext4");
    assert_eq!(k["kind"], "kernel");
    assert_eq!(k["rounds"], 2, "{k}");
    assert_eq!(k["latency"]["write"]["ops"], 60, "{k}");
    assert!(k["restarts"].is_null(), "{k}");
    assert_eq!(total(k), 0, "ext4 lost data: {k}");
    if !have_xfs {
        let notes = v["notes"].to_string();
        assert!(
            notes.contains("kernel-xfs column skipped: mkfs.xfs not found"),
            "{notes}"
        );
        assert!(v["columns"]["kernel-xfs"].is_null());
    }
}

//! `lockline sweep` through the real binary: the matrix's shape and
//! intervals on two knobs, and its refusals.

mod common;
use common::*;

#[test]
fn sweep_of_two_knobs_gives_a_matrix_with_wilson_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let o = lockline([
        "sweep",
        "--build",
        "lockless-min",
        "--workload",
        "overlap",
        "--knob",
        "short-copy-rate=0,0.5",
        "--knob",
        "large-folios=on,off",
        "--rounds",
        "4",
        "--round-ops",
        "300",
        "--file-size",
        "4M",
        "--threads",
        "4",
        "--json",
        "--out",
        &s(dir.path()),
    ]);
    assert_ok(&o);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("one JSON object");
    assert_eq!(
        v["knobs"],
        serde_json::json!(["short-copy-rate", "large-folios"])
    );
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4);
    // The last knob varies fastest.
    let vals: Vec<_> = cells.iter().map(|c| c["values"].clone()).collect();
    assert_eq!(vals[0], serde_json::json!(["0", "on"]));
    assert_eq!(vals[1], serde_json::json!(["0", "off"]));
    assert_eq!(vals[3], serde_json::json!(["0.5", "off"]));
    for c in cells {
        let r = &c["rate"];
        let (k, n) = (r["k"].as_u64().unwrap(), r["n"].as_u64().unwrap());
        assert_eq!(n + c["suspect_rounds"].as_u64().unwrap(), 4, "{c}");
        assert!(k <= n);
        let (p, lo, hi) = (
            r["p"].as_f64().unwrap(),
            r["lo"].as_f64().unwrap(),
            r["hi"].as_f64().unwrap(),
        );
        assert!(0.0 <= lo && lo <= p && p <= hi && hi <= 1.0, "{c}");
        // With four rounds a Wilson interval is wide: never a point.
        assert!(hi - lo > 0.3, "{c}");
    }
    let effects = v["effects"].as_array().unwrap();
    assert_eq!(effects.len(), 2);
    for e in effects {
        // Each knob flipped alone in both contexts of the other.
        assert_eq!(e["flips"].as_array().unwrap().len(), 2, "{e}");
    }
    assert!(dir.path().join("sweep.md").is_file());
    assert!(dir.path().join("sweep.json").is_file());
}

#[test]
fn sweep_refuses_bad_knobs_before_touching_a_disk() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("d.img");
    let base = |extra: &[&str]| {
        let mut a: Vec<String> = [
            "sweep",
            "--build",
            "locked",
            "--workload",
            "overlap",
            "--disk",
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        a.push(s(&img));
        a.extend(extra.iter().map(|x| x.to_string()));
        lockline(a)
    };
    for (args, what) in [
        (&["--knob", "colour=red,blue"][..], "unknown knob"),
        (&["--knob", "reclaim="][..], "no values"),
        (&["--knob", "reclaim"][..], "NAME=V1"),
        (&["--knob", "large-folios=maybe"][..], "on or off"),
        (&["--knob", "short-copy-rate=2"][..], "short"),
        (
            &["--knob", "reclaim=0,4M", "--rounds", "0"][..],
            "at least 1",
        ),
        (
            &["--knob", "reclaim=0", "--knob", "reclaim=4M"][..],
            "twice",
        ),
    ] {
        let o = base(args);
        assert_error(&o, &[2]);
        assert!(o.stderr.contains(what), "{args:?}: {}", o.stderr);
        assert!(!img.exists(), "{args:?} touched the disk");
    }
    // No --knob at all is clap's usage error.
    assert_clap_usage(&lockline([
        "sweep",
        "--build",
        "locked",
        "--workload",
        "overlap",
    ]));
    let o = base(&[
        "--knob",
        "reclaim=0",
        "--out",
        &s(&dir.path().join("no/such")),
    ]);
    assert_error(&o, &[2]);
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let o = base(&["--knob", "reclaim=0", "--out", &s(&file)]);
    assert_error(&o, &[2]);
}

//! `--probe auto|ebpf|inproc` from the command line: as root auto and ebpf
//! trace through eBPF; as nobody (setpriv) ebpf fails in one line and auto
//! falls back to the in-process recorder, saying why.

mod common;
use common::{is_root, no_ebpf, run_args};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// A short locked run on `img`, traced by `probe`, as JSON.
fn probe_run(img: &Path, probe: &str) -> Vec<String> {
    let more = [
        "--ops",
        "50",
        "--threads",
        "2",
        "--file-size",
        "4M",
        "--probe",
        probe,
        "--json",
    ];
    run_args(img, "locked", "overlap", &more)
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{o:?}");
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

fn mkfs(bin: &Path, img: &Path) {
    let o = Command::new(bin)
        .args(["mkfs", img.to_str().unwrap(), "--size", "32M"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
}

#[test]
fn root_traces_with_ebpf() {
    if no_ebpf() {
        return;
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_lockline"));
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("d.img");
    mkfs(bin, &img);
    for probe in ["ebpf", "auto"] {
        let v = json(
            &Command::new(bin)
                .args(probe_run(&img, probe))
                .output()
                .unwrap(),
        );
        assert_eq!(v["probe_source"], "ebpf", "{probe}: {v}");
        assert!(v["probe_reason"]
            .as_str()
            .unwrap()
            .starts_with("probe: ebpf"));
        assert_eq!(v["lost_events"], 0);
        assert!(v["events"].as_u64().unwrap() > 100);
    }
    let v = json(
        &Command::new(bin)
            .args(probe_run(&img, "inproc"))
            .output()
            .unwrap(),
    );
    assert_eq!(v["probe_source"], "inproc");
}

#[test]
fn nobody_gets_a_clear_refusal_or_the_fallback() {
    if !is_root() {
        eprintln!("note: skipped: not root (cannot drop to another user)");
        return;
    }
    // nobody must reach the binary and the image: copy both into a
    // world-readable directory.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let bin = dir.path().join("lockline");
    std::fs::copy(env!("CARGO_BIN_EXE_lockline"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let img = dir.path().join("d.img");
    mkfs(&bin, &img);
    std::fs::set_permissions(&img, std::fs::Permissions::from_mode(0o666)).unwrap();
    let as_nobody = |probe: &str| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(probe_run(&img, probe))
            .output()
    };
    let o = match as_nobody("ebpf") {
        Ok(o) => o,
        Err(e) => {
            eprintln!("note: skipped: setpriv not runnable ({e})");
            return;
        }
    };
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("--probe ebpf") && err.contains("not permitted"),
        "{err}"
    );

    let v = json(&as_nobody("auto").unwrap());
    assert_eq!(v["probe_source"], "inproc");
    let why = v["probe_reason"].as_str().unwrap();
    assert!(
        why.starts_with("probe: inproc (auto: eBPF unavailable"),
        "{why}"
    );
}

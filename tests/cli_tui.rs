//! The UI commands' refusals, through the real binary (no terminal here:
//! what needs one is driven in tmux by scripts/tui_e2e.sh).

mod common;
use common::*;

#[test]
fn tui_without_a_terminal_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = lockline(["tui", &s(dir.path())]);
    assert_error(&o, &[2]);
    assert!(o.stderr.contains("terminal"), "{}", o.stderr);
    // run --tui refuses before it formats anything.
    let img = dir.path().join("d.img");
    let more = ["--mkfs", "--size", "64M", "--rounds", "1", "--tui"];
    let o = lockline(run_args(&img, "locked", "overlap", &more));
    assert_error(&o, &[2]);
    assert!(!img.exists(), "run --tui formatted a disk before refusing");
    let o = lockline(["demo", "--tui", "--seconds", "1"]);
    assert_error(&o, &[2]);
}

#[test]
fn watch_refuses_a_missing_pid_and_a_process_without_probes() {
    let o = lockline(["watch", "--pid", "999999999"]);
    assert_error(&o, &[2]);
    assert!(o.stderr.contains("no process"), "{}", o.stderr);
    // sleep has no probe symbols (or, where BPF is not permitted, a line
    // says so). Either way one line, exit 2.
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let o = lockline(["watch", "--pid", &child.id().to_string()]);
    let _ = child.kill();
    let _ = child.wait();
    assert_error(&o, &[2]);
    assert!(
        o.stderr.contains("lockline_") || o.stderr.contains("eBPF"),
        "{}",
        o.stderr
    );
}

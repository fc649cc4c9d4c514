//! Without privilege, probe_available() refuses with a clear reason: the
//! test re-executes itself as nobody (setpriv) and checks the message.

use std::process::Command;

const CHILD: &str = "LOCKLINE_EBPF_PERMISSION_CHILD";

#[test]
fn unprivileged_probe_is_refused_clearly() {
    if std::env::var_os(CHILD).is_some() {
        // The child: print the verdict for the parent to judge.
        match lockline_ebpf::probe_available() {
            Ok(()) => println!("VERDICT ok"),
            Err(e) => println!("VERDICT err {e}"),
        }
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("note: permission test skipped: not root (cannot drop to another user)");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = match Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&exe)
        .args([
            "--exact",
            "unprivileged_probe_is_refused_clearly",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("note: permission test skipped: setpriv not runnable ({e})");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdict = stdout
        .lines()
        .find_map(|l| l.strip_prefix("VERDICT "))
        .unwrap_or_else(|| {
            panic!(
                "child gave no verdict: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(
        verdict.starts_with("err "),
        "unprivileged load succeeded: {verdict}"
    );
    assert!(
        verdict.contains("BPF not permitted") && verdict.contains("Operation not permitted"),
        "unclear message: {verdict}"
    );
    assert_eq!(verdict.lines().count(), 1, "one line: {verdict}");
}

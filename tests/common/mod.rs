//! Shared helpers of the command-line tests: run the real binary, and
//! judge its exit code and its one-line errors.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub what: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`lockline {}` exited {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }
}

pub fn lockline<I, S>(args: I) -> Out
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let what = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let o = Command::new(env!("CARGO_BIN_EXE_lockline"))
        .args(&args)
        .output()
        .expect("cannot start lockline");
    let out = Out {
        // None means a signal killed it (abort, segfault): never acceptable.
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        what,
    };
    assert!(
        o.status.code().is_some(),
        "killed by a signal: {:?}\n{out:?}",
        o.status
    );
    assert!(!out.stderr.contains("panicked"), "panicked: {out:?}");
    out
}

pub fn s(p: &Path) -> String {
    p.to_str().expect("temp paths are UTF-8").to_string()
}

#[track_caller]
pub fn assert_ok(o: &Out) {
    assert_eq!(o.code, 0, "expected success: {o:?}");
}

/// One of our own errors: an expected exit code, exactly one non-empty
/// stderr line that starts "lockline: error:".
#[track_caller]
pub fn assert_error(o: &Out, codes: &[i32]) {
    assert!(codes.contains(&o.code), "expected exit {codes:?}: {o:?}");
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line: {o:?}");
    assert!(
        lines[0].starts_with("lockline: error:") && lines[0].len() > "lockline: error:".len(),
        "expected 'lockline: error: ...': {o:?}"
    );
}

/// A clap usage error: exit 2 and no panic (the message is clap's own).
#[track_caller]
pub fn assert_clap_usage(o: &Out) {
    assert_eq!(o.code, 2, "expected a usage error: {o:?}");
    assert!(
        !o.stderr.trim().is_empty(),
        "usage error without message: {o:?}"
    );
}

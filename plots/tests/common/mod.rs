//! Shared helpers of the plots' tests: where the files go, and what an
//! SVG must say.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Where a test writes its plots: `$LOCKLINE_PLOTS_OUT/<name>` when that is
/// set, to keep the files for a look by eye; `tmp` otherwise.
pub fn out_dir(tmp: &Path, name: &str) -> PathBuf {
    match std::env::var_os("LOCKLINE_PLOTS_OUT") {
        Some(d) => PathBuf::from(d).join(name),
        None => tmp.to_path_buf(),
    }
}

/// The SVG `dir/<file>`, asserted to carry each of `labels`.
#[track_caller]
pub fn svg_with(dir: &Path, file: &str, labels: &[&str]) -> String {
    let svg = std::fs::read_to_string(dir.join(file)).unwrap();
    for label in labels {
        assert!(svg.contains(label), "{file} lacks {label:?}");
    }
    svg
}

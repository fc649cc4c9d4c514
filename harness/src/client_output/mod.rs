//! What real programs say about their own data, read into verdicts:
//! fio's verify lines, qemu-io's pattern checks and qemu-img check, fsx's
//! miscompares. `lockline client` runs the programs; reading their words
//! lives here, apart from running them, so it can be tested and fuzzed
//! on any text (`fuzz/fuzz_targets/client_output.rs`).
//!
//! Every verdict keeps two promises whatever the text: it never counts more
//! failures than it checked, and it names a first failure, as one line,
//! exactly when something failed.

pub mod fio;
pub mod fsx;
pub mod qemu;

use serde::Serialize;

/// One verification of a client's data at one moment.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// after-run or after-remount.
    pub check: String,
    /// What was verified (regions, blocks, images).
    pub what: String,
    pub checked: u64,
    pub failed: u64,
    /// The client's own words for the first failure.
    pub first_failure: Option<String>,
}

/// The first line of `text` that says something, trimmed.
fn first_words(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| !l.is_empty())
}

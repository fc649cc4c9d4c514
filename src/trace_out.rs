//! `--trace PATH` and the commands that read traces: where a trace goes —
//! a Parquet dataset directory by default, the events as one CSV when PATH
//! ends in `.csv` — and how it is read back, with bad input told apart
//! from a failing disk. What a run's trace holds is
//! `lockline_analysis::run_trace`.

use crate::exit::usage;
use crate::trace_csv;
use anyhow::{Context, Result};
use lockline_analysis::Trace;
use std::path::Path;

/// Writes the trace where `--trace` asked: a Parquet dataset directory, or
/// the events as CSV for a `.csv` path.
pub fn write(path: &Path, trace: &Trace) -> Result<()> {
    if is_csv(path) {
        trace_csv::write(path, &trace.events)
    } else {
        lockline_store::write(path, trace).map_err(anyhow::Error::from)
    }
    .with_context(|| format!("writing trace {}", path.display()))
}

/// Reads a trace for `export` and `analyze`; what is wrong with the input
/// (missing, not a trace, damaged, another schema version) is the user's
/// to fix (exit 2), a failing disk is not (exit 3).
pub fn load(path: &Path) -> Result<Trace> {
    lockline_store::read(path).map_err(store_error)
}

fn store_error(e: lockline_store::StoreError) -> anyhow::Error {
    if e.is_user_error() {
        usage(e.to_string())
    } else {
        anyhow::Error::from(e)
    }
}

/// What an output path will hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// One file (Chrome JSON, an events CSV).
    File,
    /// A directory of tables with this extension ("parquet", "csv").
    Tables(&'static str),
}

/// Fails early, before a long run or export, when the output cannot go
/// there: its parent directory must exist, a file must not land on a
/// directory, and tables only go where the store would write them.
pub fn check_output(path: &Path, out: Output) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(usage(format!("directory {} does not exist", dir.display())));
    }
    match out {
        Output::File if path.is_dir() => Err(usage(format!("{} is a directory", path.display()))),
        Output::File => Ok(()),
        Output::Tables(ext) => lockline_store::check_dir(path, ext).map_err(store_error),
    }
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// `check_output` for `--trace`: a `.csv` path is one events file, anything
/// else a Parquet dataset directory.
pub fn check_trace_path(path: &Path) -> Result<()> {
    let out = if is_csv(path) {
        Output::File
    } else {
        Output::Tables("parquet")
    };
    check_output(path, out)
}

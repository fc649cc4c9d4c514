//! `lockline analyze TRACE [--plots DIR] [--json]`: lock statistics,
//! contention, per-thread lock time, every violation's blame window and the
//! lock-protocol lints, as text or one JSON object; plots on request.
//! `--at INO:OFFSET[+LEN]` instead tells everything the trace knows about
//! those bytes.

use crate::exit::{self, usage};
use crate::trace_out;
use anyhow::Result;
use lockline_analysis::bytes_at::{bytes_at, At};
use lockline_analysis::lints;
use lockline_analysis::report::{analyze, AnalyzeOptions};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A trace directory written by `run --trace DIR` or `kernel --trace DIR`.
    trace: PathBuf,
    /// Also draw PNG and SVG plots into this directory.
    #[arg(long)]
    plots: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Run only these lints (repeatable; default: all). `--lint list` lists them.
    #[arg(long = "lint", value_name = "NAME")]
    lint: Vec<String>,
    /// Skip these lints (repeatable).
    #[arg(long = "no-lint", value_name = "NAME")]
    no_lint: Vec<String>,
    /// folio-lock-across-io: report folio locks held across writeback for
    /// longer than this many milliseconds (default 1).
    #[arg(long, value_name = "MS")]
    folio_io_ms: Option<f64>,
    /// Only these bytes: every op, writeback IO, read and check that
    /// touched them (whose bytes each saw, from the content digests), and
    /// the violations and culprits naming them. INO:OFFSET[+LEN], e.g.
    /// 3:129536+512 or 3:1M+64K.
    #[arg(long, value_name = "INO:OFFSET[+LEN]")]
    at: Option<String>,
    /// List lock time for every thread, not one line per role (a run of
    /// rounds starts new threads each round).
    #[arg(long)]
    per_thread: bool,
}

pub fn run(a: Args) -> Result<u8> {
    if a.lint.iter().any(|l| l == "list") {
        for l in lints::ALL {
            println!("{:<28} {}", l.name, l.description);
        }
        return Ok(exit::OK);
    }
    for name in a.lint.iter().chain(&a.no_lint) {
        if !lints::ALL.iter().any(|l| l.name == name) {
            return Err(usage(format!(
                "unknown lint '{name}' (`lockline analyze TRACE --lint list` lists them)"
            )));
        }
    }
    if let Some(dir) = &a.plots {
        // Plots overwrite their own files only; any directory will do.
        if dir.exists() && !dir.is_dir() {
            return Err(usage(format!(
                "--plots {} is not a directory",
                dir.display()
            )));
        }
    }
    let at = match &a.at {
        Some(s) => Some(s.parse::<At>().map_err(|e| usage(format!("--at {e}")))?),
        None => None,
    };
    let trace = trace_out::load(&a.trace)?;
    if let Some(at) = at {
        if !trace.ops.iter().any(|o| o.ino == at.ino) {
            return Err(usage(format!(
                "--at: inode {} has no ops in this trace",
                at.ino
            )));
        }
        let told = bytes_at(&trace, at);
        if a.json {
            println!("{}", serde_json::to_string(&told)?);
        } else {
            print!("{}", told.text());
        }
        return Ok(exit::OK);
    }
    let mut opts = AnalyzeOptions {
        per_thread: a.per_thread,
        ..AnalyzeOptions::default()
    };
    let enabled = &mut opts.lints.enabled;
    if !a.lint.is_empty() {
        enabled.retain(|n| a.lint.iter().any(|l| l == n));
    }
    enabled.retain(|n| !a.no_lint.iter().any(|l| l == n));
    if let Some(ms) = a.folio_io_ms {
        opts.lints.folio_io_threshold_ns = (ms * 1e6) as u64;
    }
    let analysis = analyze(&trace, &opts);
    let plots = match &a.plots {
        Some(dir) => lockline_plots::all(&trace, dir)?,
        None => Vec::new(),
    };
    if a.json {
        let mut v = serde_json::to_value(&analysis)?;
        v["plots"] = serde_json::json!(plots);
        println!("{v}");
    } else {
        print!("{}", analysis.text());
        for p in &plots {
            println!("plot: {}", p.display());
        }
    }
    Ok(exit::OK)
}

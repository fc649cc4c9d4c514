//! `lockline export TRACE --format parquet|csv|chrome --out PATH`: a trace
//! as Parquet again (a copy, e.g. after filtering in a notebook), as CSV (one
//! file per table) or as Chrome trace-event JSON for Perfetto.

use crate::exit;
use crate::trace_out::{self, Output};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A Parquet dataset directory (the trace format itself).
    Parquet,
    /// A directory with one CSV file per table.
    Csv,
    /// One Chrome trace-event JSON file; open it in ui.perfetto.dev.
    Chrome,
}

#[derive(clap::Args)]
pub struct Args {
    /// A trace directory written by `run --trace DIR` or `kernel --trace DIR`.
    trace: PathBuf,
    #[arg(long, value_enum)]
    format: Format,
    /// Where to write: a directory (parquet, csv) or a file (chrome).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: Args) -> Result<u8> {
    let out = match a.format {
        Format::Parquet => Output::Tables("parquet"),
        Format::Csv => Output::Tables("csv"),
        Format::Chrome => Output::File,
    };
    trace_out::check_output(&a.out, out)?;
    let trace = trace_out::load(&a.trace)?;
    match a.format {
        Format::Parquet => lockline_store::write(&a.out, &trace)?,
        Format::Csv => lockline_store::write_csv(&a.out, &trace)?,
        Format::Chrome => {
            let f = std::fs::File::create(&a.out)
                .with_context(|| format!("creating {}", a.out.display()))?;
            let mut w = std::io::BufWriter::new(f);
            let stats = lockline_analysis::chrome::write(
                &trace,
                &mut w,
                &lockline_analysis::chrome::ChromeOptions::default(),
            )
            .and_then(|s| w.flush().map(|_| s))
            .with_context(|| format!("writing {}", a.out.display()))?;
            println!(
                "{}: {} trace events from {} events (open in https://ui.perfetto.dev)",
                a.out.display(),
                stats.trace_events,
                trace.events.len()
            );
            return Ok(exit::OK);
        }
    }
    println!(
        "{}: {} events, {} ops, {} violations, {} counter samples",
        a.out.display(),
        trace.events.len(),
        trace.ops.len(),
        trace.violations.len(),
        trace.counters.len()
    );
    Ok(exit::OK)
}

//! `lockline export TRACE --format parquet|csv|chrome|perfetto --out PATH
//! [--gzip]`: a trace as Parquet again (a copy, e.g. after filtering in a
//! notebook), as CSV (one file per table), as Chrome trace-event JSON, or
//! in Perfetto's own protobuf format (smaller, with exact flows).

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
    /// One Perfetto protobuf trace (TracePackets); open it in
    /// ui.perfetto.dev or query it with trace_processor.
    Perfetto,
}

#[derive(clap::Args)]
pub struct Args {
    /// A trace directory written by `run --trace DIR` or `kernel --trace DIR`.
    trace: PathBuf,
    #[arg(long, value_enum)]
    format: Format,
    /// Where to write: a directory (parquet, csv) or a file (chrome,
    /// perfetto).
    #[arg(long)]
    out: PathBuf,
    /// Compress a chrome or perfetto file with gzip (both UIs open .gz).
    #[arg(long)]
    gzip: bool,
}

pub fn run(a: Args) -> Result<u8> {
    let out = match a.format {
        Format::Parquet => Output::Tables("parquet"),
        Format::Csv => Output::Tables("csv"),
        Format::Chrome | Format::Perfetto => Output::File,
    };
    if a.gzip && out != Output::File {
        return Err(exit::usage(
            "--gzip compresses a chrome or perfetto file, not a table directory",
        ));
    }
    trace_out::check_output(&a.out, out)?;
    let trace = trace_out::load(&a.trace)?;
    match a.format {
        Format::Parquet => lockline_store::write(&a.out, &trace)?,
        Format::Csv => lockline_store::write_csv(&a.out, &trace)?,
        Format::Chrome | Format::Perfetto => {
            let f = std::fs::File::create(&a.out)
                .with_context(|| format!("creating {}", a.out.display()))?;
            let what = write_file(&trace, a.format, a.gzip, std::io::BufWriter::new(f))
                .with_context(|| format!("writing {}", a.out.display()))?;
            println!(
                "{}: {what} from {} events (open in https://ui.perfetto.dev)",
                a.out.display(),
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

/// Writes one chrome or perfetto file (gzipped or not) and says what it
/// holds.
fn write_file(
    trace: &lockline_analysis::Trace,
    format: Format,
    gzip: bool,
    mut w: impl Write,
) -> std::io::Result<String> {
    if gzip {
        let mut z = flate2::write::GzEncoder::new(w, flate2::Compression::fast());
        let what = write_plain(trace, format, &mut z)?;
        z.finish()?.flush()?;
        return Ok(what);
    }
    let what = write_plain(trace, format, &mut w)?;
    w.flush()?;
    Ok(what)
}

fn write_plain(
    trace: &lockline_analysis::Trace,
    format: Format,
    w: &mut dyn Write,
) -> std::io::Result<String> {
    let opts = lockline_analysis::chrome::ChromeOptions::default();
    Ok(if format == Format::Perfetto {
        let s = lockline_analysis::perfetto::write(trace, w, &opts)?;
        format!(
            "{} packets on {} tracks, {} flows ({} lock hand-offs)",
            s.packets, s.tracks, s.flows, s.handoffs
        )
    } else {
        let s = lockline_analysis::chrome::write(trace, w, &opts)?;
        format!("{} trace events, {} flows", s.trace_events, s.flows)
    })
}

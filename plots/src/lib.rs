//! Plots of a trace with plotters, each written as PNG and SVG: the lock
//! timeline of a violation's window, hold-time CDFs per lock class, write
//! throughput over time.

mod cdf;
mod error;
mod font;
mod render;
mod throughput;
mod timeline;

pub use cdf::hold_cdf;
pub use error::PlotError;
pub use throughput::throughput;
pub use timeline::violation_timeline;

use lockline_analysis::Trace;
use std::path::{Path, PathBuf};

/// Timelines drawn by [`all`] at most; the report says how many were left.
pub const MAX_TIMELINES: usize = 20;

/// Every plot of a trace into `dir`: the CDF, the throughput and one
/// timeline per violation of the final check (up to MAX_TIMELINES).
pub fn all(trace: &Trace, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let mut out = hold_cdf(trace, dir)?;
    out.extend(throughput(trace, dir)?);
    for v in trace.final_violations().take(MAX_TIMELINES) {
        out.extend(violation_timeline(trace, v.id, dir)?);
    }
    Ok(out)
}

//! Plots of a trace with plotters, each written as PNG and SVG: the lock
//! timeline of a violation's window, hold-time CDFs per lock class, write
//! throughput over time; and `lockline compare`'s side-by-side plots.
//!
//! Labels need DejaVu Sans (Debian: fonts-dejavu-core) or a .ttf named by
//! LOCKLINE_FONT; without one every entry point returns PlotError::Font.

mod cdf;
mod compare;
mod error;
mod font;
mod legend;
mod render;
mod throughput;
mod timeline;
mod timeline_draw;
mod units;

pub use cdf::hold_cdf;
pub use compare::{
    column_color, compare_all, compare_latency_cdf, compare_locks, compare_throughput,
    compare_violations,
};
pub use error::PlotError;
pub use throughput::throughput;
pub use timeline::violation_timeline;

use lockline_analysis::Trace;
use std::path::{Path, PathBuf};

/// Timelines drawn by [`all`] at most.
pub const MAX_TIMELINES: usize = 20;

/// Name of the note [`all`] leaves when it drew fewer timelines than the
/// trace has violations.
pub const CAP_NOTE: &str = "timelines_not_drawn.txt";

/// How many final-check violations [`all`] leaves without a timeline.
pub fn timelines_left_out(trace: &Trace) -> usize {
    trace
        .final_violations()
        .count()
        .saturating_sub(MAX_TIMELINES)
}

/// Every plot of a trace into `dir`: the CDF, the throughput and one
/// timeline per violation of the final check, up to MAX_TIMELINES; past
/// that, CAP_NOTE lists the violations left out.
pub fn all(trace: &Trace, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let mut out = hold_cdf(trace, dir)?;
    out.extend(throughput(trace, dir)?);
    for v in trace.final_violations().take(MAX_TIMELINES) {
        out.extend(violation_timeline(trace, v.id, dir)?);
    }
    out.extend(cap_note(trace, dir)?);
    Ok(out)
}

/// Writes CAP_NOTE when some violations get no timeline.
fn cap_note(trace: &Trace, dir: &Path) -> Result<Option<PathBuf>, PlotError> {
    if timelines_left_out(trace) == 0 {
        return Ok(None);
    }
    let ids: Vec<String> = trace
        .final_violations()
        .skip(MAX_TIMELINES)
        .map(|v| v.id.to_string())
        .collect();
    let path = dir.join(CAP_NOTE);
    let text = format!(
        "{} violations of {} have no timeline (at most {MAX_TIMELINES} are drawn); \
         draw one with violation_timeline. Ids: {}\n",
        ids.len(),
        trace.meta.final_check,
        ids.join(" ")
    );
    std::fs::write(&path, text).map_err(|e| PlotError::Draw {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockline_analysis::ViolationRow;

    fn row(id: u32, check: &str) -> ViolationRow {
        ViolationRow {
            id,
            round: 0,
            check: check.into(),
            class: "dropped".into(),
            ino: 1,
            first_sector: 0,
            nr_sectors: 8,
            folio_index: 0,
            folio_first: None,
            folio_order: None,
            ops: vec![],
            explanation: String::new(),
        }
    }

    // Drawing 20 timelines takes a debug build many seconds; the cap's
    // bookkeeping needs none of them.
    #[test]
    fn the_cap_note_names_the_violations_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Trace::default();
        t.meta.final_check = "after-remount".into();
        t.violations.push(row(0, "after-run"));
        for id in 1..=MAX_TIMELINES as u32 + 3 {
            t.violations.push(row(id, "after-remount"));
        }
        assert_eq!(timelines_left_out(&t), 3);
        let p = cap_note(&t, dir.path()).unwrap().unwrap();
        let note = std::fs::read_to_string(p).unwrap();
        assert!(note.starts_with("3 violations of after-remount"), "{note}");
        assert!(note.contains("Ids: 21 22 23"), "{note}");
        t.violations.truncate(MAX_TIMELINES + 1);
        assert_eq!(cap_note(&t, dir.path()).unwrap(), None);
    }
}

//! Hold-time CDF per lock class: how long each lock is held, all holds.

use crate::error::PlotError;
use crate::font::FAMILY;
use crate::render::{both, class_color, err, Draw};
use lockline_analysis::{holds_from_events, Trace};
use lockline_engine::probe::LockClass;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Points per curve at most: a CDF of a million holds needs no more.
const POINTS: usize = 2000;

struct Cdf {
    title: String,
    /// class → sorted hold times in µs.
    curves: BTreeMap<LockClass, Vec<f64>>,
}

impl Draw for Cdf {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let all = self.curves.values().flatten();
        let lo = all.clone().cloned().fold(f64::INFINITY, f64::min);
        // No holds: an empty chart over one decade rather than an infinite axis.
        let lo = if lo.is_finite() { lo.max(1e-3) } else { 1.0 };
        let hi = all.cloned().fold(0.0, f64::max).max(lo * 10.0);
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FAMILY, 30))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("hold time (µs, log scale)")
            .y_desc("fraction of holds ≤ x")
            .label_style((FAMILY, 20))
            .axis_desc_style((FAMILY, 24))
            .draw()
            .map_err(err)?;
        for (class, v) in &self.curves {
            let color = class_color(*class);
            let step = (v.len() / POINTS).max(1);
            let n = v.len() as f64;
            let pts: Vec<(f64, f64)> = v
                .iter()
                .enumerate()
                .filter(|(i, _)| i % step == 0 || *i == v.len() - 1)
                .map(|(i, x)| (x.max(lo), (i + 1) as f64 / n))
                .collect();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(3)))
                .map_err(err)?
                .label(format!("{} ({} holds)", class.name(), v.len()))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 30, y)], color.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FAMILY, 22))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

/// `hold_cdf.png` / `.svg`.
pub fn hold_cdf(trace: &Trace, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let mut curves: BTreeMap<LockClass, Vec<f64>> = BTreeMap::new();
    for h in holds_from_events(&trace.events) {
        if let Some(t) = h.hold_time() {
            curves.entry(h.class).or_default().push(t as f64 / 1e3);
        }
    }
    for v in curves.values_mut() {
        v.sort_by(f64::total_cmp);
    }
    let title = format!(
        "Lock hold times — {} on {}, seed {}",
        trace.meta.workload, trace.meta.build, trace.meta.seed
    );
    both(dir, "hold_cdf", &Cdf { title, curves })
}

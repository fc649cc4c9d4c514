//! Hold-time CDF per lock class: how long each lock is held, all holds.

use crate::error::PlotError;
use crate::font::FAMILY;
use crate::legend::{self, Entry, Swatch};
use crate::render::{about, both, class_color, empty_style, err, titled, Draw};
use crate::units::{number, TimeUnit};
use lockline_analysis::{holds_from_events, Trace};
use lockline_engine::probe::LockClass;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Steps per curve at most: a CDF of a million holds needs no more.
const POINTS: usize = 2000;

struct Cdf {
    title: String,
    unit: TimeUnit,
    /// class → sorted hold times in `unit`.
    curves: BTreeMap<LockClass, Vec<f64>>,
}

impl Cdf {
    /// Log axes cannot show zero: a hold shorter than the clock's
    /// resolution is drawn at the axis' left end.
    fn range(&self) -> (f64, f64) {
        let all = || self.curves.values().flatten().copied();
        let lo = all().filter(|x| *x > 0.0).fold(f64::INFINITY, f64::min);
        // No holds: an empty chart over three decades, not an infinite axis.
        if !lo.is_finite() {
            return (1.0, 1000.0);
        }
        let lo = lo * 0.8;
        let hi = all().fold(0.0, f64::max).max(lo * 10.0) * 1.25;
        (lo, hi)
    }

    fn legend(&self) -> Vec<Entry> {
        let u = self.unit;
        self.curves
            .iter()
            .map(|(class, v)| {
                let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
                Entry {
                    swatch: Swatch::HLine(class_color(*class)),
                    label: format!(
                        "{}: {} hold{}, p50 {}, p99 {}",
                        class.name(),
                        v.len(),
                        if v.len() == 1 { "" } else { "s" },
                        TimeUnit::pretty(q(0.5) * u.ns),
                        TimeUnit::pretty(q(0.99) * u.ns)
                    ),
                }
            })
            .collect()
    }
}

/// The empirical CDF as steps: flat to each value, then up. Large curves
/// keep every `step`-th value (and the last), which a 1600-pixel line
/// cannot tell apart from all of them.
pub(crate) fn steps(v: &[f64], lo: f64) -> Vec<(f64, f64)> {
    let n = v.len() as f64;
    let step = (v.len() / POINTS).max(1);
    let mut out = Vec::new();
    let mut prev = 0.0;
    for (i, x) in v.iter().enumerate() {
        if i % step != 0 && i != v.len() - 1 {
            continue;
        }
        let f = (i + 1) as f64 / n;
        let x = x.max(lo);
        out.push((x, prev));
        out.push((x, f));
        prev = f;
    }
    out
}

impl Draw for Cdf {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let body = titled(area, &self.title)?;
        let chart_area = legend::above(&body, &self.legend())?;
        let (lo, hi) = self.range();
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(10)
            .margin_right(30)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.02)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("hold time ({}, log scale)", self.unit.name))
            .y_desc("fraction of holds at most this long")
            .x_label_formatter(&|x: &f64| number(*x))
            .y_label_formatter(&|y: &f64| number(*y))
            .label_style((FAMILY, 20))
            .axis_desc_style((FAMILY, 24))
            .draw()
            .map_err(err)?;
        if self.curves.is_empty() {
            let mid = ((lo * hi).sqrt(), 0.5);
            chart
                .draw_series([Text::new(
                    "no finished lock holds in this trace",
                    mid,
                    empty_style(),
                )])
                .map_err(err)?;
        }
        for (class, v) in &self.curves {
            chart
                .draw_series(LineSeries::new(
                    steps(v, lo),
                    class_color(*class).stroke_width(3),
                ))
                .map_err(err)?;
        }
        Ok(())
    }
}

/// `hold_cdf.png` / `.svg`. Holds still open at the trace's end have no
/// length and are left out.
pub fn hold_cdf(trace: &Trace, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let mut ns: BTreeMap<LockClass, Vec<u64>> = BTreeMap::new();
    for h in holds_from_events(&trace.events) {
        if let Some(t) = h.hold_time() {
            ns.entry(h.class).or_default().push(t);
        }
    }
    let longest = ns.values().flatten().copied().max().unwrap_or(0);
    // ns only when every hold is shorter than a microsecond; µs otherwise,
    // which reads well from 0.1 to 10 000.
    let unit = if longest < 1000 {
        TimeUnit::NS
    } else {
        TimeUnit::US
    };
    let curves = ns
        .into_iter()
        .map(|(c, mut v)| {
            v.sort_unstable();
            (c, v.into_iter().map(|t| unit.of(t as f64)).collect())
        })
        .collect();
    let title = format!("Lock hold times — {}", about(&trace.meta));
    both(
        dir,
        "hold_cdf",
        &Cdf {
            title,
            unit,
            curves,
        },
    )
}

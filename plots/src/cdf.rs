//! Hold-time CDF per lock class: how long each lock is held, all holds.

use crate::error::PlotError;
use crate::legend::{self, Entry, Swatch};
use crate::render::{about, both, class_color, empty_note, err, number_mesh, titled, Draw};
use crate::units::TimeUnit;
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

/// CDF curves, sorted values each with its colour, on a log-scale x axis
/// under `area`, with `empty` in the middle when all are empty.
pub(crate) fn draw_cdf<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    curves: &[(&[f64], RGBColor)],
    x_desc: &str,
    y_desc: &str,
    empty: &str,
) -> Result<(), String> {
    // Log axes cannot show zero: a value below the clock's resolution is
    // drawn at the axis' left end.
    let all = || curves.iter().flat_map(|c| c.0.iter().copied());
    let lo = all().filter(|x| *x > 0.0).fold(f64::INFINITY, f64::min);
    // Nothing: an empty chart over three decades, not an infinite axis.
    let (lo, hi) = if lo.is_finite() {
        let lo = lo * 0.8;
        (lo, all().fold(0.0, f64::max).max(lo * 10.0) * 1.25)
    } else {
        (1.0, 1000.0)
    };
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .margin_right(30)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.02)
        .map_err(err)?;
    number_mesh(&mut chart, x_desc, y_desc)?;
    if curves.iter().all(|c| c.0.is_empty()) {
        empty_note(&mut chart, empty, ((lo * hi).sqrt(), 0.5))?;
    }
    for (v, c) in curves {
        chart
            .draw_series(LineSeries::new(steps(v, lo), c.stroke_width(3)))
            .map_err(err)?;
    }
    Ok(())
}

impl Cdf {
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
        let curves: Vec<(&[f64], RGBColor)> = self
            .curves
            .iter()
            .map(|(class, v)| (&v[..], class_color(*class)))
            .collect();
        draw_cdf(
            &chart_area,
            &curves,
            &format!("hold time ({}, log scale)", self.unit.name),
            "fraction of holds at most this long",
            "no finished lock holds in this trace",
        )
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
    let unit = TimeUnit::for_longest(ns.values().flatten());
    let curves = ns
        .into_iter()
        .map(|(c, mut v)| {
            v.sort_unstable();
            (c, unit.all_of(v))
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

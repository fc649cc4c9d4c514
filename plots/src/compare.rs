//! The plots of `lockline compare`, one column per build (and kernel file
//! system): throughput over repetitions with its spread, write-latency
//! CDFs on one axis, lock hold and wait per class, violations by class.

use crate::cdf::draw_cdf;
use crate::error::PlotError;
use crate::font::FAMILY;
use crate::legend::{self, Entry, Swatch};
use crate::render::{both, empty_note, err, titled, Draw};
use crate::units::{number, TimeUnit};
use lockline_analysis::compare::model::ColumnSummary;
use lockline_analysis::compare::Comparison;
use lockline_engine::probe::{LockClass, OpKind};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// One colour per column, by its name where it is a known one, so a build
/// keeps its colour whichever columns a comparison has.
pub fn column_color(name: &str, index: usize) -> RGBColor {
    match name {
        "locked" => RGBColor(31, 119, 180),
        "lockless" => RGBColor(255, 127, 14),
        "lockless-min" => RGBColor(44, 160, 44),
        "kernel-ext4" => RGBColor(148, 103, 189),
        "kernel-xfs" => RGBColor(140, 86, 75),
        "kernel-btrfs" => RGBColor(227, 119, 194),
        _ => [
            RGBColor(127, 127, 127),
            RGBColor(188, 189, 34),
            RGBColor(23, 190, 207),
        ][index % 3],
    }
}

fn title_of(c: &Comparison, what: &str) -> String {
    format!(
        "{what} — {}, {} threads, {}, {} repetitions",
        c.setup.workload, c.setup.threads, c.setup.plan, c.setup.repeat
    )
}

/// An x axis of `n` categories at 0, 1, ..: with at most n + 1 ticks asked
/// for, plotters' nice steps over a span of n land on the integers, where
/// [`name_at`] names them.
fn categories(n: usize) -> std::ops::Range<f64> {
    -0.5..n as f64 - 0.5
}

fn name_at(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

struct Throughput {
    title: String,
    names: Vec<String>,
    /// Per column: every repetition's MiB/s.
    reps: Vec<Vec<f64>>,
}

impl Draw for Throughput {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let body = titled(area, &self.title)?;
        let grey = RGBColor(90, 90, 90);
        let entries = [
            Entry {
                swatch: Swatch::Pale(grey),
                label: "IQR of the repetitions".into(),
            },
            Entry {
                swatch: Swatch::HLine(grey),
                label: "median".into(),
            },
            Entry {
                swatch: Swatch::VLine(grey),
                label: "min-max".into(),
            },
            Entry {
                swatch: Swatch::Filled(grey),
                label: "one repetition (dots, in run order)".into(),
            },
        ];
        let chart_area = legend::above(&body, &entries)?;
        let top = self.reps.iter().flatten().copied().fold(0.0, f64::max) * 1.15;
        let top = if top > 0.0 { top } else { 1.0 };
        let xr = categories(self.names.len());
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(10)
            .margin_right(30)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(xr.clone(), 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(self.names.len() + 1)
            .x_desc("build")
            .y_desc("write throughput (MiB/s of workload time)")
            .x_label_formatter(&|x: &f64| name_at(&self.names, *x))
            .y_label_formatter(&|y: &f64| number(*y))
            .label_style((FAMILY, 22))
            .axis_desc_style((FAMILY, 24))
            .draw()
            .map_err(err)?;
        for (i, v) in self.reps.iter().enumerate() {
            let Some(s) = lockline_analysis::compare::stats::Spread::of(v) else {
                continue;
            };
            let c = column_color(&self.names[i], i);
            let x = i as f64;
            chart
                .draw_series([PathElement::new(
                    vec![(x, s.min), (x, s.max)],
                    c.stroke_width(3),
                )])
                .map_err(err)?;
            for y in [s.min, s.max] {
                chart
                    .draw_series([PathElement::new(
                        vec![(x - 0.08, y), (x + 0.08, y)],
                        c.stroke_width(3),
                    )])
                    .map_err(err)?;
            }
            chart
                .draw_series([Rectangle::new(
                    [(x - 0.2, s.q1), (x + 0.2, s.q3)],
                    c.mix(0.3).filled(),
                )])
                .map_err(err)?;
            chart
                .draw_series([Rectangle::new(
                    [(x - 0.2, s.q1), (x + 0.2, s.q3)],
                    c.stroke_width(2),
                )])
                .map_err(err)?;
            chart
                .draw_series([PathElement::new(
                    vec![(x - 0.25, s.median), (x + 0.25, s.median)],
                    BLACK.stroke_width(4),
                )])
                .map_err(err)?;
            // Beside the box, spread a little sideways in run order so
            // equal values stay visible.
            let n = v.len().max(2) as f64;
            chart
                .draw_series(v.iter().enumerate().map(|(j, y)| {
                    let dx = 0.06 * j as f64 / (n - 1.0);
                    Circle::new((x + 0.27 + dx, *y), 6, c.filled())
                }))
                .map_err(err)?;
            chart
                .draw_series([Text::new(
                    format!("median {} MiB/s", number(s.median)),
                    (x - 0.2, s.max + top * 0.03),
                    (FAMILY, 22).into_font().color(&BLACK),
                )])
                .map_err(err)?;
        }
        Ok(())
    }
}

struct Cdf {
    title: String,
    unit: TimeUnit,
    /// Per column: name, colour, sorted latencies in `unit`.
    curves: Vec<(String, RGBColor, Vec<f64>)>,
}

impl Draw for Cdf {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let body = titled(area, &self.title)?;
        let u = self.unit;
        let entries: Vec<Entry> = self
            .curves
            .iter()
            .map(|(name, c, v)| {
                let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
                Entry {
                    swatch: Swatch::HLine(*c),
                    label: if v.is_empty() {
                        format!("{name}: no finished writes")
                    } else {
                        format!(
                            "{name}: {} writes of all repetitions, p50 {}, p99 {}",
                            v.len(),
                            TimeUnit::pretty(q(0.5) * u.ns),
                            TimeUnit::pretty(q(0.99) * u.ns)
                        )
                    },
                }
            })
            .collect();
        let chart_area = legend::above(&body, &entries)?;
        let curves: Vec<(&[f64], RGBColor)> =
            self.curves.iter().map(|(_, c, v)| (&v[..], *c)).collect();
        draw_cdf(
            &chart_area,
            &curves,
            &format!("write latency, op begin to end ({}, log scale)", u.name),
            "fraction of writes at most this long",
            "no finished writes",
        )
    }
}

/// Grouped bars: groups along x, one bar per series in each; panels
/// stacked, one legend above them all.
struct Bars {
    title: String,
    panels: Vec<Panel>,
    /// Label and colour of each legend entry; no colour: text only.
    legend: Vec<(String, Option<RGBColor>)>,
    log: bool,
    empty: &'static str,
}

struct Panel {
    y_desc: String,
    groups: Vec<String>,
    /// Per series, a value per group (None: not measured).
    series: Vec<Vec<Option<f64>>>,
    colors: Vec<RGBColor>,
    /// Text over each bar.
    labels: bool,
}

impl Draw for Bars {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let body = titled(area, &self.title)?;
        let entries: Vec<Entry> = self
            .legend
            .iter()
            .map(|(n, c)| Entry {
                swatch: c.map_or(Swatch::Outline(WHITE), Swatch::Filled),
                label: n.clone(),
            })
            .collect();
        let rest = legend::above(&body, &entries)?;
        let panels = rest.split_evenly((self.panels.len().max(1), 1));
        // One log range for every panel, whole decades, so heights compare
        // across panels and the ticks fall on powers of ten.
        let vals = || {
            self.panels
                .iter()
                .flat_map(|p| p.series.iter().flatten().flatten().copied())
                .filter(|v| *v > 0.0)
        };
        let lo = vals().fold(f64::INFINITY, f64::min);
        let hi = vals().fold(0.0, f64::max);
        // At most eight decades: a wait of a few ns beside seconds of
        // holds is drawn at the floor rather than squeezing the rest.
        let decades = lo.is_finite().then(|| {
            let top = 10f64.powf((hi * 1.5).log10().ceil());
            (10f64.powf(lo.log10().floor()).max(top / 1e8), top)
        });
        for (p, a) in self.panels.iter().zip(panels.iter()) {
            draw_panel(p, a, self.log.then_some(decades).flatten(), self.empty)?;
        }
        Ok(())
    }
}

/// One panel; `log`: the log axis' range, None for a linear axis.
fn draw_panel<DB: DrawingBackend>(
    p: &Panel,
    area: &DrawingArea<DB, Shift>,
    log: Option<(f64, f64)>,
    empty: &str,
) -> Result<(), String> {
    let vals = || p.series.iter().flatten().flatten().copied();
    let xr = categories(p.groups.len().max(1));
    let k = p.series.len().max(1) as f64;
    let width = 0.8 / k;
    let bar_x = |g: usize, s: usize| g as f64 - 0.4 + width * s as f64;
    let nothing = vals().all(|v| v <= 0.0);
    let label_style = {
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        (FAMILY, 18)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Bottom))
    };
    macro_rules! body {
        ($chart:expr, $floor:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(p.groups.len() + 1)
                .y_desc(p.y_desc.clone())
                .x_label_formatter(&|x: &f64| name_at(&p.groups, *x))
                .y_label_formatter(&|y: &f64| number(*y))
                .label_style((FAMILY, 20))
                .axis_desc_style((FAMILY, 22))
                .draw()
                .map_err(err)?;
            for (s, vals) in p.series.iter().enumerate() {
                let c = p.colors[s];
                for (g, v) in vals.iter().enumerate() {
                    let Some(v) = *v else { continue };
                    if v <= 0.0 && log.is_some() {
                        continue;
                    }
                    let x = bar_x(g, s);
                    chart
                        .draw_series([Rectangle::new(
                            [(x + 0.01, $floor), (x + width - 0.01, v.max($floor))],
                            c.filled(),
                        )])
                        .map_err(err)?;
                    // A zero needs no label: its missing bar says it.
                    if p.labels && v > 0.0 {
                        let at = (x + width / 2.0, v.max($floor));
                        chart
                            .draw_series([Text::new(number(v), at, label_style.clone())])
                            .map_err(err)?;
                    }
                }
            }
            chart
        }};
    }
    if nothing {
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .margin_right(30)
            .x_label_area_size(50)
            .y_label_area_size(100)
            .build_cartesian_2d(xr.clone(), 0.0..1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(p.groups.len() + 1)
            .y_desc(p.y_desc.clone())
            .x_label_formatter(&|x: &f64| name_at(&p.groups, *x))
            .label_style((FAMILY, 20))
            .axis_desc_style((FAMILY, 22))
            .draw()
            .map_err(err)?;
        let mid = (p.groups.len().max(1) as f64 - 1.0) / 2.0;
        empty_note(&mut chart, empty, (mid, 0.5))?;
        return Ok(());
    }
    let hi = vals().fold(0.0, f64::max);
    if let Some((lo, top)) = log {
        let chart = ChartBuilder::on(area)
            .margin(10)
            .margin_right(30)
            .x_label_area_size(50)
            .y_label_area_size(100)
            .build_cartesian_2d(xr.clone(), (lo..top).log_scale())
            .map_err(err)?;
        body!(chart, lo);
    } else {
        let chart = ChartBuilder::on(area)
            .margin(10)
            .margin_right(30)
            .x_label_area_size(50)
            .y_label_area_size(100)
            .build_cartesian_2d(xr.clone(), 0.0..hi * 1.15)
            .map_err(err)?;
        body!(chart, 0.0);
    }
    Ok(())
}

fn columns(c: &Comparison) -> Vec<&ColumnSummary> {
    c.ordered().collect()
}

/// `compare_throughput.png` / `.svg`: every repetition's throughput per
/// column, with median, IQR and min-max.
pub fn compare_throughput(c: &Comparison, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let cols = columns(c);
    both(
        dir,
        "compare_throughput",
        &Throughput {
            title: title_of(c, "Throughput per repetition"),
            names: cols.iter().map(|s| s.name.clone()).collect(),
            reps: cols
                .iter()
                .map(|s| {
                    s.per_repetition
                        .iter()
                        .map(|r| r.throughput_mib_s)
                        .collect()
                })
                .collect(),
        },
    )
}

/// `compare_latency_cdf.png` / `.svg`: the CDF of every finished write's
/// latency, all repetitions pooled, one curve per column.
pub fn compare_latency_cdf(c: &Comparison, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let cols = columns(c);
    let pooled: Vec<Vec<u64>> = cols
        .iter()
        .map(|s| {
            let mut v: Vec<u64> = s
                .per_repetition
                .iter()
                .filter_map(|r| r.op_ns.get(&OpKind::Write))
                .flatten()
                .copied()
                .collect();
            v.sort_unstable();
            v
        })
        .collect();
    let unit = TimeUnit::for_longest(pooled.iter().flatten());
    let curves = cols
        .iter()
        .zip(pooled)
        .enumerate()
        .map(|(i, (s, v))| (s.name.clone(), column_color(&s.name, i), unit.all_of(v)))
        .collect();
    both(
        dir,
        "compare_latency_cdf",
        &Cdf {
            title: title_of(c, "Write latency"),
            unit,
            curves,
        },
    )
}

/// `compare_locks.png` / `.svg`: per lock class, each column's time held
/// and time waited (ms per repetition, median), log scale.
pub fn compare_locks(c: &Comparison, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let cols = columns(c);
    let mut classes: Vec<LockClass> = cols
        .iter()
        .flat_map(|s| s.locks.iter().map(|l| l.class))
        .collect();
    classes.sort();
    classes.dedup();
    let panel = |y_desc: &str, wait: bool| Panel {
        y_desc: y_desc.into(),
        groups: classes.iter().map(|c| c.name().to_string()).collect(),
        series: cols
            .iter()
            .map(|s| {
                classes
                    .iter()
                    .map(|class| {
                        let l = s.locks.iter().find(|l| l.class == *class)?;
                        let t = if wait {
                            l.wait_total_ns
                        } else {
                            l.hold_total_ns
                        };
                        t.map(|t| t.median / 1e6)
                    })
                    .collect()
            })
            .collect(),
        colors: cols
            .iter()
            .enumerate()
            .map(|(i, s)| column_color(&s.name, i))
            .collect(),
        labels: true,
    };
    both(
        dir,
        "compare_locks",
        &Bars {
            title: title_of(c, "Lock time per class (median per repetition, log)"),
            panels: vec![panel("held, ms", false), panel("waited, ms", true)],
            legend: cols
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.clone(), Some(column_color(&s.name, i))))
                .collect(),
            log: true,
            empty: "no lock events in these traces",
        },
    )
}

/// `compare_violations.png` / `.svg`: sectors found dropped, stale and
/// torn after remount, all repetitions, per column; the legend says in how
/// many rounds.
pub fn compare_violations(c: &Comparison, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let cols = columns(c);
    let classes = [
        ("dropped", RGBColor(214, 39, 40)),
        ("stale", RGBColor(255, 187, 120)),
        ("torn", RGBColor(148, 103, 189)),
    ];
    let series = classes
        .iter()
        .map(|(k, _)| {
            cols.iter()
                .map(|s| {
                    let v = &s.violations;
                    Some(match *k {
                        "dropped" => v.dropped,
                        "stale" => v.stale,
                        _ => v.torn,
                    } as f64)
                })
                .collect()
        })
        .collect();
    let mut legend: Vec<(String, Option<RGBColor>)> = classes
        .iter()
        .map(|(k, c)| (format!("{k} sectors"), Some(*c)))
        .collect();
    let rounds: Vec<String> = cols
        .iter()
        .map(|s| format!("{} {}/{}", s.name, s.rounds_with_violations, s.rounds))
        .collect();
    legend.push((
        format!("rounds with violations: {}", rounds.join(", ")),
        None,
    ));
    both(
        dir,
        "compare_violations",
        &Bars {
            title: title_of(c, "Violations after remount"),
            panels: vec![Panel {
                y_desc: "sectors, all repetitions".into(),
                groups: cols.iter().map(|s| s.name.clone()).collect(),
                series,
                colors: classes.iter().map(|c| c.1).collect(),
                labels: true,
            }],
            legend,
            log: false,
            empty: "no violations in any column",
        },
    )
}

/// Every comparison plot into `dir`.
pub fn compare_all(c: &Comparison, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let mut out = compare_throughput(c, dir)?;
    out.extend(compare_latency_cdf(c, dir)?);
    out.extend(compare_locks(c, dir)?);
    out.extend(compare_violations(c, dir)?);
    Ok(out)
}

//! The lock timeline of one violation: from the first involved op's begin
//! to the last one's end, a lane per thread, every hold on the violated
//! inode as a bar coloured by lock class (waits paler, before the bar), the
//! involved ops outlined, and the moment the last of them returned marked.

use crate::error::PlotError;
use crate::font::FAMILY;
use crate::render::{both, class_color, err, Draw};
use lockline_analysis::{blame, holds_from_events, threads, Trace};
use lockline_engine::probe::{LockClass, OpKind};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

struct Bar {
    lane: usize,
    from: f64,
    to: f64,
    class: LockClass,
    wait: bool,
}

struct OpBox {
    lane: usize,
    from: f64,
    to: f64,
    label: String,
}

struct Timeline {
    title: String,
    lanes: Vec<String>,
    bars: Vec<Bar>,
    ops: Vec<OpBox>,
    span_us: f64,
    /// Where the violation is marked (µs), and its label.
    mark: (f64, String),
}

/// Bars narrower than this share of the window are widened to it, so a
/// 2 µs hold stays visible in a 10 ms window.
const MIN_WIDTH: f64 = 0.002;

impl Draw for Timeline {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let n = self.lanes.len().max(1);
        let margin = self.span_us * 0.03;
        let x = -margin..self.span_us + margin;
        // Room above the lanes for the legend, about a fifth of the chart.
        let top = n as f64 - 0.4 + 0.3 + n as f64 * 0.25;
        // Each lock class gets its own band inside a lane, so a long folio
        // hold does not hide the add lock held around it.
        let mut classes: Vec<LockClass> = self.bars.iter().map(|b| b.class).collect();
        classes.sort_unstable();
        classes.dedup();
        let band = 0.76 / classes.len().max(1) as f64;
        let band_of = |lane: usize, c: LockClass| {
            let j = classes.iter().position(|x| *x == c).unwrap_or(0) as f64;
            let y0 = lane as f64 - 0.38 + j * band;
            (y0, y0 + band * 0.9)
        };
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FAMILY, 28))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(170)
            .build_cartesian_2d(x, -0.6..top)
            .map_err(err)?;
        let lanes = self.lanes.clone();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n * 2 + 1)
            .y_label_formatter(&move |y: &f64| {
                let i = y.round();
                if (y - i).abs() < 0.05 && i >= 0.0 && (i as usize) < lanes.len() {
                    lanes[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .x_desc("µs since the first involved op began")
            .label_style((FAMILY, 20))
            .axis_desc_style((FAMILY, 24))
            .draw()
            .map_err(err)?;
        let min_w = self.span_us * MIN_WIDTH;
        for b in &self.bars {
            let c = class_color(b.class);
            let (y0, y1) = band_of(b.lane, b.class);
            let style = if b.wait {
                c.mix(0.35).filled()
            } else {
                c.filled()
            };
            let to = b.to.max(b.from + min_w);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(b.from, y0), (to, y1)],
                    style,
                )))
                .map_err(err)?;
        }
        for o in &self.ops {
            let (y0, y1) = (o.lane as f64 - 0.42, o.lane as f64 + 0.42);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(o.from, y0), (o.to.max(o.from + min_w), y1)],
                    BLACK.stroke_width(2),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    o.label.clone(),
                    // Above the box (text hangs down from its anchor), and
                    // pulled left near the right edge so it stays readable.
                    (o.from.min(self.span_us * 0.72), y1 + 0.14),
                    (FAMILY, 18).into_font().color(&BLACK),
                )))
                .map_err(err)?;
        }
        let (mx, label) = &self.mark;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*mx, -0.6), (*mx, n as f64 - 0.4)],
                RED.stroke_width(3),
            )))
            .map_err(err)?
            .label(label.clone())
            .legend(|(x, y)| PathElement::new(vec![(x, y - 8), (x, y + 8)], RED.stroke_width(3)));
        for class in LockClass::ALL {
            if !self.bars.iter().any(|b| b.class == *class) {
                continue;
            }
            let c = class_color(*class);
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
                .map_err(err)?
                .label(format!("{} held (pale: waiting)", class.name()))
                .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 24, y + 7)], c.filled()));
        }
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
            .map_err(err)?
            .label("op involved (outlined)")
            .legend(|(x, y)| Rectangle::new([(x, y - 7), (x + 24, y + 7)], BLACK.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FAMILY, 20))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

/// `violation_<id>.png` / `.svg`.
pub fn violation_timeline(
    trace: &Trace,
    violation: u32,
    dir: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    let v = trace
        .violations
        .iter()
        .find(|v| v.id == violation)
        .ok_or(PlotError::NoViolation(violation))?;
    let (t0, t1) = blame::span(trace, v).ok_or(PlotError::NoWindow(violation))?;
    let us = |ns: u64| (ns as f64 - t0 as f64) / 1e3;
    let lo = trace.events.partition_point(|e| e.ts_ns < t0);
    let hi = trace.events.partition_point(|e| e.ts_ns <= t1);
    // Holds that began before the window still matter: take its events
    // plus a lead-in of the same length.
    let lead = t0.saturating_sub(t1 - t0);
    let from = trace.events.partition_point(|e| e.ts_ns < lead);
    let on_inode: Vec<_> = trace.events[from..hi.max(lo)]
        .iter()
        .filter(|e| e.inode == v.ino)
        .copied()
        .collect();
    let holds: Vec<_> = holds_from_events(&on_inode)
        .into_iter()
        .filter(|h| h.released_ns.unwrap_or(t1) >= t0 && h.acquired_ns <= t1)
        .collect();
    let ops: Vec<_> = trace.ops.iter().filter(|o| v.ops.contains(&o.op)).collect();
    let mut tids: Vec<u32> = holds
        .iter()
        .map(|h| h.tid)
        .chain(ops.iter().map(|o| o.tid))
        .collect();
    tids.sort_unstable();
    tids.dedup();
    let names = threads::names(&trace.events);
    let lanes: Vec<String> = tids
        .iter()
        .map(|t| match names.get(t) {
            Some(n) if !n.starts_with("thread") => format!("{n} ({t})"),
            _ => format!("tid {t}"),
        })
        .collect();
    let lane = |tid: u32| tids.iter().position(|t| *t == tid).unwrap_or(0);
    let mut bars = Vec::new();
    for h in &holds {
        if let Some(w) = h.wait_ns {
            bars.push(Bar {
                lane: lane(h.tid),
                from: us(w.max(t0)),
                to: us(h.acquired_ns),
                class: h.class,
                wait: true,
            });
        }
        bars.push(Bar {
            lane: lane(h.tid),
            from: us(h.acquired_ns.max(t0)),
            to: us(h.released_ns.unwrap_or(t1).min(t1)),
            class: h.class,
            wait: false,
        });
    }
    let ops = ops
        .iter()
        .map(|o| OpBox {
            lane: lane(o.tid),
            from: us(o.begin_ns),
            to: us(if o.finished() { o.end_ns } else { t1 }),
            label: format!(
                "op {} {}{}",
                o.op,
                o.kind.name(),
                if o.kind == OpKind::Write {
                    format!(" {}@{}", o.len, o.offset)
                } else {
                    String::new()
                }
            ),
        })
        .collect();
    let title = format!(
        "{} on {} — violation {}: {} sectors {}..{}",
        trace.meta.workload,
        trace.meta.build,
        v.id,
        v.class,
        v.first_sector,
        v.first_sector + v.nr_sectors
    );
    let t = Timeline {
        title,
        lanes,
        bars,
        ops,
        span_us: us(t1).max(1e-3),
        mark: (
            us(t1),
            format!("{}: the last involved op returned", v.class),
        ),
    };
    both(dir, &format!("violation_{}", v.id), &t)
}

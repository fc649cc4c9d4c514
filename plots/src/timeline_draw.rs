//! Drawing a violation's lock timeline: lanes of bars, op outlines with
//! their labels, the violation's mark, a legend and the explanation.

use crate::font::FAMILY;
use crate::legend::{self, Entry, Swatch};
use crate::render::{class_color, empty_note, err, titled, Draw};
use crate::units::number;
use lockline_engine::probe::LockClass;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One hold (or the wait before it) on a lane, in µs from the window start.
pub struct Bar {
    pub lane: usize,
    pub from: f64,
    pub to: f64,
    pub class: LockClass,
    pub wait: bool,
}

/// An involved op's outline on its thread's lane.
pub struct OpBox {
    pub lane: usize,
    pub from: f64,
    pub to: f64,
    pub label: String,
}

pub struct Timeline {
    pub title: String,
    pub explanation: String,
    /// Lane names, lane 0 at the bottom.
    pub lanes: Vec<String>,
    pub bars: Vec<Bar>,
    pub ops: Vec<OpBox>,
    /// The window drawn, µs from its start: the ops' span plus margins.
    pub x: (f64, f64),
    /// Where the violation is marked (µs), and its label.
    pub mark: (f64, String),
    /// The culprit's event: lane, time (µs) and label.
    pub culprit: Option<(usize, f64, String)>,
}

/// Narrower bars are widened to this many pixels, so a 2 µs hold stays
/// visible in a 10 ms window.
const MIN_PX: f64 = 2.0;
/// Pixels above the top lane kept free for the violation's label.
const MARK_PX: f64 = 30.0;
const X_LABEL_PX: u32 = 60;
/// Pixels per line of the explanation under the legend; it gets two.
const NOTE_LINE: u32 = 21;

// Inside a lane (lane centre at 0): the bars' bands, then a strip for the
// op labels, all inside the op outline.
const BANDS: (f64, f64) = (-0.40, 0.16);
const LABEL_TOP: f64 = 0.42;
const BOX: (f64, f64) = (-0.44, 0.46);

impl Timeline {
    fn classes(&self) -> Vec<LockClass> {
        let mut c: Vec<LockClass> = self.bars.iter().map(|b| b.class).collect();
        c.sort_unstable();
        c.dedup();
        c
    }

    fn legend(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = self
            .classes()
            .into_iter()
            .map(|c| Entry {
                swatch: Swatch::Filled(class_color(c)),
                label: format!("{} held", c.name()),
            })
            .collect();
        if self.bars.iter().any(|b| b.wait) {
            out.push(Entry {
                swatch: Swatch::Pale(RGBColor(90, 90, 90)),
                label: "waiting for it (pale)".into(),
            });
        }
        out.push(Entry {
            swatch: Swatch::Outline(BLACK),
            label: "involved op".into(),
        });
        out.push(Entry {
            swatch: Swatch::VLine(RED),
            label: "violation (last involved op returned)".into(),
        });
        out
    }
}

impl Draw for Timeline {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let body = titled(area, &self.title)?;
        let body = legend::above(&body, &self.legend())?;
        let (note_area, chart_area) = body.split_vertically(2 * NOTE_LINE + 6);
        draw_note(&note_area.margin(2, 0, 30, 20), &self.explanation)?;

        let n = self.lanes.len().max(1);
        let (_, h) = chart_area.dim_in_pixel();
        let plot_px = (h as f64 - X_LABEL_PX as f64 - 20.0).max(100.0);
        let lanes_units = n as f64 + 0.1;
        let head = lanes_units * MARK_PX / (plot_px - MARK_PX);
        let (y_lo, y_top) = (-0.55, n as f64 - 0.45 + head);
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(10)
            .margin_right(30)
            .x_label_area_size(X_LABEL_PX)
            .y_label_area_size(180)
            .build_cartesian_2d(self.x.0..self.x.1, y_lo..y_top)
            .map_err(err)?;
        let lanes = self.lanes.clone();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n * 4 + 1)
            .y_label_formatter(&move |y: &f64| {
                let i = y.round();
                if (y - i).abs() < 0.05 && i >= 0.0 && (i as usize) < lanes.len() {
                    lanes[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .set_tick_mark_size(LabelAreaPosition::Left, 0)
            .x_label_formatter(&|x: &f64| number(*x))
            .x_desc("time since the first involved op began (µs)")
            .label_style((FAMILY, 20))
            .axis_desc_style((FAMILY, 24))
            .draw()
            .map_err(err)?;

        let (w_px, h_px) = chart.plotting_area().dim_in_pixel();
        let us_per_px = (self.x.1 - self.x.0) / w_px.max(1) as f64;
        let lane_px = h_px as f64 / (y_top - y_lo);
        let min_w = MIN_PX * us_per_px;

        // Faint rules between lanes, since the y mesh is off.
        chart
            .draw_series((1..n).map(|i| {
                let y = i as f64 - 0.5;
                PathElement::new(vec![(self.x.0, y), (self.x.1, y)], RGBColor(215, 215, 215))
            }))
            .map_err(err)?;

        // Each lock class gets its own band inside a lane, so a long folio
        // hold does not hide the add lock held around it.
        let classes = self.classes();
        let band = (BANDS.1 - BANDS.0) / classes.len().max(1) as f64;
        let band_of = |lane: usize, c: LockClass| {
            let j = classes.iter().position(|x| *x == c).unwrap_or(0) as f64;
            let y0 = lane as f64 + BANDS.0 + j * band;
            (y0, y0 + band * 0.85)
        };
        for b in &self.bars {
            let c = class_color(b.class);
            let (y0, y1) = band_of(b.lane, b.class);
            let corners = [(b.from, y0), (b.to.max(b.from + min_w), y1)];
            if b.wait {
                chart
                    .draw_series([
                        Rectangle::new(corners, c.mix(0.3).filled()),
                        Rectangle::new(corners, c.stroke_width(1)),
                    ])
                    .map_err(err)?;
            } else {
                chart
                    .draw_series([Rectangle::new(corners, c.filled())])
                    .map_err(err)?;
            }
        }

        if self.bars.is_empty() {
            let mid = ((self.x.0 + self.x.1) / 2.0, (n as f64 - 1.0) / 2.0);
            empty_note(&mut chart, "no lock holds on this inode in the window", mid)?;
        }

        let font = (lane_px * 0.22).clamp(11.0, 18.0);
        let style = (FAMILY, font).into_font().color(&BLACK);
        for o in &self.ops {
            let lane = o.lane as f64;
            chart
                .draw_series([Rectangle::new(
                    [
                        (o.from, lane + BOX.0),
                        (o.to.max(o.from + min_w), lane + BOX.1),
                    ],
                    BLACK.stroke_width(2),
                )])
                .map_err(err)?;
            let (tw, th) = chart_area
                .estimate_text_size(&o.label, &style)
                .map_err(err)?;
            // Inside the outline's top-left corner, pulled left where the
            // label would run off the plot.
            let width = (tw as f64 + 6.0) * us_per_px;
            let x = (o.from + 4.0 * us_per_px)
                .min(self.x.1 - width)
                .max(self.x.0);
            chart
                .draw_series([EmptyElement::at((x, lane + LABEL_TOP))
                    + backing(tw, th)
                    + Text::new(o.label.clone(), (3, 1), style.clone())])
                .map_err(err)?;
        }

        let (mx, label) = &self.mark;
        chart
            .draw_series([PathElement::new(
                vec![(*mx, y_lo), (*mx, n as f64 - 0.45)],
                RED.stroke_width(3),
            )])
            .map_err(err)?;
        let mark_style = (FAMILY, 22).into_font().color(&RED);
        let (tw, th) = chart_area
            .estimate_text_size(label, &mark_style)
            .map_err(err)?;
        // Beside the line's top, on whichever side has room.
        let right = *mx + (tw as f64 + 10.0) * us_per_px <= self.x.1;
        let x = if right {
            *mx + 6.0 * us_per_px
        } else {
            (*mx - (tw as f64 + 6.0) * us_per_px).max(self.x.0)
        };
        chart
            .draw_series([EmptyElement::at((x, y_top - 2.0 / lane_px))
                + backing(tw, th)
                + Text::new(label.clone(), (3, 1), mark_style)])
            .map_err(err)?;

        if let Some((lane, cx, label)) = &self.culprit {
            let y = *lane as f64;
            let style = (FAMILY, 18).into_font().color(&BLACK);
            chart
                .draw_series([
                    PathElement::new(
                        vec![(*cx, y - 0.45), (*cx, y + 0.45)],
                        BLACK.stroke_width(3),
                    ),
                    PathElement::new(
                        vec![
                            (*cx - 4.0 * us_per_px, y + 0.45),
                            (*cx + 4.0 * us_per_px, y + 0.45),
                        ],
                        BLACK.stroke_width(3),
                    ),
                ])
                .map_err(err)?;
            let (tw, th) = chart_area.estimate_text_size(label, &style).map_err(err)?;
            let right = *cx + (tw as f64 + 10.0) * us_per_px <= self.x.1;
            let x = if right {
                *cx + 6.0 * us_per_px
            } else {
                (*cx - (tw as f64 + 6.0) * us_per_px).max(self.x.0)
            };
            chart
                .draw_series([EmptyElement::at((x, y - 0.05))
                    + backing(tw, th)
                    + Text::new(label.clone(), (3, 1), style)])
                .map_err(err)?;
        }
        Ok(())
    }
}

/// A pale box behind a label of `w`×`h` pixels, so it stays legible over
/// bars and grid lines.
fn backing(w: u32, h: u32) -> Rectangle<(i32, i32)> {
    Rectangle::new(
        [(0, 0), (w as i32 + 6, h as i32 + 3)],
        WHITE.mix(0.75).filled(),
    )
}

/// The explanation in two lines of small text, wrapped at words and cut
/// with an ellipsis where it would overflow.
fn draw_note<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, text: &str) -> Result<(), String> {
    let style = (FAMILY, 17).into_font().color(&RGBColor(60, 60, 60));
    let (w, _) = area.dim_in_pixel();
    let fits = |t: &str| -> Result<bool, String> {
        Ok(area.estimate_text_size(t, &style).map_err(err)?.0 + 20 <= w)
    };
    let mut lines = vec![String::new()];
    let words: Vec<&str> = text.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        let last = lines.len() == 2;
        let cur = lines.last_mut().expect("one line at least");
        let try_line = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        let more = i + 1 < words.len();
        if fits(&try_line)? && !(last && more && !fits(&format!("{try_line} …"))?) {
            *cur = try_line;
        } else if last {
            cur.push_str(" …");
            break;
        } else {
            lines.push(word.to_string());
        }
    }
    for (i, l) in lines.iter().enumerate() {
        area.draw(&Text::new(
            l.clone(),
            (0, i as i32 * NOTE_LINE as i32),
            style.clone(),
        ))
        .map_err(err)?;
    }
    Ok(())
}

//! A legend drawn as one row in a strip of its own, so it never covers
//! data however the lanes or curves fall.

use crate::font::FAMILY;
use crate::render::err;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// How an entry's swatch looks.
pub enum Swatch {
    Filled(RGBColor),
    /// A pale fill with a border in the full colour: waits.
    Pale(RGBColor),
    Outline(RGBColor),
    VLine(RGBColor),
    HLine(RGBColor),
}

pub struct Entry {
    pub swatch: Swatch,
    pub label: String,
}

const FONT: u32 = 20;
const SWATCH: i32 = 26;

/// Height of one row of entries.
const ROW: u32 = 34;

/// Draws the entries in rows across the top of `area`, as many rows as
/// they need, and returns the area below them.
pub fn above<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
) -> Result<DrawingArea<DB, Shift>, String> {
    let (w, _) = area.dim_in_pixel();
    let style = (FAMILY, FONT)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let usable = w as i32 - 40;
    // (row, x) of each entry, wrapping before one that would not fit.
    let mut at = Vec::new();
    let (mut row, mut x) = (0u32, 0i32);
    for e in entries {
        let (tw, _) = area.estimate_text_size(&e.label, &style).map_err(err)?;
        let width = SWATCH + 8 + tw as i32 + 28;
        if x > 0 && x + width - 28 > usable {
            row += 1;
            x = 0;
        }
        at.push((row, x));
        x += width;
    }
    let rows = if entries.is_empty() { 0 } else { row + 1 };
    let (strip, rest) = area.split_vertically(rows * ROW + 6);
    let strip = strip.margin(0, 0, 20, 20);
    for (e, (row, x)) in entries.iter().zip(at) {
        let mid = (row * ROW + ROW / 2) as i32;
        swatch(&strip, &e.swatch, x, mid)?;
        strip
            .draw(&Text::new(
                e.label.clone(),
                (x + SWATCH + 8, mid),
                style.clone(),
            ))
            .map_err(err)?;
    }
    Ok(rest)
}

fn swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &Swatch,
    x: i32,
    mid: i32,
) -> Result<(), String> {
    let (a, b) = ((x, mid - 8), (x + SWATCH, mid + 8));
    match *s {
        Swatch::Filled(c) => area.draw(&Rectangle::new([a, b], c.filled())),
        Swatch::Pale(c) => area
            .draw(&Rectangle::new([a, b], c.mix(0.3).filled()))
            .and_then(|_| area.draw(&Rectangle::new([a, b], c.stroke_width(1)))),
        Swatch::Outline(c) => area.draw(&Rectangle::new([a, b], c.stroke_width(2))),
        Swatch::VLine(c) => area.draw(&PathElement::new(
            vec![(x + SWATCH / 2, mid - 12), (x + SWATCH / 2, mid + 12)],
            c.stroke_width(3),
        )),
        Swatch::HLine(c) => area.draw(&PathElement::new(
            vec![(x, mid), (x + SWATCH, mid)],
            c.stroke_width(4),
        )),
    }
    .map_err(err)
}

//! The lock timeline: one lane per thread, lock holds as bars coloured by
//! class with eighth-block edges, waits pale, ops as a thin line, folio
//! events as dots, the cursor, the selected violation's window, and a time
//! axis with violation markers. Each cell asks the lane's span lists what
//! covers it, so a frame costs the same for a thousand events or ten
//! million.

use super::style::{self, class_color, CURSOR_BG, LEFT, WINDOW_BG};
use crate::layout::{self, LABEL_W, MIN_H, MIN_W};
use crate::state::data::{end_or, Lane, CLASSES};
use crate::state::timefmt;
use crate::state::{App, Focus};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// What one cell of a lane shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Glyph {
    pub ch: char,
    pub fg: Color,
    /// Draw reversed (a right-aligned partial block).
    pub reversed: bool,
}

/// The glyph for cell [c0, c1) of `lane`, `class` limiting which locks show.
pub fn cell(lane: &Lane, c0: u64, c1: u64, class: Option<usize>) -> Glyph {
    let w = c1 - c0;
    for (ci, c) in CLASSES.iter().enumerate() {
        if class.is_some_and(|k| k != ci) {
            continue;
        }
        let cov = lane.held[ci].cover(c0, c1);
        if cov.busy == 0 {
            continue;
        }
        let fg = class_color(*c);
        let eighths = |d: u64| ((d * 8 + w / 2) / w).clamp(1, 8) as usize;
        let ch = if cov.busy * 8 >= w * 7 {
            '█'
        } else if cov.count == 1 {
            match (cov.first, cov.last) {
                // Starts inside the cell and runs to its end: the filled
                // part is on the right, drawn as the reversed left block.
                (Some(f), Some(l)) if f > c0 && l >= c1 => {
                    return Glyph {
                        ch: LEFT[8 - eighths(c1 - f).min(7)],
                        fg,
                        reversed: true,
                    }
                }
                (Some(f), Some(l)) if f <= c0 => LEFT[eighths(l - c0)],
                _ => '▒',
            }
        } else if cov.busy * 2 >= w {
            '▓'
        } else {
            '▒'
        };
        return Glyph {
            ch,
            fg,
            reversed: false,
        };
    }
    for (ci, c) in CLASSES.iter().enumerate() {
        if class.is_some_and(|k| k != ci) {
            continue;
        }
        if lane.wait[ci].cover(c0, c1).busy > 0 {
            return Glyph {
                ch: '░',
                fg: class_color(*c),
                reversed: false,
            };
        }
    }
    if lane.ops.cover(c0, c1).busy > 0 {
        return Glyph {
            ch: '─',
            fg: Color::DarkGray,
            reversed: false,
        };
    }
    if lane.marks.cover(c0, c1).count > 0 {
        return Glyph {
            ch: '·',
            fg: Color::Gray,
            reversed: false,
        };
    }
    Glyph {
        ch: ' ',
        fg: Color::Reset,
        reversed: false,
    }
}

/// A step of 1, 2 or 5 × 10^k ns at least `min` ns.
pub fn nice_step(min: u64) -> u64 {
    let mut p = 1u64;
    loop {
        for m in [1, 2, 5] {
            if p.saturating_mul(m) >= min {
                return p * m;
            }
        }
        if p > u64::MAX / 10 {
            return p;
        }
        p *= 10;
    }
}

/// Draws the timeline pane at `area`, its lanes in
/// [`layout::timeline_cells`] of it.
pub fn draw(app: &App, area: Rect, buf: &mut Buffer) {
    let cells = layout::timeline_cells(area);
    let focus = app.focus == Focus::Timeline;
    let vp = &app.vp;
    let mode = if !app.live {
        ""
    } else if vp.follow {
        "  ▶ LIVE"
    } else {
        "  ❚❚ PAUSED (End: live)"
    };
    let mut filters = Vec::new();
    if let Some(t) = app.filters.thread.and_then(|i| app.data.lanes.get(i)) {
        filters.push(t.name.clone());
    }
    if let Some(c) = app.filters.class {
        filters.push(format!("class {}", CLASSES[c].name()));
    }
    let origin = app.data.first_ns.unwrap_or(0);
    let lanes = app.visible_lanes();
    let rows = cells.height as usize;
    let scroll = app.lane_scroll.min(lanes.len().saturating_sub(1));
    let more = if lanes.len() > rows {
        format!(
            "  lanes {}-{} of {} (j/k)",
            scroll + 1,
            (scroll + rows).min(lanes.len()),
            lanes.len()
        )
    } else {
        String::new()
    };
    let title = format!(
        " Timeline  view {} ({}/cell)  cursor +{}{}{}{more} ",
        timefmt::dur(vp.span),
        timefmt::dur(vp.cell_ns(cells.width)),
        timefmt::dur(vp.cursor.saturating_sub(origin)),
        if filters.is_empty() {
            String::new()
        } else {
            format!("  filter: {}", filters.join(", "))
        },
        mode
    );
    let inner = style::pane(title, focus, area, buf);
    debug_assert_eq!(inner, layout::pane_inner(area));
    if cells.is_empty() {
        return;
    }
    let (cells_x, w, lanes_h) = (cells.x, cells.width, cells.height);
    let cursor_col = vp.col(vp.cursor, w);
    let hl = &app.highlight;
    let hl_cols = hl.window.map(|(a, b)| (vp.col(a, w), vp.col(b, w)));
    for (row, &li) in lanes.iter().skip(scroll).take(lanes_h as usize).enumerate() {
        let lane = &app.data.lanes[li];
        let y = inner.y + row as u16;
        let lit = lane.tids.iter().any(|t| hl.tids.contains(t));
        let label = format!(
            "{:<w$}",
            clip(&lane.name, LABEL_W as usize - 1),
            w = LABEL_W as usize
        );
        let lstyle = if lit {
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        buf.set_string(inner.x, y, label, lstyle);
        // Underline the highlighted ops' spans on their threads.
        let mut op_cols: Vec<(i64, i64)> = Vec::new();
        if lit {
            for op in &hl.ops {
                if let Some(o) = app.data.op(*op) {
                    if lane.tids.contains(&o.tid) {
                        op_cols.push((
                            vp.col(o.begin_ns, w),
                            vp.col(end_or(o, app.data.last_ns), w),
                        ));
                    }
                }
            }
        }
        for c in 0..w {
            let c0 = vp.time_at(c, w);
            let c1 = vp.time_at(c + 1, w).max(c0 + 1);
            let g = cell(lane, c0, c1, app.filters.class);
            let mut st = Style::new().fg(g.fg);
            if g.reversed {
                st = st.add_modifier(Modifier::REVERSED);
            }
            let ci = c as i64;
            if lit && hl_cols.is_some_and(|(a, b)| ci >= a && ci <= b) {
                st = st.bg(WINDOW_BG);
            }
            if op_cols.iter().any(|(a, b)| ci >= *a && ci <= *b) {
                st = st.add_modifier(Modifier::UNDERLINED);
            }
            let mut ch = g.ch;
            if ci == cursor_col {
                st = st.bg(CURSOR_BG);
                if ch == ' ' {
                    ch = '│';
                    st = st.fg(Color::Gray);
                }
            }
            if let Some(cell) = buf.cell_mut((cells_x + c, y)) {
                cell.set_char(ch).set_style(st);
            }
        }
    }
    if lanes.is_empty() {
        let msg = if app.done {
            "no events in this trace"
        } else {
            "waiting for events..."
        };
        buf.set_string(cells_x, inner.y, msg, style::dim());
    }
    axis(app, cells_x, inner.y + lanes_h, w, buf);
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Two rows: markers (violations ▼, the selected window ═, the cursor)
/// and tick labels relative to the trace's first event.
fn axis(app: &App, x: u16, y: u16, w: u16, buf: &mut Buffer) {
    let vp = &app.vp;
    let origin = app.data.first_ns.unwrap_or(0);
    for c in 0..w {
        if let Some(cell) = buf.cell_mut((x + c, y)) {
            cell.set_char('─').set_style(style::dim());
        }
    }
    let step = nice_step(vp.cell_ns(w).saturating_mul(12));
    let rel0 = vp.t0.saturating_sub(origin);
    let mut t = rel0.div_ceil(step) * step;
    while origin + t < vp.t1() {
        let c = vp.col(origin + t, w);
        if (0..w as i64).contains(&c) {
            let c = c as u16;
            if let Some(cell) = buf.cell_mut((x + c, y)) {
                cell.set_char('┴');
            }
            let label = format!("+{}", timefmt::offset(t, step));
            if c + (label.len() as u16) < w {
                buf.set_string(x + c, y + 1, label, style::dim());
            }
        }
        t += step;
    }
    if let Some((a, b)) = app.highlight.window {
        let (ca, cb) = (vp.col(a, w).max(0), vp.col(b, w).min(w as i64 - 1));
        for c in ca..=cb {
            if let Some(cell) = buf.cell_mut((x + c as u16, y)) {
                cell.set_char('═').set_style(Style::new().fg(Color::Yellow));
            }
        }
    }
    for (i, v) in app.violations.list.iter().enumerate() {
        let Some((a, _)) = v.window else { continue };
        let t = v.culprit.as_ref().map_or(a, |c| c.ts_ns);
        let c = vp.col(t, w);
        if (0..w as i64).contains(&c) {
            let sel = i == app.violations.selected;
            let st = Style::new()
                .fg(style::violation_color(v.class()))
                .add_modifier(if sel {
                    Modifier::BOLD | Modifier::REVERSED
                } else {
                    Modifier::BOLD
                });
            if let Some(cell) = buf.cell_mut((x + c as u16, y)) {
                cell.set_char('▼').set_style(st);
            }
        }
    }
    let cc = vp.col(vp.cursor, w);
    if (0..w as i64).contains(&cc) {
        if let Some(cell) = buf.cell_mut((x + cc as u16, y)) {
            cell.set_style(Style::new().bg(CURSOR_BG));
        }
    }
}

/// The legend line under the help and in narrow layouts.
pub fn legend() -> Line<'static> {
    let mut spans = Vec::new();
    for c in CLASSES {
        spans.push(Span::styled("█", Style::new().fg(class_color(c))));
        spans.push(Span::raw(format!("{} ", c.name())));
    }
    spans.push(Span::raw("░wait ─op ·folio event ▼violation"));
    Line::from(spans)
}

/// A paragraph saying the terminal is too small.
pub fn too_small(w: u16, h: u16) -> Paragraph<'static> {
    Paragraph::new(format!(
        "The terminal is {w}x{h}; lockline's UI needs at least {MIN_W}x{MIN_H}. Enlarge it or press q."
    ))
}

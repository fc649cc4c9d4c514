//! The panes under the timeline: the violations list, and the detail tabs
//! (who holds what at the cursor, the folio/inode lane, statistics,
//! lints).

use super::style::{self, class_color};
use crate::state::data::{class_ix, end_or, CLASSES};
use crate::state::timefmt::dur;
use crate::state::{App, Focus, Tab};
use lockline_analysis::Hold;
use lockline_engine::probe::{EventKind, LockMode, OpKind, NO_FOLIO};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline, Tabs, Widget, Wrap};
use std::collections::BTreeMap;

pub fn violations(app: &App, area: Rect, buf: &mut Buffer) {
    let vs = &app.violations;
    let focus = app.focus == Focus::Violations;
    let shown: Vec<usize> = (0..vs.list.len())
        .filter(|&i| {
            app.filters
                .inode
                .is_none_or(|ino| vs.list[i].row.ino == ino)
        })
        .collect();
    let title = format!(
        " Violations {}{}{} ",
        shown.len(),
        if app.rounds > 0 {
            format!(
                "  rounds {}/{} with violations",
                app.rounds_with_violations, app.rounds
            )
        } else {
            String::new()
        },
        if vs.analysed || vs.list.is_empty() {
            ""
        } else if app.live && !app.done {
            "  (culprits when the run ends)"
        } else {
            "  (analysing...)"
        }
    );
    let inner = style::pane(title, focus, area, buf);
    if shown.is_empty() {
        let msg = if app.done {
            "none: every checked sector holds what the history allows"
        } else {
            "none yet"
        };
        Paragraph::new(msg).style(style::dim()).render(inner, buf);
        return;
    }
    // Detail of the selected one on the rows left below the list.
    let sel = vs.selected;
    let list_h = (inner.height as usize)
        .saturating_sub(4)
        .max(1)
        .min(shown.len());
    let pos = shown.iter().position(|&i| i == sel).unwrap_or(0);
    let first = pos.saturating_sub(list_h.saturating_sub(1));
    let mut lines: Vec<Line> = Vec::new();
    for &i in shown.iter().skip(first).take(list_h) {
        let v = &vs.list[i];
        let mark = if i == sel { "▶" } else { " " };
        let mut st = Style::new();
        if i == sel {
            st = st.add_modifier(Modifier::REVERSED);
        }
        let ops: Vec<String> = v.row.ops.iter().map(|o| o.to_string()).collect();
        lines.push(Line::from(vec![
            Span::raw(mark),
            Span::styled(
                format!("{:<7}", v.class()),
                Style::new()
                    .fg(style::violation_color(v.class()))
                    .add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!(
                    " {}{} s{}+{} f{} ops {}{}",
                    if v.row.round > 0 {
                        format!("r{} ", v.row.round)
                    } else {
                        String::new()
                    },
                    v.checks
                        .iter()
                        .map(|c| short_check(c))
                        .collect::<Vec<_>>()
                        .join(","),
                    v.row.first_sector,
                    v.row.nr_sectors,
                    v.folio(),
                    ops.join(","),
                    if v.inconclusive { " INCONCLUSIVE" } else { "" }
                ),
                st,
            ),
        ]));
    }
    if let Some(v) = vs.current() {
        lines.push(Line::from(Span::styled(
            v.row.explanation.clone(),
            Style::new().fg(Color::White),
        )));
        match &v.culprit {
            Some(c) => {
                lines.push(Line::from(Span::styled(
                    c.line.clone(),
                    Style::new().fg(Color::Yellow),
                )));
                // How the victim and the culprit got there: their waits
                // and who handed each lock over.
                for l in &v.path {
                    lines.push(Line::from(vec![
                        Span::styled("on the way: ", style::dim()),
                        Span::raw(l.line.clone()),
                    ]));
                }
                // Where `]` and `[` have walked to.
                if let Some((k, step)) = vs.step.and_then(|k| Some((k, vs.walk.get(k)?))) {
                    lines.push(Line::from(vec![
                        Span::styled(
                            format!("▶ step {}/{}: ", k + 1, vs.walk.len()),
                            Style::new().fg(Color::Cyan),
                        ),
                        Span::raw(step.line.clone()),
                    ]));
                }
            }
            None if vs.analysed => lines.push(Line::from(Span::styled(
                "culprit: the trace does not show the event that lost it",
                style::dim(),
            ))),
            None => {}
        }
        if v.inconclusive {
            lines.push(Line::from(Span::styled(
                "INCONCLUSIVE: the window overlaps events the trace lost or contradicts",
                Style::new().fg(Color::Red),
            )));
        }
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

fn short_check(label: &str) -> &str {
    match label {
        "after-run" => "run",
        "after-fsync" => "fsync",
        "after-remount" => "remount",
        "during-run" => "read",
        other => other,
    }
}

pub fn detail(app: &App, area: Rect, buf: &mut Buffer) {
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(style::dim());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height < 2 {
        return;
    }
    let titles: Vec<String> = Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{} {}", i + 1, t.title()))
        .collect();
    let sel = Tab::ALL.iter().position(|t| *t == app.tab).unwrap_or(0);
    Tabs::new(titles)
        .select(sel)
        .highlight_style(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD))
        .render(Rect { height: 1, ..inner }, buf);
    let body = Rect {
        y: inner.y + 1,
        height: inner.height - 1,
        ..inner
    };
    match app.tab {
        Tab::Holders => holders(app, body, buf),
        Tab::Folio => folio(app, body, buf),
        Tab::Stats => stats(app, body, buf),
        Tab::Lints => lints(app, body, buf),
    }
}

fn lock_name(h: &Hold) -> String {
    let mode = match h.mode {
        LockMode::Shared => " sh",
        LockMode::Exclusive => "",
    };
    if h.folio == NO_FOLIO
        || h.fid == 0 && h.folio == 0 && h.class != lockline_engine::probe::LockClass::Folio
    {
        format!("{}{mode}", h.class.name())
    } else {
        format!("{} {}{mode}", h.class.name(), h.folio)
    }
}

/// Every lock held and waited for at the cursor, by thread, with the op
/// each thread is in.
pub fn holders(app: &App, area: Rect, buf: &mut Buffer) {
    let t = app.vp.cursor;
    let mut by: BTreeMap<(bool, u32), (Vec<Span>, Vec<Span>)> = BTreeMap::new();
    // A writer holds many folio locks at once: name a few, count the rest.
    let mut folios: BTreeMap<u32, usize> = BTreeMap::new();
    let mut at = app.data.at(t);
    at.sort_by_key(|h| (h.tid, class_ix(h.class), std::cmp::Reverse(h.acquired_ns)));
    for h in &at {
        if app.filters.class.is_some_and(|c| CLASSES[c] != h.class) {
            continue;
        }
        if h.class == lockline_engine::probe::LockClass::Folio && h.acquired_ns <= t {
            let n = folios.entry(h.tid).or_default();
            *n += 1;
            if *n > 3 {
                continue;
            }
        }
        let lit = app.highlight.tids.contains(&h.tid);
        let e = by.entry((!lit, h.tid)).or_default();
        let color = class_color(h.class);
        if h.acquired_ns <= t {
            let since = dur(t - h.acquired_ns);
            e.0.push(Span::styled(
                format!("{} ", lock_name(h)),
                Style::new().fg(color),
            ));
            e.0.push(Span::styled(format!("({since}) "), style::dim()));
        } else {
            let since = dur(t - h.wait_ns.unwrap_or(t));
            e.1.push(Span::styled(
                format!("{} ({since})", lock_name(h)),
                Style::new().fg(color).add_modifier(Modifier::DIM),
            ));
            // Who it waits for: "held by worker 0 (op 418) for 1.2 ms".
            let by = match crate::state::blocker(&at, h, t) {
                Some(g) => format!(
                    ", held by {} (op {}) for {} ",
                    app.data
                        .lane_of(g.tid)
                        .map_or(format!("tid {}", g.tid), |l| l.name.clone()),
                    g.op,
                    dur(t - g.acquired_ns)
                ),
                None => " ".into(),
            };
            e.1.push(Span::raw(by));
        }
    }
    let mut lines = Vec::new();
    if by.is_empty() {
        lines.push(Line::from(Span::styled(
            format!(
                "no lock held at +{}",
                dur(t.saturating_sub(app.data.first_ns.unwrap_or(0)))
            ),
            style::dim(),
        )));
    }
    for ((dim, tid), (held, waits)) in by {
        let name = app
            .data
            .lane_of(tid)
            .map_or(String::new(), |l| l.name.clone());
        let op = current_op(app, tid, t);
        let mut head = vec![Span::styled(
            format!("{name} ({tid})"),
            if dim {
                Style::new().add_modifier(Modifier::BOLD)
            } else {
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
            },
        )];
        if let Some(op) = op {
            head.push(Span::styled(format!(" {op}"), style::dim()));
        }
        lines.push(Line::from(head));
        let mut l = vec![Span::raw("  holds ")];
        l.extend(held);
        if let Some(n) = folios.get(&tid).filter(|n| **n > 3) {
            l.push(Span::styled(
                format!("+{} more folios", n - 3),
                style::dim(),
            ));
        }
        lines.push(Line::from(l));
        if !waits.is_empty() {
            let mut l = vec![Span::styled("  waits ", Style::new().fg(Color::Red))];
            l.extend(waits);
            lines.push(Line::from(l));
        }
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

/// "op 57 write 4096 B at 8192" for the op `tid` is in at `t`.
fn current_op(app: &App, tid: u32, t: u64) -> Option<String> {
    let ops = &app.data.ops;
    let hi = ops.partition_point(|o| o.begin_ns <= t);
    ops.range(..hi)
        .rev()
        .take(4096)
        .find(|o| o.tid == tid && end_or(o, app.data.last_ns) >= t)
        .map(|o| match o.kind {
            OpKind::Write | OpKind::Read => {
                format!("op {} {} {} B at {}", o.op, o.kind.name(), o.len, o.offset)
            }
            k => format!("op {} {}", o.op, k.name()),
        })
}

/// The byte ranges each op wrote to the inode over time (rows = file
/// offsets, columns = the timeline's), and the selected folio's state
/// changes, so two overlapping writes and a dropped folio's removal show
/// as such.
pub fn folio(app: &App, area: Rect, buf: &mut Buffer) {
    let Some((ino, folio)) = app
        .highlight
        .folio
        .or_else(|| app.filters.inode.map(|i| (i, NO_FOLIO)))
        .or_else(|| app.data.inodes.first().map(|&i| (i, NO_FOLIO)))
    else {
        Paragraph::new("no inode in the trace yet")
            .style(style::dim())
            .render(area, buf);
        return;
    };
    if area.height < 4 || area.width < 20 {
        return;
    }
    let vp = &app.vp;
    let label_w = 10u16;
    let w = area.width - label_w;
    let rows = area.height - 2;
    let (t0, t1) = (vp.t0, vp.t1());
    let ops: Vec<_> = app
        .data
        .ops
        .iter()
        .filter(|o| {
            o.ino == ino && matches!(o.kind, OpKind::Write | OpKind::Truncate | OpKind::Punch)
        })
        .filter(|o| o.begin_ns <= t1 && end_or(o, app.data.last_ns) >= t0)
        .take(2000)
        .collect();
    // Offsets shown: the highlighted ops' range, else every op in view.
    let focus: Vec<_> = ops
        .iter()
        .filter(|o| app.highlight.ops.contains(&o.op))
        .collect();
    let src: Vec<_> = if focus.is_empty() {
        ops.iter().collect()
    } else {
        focus
    };
    let lo = src.iter().map(|o| o.offset).min().unwrap_or(0);
    let hi = src
        .iter()
        .map(|o| o.offset + o.len.max(1))
        .max()
        .unwrap_or(4096)
        .max(lo + 1);
    let bytes_per_row = (hi - lo).div_ceil(rows as u64).max(1);
    let title = format!(
        "inode {ino}, bytes {lo}..{hi} ({} B/row){}",
        bytes_per_row,
        if folio == NO_FOLIO {
            String::new()
        } else {
            format!(", folio {folio}")
        }
    );
    buf.set_string(
        area.x,
        area.y,
        clip(&title, area.width as usize),
        style::title(),
    );
    let mut owner: Vec<Vec<Option<usize>>> = vec![vec![None; w as usize]; rows as usize];
    let palette = [
        Color::Cyan,
        Color::LightGreen,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightYellow,
        Color::White,
    ];
    for (k, o) in ops.iter().enumerate() {
        if o.kind != OpKind::Write {
            continue;
        }
        let (a, b) = (
            vp.col(o.begin_ns, w).max(0),
            vp.col(end_or(o, app.data.last_ns), w).min(w as i64 - 1),
        );
        let (r0, r1) = (
            (o.offset.saturating_sub(lo) / bytes_per_row) as i64,
            ((o.offset + o.len).saturating_sub(lo).saturating_sub(1) / bytes_per_row) as i64,
        );
        for r in r0.max(0)..=r1.min(rows as i64 - 1) {
            for c in a..=b.max(a) {
                if c < 0 || c >= w as i64 {
                    continue;
                }
                let cell = &mut owner[r as usize][c as usize];
                *cell = match *cell {
                    None => Some(k),
                    Some(_) => Some(usize::MAX),
                };
            }
        }
    }
    for (r, row) in owner.iter().enumerate() {
        let y = area.y + 1 + r as u16;
        let off = lo + r as u64 * bytes_per_row;
        buf.set_string(area.x, y, format!("{:>9} ", off), style::dim());
        for (c, o) in row.iter().enumerate() {
            let (ch, st) = match o {
                None => (' ', Style::new()),
                Some(usize::MAX) => ('▓', Style::new().fg(Color::Red)),
                Some(k) => {
                    let op = ops[*k];
                    let lit = app.highlight.ops.contains(&op.op);
                    let ch = char::from_digit((op.op % 36) as u32, 36).unwrap_or('#');
                    let mut st = Style::new().fg(palette[op.op as usize % palette.len()]);
                    if lit {
                        st = st.add_modifier(Modifier::BOLD | Modifier::REVERSED);
                    }
                    (ch, st)
                }
            };
            if let Some(cell) = buf.cell_mut((area.x + label_w + c as u16, y)) {
                cell.set_char(ch).set_style(st);
            }
        }
    }
    // The folio's state changes on the last row.
    let y = area.y + area.height - 1;
    buf.set_string(area.x, y, format!("{:>9} ", "folio"), style::dim());
    if folio != NO_FOLIO {
        for e in app.data.events_in(t0, t1) {
            if e.inode != ino || e.folio != folio {
                continue;
            }
            let ch = match e.kind() {
                Some(EventKind::FolioAdded) => 'A',
                Some(EventKind::FolioDirtied) => 'D',
                Some(EventKind::FolioCleaned) => 'c',
                Some(EventKind::FolioWritebackStart) => 'W',
                Some(EventKind::FolioWritebackEnd) => 'w',
                Some(EventKind::FolioWritebackIo) => 'I',
                Some(EventKind::FolioMigrated) => 'M',
                Some(EventKind::FolioTruncated) => 'T',
                Some(EventKind::FolioRemoved) => 'R',
                Some(EventKind::FolioUptodate) => 'u',
                Some(EventKind::PageFault) => 'f',
                Some(EventKind::PageMkwrite) => 'K',
                _ => continue,
            };
            let c = vp.col(e.ts_ns, w);
            if (0..w as i64).contains(&c) {
                let st = if matches!(ch, 'T' | 'R' | 'M') {
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
                } else {
                    Style::new().fg(Color::White)
                };
                if let Some(cell) = buf.cell_mut((area.x + label_w + c as u16, y)) {
                    cell.set_char(ch).set_style(st);
                }
            }
        }
    }
}

fn clip(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Hold and wait distributions per class, contention, event rate, lost
/// events, perf counters and a throughput sparkline.
pub fn stats(app: &App, area: Rect, buf: &mut Buffer) {
    let d = &app.data;
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{:<15}{:>9}{:>10}{:>10}{:>10}{:>8}{:>10}{:>10}",
            "class", "holds", "p50", "p99", "max", "waits", "w p99", "contend"
        ),
        style::title(),
    ))];
    for c in CLASSES {
        let i = class_ix(c);
        if d.acquired[i] == 0 {
            continue;
        }
        let h = &d.hold[i];
        let w = &d.wait[i];
        lines.push(Line::from(vec![
            Span::styled(format!("{:<15}", c.name()), Style::new().fg(class_color(c))),
            Span::raw(format!(
                "{:>9}{:>10}{:>10}{:>10}{:>8}{:>10}{:>9.1}%",
                d.acquired[i],
                dur(h.percentile(0.5)),
                dur(h.percentile(0.99)),
                dur(h.max),
                d.waited[i],
                dur(w.percentile(0.99)),
                100.0 * d.waited[i] as f64 / d.acquired[i] as f64
            )),
        ]));
    }
    let secs = d.last_ns.saturating_sub(d.first_ns.unwrap_or(d.last_ns)) as f64 / 1e9;
    lines.push(Line::from(format!(
        "events {} ({:.0}/s), lost {}, ops {}{}",
        d.total_events,
        d.total_events as f64 / secs.max(1e-9),
        app.meta.lost_events,
        d.lanes.iter().map(|l| l.op_count).sum::<u64>(),
        if d.evicted_events > 0 || d.merged_spans > 0 {
            format!(
                "; summarised: {} events past the window, {} spans merged",
                d.evicted_events, d.merged_spans
            )
        } else {
            String::new()
        }
    )));
    if !app.perf.is_empty() {
        let p: Vec<String> = app
            .perf
            .iter()
            .map(|(n, v)| format!("{n} {}", *v as u64))
            .collect();
        lines.push(Line::from(Span::styled(
            format!("perf: {}", p.join(", ")),
            style::dim(),
        )));
    }
    lines.push(Line::from(
        "p50/p99 within ~4% (log buckets); write throughput per ms:",
    ));
    let n = lines.len() as u16;
    Paragraph::new(lines).render(area, buf);
    if area.height > n {
        let spark = Rect {
            y: area.y + n,
            height: (area.height - n).min(3),
            ..area
        };
        // Resample the series to the pane's width.
        let s = &d.bytes_series;
        let w = spark.width as usize;
        let data: Vec<u64> = if s.len() <= w {
            s.clone()
        } else {
            (0..w)
                .map(|i| {
                    let (a, b) = (
                        i * s.len() / w,
                        ((i + 1) * s.len() / w).max(i * s.len() / w + 1),
                    );
                    s[a..b].iter().sum::<u64>() / (b - a) as u64
                })
                .collect()
        };
        Sparkline::default()
            .data(&data)
            .style(Style::new().fg(Color::Green))
            .render(spark, buf);
    }
}

/// The lints that fired in the selected violation's window, and how often
/// each fired in the trace.
pub fn lints(app: &App, area: Rect, buf: &mut Buffer) {
    let mut lines = Vec::new();
    match app.violations.current() {
        Some(v) if app.violations.analysed => {
            lines.push(Line::from(Span::styled(
                format!("in violation {}'s window: {}", v.row.id, v.lints.len()),
                style::title(),
            )));
            for f in v.lints.iter().take(area.height as usize / 2) {
                lines.push(Line::from(vec![
                    Span::styled(format!("{} ", f.lint), Style::new().fg(Color::Yellow)),
                    Span::raw(f.message.clone()),
                ]));
            }
        }
        Some(_) => lines.push(Line::from(Span::styled(
            "lints run on the whole trace when the run ends",
            style::dim(),
        ))),
        None => {}
    }
    if !app.lints.is_empty() {
        lines.push(Line::from(Span::styled("whole trace:", style::title())));
        for l in &app.lints {
            let st = if l.findings > 0 {
                Style::new().fg(Color::Yellow)
            } else {
                style::dim()
            };
            let what = if !l.applies {
                "n/a".to_string()
            } else if !l.enabled {
                "off".to_string()
            } else {
                l.findings.to_string()
            };
            lines.push(Line::from(Span::styled(
                format!("{:>6}  {}", what, l.name),
                st,
            )));
        }
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

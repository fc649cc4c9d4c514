//! How the state is drawn: one function per region of the layout
//! ([`crate::layout`], computed here for the area drawn into), each
//! reading the state and writing cells. Nothing here changes the state.

pub mod panes;
pub mod style;
pub mod timeline;

use crate::layout::Layout;
use crate::state::{App, Prompt};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};
use ratatui::Frame;

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    render(app, area, f.buffer_mut());
}

/// Draws the whole screen into `buf` (tests and benchmarks call this with
/// a plain buffer).
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let l = Layout::new(area);
    if l.too_small {
        timeline::too_small(area.width, area.height)
            .wrap(Wrap { trim: true })
            .render(area, buf);
        return;
    }
    header(app, l.header, buf);
    timeline::draw(app, l.timeline, buf);
    panes::violations(app, l.violations, buf);
    panes::detail(app, l.detail, buf);
    status_line(app, l.status, buf);
    if app.help {
        help(area, buf);
    }
}

fn header(app: &App, area: Rect, buf: &mut Buffer) {
    let m = &app.meta;
    let knobs = short_knobs(&m.knobs_json);
    let mut spans = vec![
        Span::styled(" lockline ", Style::new().fg(Color::Black).bg(Color::Cyan)),
        Span::styled(
            format!(" {} ", if m.build.is_empty() { "?" } else { &m.build }),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "{} seed {} threads {} · {} · clock {} · {} events",
            m.workload, m.seed, m.threads, m.probe_source, m.clock, app.data.total_events
        )),
    ];
    if m.lost_events > 0 {
        spans.push(Span::styled(
            format!(" · {} LOST", m.lost_events),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    if app.data.evicted_events > 0 {
        spans.push(Span::styled(
            format!(" · {} summarised", app.data.evicted_events),
            style::dim(),
        ));
    }
    if !knobs.is_empty() {
        spans.push(Span::styled(format!(" · {knobs}"), style::dim()));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// The knobs that differ from off/defaults, compactly.
fn short_knobs(json: &str) -> String {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(json) else {
        return String::new();
    };
    let mut out = Vec::new();
    for (k, v) in m {
        let s = match &v {
            serde_json::Value::Bool(true) => k.clone(),
            serde_json::Value::Number(n) if n.as_f64() != Some(0.0) && k != "seed" => {
                format!("{k}={n}")
            }
            serde_json::Value::Object(o) if !o.is_empty() => {
                let on: Vec<&String> = o
                    .iter()
                    .filter(|(_, v)| v.as_bool() == Some(true))
                    .map(|(k, _)| k)
                    .collect();
                if on.is_empty() {
                    continue;
                }
                format!(
                    "inject {}",
                    on.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
                )
            }
            _ => continue,
        };
        out.push(s);
    }
    out.join(" ")
}

fn status_line(app: &App, area: Rect, buf: &mut Buffer) {
    let line = match &app.prompt {
        Some(Prompt::Goto(s)) => Line::from(vec![
            Span::styled("go to time (e.g. 1.5ms): ", Style::new().fg(Color::Cyan)),
            Span::raw(format!("{s}█")),
        ]),
        Some(Prompt::Search(s)) => Line::from(vec![
            Span::styled("op id: ", Style::new().fg(Color::Cyan)),
            Span::raw(format!("{s}█")),
        ]),
        None => Line::from(vec![
            Span::styled(format!(" {} ", app.status), Style::new().fg(Color::Yellow)),
            Span::styled(
                " ? help  q quit  Enter blame  n/N next  +/- zoom  ←/→ cursor  H/L pan  0 fit  e export",
                style::dim(),
            ),
        ]),
    };
    Paragraph::new(line).render(area, buf);
}

pub const KEYS: &[(&str, &str)] = &[
    ("q, Ctrl-C", "quit"),
    ("?", "this help (any key closes it)"),
    ("Tab", "focus timeline / violations"),
    (
        "v, Shift-Tab, 1-4",
        "detail tab: held at cursor, folio/inode, stats, lints",
    ),
    (
        "Enter",
        "on a wait (held at cursor): go to its holder; else the violation",
    ),
    (
        "b",
        "go to the holder of the lock a thread waits for at the cursor",
    ),
    (
        "] / [",
        "walk the violation: its victim's op, each wait on its path, the culprit",
    ),
    ("n / N", "next / previous violation (and jump)"),
    (
        "j/k, ↑/↓",
        "select violation, or scroll lanes in the timeline",
    ),
    ("←/→, h/l", "move the cursor one cell"),
    ("H/L, Shift-←/→", "pan a quarter screen"),
    (
        "+ / -  (i / o)",
        "zoom in / out around the cursor; mouse wheel too",
    ),
    ("0, f", "zoom to fit the whole trace"),
    ("z", "zoom to the selection (blame window or searched op)"),
    ("g", "go to a time from the start (1.5ms, 300us, 2s)"),
    ("/", "find an op by id"),
    ("Home / End", "start of trace / follow live"),
    ("p, Space", "pause / resume following (live)"),
    (
        "t / c / I",
        "filter: next thread / lock class / inode (cycle to all)",
    ),
    ("Esc", "clear the highlight"),
    ("e", "export the window: Chrome JSON (Perfetto) and PNG"),
    ("click", "put the cursor there"),
];

fn help(area: Rect, buf: &mut Buffer) {
    let w = 76.min(area.width);
    let h = (KEYS.len() as u16 + 4).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(r, buf);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:>18}  "), Style::new().fg(Color::Cyan)),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(timeline::legend());
    Paragraph::new(lines)
        .block(
            Block::new()
                .borders(Borders::ALL)
                .title(Span::styled(" keys ", style::title())),
        )
        .render(r, buf);
}

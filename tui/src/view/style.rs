//! Colours and glyphs shared by the views.

use lockline_engine::probe::LockClass;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Widget};

pub fn class_color(c: LockClass) -> Color {
    match c {
        LockClass::Inode => Color::Red,
        LockClass::PagecacheAdd => Color::Green,
        LockClass::PagecacheBlock => Color::Magenta,
        LockClass::Folio => Color::Blue,
        LockClass::ILock => Color::Yellow,
        LockClass::Kernel => Color::Cyan,
    }
}

/// Left-aligned partial blocks, index = eighths filled.
pub const LEFT: [char; 9] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

pub fn title() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

pub fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

pub fn focused(on: bool) -> Style {
    if on {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::DarkGray)
    }
}

pub fn violation_color(class: &str) -> Color {
    match class {
        "dropped" => Color::Red,
        "stale" => Color::Yellow,
        "torn" => Color::Magenta,
        _ => Color::White,
    }
}

/// Background of the selected violation's window on its threads' lanes.
pub const WINDOW_BG: Color = Color::Indexed(236);
/// Background of the cursor column.
pub const CURSOR_BG: Color = Color::Indexed(239);

/// A bordered pane titled `title`, its border lit when focused; returns
/// the area inside.
pub fn pane(title: String, focus: bool, area: Rect, buf: &mut Buffer) -> Rect {
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(focused(focus))
        .title(Span::styled(title, self::title()));
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

//! Where each region of the screen is for a terminal of a given size: a
//! header row, the timeline (half the height), the violations and detail
//! panes side by side below it, a status row. One pure function,
//! [`Layout::new`], computes it; the state calls it on every
//! `Msg::Resize` (to map clicks and cursor steps to time) and the view
//! calls it for the area it draws into, so both agree by construction and
//! the view never writes back into the state.

use ratatui::layout::{Constraint, Layout as Split, Margin, Rect};

/// The smallest terminal the UI draws into; below it, a message.
pub const MIN_W: u16 = 80;
pub const MIN_H: u16 = 24;

/// Width of the lane labels left of the timeline's cells.
pub const LABEL_W: u16 = 14;

/// The regions of a screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The whole screen.
    pub area: Rect,
    /// Below [`MIN_W`] x [`MIN_H`] only a message is drawn and every
    /// region below is empty.
    pub too_small: bool,
    pub header: Rect,
    /// The timeline pane, border included.
    pub timeline: Rect,
    /// The timeline's lane cells: one column per step of time, one row
    /// per lane (the axis takes the two rows below). See
    /// [`timeline_cells`].
    pub cells: Rect,
    pub violations: Rect,
    pub detail: Rect,
    pub status: Rect,
}

impl Layout {
    /// The regions of `area`.
    pub fn new(area: Rect) -> Layout {
        let empty = Rect::new(area.x, area.y, 0, 0);
        if area.width < MIN_W || area.height < MIN_H {
            return Layout {
                area,
                too_small: true,
                header: empty,
                timeline: empty,
                cells: empty,
                violations: empty,
                detail: empty,
                status: empty,
            };
        }
        let [header, timeline, bottom, status] = Split::vertical([
            Constraint::Length(1),
            Constraint::Percentage(50),
            Constraint::Min(8),
            Constraint::Length(1),
        ])
        .areas(area);
        let [violations, detail] =
            Split::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(bottom);
        Layout {
            area,
            too_small: false,
            header,
            timeline,
            cells: timeline_cells(timeline),
            violations,
            detail,
            status,
        }
    }

    /// The regions of a `w` x `h` terminal.
    pub fn of_size(w: u16, h: u16) -> Layout {
        Layout::new(Rect::new(0, 0, w, h))
    }
}

/// An 80x24 terminal's, until the terminal says its size.
impl Default for Layout {
    fn default() -> Self {
        Layout::of_size(MIN_W, MIN_H)
    }
}

/// The lane cells of a timeline pane at `pane`: inside its border, right
/// of the lane labels, above the axis' two rows. Empty (zero width and
/// height) when the pane has no room for lanes.
pub fn timeline_cells(pane: Rect) -> Rect {
    let inner = pane_inner(pane);
    if inner.height < 3 || inner.width <= LABEL_W + 4 {
        return Rect::new(inner.x, inner.y, 0, 0);
    }
    Rect::new(
        inner.x + LABEL_W,
        inner.y,
        inner.width - LABEL_W,
        inner.height - 2,
    )
}

/// Inside a bordered pane.
pub fn pane_inner(pane: Rect) -> Rect {
    pane.inner(Margin::new(1, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_80x24_screen() {
        let l = Layout::default();
        assert!(!l.too_small);
        assert_eq!(l.header, Rect::new(0, 0, 80, 1));
        assert_eq!(l.timeline, Rect::new(0, 1, 80, 12));
        assert_eq!(l.violations, Rect::new(0, 13, 40, 10));
        assert_eq!(l.detail, Rect::new(40, 13, 40, 10));
        assert_eq!(l.status, Rect::new(0, 23, 80, 1));
        // Border, labels, axis.
        assert_eq!(l.cells, Rect::new(1 + LABEL_W, 2, 78 - LABEL_W, 8));
    }

    #[test]
    fn regions_follow_the_size_and_offset() {
        let l = Layout::new(Rect::new(5, 3, 200, 50));
        assert_eq!(l.header, Rect::new(5, 3, 200, 1));
        assert_eq!(l.timeline, Rect::new(5, 4, 200, 25));
        assert_eq!(l.cells, Rect::new(6 + LABEL_W, 5, 198 - LABEL_W, 21));
        assert_eq!(l.status, Rect::new(5, 52, 200, 1));
        assert_eq!(l.violations.width + l.detail.width, 200);
        assert_eq!(l.violations.bottom(), l.status.y);
    }

    #[test]
    fn too_small_has_no_regions() {
        for (w, h) in [(79, 24), (80, 23), (0, 0)] {
            let l = Layout::of_size(w, h);
            assert!(l.too_small);
            assert!(l.cells.is_empty() && l.timeline.is_empty());
        }
        assert!(!Layout::of_size(MIN_W, MIN_H).too_small);
    }

    #[test]
    fn a_cramped_pane_has_no_cells() {
        assert!(timeline_cells(Rect::new(0, 0, LABEL_W + 6, 20)).is_empty());
        assert!(timeline_cells(Rect::new(0, 0, 80, 4)).is_empty());
        assert_eq!(
            timeline_cells(Rect::new(0, 0, LABEL_W + 7, 5)),
            Rect::new(1 + LABEL_W, 1, 5, 1)
        );
    }
}

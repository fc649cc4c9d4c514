//! The visible stretch of time, the cursor in it, and the moves a user
//! makes on it (zoom around the cursor, pan, fit, follow live), as pure
//! arithmetic on nanoseconds: views map it onto however many cells they
//! have.

/// Narrowest view: 32 ns across the whole width.
pub const MIN_SPAN: u64 = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewport {
    /// Left edge, ns (trace clock).
    pub t0: u64,
    /// Width of the view, ns.
    pub span: u64,
    pub cursor: u64,
    /// Keep the right edge on the newest event as data arrives.
    pub follow: bool,
}

impl Default for Viewport {
    fn default() -> Self {
        Viewport {
            t0: 0,
            span: 1_000_000,
            cursor: 0,
            follow: true,
        }
    }
}

impl Viewport {
    pub fn t1(&self) -> u64 {
        self.t0.saturating_add(self.span)
    }

    /// Column of `t` in a view `width` cells wide (may be out of range).
    pub fn col(&self, t: u64, width: u16) -> i64 {
        let d = t as i128 - self.t0 as i128;
        (d * width as i128 / self.span.max(1) as i128) as i64
    }

    /// Start time of column `c`: its first nanosecond, the least `t`
    /// with `col(t) == c` (when cells are at least 1 ns wide), so a click
    /// on a column puts the cursor in that column.
    pub fn time_at(&self, c: u16, width: u16) -> u64 {
        self.t0 + (self.span as u128 * c as u128).div_ceil(width.max(1) as u128) as u64
    }

    /// ns per cell.
    pub fn cell_ns(&self, width: u16) -> u64 {
        (self.span / width.max(1) as u64).max(1)
    }

    /// Shows [a, b] with a margin of a tenth on each side.
    pub fn fit(&mut self, a: u64, b: u64) {
        let w = b.saturating_sub(a).max(MIN_SPAN);
        let margin = w / 10;
        self.t0 = a.saturating_sub(margin);
        self.span = w + 2 * margin;
        self.cursor = self.cursor.clamp(self.t0, self.t1());
    }

    /// Zooms by `factor` (< 1 in, > 1 out) keeping the cursor where it is
    /// on screen.
    pub fn zoom(&mut self, factor: f64) {
        let cursor = self.cursor.clamp(self.t0, self.t1());
        let frac = (cursor - self.t0) as f64 / self.span.max(1) as f64;
        let span = ((self.span as f64 * factor) as u64).clamp(MIN_SPAN, u64::MAX / 4);
        self.t0 = cursor.saturating_sub((frac * span as f64) as u64);
        self.span = span;
        self.cursor = cursor;
        if factor < 1.0 {
            self.follow = false;
        }
    }

    /// Pans by `frac` of the width (negative: back in time); leaves
    /// follow-live.
    pub fn pan(&mut self, frac: f64) {
        let d = (self.span as f64 * frac.abs()) as u64;
        if frac < 0.0 {
            self.t0 = self.t0.saturating_sub(d);
            self.cursor = self.cursor.saturating_sub(d);
        } else {
            self.t0 = self.t0.saturating_add(d);
            self.cursor = self.cursor.saturating_add(d);
        }
        self.follow = false;
    }

    /// Moves the cursor by `cells` cells of a `width`-cell view, panning
    /// when it leaves the view.
    pub fn step_cursor(&mut self, cells: i64, width: u16) {
        let d = self.cell_ns(width).saturating_mul(cells.unsigned_abs());
        self.cursor = if cells < 0 {
            self.cursor.saturating_sub(d)
        } else {
            self.cursor.saturating_add(d)
        };
        self.follow = false;
        self.show_cursor();
    }

    /// Puts the cursor at `t`, centring the view on it if it is outside.
    pub fn goto(&mut self, t: u64) {
        self.cursor = t;
        self.follow = false;
        self.show_cursor();
    }

    fn show_cursor(&mut self) {
        if self.cursor < self.t0 || self.cursor >= self.t1() {
            self.t0 = self.cursor.saturating_sub(self.span / 2);
        }
    }

    /// Data now reaches `last`: when following, slide so it is at the
    /// right edge, cursor with it.
    pub fn follow_to(&mut self, first: u64, last: u64) {
        if !self.follow {
            return;
        }
        if last.saturating_sub(first) < self.span {
            self.t0 = first;
        } else {
            self.t0 = last - self.span;
        }
        self.cursor = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vp(t0: u64, span: u64, cursor: u64) -> Viewport {
        Viewport {
            t0,
            span,
            cursor,
            follow: false,
        }
    }

    #[test]
    fn columns_and_times_agree() {
        let v = vp(1000, 100, 1000);
        assert_eq!(v.col(1000, 10), 0);
        assert_eq!(v.col(1050, 10), 5);
        assert_eq!(v.col(990, 10), -1);
        assert_eq!(v.time_at(5, 10), 1050);
        assert_eq!(v.cell_ns(10), 10);
        // Cells of a fractional number of ns: each column's start time is
        // in that column.
        for (span, w) in [(1_000_003, 186), (10, 3), (7_919, 64)] {
            let v = vp(5_000, span, 5_000);
            for c in 0..w {
                assert_eq!(v.col(v.time_at(c, w), w), c as i64, "{span}/{w} at {c}");
                assert_eq!(v.col(v.time_at(c + 1, w) - 1, w), c as i64);
            }
        }
    }

    #[test]
    fn zoom_keeps_cursor_in_place() {
        let mut v = vp(0, 1000, 250);
        v.zoom(0.5);
        assert_eq!(v.span, 500);
        assert_eq!(v.col(250, 100), 25);
        v.zoom(4.0);
        assert_eq!(v.span, 2000);
        // Clamped at time 0, so the cursor moves left on screen.
        assert_eq!((v.t0, v.col(250, 100)), (0, 12));
        v.span = 40;
        v.zoom(0.1);
        assert_eq!(v.span, MIN_SPAN);
    }

    #[test]
    fn pan_and_fit() {
        let mut v = vp(1000, 1000, 1500);
        v.follow = true;
        v.pan(0.5);
        assert_eq!((v.t0, v.cursor, v.follow), (1500, 2000, false));
        v.pan(-1.0);
        assert_eq!(v.t0, 500);
        v.fit(2000, 3000);
        assert_eq!((v.t0, v.span), (1900, 1200));
    }

    #[test]
    fn cursor_steps_pan_when_leaving_the_view() {
        let mut v = vp(0, 100, 95);
        v.step_cursor(1, 10);
        assert_eq!(v.cursor, 105);
        assert!(v.t0 > 0 && v.cursor < v.t1());
        v.goto(10_000);
        assert!(v.t0 <= 10_000 && 10_000 < v.t1());
    }

    #[test]
    fn following_slides_to_the_newest_data() {
        let mut v = Viewport {
            span: 100,
            ..Viewport::default()
        };
        v.follow_to(0, 50);
        assert_eq!((v.t0, v.cursor), (0, 50));
        v.follow_to(0, 500);
        assert_eq!((v.t0, v.cursor), (400, 500));
        v.pan(-0.1);
        v.follow_to(0, 900);
        assert_eq!(v.t0, 390);
    }
}

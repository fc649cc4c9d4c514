//! Time covered by one kind of thing on one lane (holds of one lock class,
//! waits, ops, folio marks), kept as sorted disjoint spans with running totals
//! so "how much of [t0, t1) is covered, by how many" costs two binary
//! searches whatever the trace's size. Old spans can be merged into coarse
//! ones (a span then records the time really covered inside it), which is
//! how a live view keeps memory bounded: the level of detail Perfetto's
//! slice mipmaps give, in one level that coarsens with age.

/// One span: `busy` ns of [start, end] covered by `count` intervals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
    pub busy: u64,
    pub count: u64,
}

impl Span {
    fn exact(&self) -> bool {
        self.busy >= self.end - self.start
    }
}

/// What a query window holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cover {
    /// Covered ns inside the window (scaled for spans cut by its edges).
    pub busy: u64,
    /// Intervals touching the window.
    pub count: u64,
    /// First covered instant inside the window, when the span there is
    /// exact (sub-cell edges are drawn only where they are known).
    pub first: Option<u64>,
    /// Last covered instant inside the window, likewise.
    pub last: Option<u64>,
}

/// A span as stored: its time and the busy time and count of every span
/// up to and including it, so a window's totals are two subtractions and
/// no separate prefix arrays are kept (32 bytes a span, not 48).
#[derive(Clone, Copy, Debug, Default)]
struct Stored {
    start: u64,
    end: u64,
    busy_to: u64,
    count_to: u64,
}

#[derive(Clone, Debug, Default)]
pub struct SpanList {
    spans: Vec<Stored>,
}

impl SpanList {
    pub fn new() -> SpanList {
        SpanList::default()
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Totals of the spans before `k`.
    fn before(&self, k: usize) -> (u64, u64) {
        match k.checked_sub(1) {
            Some(p) => (self.spans[p].busy_to, self.spans[p].count_to),
            None => (0, 0),
        }
    }

    fn span(&self, k: usize) -> Span {
        let (b, c) = self.before(k);
        let s = self.spans[k];
        Span {
            start: s.start,
            end: s.end,
            busy: s.busy_to - b,
            count: s.count_to - c,
        }
    }

    /// Every span, as intervals with their own busy time and count.
    pub fn spans(&self) -> Vec<Span> {
        (0..self.spans.len()).map(|k| self.span(k)).collect()
    }

    /// Replaces spans [i, j) with `with` and redoes the totals from i.
    fn splice(&mut self, i: usize, j: usize, with: &[Span]) {
        let tail: Vec<Span> = (j..self.spans.len()).map(|k| self.span(k)).collect();
        let (mut b, mut c) = self.before(i);
        self.spans.truncate(i);
        for s in with.iter().chain(&tail) {
            b += s.busy;
            c += s.count;
            self.spans.push(Stored {
                start: s.start,
                end: s.end,
                busy_to: b,
                count_to: c,
            });
        }
    }

    /// Adds [a, b) (b == a for an instant). Usually at the tail; anywhere
    /// is allowed (an outer hold closing after inner ones, late events).
    pub fn insert(&mut self, a: u64, b: u64) {
        let b = b.max(a);
        let last = self.spans.last().copied();
        if last.is_none_or(|l| a > l.end) {
            let (busy, count) = last.map_or((0, 0), |l| (l.busy_to, l.count_to));
            self.spans.push(Stored {
                start: a,
                end: b,
                busy_to: busy + (b - a),
                count_to: count + 1,
            });
            return;
        }
        // First span that ends at or after a; every span from there that
        // starts at or before b merges with [a, b).
        let i = self.spans.partition_point(|s| s.end < a);
        let j = i + self.spans[i..].partition_point(|s| s.start <= b);
        let one = Span {
            start: a,
            end: b,
            busy: b - a,
            count: 1,
        };
        if i == j {
            self.splice(i, i, &[one]);
            return;
        }
        let merged: Vec<Span> = (i..j).map(|k| self.span(k)).collect();
        let mut m = Span {
            start: a.min(merged[0].start),
            end: b.max(merged[merged.len() - 1].end),
            busy: 0,
            count: 1,
        };
        let mut overlap = 0;
        for s in &merged {
            m.busy += s.busy;
            m.count += s.count;
            // Where a coarse span's gaps lie is unknown: assume its
            // density.
            let ext = b.min(s.end).saturating_sub(a.max(s.start));
            let len = (s.end - s.start).max(1);
            overlap += (ext as u128 * s.busy.min(len) as u128 / len as u128) as u64;
        }
        m.busy = (m.busy + (b - a).saturating_sub(overlap)).min(m.end - m.start);
        if merged.iter().all(Span::exact) {
            // Touching or overlapping exact spans union into one
            // contiguous interval.
            m.busy = m.end - m.start;
        }
        self.splice(i, j, &[m]);
    }

    /// Index of the first span ending at or after `t`.
    pub fn seek(&self, t: u64) -> usize {
        self.spans.partition_point(|s| s.end < t)
    }

    /// What covers [t0, t1).
    pub fn cover(&self, t0: u64, t1: u64) -> Cover {
        let i = self.seek(t0);
        self.cover_from(i, t0, t1)
    }

    /// `cover` when the caller already knows `seek(t0)` (a row of cells
    /// walks left to right and reuses the previous cell's end index).
    pub fn cover_from(&self, mut i: usize, t0: u64, t1: u64) -> Cover {
        if t1 <= t0 {
            return Cover::default();
        }
        // A span that ends exactly at t0 does not reach into [t0, t1);
        // an instant at t0 does.
        while i < self.spans.len() && self.spans[i].end == t0 && self.spans[i].start < t0 {
            i += 1;
        }
        let j = i + self.spans[i..].partition_point(|s| s.start < t1);
        // An instant (start == end == t0) at the window's start counts.
        if i >= j {
            return Cover::default();
        }
        let (b0, c0) = self.before(i);
        let mut busy = self.spans[j - 1].busy_to - b0;
        let count = self.spans[j - 1].count_to - c0;
        for k in [i, j - 1] {
            let s = self.span(k);
            let len = s.end - s.start;
            if len == 0 {
                continue;
            }
            let inside = t1.min(s.end).saturating_sub(t0.max(s.start));
            if inside < len {
                let kept = (s.busy as u128 * inside as u128 / len as u128) as u64;
                busy = busy - s.busy + kept;
            }
            if i == j - 1 {
                break;
            }
        }
        let (f, l) = (self.span(i), self.span(j - 1));
        Cover {
            busy: busy.min(t1 - t0),
            count,
            first: f.exact().then(|| f.start.max(t0)),
            last: l.exact().then(|| l.end.min(t1)),
        }
    }

    /// Merges spans that end before `before` and lie less than `gap` apart
    /// into coarse spans that keep their busy time and count; returns how
    /// many spans went away.
    pub fn coarsen(&mut self, before: u64, gap: u64) -> usize {
        let n = self.spans.partition_point(|s| s.end < before);
        if n < 2 {
            return 0;
        }
        let mut out: Vec<Span> = Vec::with_capacity(n / 2);
        for k in 0..n {
            let s = self.span(k);
            match out.last_mut() {
                Some(m) if s.start.saturating_sub(m.end) < gap => {
                    m.end = m.end.max(s.end);
                    m.busy += s.busy;
                    m.count += s.count;
                }
                _ => out.push(s),
            }
        }
        let gone = n - out.len();
        if gone > 0 {
            self.splice(0, n, &out);
        }
        gone
    }

    /// Drops spans that end before `t`; returns how many.
    pub fn drop_before(&mut self, t: u64) -> usize {
        let n = self.spans.partition_point(|s| s.end < t);
        if n > 0 {
            self.splice(0, n, &[]);
        }
        n
    }

    pub fn bytes(&self) -> usize {
        self.spans.capacity() * std::mem::size_of::<Stored>()
    }

    pub fn shrink_to_fit(&mut self) {
        self.spans.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(iv: &[(u64, u64)]) -> SpanList {
        let mut l = SpanList::new();
        for &(a, b) in iv {
            l.insert(a, b);
        }
        l
    }

    #[test]
    fn disjoint_spans_cover_exactly() {
        let l = list(&[(10, 20), (30, 40)]);
        assert_eq!(l.cover(0, 100).busy, 20);
        assert_eq!(l.cover(15, 35).busy, 10);
        assert_eq!(l.cover(15, 35).count, 2);
        assert_eq!(l.cover(20, 30).busy, 0);
        assert_eq!(l.cover(15, 35).first, Some(15));
        assert_eq!(l.cover(0, 35).first, Some(10));
        assert_eq!(l.cover(0, 35).last, Some(35));
        assert_eq!(l.cover(40, 50), Cover::default());
    }

    #[test]
    fn nested_and_late_intervals_merge() {
        // Inner holds close first; the outer one arrives last and swallows them.
        let l = list(&[(12, 14), (16, 18), (10, 30), (50, 60), (40, 45)]);
        assert_eq!(
            l.spans(),
            [
                Span {
                    start: 10,
                    end: 30,
                    busy: 20,
                    count: 3
                },
                Span {
                    start: 40,
                    end: 45,
                    busy: 5,
                    count: 1
                },
                Span {
                    start: 50,
                    end: 60,
                    busy: 10,
                    count: 1
                },
            ]
        );
        assert_eq!(l.cover(0, 100).busy, 35);
        assert_eq!(l.cover(0, 100).count, 5);
    }

    #[test]
    fn instants_count_without_time() {
        let l = list(&[(5, 5), (7, 7), (9, 9)]);
        let c = l.cover(5, 9);
        assert_eq!((c.busy, c.count), (0, 2));
        assert_eq!(l.cover(0, 10).count, 3);
    }

    #[test]
    fn coarsening_keeps_busy_time_and_counts() {
        let mut l = list(&[(0, 1), (2, 3), (4, 5), (100, 110)]);
        let before = l.cover(0, 200);
        assert_eq!(l.coarsen(50, 10), 2);
        assert_eq!(l.len(), 2);
        let after = l.cover(0, 200);
        assert_eq!((after.busy, after.count), (before.busy, before.count));
        // A coarse span has no exact edges, and a window inside it gets
        // its share of the busy time.
        assert_eq!(l.cover(0, 200).first, None);
        assert_eq!(l.cover(0, 2).busy, 1);
        // Merging an exact interval into a coarse span keeps busy honest.
        l.insert(3, 4);
        assert_eq!(l.cover(0, 50).busy, 4);
    }

    #[test]
    fn drop_before_forgets_old_spans() {
        let mut l = list(&[(0, 1), (2, 3), (10, 20)]);
        assert_eq!(l.drop_before(5), 2);
        assert_eq!(l.cover(0, 100).busy, 10);
    }
}

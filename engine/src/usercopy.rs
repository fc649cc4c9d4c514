//! The copy from the caller's buffer: models the write side of an iov_iter
//! (an iovec of one or more segments), fault_in_iov_iter_readable(),
//! iov_iter_single_seg_count() and copy_folio_from_iter_atomic() with page
//! faults disabled, where a copy stops at the first user page that is not
//! mapped, possibly the very first.
//!
//! Userspace has no fault-disabled copy, so unmapped source pages are
//! drawn: after each fault-in (which maps everything it touches, as the
//! kernel's does for a valid buffer) a source page is unmapped again before
//! the atomic copy with the knob's probability — reclaimed, or moved by
//! migration as guest memory under compaction, KSM or NUMA balancing is.
//! In the `migrating` mode one run of consecutive source pages is moved per
//! pass instead of pages one by one. Independently, `short_copy_rate` stops
//! a copy at a random source page boundary (the older, simpler knob).
//! Every choice is a pure function of (seed, position, length, attempt), so
//! a seeded run makes the same choices again.
//!
//! Departure: the segments and their page offsets are drawn, not taken from
//! a real caller (QEMU's guest-memory iovecs); with one segment the page
//! boundaries are the real buffer's.

use crate::config::{SourceFaultMode, SourceFaults, PAGE_SIZE};
use crate::folio::Folio;
use crate::probe::points;

pub(crate) use crate::fault::seed_for_write;
pub use crate::fault::splitmix64;
use crate::fault::{chance, next_random};

const PAGE: usize = PAGE_SIZE as usize;
/// Source pages a migration moves at once in the `migrating` mode.
const MIGRATION_RUN_PAGES: usize = 16;

/// One iovec segment: bytes [start, end) of the write's buffer, beginning
/// `page_off` bytes into its first user page.
#[derive(Clone, Copy, Debug)]
struct Seg {
    start: usize,
    end: usize,
    page_off: usize,
}

/// The write's source as the kernel's iov_iter sees it.
pub(crate) struct IovIter<'a> {
    buf: &'a [u8],
    segs: Vec<Seg>,
    faults: SourceFaults,
    /// Source pages unmapped since the last fault-in, as sorted buffer
    /// ranges [lo, hi).
    unmapped: Vec<(usize, usize)>,
}

impl<'a> IovIter<'a> {
    /// Splits `buf` into `segments` iovec segments (sector multiples, each
    /// at a drawn sector offset into its first page); one segment keeps the
    /// buffer's real address.
    pub(crate) fn new(buf: &'a [u8], segments: u32, faults: SourceFaults) -> IovIter<'a> {
        let len = buf.len();
        let mut cuts: Vec<usize> = Vec::new();
        if segments > 1 && len >= 1024 {
            let slots = len / 512;
            for _ in 1..segments {
                let c = (1 + next_random() as usize % (slots - 1)) * 512;
                cuts.push(c);
            }
            cuts.sort_unstable();
            cuts.dedup();
        }
        let mut segs = Vec::with_capacity(cuts.len() + 1);
        let mut start = 0;
        for end in cuts.into_iter().chain(std::iter::once(len)) {
            let page_off = if segments > 1 {
                (next_random() as usize % (PAGE / 512)) * 512
            } else {
                buf.as_ptr() as usize % PAGE
            };
            segs.push(Seg {
                start,
                end,
                page_off,
            });
            start = end;
        }
        IovIter {
            buf,
            segs,
            faults,
            unmapped: Vec::new(),
        }
    }

    #[cfg(test)]
    fn nr_segments(&self) -> usize {
        self.segs.len()
    }

    fn seg_at(&self, from: usize) -> &Seg {
        let i = self.segs.partition_point(|s| s.end <= from);
        &self.segs[i.min(self.segs.len() - 1)]
    }

    /// iov_iter_single_seg_count(): bytes from `from` to the end of its
    /// segment.
    pub(crate) fn single_seg_count(&self, from: usize) -> usize {
        self.seg_at(from).end - from
    }

    /// Source pages of [from, from + n) as buffer ranges, in order: a new
    /// page starts at every page boundary of a segment and at every segment.
    fn pages(&self, from: usize, n: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let end = from + n;
        self.segs
            .iter()
            .filter(move |s| s.end > from && s.start < end)
            .flat_map(move |s| {
                let lo = s.start.max(from);
                let hi = s.end.min(end);
                // Page k of the segment covers [start + k*PAGE - off, +PAGE).
                let first = (lo - s.start + s.page_off) / PAGE;
                let last = (hi - 1 - s.start + s.page_off) / PAGE;
                (first..=last).map(move |k| {
                    let p0 = (s.start + k * PAGE).saturating_sub(s.page_off).max(s.start);
                    let p1 = (s.start + (k + 1) * PAGE - s.page_off).min(s.end);
                    (p0.max(lo), p1.min(hi))
                })
            })
    }

    /// fault_in_iov_iter_readable(iter, bytes) from `from`: maps every page
    /// it touches, then draws which of them are unmapped again before the
    /// pass's atomic copy. Always succeeds: the model's buffers are valid.
    pub(crate) fn fault_in(&mut self, from: usize, bytes: usize) {
        self.unmapped.clear();
        let rate = self.faults.rate;
        if rate <= 0.0 || bytes == 0 {
            return;
        }
        match self.faults.mode {
            SourceFaultMode::Scattered => {
                let pages: Vec<_> = self.pages(from, bytes).collect();
                for p in pages {
                    if chance(rate) {
                        self.unmapped.push(p);
                    }
                }
            }
            SourceFaultMode::Migrating => {
                if chance(rate) {
                    let pages: Vec<_> = self.pages(from, bytes).collect();
                    let at = next_random() as usize % pages.len();
                    let run = &pages[at..pages.len().min(at + MIGRATION_RUN_PAGES)];
                    self.unmapped.extend_from_slice(run);
                }
            }
        }
    }

    /// copy_folio_from_iter_atomic(): copies up to `n` bytes of the source
    /// from `from` into `folio` at `offset`; returns how many were copied,
    /// fewer (down to zero) when it meets an unmapped source page or the
    /// short-copy injection stops it.
    pub(crate) fn copy_to_folio(
        &self,
        folio: &Folio,
        offset: usize,
        from: usize,
        n: usize,
        short_copy_rate: f64,
    ) -> usize {
        let mut stop = n;
        if let Some(&(lo, _)) = self
            .unmapped
            .iter()
            .find(|(lo, hi)| *hi > from && *lo < from + n)
        {
            stop = lo.max(from) - from;
        }
        if stop > 0 && chance(short_copy_rate) {
            // The copy can only stop where a source page begins; 0 is
            // always possible.
            let bounds: Vec<usize> = self
                .pages(from, stop)
                .skip(1)
                .map(|(lo, _)| lo - from)
                .collect();
            let pick = next_random() as usize % (bounds.len() + 1);
            stop = if pick == 0 { 0 } else { bounds[pick - 1] };
        }
        if stop != n {
            points::short_copy(folio.ino, folio.index, folio.id, n as u64, stop as u64);
        }
        folio.copy_in(offset, &self.buf[from..from + stop]);
        stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(rate: f64, mode: SourceFaultMode) -> SourceFaults {
        SourceFaults { rate, mode }
    }

    #[test]
    fn no_injection_copies_everything() {
        let f = Folio::new(1, 0, 1);
        f.lock();
        let src = vec![9u8; 5000];
        let it = IovIter::new(&src, 1, SourceFaults::default());
        assert_eq!(it.copy_to_folio(&f, 100, 0, 5000, 0.0), 5000);
        f.unlock();
    }

    #[test]
    fn short_copies_stop_at_source_page_boundaries() {
        let f = Folio::new(1, 0, 4);
        f.lock();
        let buf = vec![1u8; 70000];
        let src = &buf[123..60000];
        let it = IovIter::new(src, 1, SourceFaults::default());
        let mut shorts = 0;
        for i in 0..200 {
            seed_for_write(7, i, 1);
            let n = it.copy_to_folio(&f, 0, 0, src.len(), 1.0);
            assert!(n < src.len());
            if n > 0 {
                assert_eq!((src.as_ptr() as usize + n) % 4096, 0, "stopped mid-page");
                shorts += 1;
            }
        }
        assert!(shorts > 100, "most short copies copy something");
        // Same seed, same choice.
        seed_for_write(7, 3, 1);
        let a = it.copy_to_folio(&f, 0, 0, src.len(), 1.0);
        seed_for_write(7, 3, 1);
        assert_eq!(it.copy_to_folio(&f, 0, 0, src.len(), 1.0), a);
        f.unlock();
    }

    #[test]
    fn segments_cover_the_buffer_and_bound_single_segment_retries() {
        let buf = vec![0u8; 64 << 10];
        seed_for_write(3, 0, buf.len() as u64);
        let it = IovIter::new(&buf, 5, SourceFaults::default());
        assert!(it.nr_segments() > 1 && it.nr_segments() <= 5);
        let mut at = 0;
        while at < buf.len() {
            let n = it.single_seg_count(at);
            assert!(n > 0 && n.is_multiple_of(512));
            at += n;
        }
        assert_eq!(at, buf.len());
        // Pages tile the range without gaps, none longer than a page.
        let pages: Vec<_> = it.pages(100, 30000).collect();
        assert_eq!(pages.first().unwrap().0, 100);
        assert_eq!(pages.last().unwrap().1, 30100);
        for w in pages.windows(2) {
            assert_eq!(w[0].1, w[1].0);
        }
        assert!(pages.iter().all(|(lo, hi)| hi > lo && hi - lo <= PAGE));
    }

    #[test]
    fn an_unmapped_first_page_copies_nothing_until_faulted_in() {
        let f = Folio::new(1, 0, 4);
        f.lock();
        let buf = vec![5u8; 32 << 10];
        seed_for_write(11, 0, 1);
        let mut it = IovIter::new(&buf, 3, faults(1.0, SourceFaultMode::Scattered));
        it.fault_in(0, buf.len());
        // Every page was unmapped again: the atomic copy makes no progress.
        assert_eq!(it.copy_to_folio(&f, 0, 0, buf.len(), 0.0), 0);
        let mut it = IovIter::new(&buf, 3, faults(0.0, SourceFaultMode::Scattered));
        it.fault_in(0, buf.len());
        assert_eq!(it.copy_to_folio(&f, 0, 0, buf.len(), 0.0), buf.len());
        f.unlock();
    }

    #[test]
    fn a_migrating_run_stops_the_copy_at_its_first_page() {
        let f = Folio::new(1, 0, 4);
        f.lock();
        let buf = vec![5u8; 64 << 10];
        let mut stops = std::collections::BTreeSet::new();
        for i in 0..64 {
            seed_for_write(5, i, 1);
            let mut it = IovIter::new(&buf, 1, faults(1.0, SourceFaultMode::Migrating));
            it.fault_in(0, buf.len());
            let (lo, _) = it.unmapped[0];
            assert!(it.unmapped.len() <= MIGRATION_RUN_PAGES);
            assert_eq!(it.copy_to_folio(&f, 0, 0, buf.len(), 0.0), lo);
            stops.insert(lo);
        }
        assert!(stops.contains(&0) || stops.len() > 4, "runs start anywhere");
        f.unlock();
    }
}

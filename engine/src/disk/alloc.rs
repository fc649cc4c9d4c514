//! Block allocator (models bcachefs's bucket allocator only loosely: a
//! bitmap), with deferred frees so a crash never finds a committed extent's
//! blocks reused.
//!
//! Two bitmaps over the data area: `used` is what the in-memory metadata
//! references and is what a commit writes; `busy` is what may not be handed
//! out. They differ in two ways: blocks reserved for a write whose IO has not
//! finished are busy but not yet used (so a commit in between does not record
//! blocks with no data), and freed blocks stay busy until a commit that no
//! longer references them is durable (the previous commit may still map them).

use super::error::{DiskError, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitmap {
    words: Vec<u64>,
    bits: u64,
}

impl Bitmap {
    pub(crate) fn new(bits: u64) -> Bitmap {
        Bitmap {
            words: vec![0; bits.div_ceil(64) as usize],
            bits,
        }
    }

    /// None if bits past the end are set (a damaged blob).
    pub(crate) fn from_words(words: Vec<u64>, bits: u64) -> Option<Bitmap> {
        if words.len() as u64 != bits.div_ceil(64) {
            return None;
        }
        if !bits.is_multiple_of(64) {
            let last = *words.last()?;
            if last >> (bits % 64) != 0 {
                return None;
            }
        }
        Some(Bitmap { words, bits })
    }

    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }

    pub(crate) fn bits(&self) -> u64 {
        self.bits
    }

    pub(crate) fn get(&self, i: u64) -> bool {
        i < self.bits && self.words[(i / 64) as usize] >> (i % 64) & 1 == 1
    }

    /// Sets bits [i, i+len) and returns how many were clear before.
    pub fn set_range(&mut self, i: u64, len: u64) -> u64 {
        let mut changed = 0;
        for b in i..(i + len).min(self.bits) {
            let w = &mut self.words[(b / 64) as usize];
            let m = 1u64 << (b % 64);
            changed += (*w & m == 0) as u64;
            *w |= m;
        }
        changed
    }

    /// Clears bits [i, i+len) and returns how many were set before.
    pub fn clear_range(&mut self, i: u64, len: u64) -> u64 {
        let mut changed = 0;
        for b in i..(i + len).min(self.bits) {
            let w = &mut self.words[(b / 64) as usize];
            let m = 1u64 << (b % 64);
            changed += (*w & m != 0) as u64;
            *w &= !m;
        }
        changed
    }

    pub(crate) fn count_ones(&self) -> u64 {
        self.words.iter().map(|w| w.count_ones() as u64).sum()
    }

    /// First clear bit in [from, self.bits).
    fn next_clear(&self, from: u64) -> Option<u64> {
        let mut i = from;
        while i < self.bits {
            let w = self.words[(i / 64) as usize] | ((1u64 << (i % 64)) - 1);
            if w != u64::MAX {
                let b = (i / 64) * 64 + (!w).trailing_zeros() as u64;
                return (b < self.bits).then_some(b);
            }
            i = (i / 64 + 1) * 64;
        }
        None
    }

    /// Length of the clear run starting at `i`, at most `max`.
    fn clear_run(&self, i: u64, max: u64) -> u64 {
        let mut n = 0;
        while n < max && i + n < self.bits && !self.get(i + n) {
            n += 1;
        }
        n
    }
}

pub(crate) struct Allocator {
    /// Absolute block number of bit 0.
    base: u64,
    used: Bitmap,
    busy: Bitmap,
    busy_count: u64,
    /// Freed since the metadata now being built started; busy until durable.
    pending: Vec<(u64, u64)>,
}

impl Allocator {
    pub(crate) fn new(base: u64, used: Bitmap) -> Allocator {
        let busy_count = used.count_ones();
        Allocator {
            base,
            busy: used.clone(),
            used,
            busy_count,
            pending: Vec::new(),
        }
    }

    pub(crate) fn used(&self) -> &Bitmap {
        &self.used
    }

    pub(crate) fn free_blocks(&self) -> u64 {
        self.busy.bits() - self.busy_count
    }

    /// Reserves `n` blocks, first-fit from `goal` (wrapping), as few runs as
    /// first-fit gives. All or nothing. Busy, not used, until `confirm`.
    pub(crate) fn reserve(&mut self, n: u64, goal: u64) -> Result<Vec<(u64, u64)>> {
        if n > self.free_blocks() {
            return Err(DiskError::NoSpace);
        }
        let bits = self.busy.bits();
        let mut pos = goal.saturating_sub(self.base).min(bits);
        let mut wrapped = false;
        let mut runs: Vec<(u64, u64)> = Vec::new();
        let mut left = n;
        while left > 0 {
            let Some(start) = self.busy.next_clear(pos) else {
                // free_blocks() promised enough room, so one wrap finds it.
                assert!(!wrapped, "allocator count out of sync with bitmap");
                wrapped = true;
                pos = 0;
                continue;
            };
            let len = self.busy.clear_run(start, left);
            self.busy_count += self.busy.set_range(start, len);
            match runs.last_mut() {
                Some(r) if r.0 + r.1 == self.base + start => r.1 += len,
                _ => runs.push((self.base + start, len)),
            }
            left -= len;
            pos = start + len;
        }
        Ok(runs)
    }

    /// The reserved run now holds its data and is referenced by metadata.
    pub(crate) fn confirm(&mut self, start: u64, len: u64) {
        self.used.set_range(start - self.base, len);
    }

    /// Gives back a reservation whose IO failed; nothing committed saw it.
    pub(crate) fn unreserve(&mut self, start: u64, len: u64) {
        self.busy_count -= self.busy.clear_range(start - self.base, len);
    }

    /// The metadata stopped referencing these blocks.
    pub(crate) fn free(&mut self, start: u64, len: u64) {
        self.used.clear_range(start - self.base, len);
        self.pending.push((start, len));
    }

    /// Frees that the metadata about to be serialized no longer references.
    pub(crate) fn take_pending(&mut self) -> Vec<(u64, u64)> {
        std::mem::take(&mut self.pending)
    }

    /// The commit that dropped these is durable: they may be reused.
    pub(crate) fn release(&mut self, ranges: &[(u64, u64)]) {
        for &(start, len) in ranges {
            // A block freed and then used again can't happen (it stayed
            // busy), so only blocks still unused become allocatable.
            for b in start..start + len {
                if !self.used.get(b - self.base) {
                    self.busy_count -= self.busy.clear_range(b - self.base, 1);
                }
            }
        }
    }

    /// The commit failed: these stay pinned for the next one.
    pub(crate) fn restore_pending(&mut self, ranges: Vec<(u64, u64)>) {
        self.pending.extend(ranges);
    }

    pub(crate) fn pending_blocks(&self) -> u64 {
        self.pending.iter().map(|r| r.1).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_fit_contiguous_and_wraps() {
        let mut a = Allocator::new(100, Bitmap::new(200));
        assert_eq!(a.reserve(10, 0).unwrap(), vec![(100, 10)]);
        assert_eq!(a.reserve(5, 150).unwrap(), vec![(150, 5)]);
        // From 295: 295..300, then wraps to the first hole at 110.
        assert_eq!(a.reserve(8, 295).unwrap(), vec![(295, 5), (110, 3)]);
        assert_eq!(a.free_blocks(), 200 - 23);
        assert!(matches!(a.reserve(178, 0), Err(DiskError::NoSpace)));
        assert_eq!(a.free_blocks(), 177, "a failed reserve takes nothing");
        let all = a.reserve(177, 0).unwrap();
        assert_eq!(all.iter().map(|r| r.1).sum::<u64>(), 177);
        assert_eq!(a.free_blocks(), 0);
    }

    #[test]
    fn frees_are_deferred_until_released() {
        let mut a = Allocator::new(0, Bitmap::new(64));
        let r = a.reserve(64, 0).unwrap();
        a.confirm(0, 64);
        assert_eq!(r, vec![(0, 64)]);
        a.free(10, 4);
        assert!(!a.used().get(10), "the next commit must not reference it");
        assert!(matches!(a.reserve(1, 0), Err(DiskError::NoSpace)));
        let p = a.take_pending();
        a.release(&p);
        assert_eq!(a.free_blocks(), 4);
        assert_eq!(a.reserve(4, 0).unwrap(), vec![(10, 4)]);
    }

    #[test]
    fn failed_commit_keeps_frees_pinned() {
        let mut a = Allocator::new(0, Bitmap::new(64));
        a.reserve(8, 0).unwrap();
        a.confirm(0, 8);
        a.free(0, 8);
        let p = a.take_pending();
        a.restore_pending(p);
        assert_eq!(a.free_blocks(), 56);
        assert_eq!(a.pending_blocks(), 8);
        let p = a.take_pending();
        a.release(&p);
        assert_eq!(a.free_blocks(), 64);
    }

    #[test]
    fn unreserve_and_bitmap_edges() {
        let mut a = Allocator::new(0, Bitmap::new(70));
        a.reserve(3, 66).unwrap();
        a.unreserve(66, 3);
        assert_eq!(a.free_blocks(), 70);
        assert!(Bitmap::from_words(vec![0, 1 << 6], 70).is_none());
        assert!(Bitmap::from_words(vec![0, 1 << 5], 70).is_some());
        assert!(Bitmap::from_words(vec![0], 70).is_none());
    }
}

//! The file as read back, decoded sector by sector into runs of equal
//! content (zeros, one op's stamps, garbage, or nothing past the end), so
//! classification works per run rather than per sector.

use crate::stamp::{self, GarbageKind, SECTOR};

/// The thread index of a stamp whose writer announced none (an op of a
/// FUSE or exec'd program, resolved from digests).
pub(crate) const NO_THREAD: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Content {
    Zero,
    /// Data no op of the trace touched: older than the trace, not judged.
    Prior,
    /// Past the read-back size: reads as zeros, but is reported as such.
    Absent,
    Stamp {
        op: u64,
        thread: u32,
    },
    Garbage(GarbageKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub lo: u64,
    pub hi: u64,
    pub content: Content,
}

pub(crate) struct Decoded {
    /// Covers [0, nr_sectors) without gaps, in order.
    pub runs: Vec<Run>,
    /// (op, lo, hi, thread) of every stamped run, sorted, for "does op B
    /// hold any sector in this range" and "which thread ran op B".
    held: Vec<(u64, u64, u64, u32)>,
}

impl Decoded {
    /// Whether `op` holds any sector in [lo, hi).
    pub fn holds_any(&self, op: u64, lo: u64, hi: u64) -> bool {
        if lo >= hi {
            return false;
        }
        let i = self.held.partition_point(|&(o, l, _, _)| (o, l) < (op, hi));
        i > 0 && {
            let (o, _, h, _) = self.held[i - 1];
            o == op && h > lo
        }
    }

    /// The workload thread index stamped by `op`, if any sector of it survived.
    pub fn thread_of(&self, op: u64) -> Option<u32> {
        let i = self.held.partition_point(|&(o, ..)| o < op);
        self.held
            .get(i)
            .filter(|h| h.0 == op && h.3 != NO_THREAD)
            .map(|h| h.3)
    }

    /// Every op that holds some sector, with its thread index.
    pub fn stamped_ops(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.held
            .iter()
            .filter(|h| h.3 != NO_THREAD)
            .map(|h| (h.0, h.3))
    }

    /// Runs that cover [0, n) in order, with the held index built.
    pub fn from_runs(runs: Vec<Run>) -> Decoded {
        let mut held: Vec<_> = runs
            .iter()
            .filter_map(|r| match r.content {
                Content::Stamp { op, thread } => Some((op, r.lo, r.hi, thread)),
                _ => None,
            })
            .collect();
        held.sort_unstable();
        Decoded { runs, held }
    }
}

/// Appends sector `s` with content `c`, extending the last run when equal.
fn push(runs: &mut Vec<Run>, s: u64, c: Content) {
    push_run(runs, s, s + 1, c);
}

/// Appends sectors [lo, hi) with content `c`, extending the last run when
/// equal.
pub(crate) fn push_run(runs: &mut Vec<Run>, lo: u64, hi: u64, c: Content) {
    if lo >= hi {
        return;
    }
    match runs.last_mut() {
        Some(r) if r.content == c && r.hi == lo => r.hi = hi,
        _ => runs.push(Run { lo, hi, content: c }),
    }
}

/// Decodes `data` (the whole file as read back) and pads it with
/// [`Content::Absent`] up to `nr_sectors`.
pub(crate) fn decode_file(data: &[u8], nr_sectors: u64) -> Decoded {
    decode_range(data, 0, nr_sectors)
}

/// Decodes `data` read at sector `first` (a read during the run); the
/// sectors before it are one run of zeros the caller ignores.
pub(crate) fn decode_range(data: &[u8], first: u64, nr_sectors: u64) -> Decoded {
    let mut runs: Vec<Run> = Vec::new();
    if first > 0 {
        runs.push(Run {
            lo: 0,
            hi: first,
            content: Content::Zero,
        });
    }
    let mut chunks = data.chunks_exact(SECTOR);
    let mut s = first;
    for sector in &mut chunks {
        let c = classify_sector(sector, s);
        push(&mut runs, s, c);
        s += 1;
    }
    if !chunks.remainder().is_empty() {
        // The bytes past the size read back as zeros, as they would from
        // a real file's last block.
        let mut pad = [0u8; SECTOR];
        pad[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        let c = classify_sector(&pad, s);
        push(&mut runs, s, c);
        s += 1;
    }
    if s < nr_sectors {
        runs.push(Run {
            lo: s,
            hi: nr_sectors,
            content: Content::Absent,
        });
    }
    Decoded::from_runs(runs)
}

#[inline]
fn classify_sector(sector: &[u8], s: u64) -> Content {
    match stamp::decode_detailed(sector, s * SECTOR as u64) {
        Ok(None) => Content::Zero,
        Ok(Some(st)) => Content::Stamp {
            op: st.op,
            thread: st.thread,
        },
        Err(g) => Content::Garbage(g),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_held_index() {
        let mut f = vec![0u8; 10 * SECTOR];
        stamp::fill(&mut f[2 * SECTOR..5 * SECTOR], 2 * SECTOR as u64, 7, 1);
        stamp::fill(&mut f[6 * SECTOR..8 * SECTOR], 6 * SECTOR as u64, 8, 2);
        f[9 * SECTOR + 3] = 1;
        let d = decode_file(&f[..9 * SECTOR + 100], 12);
        let kinds: Vec<_> = d.runs.iter().map(|r| (r.lo, r.hi, r.content)).collect();
        assert_eq!(
            kinds,
            vec![
                (0, 2, Content::Zero),
                (2, 5, Content::Stamp { op: 7, thread: 1 }),
                (5, 6, Content::Zero),
                (6, 8, Content::Stamp { op: 8, thread: 2 }),
                (8, 9, Content::Zero),
                (9, 10, Content::Garbage(GarbageKind::NoMagic)),
                (10, 12, Content::Absent),
            ]
        );
        assert_eq!(d.thread_of(7), Some(1));
        assert_eq!(d.thread_of(8), Some(2));
        assert_eq!(d.thread_of(9), None);
        assert!(d.holds_any(7, 0, 3));
        assert!(d.holds_any(7, 4, 100));
        assert!(!d.holds_any(7, 5, 100));
        assert!(!d.holds_any(8, 0, 6));
        assert!(d.holds_any(8, 7, 8));
        assert!(!d.holds_any(9, 0, 100));
    }
}

//! An inode's extent map: file blocks to disk blocks, each extent written or
//! unwritten (bcachefs's KEY_TYPE_extent vs. reservation keys, simplified).

use super::metadata::{Extent, InodeRec};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mapping {
    Hole,
    Unwritten(u64),
    Written(u64),
}

/// A piece of a file range with one kind of mapping; the disk block is that
/// of the piece's first file block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seg {
    pub file_block: u64,
    pub len: u64,
    pub map: Mapping,
}

impl InodeRec {
    fn overlapping(&self, start: u64, end: u64) -> Vec<u64> {
        let first = self
            .extents
            .range(..=start)
            .next_back()
            .filter(|(&k, e)| k + e.len > start)
            .map_or(start, |(&k, _)| k);
        self.extents.range(first..end).map(|(&k, _)| k).collect()
    }

    /// The mapping of [start, start+n), holes included, in file order.
    pub(crate) fn map(&self, start: u64, n: u64) -> Vec<Seg> {
        if n == 0 {
            return Vec::new();
        }
        let end = start + n;
        let mut out = Vec::new();
        let mut pos = start;
        for k in self.overlapping(start, end) {
            let e = self.extents[&k];
            let s = k.max(pos);
            if s > pos {
                out.push(Seg {
                    file_block: pos,
                    len: s - pos,
                    map: Mapping::Hole,
                });
            }
            let stop = (k + e.len).min(end);
            let disk = e.disk + (s - k);
            let map = if e.unwritten {
                Mapping::Unwritten(disk)
            } else {
                Mapping::Written(disk)
            };
            out.push(Seg {
                file_block: s,
                len: stop - s,
                map,
            });
            pos = stop;
        }
        if pos < end {
            out.push(Seg {
                file_block: pos,
                len: end - pos,
                map: Mapping::Hole,
            });
        }
        out
    }

    /// Removes [start, start+n) from the map, splitting extents at the
    /// edges; returns the removed pieces keyed by file block.
    pub(crate) fn take(&mut self, start: u64, n: u64) -> Vec<(u64, Extent)> {
        if n == 0 {
            return Vec::new();
        }
        let end = start.saturating_add(n);
        let mut out = Vec::new();
        for k in self.overlapping(start, end) {
            let e = self.extents.remove(&k).expect("key just listed");
            let s = k.max(start);
            let stop = (k + e.len).min(end);
            if k < s {
                self.extents.insert(k, Extent { len: s - k, ..e });
            }
            if k + e.len > stop {
                let off = stop - k;
                self.extents.insert(
                    stop,
                    Extent {
                        disk: e.disk + off,
                        len: e.len - off,
                        ..e
                    },
                );
            }
            out.push((
                s,
                Extent {
                    disk: e.disk + (s - k),
                    len: stop - s,
                    ..e
                },
            ));
        }
        out
    }

    /// Maps a hole, merging with neighbours that continue it on disk.
    pub(crate) fn put(&mut self, file_block: u64, mut e: Extent) {
        let mut start = file_block;
        if let Some((&pk, &p)) = self.extents.range(..file_block).next_back() {
            if pk + p.len == file_block && p.disk + p.len == e.disk && p.unwritten == e.unwritten {
                self.extents.remove(&pk);
                start = pk;
                e = Extent {
                    disk: p.disk,
                    len: p.len + e.len,
                    ..e
                };
            }
        }
        let next = file_block + (e.len - (file_block - start));
        if let Some(&nx) = self.extents.get(&next) {
            if e.disk + e.len == nx.disk && nx.unwritten == e.unwritten {
                self.extents.remove(&next);
                e.len += nx.len;
            }
        }
        self.extents.insert(start, e);
    }

    pub(crate) fn block_count(&self) -> u64 {
        self.extents.values().map(|e| e.len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::FileKind;

    fn ext(disk: u64, len: u64, unwritten: bool) -> Extent {
        Extent {
            disk,
            len,
            unwritten,
        }
    }

    #[test]
    fn map_reports_holes_and_offsets() {
        let mut r = InodeRec::new(FileKind::File, 0);
        r.put(2, ext(100, 3, false));
        r.put(7, ext(200, 2, true));
        assert_eq!(
            r.map(0, 10),
            vec![
                Seg {
                    file_block: 0,
                    len: 2,
                    map: Mapping::Hole
                },
                Seg {
                    file_block: 2,
                    len: 3,
                    map: Mapping::Written(100)
                },
                Seg {
                    file_block: 5,
                    len: 2,
                    map: Mapping::Hole
                },
                Seg {
                    file_block: 7,
                    len: 2,
                    map: Mapping::Unwritten(200)
                },
                Seg {
                    file_block: 9,
                    len: 1,
                    map: Mapping::Hole
                },
            ]
        );
        assert_eq!(
            r.map(3, 1),
            vec![Seg {
                file_block: 3,
                len: 1,
                map: Mapping::Written(101)
            }]
        );
    }

    #[test]
    fn take_splits_and_put_merges() {
        let mut r = InodeRec::new(FileKind::File, 0);
        r.put(0, ext(100, 10, true));
        let got = r.take(3, 4);
        assert_eq!(got, vec![(3, ext(103, 4, true))]);
        assert_eq!(r.extents.len(), 2);
        assert_eq!(r.block_count(), 6);
        r.put(3, ext(103, 4, false));
        assert_eq!(r.extents.len(), 3, "written does not merge with unwritten");
        let got = r.take(3, 4);
        r.put(
            3,
            Extent {
                unwritten: true,
                ..got[0].1
            },
        );
        assert_eq!(r.extents.len(), 1, "merges on both sides");
        assert_eq!(r.extents[&0], ext(100, 10, true));
        assert_eq!(r.take(20, u64::MAX - 20), vec![]);
        assert_eq!(r.take(5, u64::MAX - 5), vec![(5, ext(105, 5, true))]);
        assert_eq!(r.block_count(), 5);
    }
}

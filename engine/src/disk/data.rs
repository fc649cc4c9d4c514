//! File data: read, write, fallocate, punch and truncate on the extent maps
//! (bcachefs's bch2_extent_update / fpunch / truncate, in miniature).
//!
//! Writes map new blocks only after their data is on disk, so a commit taken
//! while a write is in flight never records blocks holding stale bytes; the
//! same goes for flipping unwritten extents to written.

use super::error::{DiskError, Result};
use super::extents::Mapping;
use super::io::AlignedBuf;
use super::metadata::{Extent, InodeRec};
use super::{Disk, FileKind, Ino, State, BLOCK_SIZE, MAX_FILE_BLOCKS};

fn whole_blocks(len: usize) -> Result<u64> {
    if !(len as u64).is_multiple_of(BLOCK_SIZE) {
        return Err(DiskError::Invalid(format!(
            "IO of {len} bytes is not a multiple of the block size"
        )));
    }
    Ok(len as u64 / BLOCK_SIZE)
}

fn check_range(first: u64, n: u64) -> Result<()> {
    if first.checked_add(n).is_none_or(|end| end > MAX_FILE_BLOCKS) {
        return Err(DiskError::Invalid(format!(
            "file blocks {first}+{n} past the maximum file size"
        )));
    }
    Ok(())
}

/// One piece of a write and what its completion does to the map.
#[derive(Clone, Copy)]
enum Kind {
    /// Freshly reserved blocks: mapped written after the IO.
    New,
    /// An unwritten extent: flipped to written after the IO.
    Convert,
    /// Already written: overwritten in place, nothing to record.
    InPlace,
}

#[derive(Clone, Copy)]
struct Piece {
    file_block: u64,
    len: u64,
    disk: u64,
    kind: Kind,
}

impl State {
    fn file(&self, ino: Ino) -> Result<&InodeRec> {
        let rec = self.inode(ino)?;
        if rec.kind == FileKind::Dir {
            return Err(DiskError::IsDir);
        }
        Ok(rec)
    }

    /// Where to look for blocks for file block `fb`: right after the extent
    /// before it, so sequential writes land contiguously.
    fn goal(&self, rec: &InodeRec, fb: u64) -> u64 {
        rec.extents
            .range(..fb)
            .next_back()
            .map_or(self.cursor, |(_, e)| e.disk + e.len)
    }

    /// Reserves `n` blocks and splits the holes of `segs` over them.
    fn reserve_holes(&mut self, ino: Ino, first: u64, n: u64) -> Result<Vec<Piece>> {
        let rec = self.file(ino)?;
        let segs = rec.map(first, n);
        let holes: u64 = segs
            .iter()
            .filter(|s| s.map == Mapping::Hole)
            .map(|s| s.len)
            .sum();
        let goal = self.goal(rec, first);
        let mut runs = if holes > 0 {
            self.alloc.reserve(holes, goal)?
        } else {
            Vec::new()
        }
        .into_iter();
        if let Some(&(s, l)) = runs.as_slice().last() {
            self.cursor = s + l;
        }
        let mut pieces = Vec::new();
        let mut run: Option<(u64, u64)> = None;
        for seg in segs {
            match seg.map {
                Mapping::Written(d) => pieces.push(Piece {
                    file_block: seg.file_block,
                    len: seg.len,
                    disk: d,
                    kind: Kind::InPlace,
                }),
                Mapping::Unwritten(d) => pieces.push(Piece {
                    file_block: seg.file_block,
                    len: seg.len,
                    disk: d,
                    kind: Kind::Convert,
                }),
                Mapping::Hole => {
                    let (mut fb, mut left) = (seg.file_block, seg.len);
                    while left > 0 {
                        let (d, l) = match run.take() {
                            Some(r) => r,
                            None => runs.next().expect("reserved exactly the holes"),
                        };
                        let take = l.min(left);
                        pieces.push(Piece {
                            file_block: fb,
                            len: take,
                            disk: d,
                            kind: Kind::New,
                        });
                        if l > take {
                            run = Some((d + take, l - take));
                        }
                        fb += take;
                        left -= take;
                    }
                }
            }
        }
        Ok(pieces)
    }
}

impl Disk {
    /// Reads whole blocks; holes and unwritten extents read as zeros. Does
    /// not look at the file size.
    pub fn read(&self, ino: Ino, file_block: u64, buf: &mut [u8]) -> Result<()> {
        self.check_mounted()?;
        let n = whole_blocks(buf.len())?;
        check_range(file_block, n)?;
        let segs = self.state.lock().file(ino)?.map(file_block, n);
        for seg in segs {
            let off = ((seg.file_block - file_block) * BLOCK_SIZE) as usize;
            let piece = &mut buf[off..off + (seg.len * BLOCK_SIZE) as usize];
            match seg.map {
                Mapping::Hole | Mapping::Unwritten(_) => piece.fill(0),
                Mapping::Written(d) => self.dev.read_at(piece, d * BLOCK_SIZE)?,
            }
        }
        Ok(())
    }

    /// Writes whole blocks: allocates holes, converts unwritten extents,
    /// overwrites written ones in place. Never changes the size.
    pub fn write(&self, ino: Ino, file_block: u64, data: &[u8]) -> Result<()> {
        self.check_mounted()?;
        let n = whole_blocks(data.len())?;
        check_range(file_block, n)?;
        if n == 0 {
            return Ok(());
        }
        let pieces = self.with_space_retry(|st| st.reserve_holes(ino, file_block, n))?;
        let mut result = Ok(());
        for p in &pieces {
            let off = ((p.file_block - file_block) * BLOCK_SIZE) as usize;
            let bytes = &data[off..off + (p.len * BLOCK_SIZE) as usize];
            result = self.dev.write_at(bytes, p.disk * BLOCK_SIZE);
            if result.is_err() {
                break;
            }
        }
        let mut st = self.state.lock();
        let st = &mut *st;
        let alive = st.inodes.contains_key(&ino);
        for p in &pieces {
            match p.kind {
                Kind::New if result.is_err() || !alive => st.alloc.unreserve(p.disk, p.len),
                Kind::New => {
                    st.alloc.confirm(p.disk, p.len);
                    let rec = st.inodes.get_mut(&ino).expect("alive");
                    // Normally a hole still; if a racing write mapped it, ours wins.
                    for (_, old) in rec.take(p.file_block, p.len) {
                        st.alloc.free(old.disk, old.len);
                    }
                    rec.put(
                        p.file_block,
                        Extent {
                            disk: p.disk,
                            len: p.len,
                            unwritten: false,
                        },
                    );
                }
                Kind::Convert if result.is_ok() && alive => {
                    let rec = st.inodes.get_mut(&ino).expect("alive");
                    for (fb, e) in rec.take(p.file_block, p.len) {
                        // Flip only what is still the extent we wrote into.
                        let ours = e.disk == p.disk + (fb - p.file_block);
                        rec.put(
                            fb,
                            Extent {
                                unwritten: e.unwritten && !ours,
                                ..e
                            },
                        );
                    }
                }
                Kind::Convert | Kind::InPlace => {}
            }
        }
        st.dirty |= pieces.iter().any(|p| !matches!(p.kind, Kind::InPlace));
        result?;
        if !alive {
            return Err(DiskError::NotFound(format!("inode {ino}")));
        }
        Ok(())
    }

    /// Holes in the range become unwritten extents (reading as zeros). All
    /// or nothing on NoSpace. Never changes the size.
    pub fn fallocate(&self, ino: Ino, first_block: u64, nr_blocks: u64) -> Result<()> {
        self.check_mounted()?;
        check_range(first_block, nr_blocks)?;
        if nr_blocks == 0 {
            return Ok(());
        }
        self.with_space_retry(|st| {
            let pieces = st.reserve_holes(ino, first_block, nr_blocks)?;
            let rec = st.inodes.get_mut(&ino).expect("reserve_holes checked it");
            for p in pieces.iter().filter(|p| matches!(p.kind, Kind::New)) {
                st.alloc.confirm(p.disk, p.len);
                rec.put(
                    p.file_block,
                    Extent {
                        disk: p.disk,
                        len: p.len,
                        unwritten: true,
                    },
                );
            }
            st.dirty = true;
            Ok(())
        })
    }

    /// Frees the blocks of the range: a hole again.
    pub fn punch(&self, ino: Ino, first_block: u64, nr_blocks: u64) -> Result<()> {
        self.check_mounted()?;
        check_range(first_block, nr_blocks)?;
        let mut st = self.state.lock();
        let st = &mut *st;
        st.file(ino)?;
        let rec = st.inodes.get_mut(&ino).expect("checked");
        for (_, e) in rec.take(first_block, nr_blocks) {
            st.alloc.free(e.disk, e.len);
        }
        st.dirty = true;
        Ok(())
    }

    /// Sets the size. Growing only records it: blocks a writeback IO mapped
    /// past the old size are its data, published up to here. Shrinking frees
    /// the blocks past `size` and zeroes the tail of the block holding it
    /// (`Disk::truncate`).
    pub fn set_size(&self, ino: Ino, size: u64) -> Result<()> {
        self.check_mounted()?;
        check_range(0, size.div_ceil(BLOCK_SIZE))?;
        {
            let mut st = self.state.lock();
            let st = &mut *st;
            let old = st.file(ino)?.size;
            if size >= old {
                st.inodes.get_mut(&ino).expect("checked").size = size;
                st.dirty = true;
                return Ok(());
            }
        }
        self.truncate(ino, size)
    }

    /// Cuts the file at `size` and zeroes the tail of the straddling block on
    /// disk, so growing again later reads zeros there: [`Disk::cut`] plus
    /// the partial block, for a caller with no page cache in front.
    fn truncate(&self, ino: Ino, size: u64) -> Result<()> {
        let straddle = self.cut(ino, size)?;
        if let Some(d) = straddle {
            let mut buf = AlignedBuf::zeroed(BLOCK_SIZE as usize);
            self.dev.read_at(&mut buf, d * BLOCK_SIZE)?;
            buf[(size % BLOCK_SIZE) as usize..].fill(0);
            self.dev.write_at(&buf, d * BLOCK_SIZE)?;
        }
        Ok(())
    }

    /// Sets the size to `size` and frees every block wholly past it (the
    /// extent half of bch2_truncate: bch2_fpunch from the size rounded up to
    /// a block, to the end), whatever size the disk recorded before: a
    /// writeback IO maps its blocks before its size is published, so the
    /// recorded size does not bound what must go. The block holding `size`
    /// is left as it is: the engine zeroes its tail through the page cache
    /// and writeback writes it, as __bch2_truncate_folio does; rewriting it
    /// here would race that writeback. Returns the disk block holding
    /// `size` when it is written data and `size` is not block aligned.
    pub(crate) fn cut(&self, ino: Ino, size: u64) -> Result<Option<u64>> {
        self.check_mounted()?;
        check_range(0, size.div_ceil(BLOCK_SIZE))?;
        let mut st = self.state.lock();
        let st = &mut *st;
        st.file(ino)?;
        let rec = st.inodes.get_mut(&ino).expect("checked");
        rec.size = size;
        st.dirty = true;
        let keep = size.div_ceil(BLOCK_SIZE);
        for (_, e) in rec.take(keep, MAX_FILE_BLOCKS - keep) {
            st.alloc.free(e.disk, e.len);
        }
        Ok(match rec.map(size / BLOCK_SIZE, 1).first() {
            Some(s) if !size.is_multiple_of(BLOCK_SIZE) => match s.map {
                Mapping::Written(d) => Some(d),
                _ => None,
            },
            _ => None,
        })
    }

    /// Runs an allocating step; on NoSpace with frees waiting for a commit,
    /// commits (making them reusable) and tries once more.
    fn with_space_retry<T>(&self, mut f: impl FnMut(&mut State) -> Result<T>) -> Result<T> {
        {
            let mut st = self.state.lock();
            match f(&mut st) {
                Err(DiskError::NoSpace) if st.alloc.pending_blocks() > 0 => {}
                r => return r,
            }
        }
        self.commit()?;
        f(&mut self.state.lock())
    }
}

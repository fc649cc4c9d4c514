//! The metadata blob: inode table, directory entries, extents and the
//! allocator bitmap, serialized as one little-endian blob (bcachefs keeps
//! these in btrees; lockline rewrites them whole on every commit).
//!
//! ```text
//! header   magic "LLMETA01", generation, next_ino, inode count, bitmap bits (u64 each)
//! bitmap   ceil(bits / 64) u64 words, bit i = data block data_start + i in use
//! inodes   ino u64, kind u8, nlink u32, size u64, mtime_ns u64, blocks u64,
//!          extent count u32, extents (file_block u64, disk_block u64, len u64, flags u8),
//!          entry count u32, entries (name_len u16, name, ino u64)
//! ```
//! The blob's crc32c lives in the superblock, which also names the region.

use super::alloc::Bitmap;
use super::error::{DiskError, Result};
use super::{FileKind, Ino};
use std::collections::BTreeMap;

const META_MAGIC: [u8; 8] = *b"LLMETA01";
pub(crate) const MAX_NAME_LEN: usize = 255;
/// Offset of the first bitmap word in the blob.
const OFF_BITMAP: usize = 40;
const FLAG_UNWRITTEN: u8 = 1;
const MIN_INODE_BYTES: usize = 8 + 1 + 4 + 8 + 8 + 8 + 4 + 4;
const EXTENT_BYTES: usize = 25;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    /// Absolute disk block of the extent's first block.
    pub disk: u64,
    pub len: u64,
    /// Allocated by fallocate, never written: reads as zeros.
    pub unwritten: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InodeRec {
    pub kind: FileKind,
    pub nlink: u32,
    pub size: u64,
    pub mtime_ns: u64,
    /// As stored; encode always writes the sum of the extents, so only a
    /// damaged blob disagrees (fsck checks).
    pub blocks: u64,
    /// Keyed by first file block; never overlapping in file space.
    pub extents: BTreeMap<u64, Extent>,
    pub entries: BTreeMap<String, Ino>,
}

impl InodeRec {
    pub(crate) fn new(kind: FileKind, mtime_ns: u64) -> InodeRec {
        InodeRec {
            kind,
            nlink: if kind == FileKind::Dir { 2 } else { 1 },
            size: 0,
            mtime_ns,
            blocks: 0,
            extents: BTreeMap::new(),
            entries: BTreeMap::new(),
        }
    }
}

/// A decoded blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaImage {
    pub generation: u64,
    pub next_ino: Ino,
    pub inodes: BTreeMap<Ino, InodeRec>,
    pub bitmap: Bitmap,
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name != "."
        && name != ".."
        && !name.contains(['/', '\0'])
}

pub(crate) fn encode(
    generation: u64,
    next_ino: Ino,
    inodes: &BTreeMap<Ino, InodeRec>,
    bitmap: &Bitmap,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(OFF_BITMAP + bitmap.words().len() * 8 + inodes.len() * 64);
    b.extend_from_slice(&META_MAGIC);
    for v in [generation, next_ino, inodes.len() as u64, bitmap.bits()] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for w in bitmap.words() {
        b.extend_from_slice(&w.to_le_bytes());
    }
    for (&ino, rec) in inodes {
        b.extend_from_slice(&ino.to_le_bytes());
        b.push(match rec.kind {
            FileKind::File => 0,
            FileKind::Dir => 1,
        });
        b.extend_from_slice(&rec.nlink.to_le_bytes());
        b.extend_from_slice(&rec.size.to_le_bytes());
        b.extend_from_slice(&rec.mtime_ns.to_le_bytes());
        let blocks: u64 = rec.extents.values().map(|e| e.len).sum();
        b.extend_from_slice(&blocks.to_le_bytes());
        b.extend_from_slice(&(rec.extents.len() as u32).to_le_bytes());
        for (&fb, e) in &rec.extents {
            b.extend_from_slice(&fb.to_le_bytes());
            b.extend_from_slice(&e.disk.to_le_bytes());
            b.extend_from_slice(&e.len.to_le_bytes());
            b.push(if e.unwritten { FLAG_UNWRITTEN } else { 0 });
        }
        b.extend_from_slice(&(rec.entries.len() as u32).to_le_bytes());
        for (name, &child) in &rec.entries {
            b.extend_from_slice(&(name.len() as u16).to_le_bytes());
            b.extend_from_slice(name.as_bytes());
            b.extend_from_slice(&child.to_le_bytes());
        }
    }
    b
}

/// Bounds-checked cursor: every read of a damaged blob ends in Corrupt.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.b.len() - self.pos < n {
            return Err(DiskError::Corrupt(format!(
                "metadata ends inside {what} at byte {}",
                self.pos
            )));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().unwrap()))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    fn left(&self) -> usize {
        self.b.len() - self.pos
    }
    /// A count that cannot possibly fit in what is left is damage, and must
    /// not become a huge allocation.
    fn count(&mut self, n: u64, each: usize, what: &str) -> Result<usize> {
        if n > (self.left() / each) as u64 {
            return Err(DiskError::Corrupt(format!(
                "{what} count {n} exceeds the metadata size"
            )));
        }
        Ok(n as usize)
    }
}

pub(crate) fn decode(blob: &[u8]) -> Result<MetaImage> {
    let mut r = Reader { b: blob, pos: 0 };
    if r.take(8, "magic")? != META_MAGIC {
        return Err(DiskError::Corrupt(
            "metadata region has no metadata magic".into(),
        ));
    }
    let generation = r.u64("header")?;
    let next_ino = r.u64("header")?;
    let n_inodes = r.u64("header")?;
    let bits = r.u64("header")?;
    let n_words = r.count(bits.div_ceil(64), 8, "bitmap word")?;
    let mut words = Vec::with_capacity(n_words);
    for _ in 0..n_words {
        words.push(r.u64("bitmap")?);
    }
    let bitmap = Bitmap::from_words(words, bits)
        .ok_or_else(|| DiskError::Corrupt("bitmap has bits set past its end".into()))?;
    let n_inodes = r.count(n_inodes, MIN_INODE_BYTES, "inode")?;
    let mut inodes = BTreeMap::new();
    for _ in 0..n_inodes {
        let ino = r.u64("inode")?;
        let kind = match r.u8("inode")? {
            0 => FileKind::File,
            1 => FileKind::Dir,
            k => {
                return Err(DiskError::Corrupt(format!(
                    "inode {ino} has unknown kind {k}"
                )))
            }
        };
        let nlink = r.u32("inode")?;
        let size = r.u64("inode")?;
        let mtime_ns = r.u64("inode")?;
        let blocks = r.u64("inode")?;
        let n_ext = r.u32("inode")?;
        let n_ext = r.count(n_ext as u64, EXTENT_BYTES, "extent")?;
        let mut extents = BTreeMap::new();
        for _ in 0..n_ext {
            let fb = r.u64("extent")?;
            let disk = r.u64("extent")?;
            let len = r.u64("extent")?;
            let unwritten = match r.u8("extent")? {
                0 => false,
                FLAG_UNWRITTEN => true,
                f => {
                    return Err(DiskError::Corrupt(format!(
                        "inode {ino} extent flags {f:#x}"
                    )))
                }
            };
            if extents
                .insert(
                    fb,
                    Extent {
                        disk,
                        len,
                        unwritten,
                    },
                )
                .is_some()
            {
                return Err(DiskError::Corrupt(format!(
                    "inode {ino} has two extents at file block {fb}"
                )));
            }
        }
        let n_ent = r.u32("inode")?;
        let n_ent = r.count(n_ent as u64, 11, "directory entry")?;
        let mut entries = BTreeMap::new();
        for _ in 0..n_ent {
            let len = r.u16("directory entry")? as usize;
            let name = std::str::from_utf8(r.take(len, "entry name")?)
                .map_err(|_| {
                    DiskError::Corrupt(format!("directory {ino} has a name that is not UTF-8"))
                })?
                .to_string();
            let child = r.u64("directory entry")?;
            if entries.insert(name.clone(), child).is_some() {
                return Err(DiskError::Corrupt(format!(
                    "directory {ino} has {name:?} twice"
                )));
            }
        }
        let rec = InodeRec {
            kind,
            nlink,
            size,
            mtime_ns,
            blocks,
            extents,
            entries,
        };
        if inodes.insert(ino, rec).is_some() {
            return Err(DiskError::Corrupt(format!("inode {ino} appears twice")));
        }
    }
    if r.left() != 0 {
        return Err(DiskError::Corrupt(format!(
            "{} stray bytes after the inode table",
            r.left()
        )));
    }
    Ok(MetaImage {
        generation,
        next_ino,
        inodes,
        bitmap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MetaImage {
        let mut inodes = BTreeMap::new();
        let mut root = InodeRec::new(FileKind::Dir, 1);
        root.entries.insert("a file".into(), 2);
        root.entries.insert("ünïcode".into(), 3);
        inodes.insert(1, root);
        let mut f = InodeRec::new(FileKind::File, 2);
        f.size = 3 * 4096 + 5;
        f.extents.insert(
            0,
            Extent {
                disk: 200,
                len: 2,
                unwritten: false,
            },
        );
        f.extents.insert(
            9,
            Extent {
                disk: 300,
                len: 4,
                unwritten: true,
            },
        );
        f.blocks = 6;
        inodes.insert(2, f);
        inodes.insert(3, InodeRec::new(FileKind::File, 3));
        let mut bitmap = Bitmap::new(130);
        bitmap.set_range(3, 2);
        bitmap.set_range(129, 1);
        MetaImage {
            generation: 42,
            next_ino: 4,
            inodes,
            bitmap,
        }
    }

    #[test]
    fn round_trip() {
        let m = sample();
        let blob = encode(m.generation, m.next_ino, &m.inodes, &m.bitmap);
        assert_eq!(decode(&blob).unwrap(), m);
    }

    #[test]
    fn every_truncation_and_many_flips_are_errors_not_panics() {
        let m = sample();
        let blob = encode(m.generation, m.next_ino, &m.inodes, &m.bitmap);
        for len in 0..blob.len() {
            assert!(decode(&blob[..len]).is_err(), "truncated to {len}");
        }
        for i in 0..blob.len() {
            for bit in [0x01u8, 0x80] {
                let mut b = blob.clone();
                b[i] ^= bit;
                let _ = decode(&b);
            }
        }
    }

    #[test]
    fn names() {
        assert!(valid_name("x"));
        for bad in ["", ".", "..", "a/b", "nul\0", &"n".repeat(256)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}

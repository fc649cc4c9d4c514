//! Test-only access to the raw format, for planting damage fsck must find.
//! Not part of the supported API.

pub use super::alloc::Bitmap;
pub use super::metadata::{Extent, InodeRec, MetaImage};
pub use super::superblock::OFF_GENERATION;

use super::commit::{read_metadata, read_superblock, write_superblock};
use super::error::Result;
use super::io::{AlignedBuf, DevFile};
use super::metadata::encode;
use super::superblock::Superblock;
use super::BLOCK_SIZE;
use crate::crc32c::crc32c;
use std::path::Path;

/// Byte offset and length of the metadata blob the current superblock uses.
pub fn metadata_location(path: &Path) -> Result<(u64, u64)> {
    let dev = DevFile::open(path, false, false)?;
    let (sb, _) = read_superblock(&dev)?;
    Ok((
        sb.layout.region_start(sb.meta_region) * BLOCK_SIZE,
        sb.meta_len,
    ))
}

/// Decodes the current metadata, lets `f` change it, and writes it back in
/// place with valid checksums, as if a buggy commit had written it.
pub fn tamper(path: &Path, f: impl FnOnce(&mut MetaImage)) -> Result<()> {
    let dev = DevFile::open(path, true, false)?;
    dev.lock(true)?;
    let (sb, _) = read_superblock(&dev)?;
    let mut img = read_metadata(&dev, &sb)?;
    f(&mut img);
    let blob = encode(img.generation, img.next_ino, &img.inodes, &img.bitmap);
    let mut buf = AlignedBuf::zeroed((blob.len() as u64).next_multiple_of(BLOCK_SIZE) as usize);
    buf[..blob.len()].copy_from_slice(&blob);
    dev.write_at(&buf, sb.layout.region_start(sb.meta_region) * BLOCK_SIZE)?;
    dev.sync()?;
    write_superblock(
        &dev,
        &Superblock {
            meta_len: blob.len() as u64,
            meta_crc: crc32c(&blob),
            ..sb
        },
    )
}

//! mkfs: lays out superblocks and two empty metadata regions on an image file
//! or block device, after refusing targets that look in use.

use super::alloc::Bitmap;
use super::commit::write_superblock;
use super::error::{DiskError, Result};
use super::inuse;
use super::io::{AlignedBuf, DevFile};
use super::layout::{Layout, META_START};
use super::metadata::{encode, InodeRec};
use super::namespace::now_ns;
use super::superblock::Superblock;
use super::{FileKind, BLOCK_SIZE, ROOT_INO};
use crate::crc32c::crc32c;
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Size of a new image when none is given.
const DEFAULT_IMAGE_SIZE: u64 = 1 << 30;

#[derive(Clone, Debug, Default)]
pub struct MkfsOptions {
    /// Bytes; default: the device's size, or 1 GiB for a new image.
    pub size: Option<u64>,
    /// Format even if the target is mounted or has a file system signature.
    pub force: bool,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct MkfsReport {
    pub path: PathBuf,
    pub size: u64,
    pub block_size: u64,
    pub data_blocks: u64,
    pub created_image: bool,
}

pub fn mkfs(path: &Path, opts: &MkfsOptions) -> Result<MkfsReport> {
    let existing = match std::fs::metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(DiskError::io(path, "stat", e)),
    };
    let Some(meta) = existing else {
        let size = opts.size.unwrap_or(DEFAULT_IMAGE_SIZE);
        let layout = Layout::for_size(size)?;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| DiskError::io(path, "create image", e))?;
        let made = f
            .set_len(size)
            .map_err(|e| DiskError::io(path, "size image", e))
            .and_then(|_| {
                let dev = DevFile::open(path, true, true)?;
                dev.lock(true)?;
                format(&dev, layout)
            });
        if let Err(e) = made {
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        return Ok(report(path, size, layout, true));
    };
    let is_blockdev = meta.file_type().is_block_device();
    if !is_blockdev && !meta.is_file() {
        return Err(DiskError::Invalid(format!(
            "{} is neither a regular file nor a block device",
            path.display()
        )));
    }
    let dev = DevFile::open(path, true, true)?;
    // Even --force does not format a disk a lockline process has open.
    dev.lock(true)?;
    let size = match opts.size {
        Some(s) if is_blockdev && s > dev.size() => {
            return Err(DiskError::Invalid(format!(
                "size {s} is larger than the device ({} bytes)",
                dev.size()
            )))
        }
        Some(s) => s,
        None => dev.size(),
    };
    let layout = Layout::for_size(size)?;
    if !opts.force {
        refuse_if_in_use(path, &meta)?;
    }
    if !is_blockdev && size != dev.size() {
        dev.raw()
            .set_len(size)
            .map_err(|e| DiskError::io(path, "resize image", e))?;
    }
    format(&dev, layout)?;
    Ok(report(path, size, layout, false))
}

fn report(path: &Path, size: u64, layout: Layout, created_image: bool) -> MkfsReport {
    MkfsReport {
        path: path.to_path_buf(),
        size,
        block_size: BLOCK_SIZE,
        data_blocks: layout.data_blocks(),
        created_image,
    }
}

fn refuse_if_in_use(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    if let Some(why) = inuse::mounted(path, meta) {
        return Err(DiskError::InUse(why));
    }
    let mut head = Vec::with_capacity(inuse::SIGNATURE_SPAN);
    std::fs::File::open(path)
        .and_then(|f| f.take(inuse::SIGNATURE_SPAN as u64).read_to_end(&mut head))
        .map_err(|e| DiskError::io(path, "read signature", e))?;
    if let Some(what) = inuse::signature(&head) {
        return Err(DiskError::InUse(format!(
            "{} contains {what}",
            path.display()
        )));
    }
    Ok(())
}

/// Writes an empty file system: the old superblocks go first so a crash
/// midway leaves no superblock pointing at half-written regions.
fn format(dev: &DevFile, layout: Layout) -> Result<()> {
    // Slots, then the first 64 KiB + 1 block (an old btrfs superblock),
    // all inside superblocks + region 0.
    let zeros = AlignedBuf::zeroed((17 * BLOCK_SIZE) as usize);
    dev.write_at(&zeros[..(META_START * BLOCK_SIZE) as usize], 0)?;
    dev.sync()?;
    dev.write_at(
        &zeros[(META_START * BLOCK_SIZE) as usize..],
        META_START * BLOCK_SIZE,
    )?;
    let mut inodes = BTreeMap::new();
    inodes.insert(ROOT_INO, InodeRec::new(FileKind::Dir, now_ns()));
    let bitmap = Bitmap::new(layout.data_blocks());
    let mut sbs = Vec::new();
    for generation in 0..2u64 {
        let region = generation as u32;
        let blob = encode(generation, ROOT_INO + 1, &inodes, &bitmap);
        if blob.len() as u64 > layout.region_bytes() {
            return Err(DiskError::NoSpace);
        }
        let mut buf = AlignedBuf::zeroed((blob.len() as u64).next_multiple_of(BLOCK_SIZE) as usize);
        buf[..blob.len()].copy_from_slice(&blob);
        dev.write_at(&buf, layout.region_start(region) * BLOCK_SIZE)?;
        sbs.push(Superblock {
            layout,
            generation,
            meta_region: region,
            clean: true,
            meta_len: blob.len() as u64,
            meta_crc: crc32c(&blob),
        });
    }
    dev.sync()?;
    for sb in &sbs {
        write_superblock(dev, sb)?;
    }
    Ok(())
}

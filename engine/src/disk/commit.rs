//! Copy-on-write commit (bcachefs gets the same guarantee from its journal):
//! the metadata blob goes to the region the current superblock does not point
//! at, then fdatasync, then the next superblock slot, then fdatasync. Until
//! the superblock lands, the previous commit is whole on disk.

use super::error::{DiskError, Result};
use super::io::{AlignedBuf, DevFile};
use super::metadata::{self, MetaImage};
use super::superblock::{self, SlotError, Superblock};
use super::{Disk, BLOCK_SIZE};
use crate::crc32c::crc32c;
use std::sync::atomic::Ordering;

type Slots = [std::result::Result<Superblock, SlotError>; 2];

/// The superblock to mount, and what each slot held.
pub(crate) fn read_superblock(dev: &DevFile) -> Result<(Superblock, Slots)> {
    let read_slot = |slot: u64| -> Result<std::result::Result<Superblock, SlotError>> {
        if (slot + 1) * BLOCK_SIZE > dev.size() {
            return Ok(Err(SlotError::NoMagic));
        }
        let mut buf = AlignedBuf::zeroed(BLOCK_SIZE as usize);
        dev.read_at(&mut buf, slot * BLOCK_SIZE)?;
        Ok(Superblock::decode(&buf))
    };
    let (best, slots) = superblock::choose([read_slot(0)?, read_slot(1)?]);
    let Some(sb) = best else {
        if slots.iter().all(|s| matches!(s, Err(SlotError::NoMagic))) {
            return Err(DiskError::NotLockline(dev.path().to_path_buf()));
        }
        for s in &slots {
            if let Err(SlotError::Version(v)) = s {
                return Err(DiskError::UnsupportedVersion {
                    found: *v,
                    supported: superblock::VERSION,
                });
            }
        }
        let why = |s: &std::result::Result<Superblock, SlotError>| match s {
            Err(e) => e.to_string(),
            Ok(_) => "ok".to_string(),
        };
        return Err(DiskError::Corrupt(format!(
            "no valid superblock (slot 0: {}; slot 1: {})",
            why(&slots[0]),
            why(&slots[1])
        ))
        .in_image(dev.path()));
    };
    let need = sb.layout.total_blocks * BLOCK_SIZE;
    if dev.size() < need {
        return Err(DiskError::Corrupt(format!(
            "it is {} bytes but its superblock describes {need} bytes (truncated?)",
            dev.size()
        ))
        .in_image(dev.path()));
    }
    Ok((sb, slots))
}

/// The raw blob `sb` points at.
pub(crate) fn read_blob(dev: &DevFile, sb: &Superblock) -> Result<Vec<u8>> {
    let mut buf = AlignedBuf::zeroed(sb.meta_len.next_multiple_of(BLOCK_SIZE) as usize);
    dev.read_at(
        &mut buf,
        sb.layout.region_start(sb.meta_region) * BLOCK_SIZE,
    )?;
    Ok(buf[..sb.meta_len as usize].to_vec())
}

/// Checks the blob against its superblock; the error is (fsck slug, detail).
pub(crate) fn verify_blob(
    sb: &Superblock,
    blob: &[u8],
) -> std::result::Result<MetaImage, (&'static str, String)> {
    if crc32c(blob) != sb.meta_crc {
        return Err((
            "metadata-checksum",
            format!(
                "metadata region {} (generation {}) fails its checksum",
                sb.meta_region, sb.generation
            ),
        ));
    }
    let img = metadata::decode(blob).map_err(|e| ("metadata-format", e.to_string()))?;
    // A superblock that only flips the clean flag keeps pointing at the
    // metadata of an earlier generation; a later one is stale.
    if img.generation > sb.generation {
        return Err((
            "metadata-generation",
            format!(
                "metadata says generation {} but its superblock only {}",
                img.generation, sb.generation
            ),
        ));
    }
    if img.bitmap.bits() != sb.layout.data_blocks() {
        return Err((
            "metadata-format",
            format!(
                "bitmap covers {} blocks, the data area has {}",
                img.bitmap.bits(),
                sb.layout.data_blocks()
            ),
        ));
    }
    Ok(img)
}

pub(crate) fn read_metadata(dev: &DevFile, sb: &Superblock) -> Result<MetaImage> {
    let blob = read_blob(dev, sb)?;
    verify_blob(sb, &blob).map_err(|(kind, detail)| DiskError::Corrupt(format!("{kind}: {detail}")))
}

pub(crate) fn write_superblock(dev: &DevFile, sb: &Superblock) -> Result<()> {
    let mut buf = AlignedBuf::zeroed(BLOCK_SIZE as usize);
    buf.copy_from_slice(&sb.encode());
    dev.write_at(&buf, sb.slot() * BLOCK_SIZE)?;
    dev.sync()
}

/// Writes `blob` (already stamped with generation prev+1) copy-on-write and
/// returns the superblock now on disk.
fn write_commit(dev: &DevFile, prev: &Superblock, blob: &[u8], clean: bool) -> Result<Superblock> {
    let layout = prev.layout;
    if blob.len() as u64 > layout.region_bytes() {
        return Err(DiskError::NoSpace);
    }
    let region = 1 - prev.meta_region;
    let mut buf = AlignedBuf::zeroed((blob.len() as u64).next_multiple_of(BLOCK_SIZE) as usize);
    buf[..blob.len()].copy_from_slice(blob);
    dev.write_at(&buf, layout.region_start(region) * BLOCK_SIZE)?;
    // Orders the data written so far and the blob before the superblock.
    dev.sync()?;
    let sb = Superblock {
        layout,
        generation: prev.generation + 1,
        meta_region: region,
        clean,
        meta_len: blob.len() as u64,
        meta_crc: crc32c(blob),
    };
    write_superblock(dev, &sb)?;
    Ok(sb)
}

impl Disk {
    /// Makes everything so far durable: data, then metadata, then superblock.
    pub fn commit(&self) -> Result<()> {
        self.check_mounted()?;
        self.commit_as(false)
    }

    /// Commits and marks the disk clean; later calls fail with Unmounted.
    pub fn unmount(&self) -> Result<()> {
        if self.unmounted.load(Ordering::Acquire) {
            return Ok(());
        }
        self.commit_as(true)?;
        self.unmounted.store(true, Ordering::Release);
        self.dev.unlock();
        Ok(())
    }

    fn commit_as(&self, clean: bool) -> Result<()> {
        let mut cur = self.committed.lock();
        let prepared = {
            let mut st = self.state.lock();
            if st.dirty {
                let blob =
                    metadata::encode(cur.generation + 1, st.next_ino, &st.inodes, st.alloc.used());
                if blob.len() as u64 > self.layout.region_bytes() {
                    return Err(DiskError::NoSpace);
                }
                st.dirty = false;
                Some((blob, st.alloc.take_pending()))
            } else {
                None
            }
        };
        let Some((blob, pending)) = prepared else {
            self.dev.sync()?;
            if cur.clean != clean {
                *cur = self.rewrite_superblock(&cur, clean)?;
            }
            return Ok(());
        };
        match write_commit(&self.dev, &cur, &blob, clean) {
            Ok(sb) => {
                *cur = sb;
                self.state.lock().alloc.release(&pending);
                Ok(())
            }
            Err(e) => {
                let mut st = self.state.lock();
                st.dirty = true;
                st.alloc.restore_pending(pending);
                Err(e)
            }
        }
    }

    /// A new generation pointing at the same metadata, with a new clean flag.
    fn rewrite_superblock(&self, cur: &Superblock, clean: bool) -> Result<Superblock> {
        let sb = Superblock {
            generation: cur.generation + 1,
            clean,
            ..*cur
        };
        write_superblock(&self.dev, &sb)?;
        Ok(sb)
    }

    pub(super) fn mark_clean(&self, clean: bool) -> Result<()> {
        let mut cur = self.committed.lock();
        *cur = self.rewrite_superblock(&cur, clean)?;
        Ok(())
    }
}

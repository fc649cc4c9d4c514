//! Where things live on a lockline disk (bcachefs has a superblock with a
//! layout section too; here the layout is a pure function of the size).
//!
//! ```text
//! block 0              superblock slot 0   (even generations)
//! block 1              superblock slot 1   (odd generations)
//! blocks 2 .. 2+M      metadata region 0
//! blocks 2+M .. 2+2M   metadata region 1
//! blocks 2+2M .. end   data blocks
//! ```
//! M = clamp(total_blocks / 64, 64, 262144) blocks: a region is 1/64 of the
//! disk, at least 256 KiB and at most 1 GiB. A commit writes the whole
//! metadata blob into the region the current superblock does not point at, so
//! the previous commit stays intact until the new superblock is durable. The
//! allocator bitmap is one bit per data block, 1/512 of a region's bytes, so
//! the rest of the region (inodes, extents, dirents) has ample room.
//! Smallest disk: 2 + 2*64 + 64 = 194 blocks. Largest: 2^32 blocks (16 TiB),
//! where the bitmap would take half of a capped region.

use super::error::{DiskError, Result};
use super::BLOCK_SIZE;

const SB_SLOTS: u64 = 2;
pub(crate) const META_START: u64 = SB_SLOTS;
const MIN_META_BLOCKS: u64 = 64;
const MAX_META_BLOCKS: u64 = 1 << 18;
const MIN_DATA_BLOCKS: u64 = 64;
const MIN_BLOCKS: u64 = META_START + 2 * MIN_META_BLOCKS + MIN_DATA_BLOCKS;
const MAX_BLOCKS: u64 = 1 << 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub total_blocks: u64,
    pub meta_blocks: u64,
}

impl Layout {
    /// The layout mkfs gives a device of `size` bytes (a partial last block
    /// is left unused).
    pub(crate) fn for_size(size: u64) -> Result<Layout> {
        let total_blocks = size / BLOCK_SIZE;
        if total_blocks < MIN_BLOCKS {
            return Err(DiskError::TooSmall {
                size,
                min: MIN_BLOCKS * BLOCK_SIZE,
            });
        }
        if total_blocks > MAX_BLOCKS {
            return Err(DiskError::TooLarge {
                size,
                max: MAX_BLOCKS * BLOCK_SIZE,
            });
        }
        Ok(Layout {
            total_blocks,
            meta_blocks: (total_blocks / 64).clamp(MIN_META_BLOCKS, MAX_META_BLOCKS),
        })
    }

    /// Checks a layout read from a superblock before anything trusts it.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        if !(MIN_BLOCKS..=MAX_BLOCKS).contains(&self.total_blocks) {
            return Err(format!("total_blocks {} out of range", self.total_blocks));
        }
        if !(MIN_META_BLOCKS..=MAX_META_BLOCKS).contains(&self.meta_blocks) {
            return Err(format!(
                "metadata region of {} blocks out of range",
                self.meta_blocks
            ));
        }
        if self.data_start() + MIN_DATA_BLOCKS > self.total_blocks {
            return Err(format!(
                "metadata regions of {} blocks leave no data area in {} blocks",
                self.meta_blocks, self.total_blocks
            ));
        }
        Ok(())
    }

    pub(crate) fn region_start(&self, region: u32) -> u64 {
        META_START + region as u64 * self.meta_blocks
    }

    pub(crate) fn region_bytes(&self) -> u64 {
        self.meta_blocks * BLOCK_SIZE
    }

    pub(crate) fn data_start(&self) -> u64 {
        META_START + 2 * self.meta_blocks
    }

    pub(crate) fn data_blocks(&self) -> u64 {
        self.total_blocks - self.data_start()
    }

    pub(crate) fn is_data(&self, block: u64, len: u64) -> bool {
        len > 0
            && block >= self.data_start()
            && block
                .checked_add(len)
                .is_some_and(|end| end <= self.total_blocks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_scale_and_clamp() {
        let small = Layout::for_size(MIN_BLOCKS * BLOCK_SIZE).unwrap();
        assert_eq!(small.meta_blocks, MIN_META_BLOCKS);
        assert_eq!(small.data_blocks(), MIN_DATA_BLOCKS);
        assert!(matches!(
            Layout::for_size(MIN_BLOCKS * BLOCK_SIZE - 1),
            Err(DiskError::TooSmall { .. })
        ));
        let gib = Layout::for_size(1 << 30).unwrap();
        assert_eq!(gib.meta_blocks, (1 << 18) / 64);
        let huge = Layout::for_size(8 << 40).unwrap();
        assert_eq!(huge.meta_blocks, MAX_META_BLOCKS);
        assert!(Layout::for_size(32 << 40).is_err());
        assert!(gib.validate().is_ok());
    }
}

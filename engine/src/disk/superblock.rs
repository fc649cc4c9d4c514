//! The superblock: two slots, the valid one with the highest generation wins,
//! so a torn superblock write falls back to the previous commit (bcachefs
//! keeps several superblock copies for the same reason).

use super::layout::Layout;
use super::BLOCK_SIZE;
use crate::crc32c::crc32c;

pub(crate) const MAGIC: [u8; 8] = *b"LOCKLINE";
pub(crate) const VERSION: u32 = 1;

// Byte offsets inside the superblock block; tests plant damage through them.
const OFF_VERSION: usize = 8;
pub const OFF_GENERATION: usize = 40;
const OFF_CRC: usize = 72;
const ENCODED_LEN: usize = OFF_CRC + 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Superblock {
    pub layout: Layout,
    pub generation: u64,
    pub meta_region: u32,
    pub clean: bool,
    pub meta_len: u64,
    pub meta_crc: u32,
}

/// Why a slot could not be used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SlotError {
    NoMagic,
    BadChecksum,
    Version(u32),
    Invalid(String),
}

impl std::fmt::Display for SlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SlotError::NoMagic => f.write_str("no lockline magic"),
            SlotError::BadChecksum => f.write_str("bad checksum"),
            SlotError::Version(v) => write!(f, "format version {v}"),
            SlotError::Invalid(s) => f.write_str(s),
        }
    }
}

impl Superblock {
    /// The slot this superblock is written to.
    pub(crate) fn slot(&self) -> u64 {
        self.generation % 2
    }

    pub(crate) fn encode(&self) -> [u8; BLOCK_SIZE as usize] {
        let mut b = [0u8; BLOCK_SIZE as usize];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(BLOCK_SIZE as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.layout.total_blocks.to_le_bytes());
        b[24..32].copy_from_slice(&self.layout.meta_blocks.to_le_bytes());
        b[32..40].copy_from_slice(&self.layout.data_start().to_le_bytes());
        b[OFF_GENERATION..OFF_GENERATION + 8].copy_from_slice(&self.generation.to_le_bytes());
        b[48..52].copy_from_slice(&self.meta_region.to_le_bytes());
        b[52..56].copy_from_slice(&(self.clean as u32).to_le_bytes());
        b[56..64].copy_from_slice(&self.meta_len.to_le_bytes());
        b[64..68].copy_from_slice(&self.meta_crc.to_le_bytes());
        let crc = crc32c(&b[..OFF_CRC]);
        b[OFF_CRC..ENCODED_LEN].copy_from_slice(&crc.to_le_bytes());
        b
    }

    pub(crate) fn decode(b: &[u8]) -> Result<Superblock, SlotError> {
        if b.len() < ENCODED_LEN || b[0..8] != MAGIC {
            return Err(SlotError::NoMagic);
        }
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        if crc32c(&b[..OFF_CRC]) != u32_at(OFF_CRC) {
            return Err(SlotError::BadChecksum);
        }
        if u32_at(OFF_VERSION) != VERSION {
            return Err(SlotError::Version(u32_at(OFF_VERSION)));
        }
        if u32_at(12) as u64 != BLOCK_SIZE {
            return Err(SlotError::Invalid(format!("block size {}", u32_at(12))));
        }
        let layout = Layout {
            total_blocks: u64_at(16),
            meta_blocks: u64_at(24),
        };
        layout.validate().map_err(SlotError::Invalid)?;
        if u64_at(32) != layout.data_start() {
            return Err(SlotError::Invalid(format!("data start {}", u64_at(32))));
        }
        let sb = Superblock {
            layout,
            generation: u64_at(OFF_GENERATION),
            meta_region: u32_at(48),
            clean: u32_at(52) == 1,
            meta_len: u64_at(56),
            meta_crc: u32_at(64),
        };
        if sb.meta_region > 1 || u32_at(52) > 1 {
            return Err(SlotError::Invalid("bad region or clean flag".into()));
        }
        if sb.meta_len == 0 || sb.meta_len > layout.region_bytes() {
            return Err(SlotError::Invalid(format!(
                "metadata length {}",
                sb.meta_len
            )));
        }
        Ok(sb)
    }
}

/// Picks the valid slot with the highest generation. Both slots' verdicts
/// are returned so fsck can report the loser.
pub(crate) fn choose(
    slots: [Result<Superblock, SlotError>; 2],
) -> (Option<Superblock>, [Result<Superblock, SlotError>; 2]) {
    let best = slots
        .iter()
        .filter_map(|s| s.as_ref().ok())
        .max_by_key(|s| s.generation)
        .copied();
    (best, slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb(generation: u64) -> Superblock {
        Superblock {
            layout: Layout::for_size(64 << 20).unwrap(),
            generation,
            meta_region: (generation % 2) as u32,
            clean: false,
            meta_len: 100,
            meta_crc: 7,
        }
    }

    #[test]
    fn round_trip() {
        let s = sb(5);
        assert_eq!(Superblock::decode(&s.encode()), Ok(s));
    }

    #[test]
    fn highest_valid_generation_wins() {
        let (best, _) = choose([Ok(sb(4)), Ok(sb(5))]);
        assert_eq!(best.unwrap().generation, 5);
        let (best, _) = choose([Ok(sb(6)), Ok(sb(5))]);
        assert_eq!(best.unwrap().generation, 6);
    }

    #[test]
    fn torn_slot_falls_back() {
        let mut torn = sb(7).encode();
        torn[OFF_GENERATION] ^= 0xff;
        let slot1 = Superblock::decode(&torn);
        assert_eq!(slot1, Err(SlotError::BadChecksum));
        let (best, _) = choose([Ok(sb(6)), slot1]);
        assert_eq!(best.unwrap().generation, 6);
        assert_eq!(Superblock::decode(&[0u8; 4096]), Err(SlotError::NoMagic));
    }

    #[test]
    fn version_checked_after_checksum() {
        let mut b = sb(1).encode();
        b[OFF_VERSION] = 9;
        let crc = crc32c(&b[..OFF_CRC]);
        b[OFF_CRC..ENCODED_LEN].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(Superblock::decode(&b), Err(SlotError::Version(9)));
    }
}

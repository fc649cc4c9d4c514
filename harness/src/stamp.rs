//! Stamped sectors, in the manner of fio's verify header: every 512-byte
//! sector a workload writes names the op that wrote it, the file offset it
//! was meant for and a checksum, so a sector read back tells which write put
//! it there, or that it was torn.
//!
//! Layout of a stamped sector (little-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | [`MAGIC`] |
//! | 8..16 | op id |
//! | 16..24 | file offset of this sector |
//! | 24..28 | sequence of this sector within the op |
//! | 28..32 | workload thread index |
//! | 32..40 | tag (write generation / seed; 0 when unused) |
//! | 40..44 | crc32c of the whole sector with this field zeroed |
//! | 44..48 | reserved, zero |
//! | 48..512 | pattern words derived from (op, offset, tag) |
//!
//! The pattern fills the body so a sector torn inside itself (half one
//! write, half another or zeros) fails the checksum rather than passing as
//! the write whose header survived.

pub use lockline_engine::crc32c::crc32c;
use lockline_engine::crc32c::step_sw;
use thiserror::Error;

pub const SECTOR: usize = 512;
/// "LOCKLINE" read as a big-endian word.
pub const MAGIC: u64 = 0x4c4f_434b_4c49_4e45;
pub const HEADER: usize = 48;

/// The word holding the crc (low half) and the reserved field (high half).
const CRC_WORD: usize = 5;

/// What one stamped sector says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Stamp {
    pub op: u64,
    pub offset: u64,
    pub seq: u32,
    pub thread: u32,
    pub tag: u64,
}

/// A sector as read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectorContent {
    Zero,
    Stamp(Stamp),
    /// Neither zeros nor an intact stamp for this offset; see [`why_garbage`].
    Garbage,
}

/// Why a sector decoded as [`SectorContent::Garbage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GarbageKind {
    /// Non-zero bytes without the stamp magic.
    NoMagic,
    /// The magic is there but the checksum does not match: torn inside the
    /// sector, or corrupted.
    BadChecksum,
    /// An intact stamp written for another file offset: misplaced data.
    WrongOffset,
    /// Unstamped data whose digest matches no write of the trace to that
    /// sector (content provenance): torn, misplaced or corrupted.
    Unmatched,
}

impl GarbageKind {
    pub fn describe(self) -> &'static str {
        match self {
            GarbageKind::NoMagic => "non-zero data without the stamp magic",
            GarbageKind::BadChecksum => {
                "a stamp whose checksum does not match (torn inside the sector)"
            }
            GarbageKind::WrongOffset => "an intact stamp written for another file offset",
            GarbageKind::Unmatched => "data no write of the trace left in that sector",
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum StampError {
    #[error("file offset {0} is not {SECTOR}-byte aligned")]
    UnalignedOffset(u64),
    #[error("buffer length {0} is not a multiple of {SECTOR}")]
    UnalignedLength(usize),
}

/// Stamps every sector of `buf`, which will be written at `file_offset`, as
/// written by `op` from workload thread `thread`. Workloads keep writes
/// sector aligned; should they not, whole 512-byte chunks are still stamped
/// (they will read back as garbage at the wrong offsets, which is the truth)
/// and a trailing partial chunk gets pattern bytes only.
pub fn fill(buf: &mut [u8], file_offset: u64, op: u64, thread: u32) {
    fill_tagged(buf, file_offset, op, thread, 0);
}

/// [`fill`] that refuses unaligned buffers instead of stamping them anyway.
pub fn try_fill(buf: &mut [u8], file_offset: u64, op: u64, thread: u32) -> Result<(), StampError> {
    if !file_offset.is_multiple_of(SECTOR as u64) {
        return Err(StampError::UnalignedOffset(file_offset));
    }
    if !buf.len().is_multiple_of(SECTOR) {
        return Err(StampError::UnalignedLength(buf.len()));
    }
    fill_tagged(buf, file_offset, op, thread, 0);
    Ok(())
}

/// [`fill`] with a tag (write generation or run seed) in every header.
pub fn fill_tagged(buf: &mut [u8], file_offset: u64, op: u64, thread: u32, tag: u64) {
    let whole = buf.len() / SECTOR * SECTOR;
    let mut chunks = buf.chunks_exact_mut(SECTOR);
    for (seq, sector) in (&mut chunks).enumerate() {
        let stamp = Stamp {
            op,
            offset: file_offset + (seq * SECTOR) as u64,
            seq: seq as u32,
            thread,
            tag,
        };
        write_sector(sector, &stamp);
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let off = file_offset + whole as u64;
        let base = pattern_base(op, off, tag);
        for (i, b) in rest.iter_mut().enumerate() {
            *b = pattern_word(base, i / 8).to_le_bytes()[i % 8];
        }
    }
}

/// Writes one stamped sector.
pub fn write_sector(sector: &mut [u8], s: &Stamp) {
    assert_eq!(sector.len(), SECTOR);
    let base = pattern_base(s.op, s.offset, s.tag);
    let head = [
        MAGIC,
        s.op,
        s.offset,
        s.seq as u64 | (s.thread as u64) << 32,
        s.tag,
        0,
    ];
    for (i, dst) in sector.chunks_exact_mut(8).enumerate() {
        let x = if i < head.len() {
            head[i]
        } else {
            pattern_word(base, i - head.len())
        };
        dst.copy_from_slice(&x.to_le_bytes());
    }
    let crc = crc32c_sector(sector);
    sector[CRC_WORD * 8..CRC_WORD * 8 + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes one sector read back from file offset `expected_offset`.
#[inline]
pub fn decode(sector: &[u8], expected_offset: u64) -> SectorContent {
    match decode_detailed(sector, expected_offset) {
        Ok(Some(s)) => SectorContent::Stamp(s),
        Ok(None) => SectorContent::Zero,
        Err(_) => SectorContent::Garbage,
    }
}

/// Why `sector` is garbage, or None when it decodes as zeros or a stamp.
pub fn why_garbage(sector: &[u8], expected_offset: u64) -> Option<GarbageKind> {
    decode_detailed(sector, expected_offset).err()
}

/// Ok(None) for zeros, Ok(Some) for an intact stamp of this offset.
#[inline]
pub fn decode_detailed(sector: &[u8], expected_offset: u64) -> Result<Option<Stamp>, GarbageKind> {
    assert_eq!(sector.len(), SECTOR, "decode takes exactly one sector");
    let word = |i: usize| u64::from_le_bytes(sector[i * 8..i * 8 + 8].try_into().unwrap());
    if word(0) != MAGIC {
        return if is_zero(sector) {
            Ok(None)
        } else {
            Err(GarbageKind::NoMagic)
        };
    }
    // Read in place: copying the sector out costs as much as the crc.
    if crc32c_sector(sector) != word(CRC_WORD) as u32 {
        return Err(GarbageKind::BadChecksum);
    }
    if word(2) != expected_offset {
        return Err(GarbageKind::WrongOffset);
    }
    let w3 = word(3);
    Ok(Some(Stamp {
        op: word(1),
        offset: word(2),
        seq: w3 as u32,
        thread: (w3 >> 32) as u32,
        tag: word(4),
    }))
}

#[inline]
fn is_zero(b: &[u8]) -> bool {
    // OR-reducing words vectorises; a byte loop with early exit does not.
    b.chunks_exact(8).fold(0u64, |acc, c| {
        acc | u64::from_le_bytes(c.try_into().unwrap())
    }) == 0
}

#[inline]
fn mix64(mut x: u64) -> u64 {
    // splitmix64's finaliser: cheap and every input bit reaches every output bit.
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[inline]
fn pattern_base(op: u64, offset: u64, tag: u64) -> u64 {
    mix64(op ^ offset.rotate_left(32) ^ tag.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

#[inline]
fn pattern_word(base: u64, i: usize) -> u64 {
    // One multiply per word keeps filling cheap; the crc, not the pattern,
    // is what detects damage, so the pattern needs only to differ between
    // (op, offset) pairs and be non-zero-ish.
    let x =
        (base ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xd6e8_feb8_6659_fd93);
    x ^ (x >> 32)
}

/// crc32c of one sector with its crc field taken as zero; equals
/// `crc32c` of the sector with bytes 40..44 zeroed.
#[inline]
fn crc32c_sector(sector: &[u8]) -> u32 {
    debug_assert_eq!(sector.len(), SECTOR);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the CPU supports SSE4.2, checked just above.
            return unsafe { crc32c_sector_hw(sector) };
        }
    }
    !sector
        .chunks_exact(8)
        .enumerate()
        .fold(!0u32, |crc, (i, c)| step_sw(crc, sector_word(i, c)))
}

/// Word `i` of a sector as the crc sees it: the crc field masked out.
#[inline(always)]
fn sector_word(i: usize, c: &[u8]) -> u64 {
    let x = u64::from_le_bytes(c.try_into().unwrap());
    if i == CRC_WORD {
        x & !0xffff_ffff
    } else {
        x
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn crc32c_sector_hw(sector: &[u8]) -> u32 {
    use std::arch::x86_64::_mm_crc32_u64;
    let mut crc = !0u64;
    for (i, c) in sector.chunks_exact(8).enumerate() {
        crc = _mm_crc32_u64(crc, sector_word(i, c));
    }
    !(crc as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamped(offset: u64, op: u64, thread: u32, sectors: usize) -> Vec<u8> {
        let mut b = vec![0u8; sectors * SECTOR];
        fill(&mut b, offset, op, thread);
        b
    }

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn word_crc_equals_byte_crc() {
        let b = stamped(4096, 7, 1, 1);
        let mut z = b.clone();
        z[40..44].fill(0);
        let stored = u32::from_le_bytes(b[40..44].try_into().unwrap());
        assert_eq!(crc32c(&z), stored);
        assert_eq!(crc32c_sector(&b), stored);
        let sw = !b
            .chunks_exact(8)
            .enumerate()
            .fold(!0u32, |c, (i, x)| step_sw(c, sector_word(i, x)));
        assert_eq!(sw, stored);
    }

    #[test]
    fn round_trip() {
        let b = stamped(1 << 20, 812, 3, 8);
        for (i, s) in b.chunks_exact(SECTOR).enumerate() {
            let off = (1 << 20) + (i * SECTOR) as u64;
            assert_eq!(
                decode(s, off),
                SectorContent::Stamp(Stamp {
                    op: 812,
                    offset: off,
                    seq: i as u32,
                    thread: 3,
                    tag: 0
                })
            );
        }
    }

    #[test]
    fn tag_round_trips() {
        let mut b = vec![0u8; SECTOR];
        fill_tagged(&mut b, 0, 1, 2, 0xfeed);
        match decode(&b, 0) {
            SectorContent::Stamp(s) => assert_eq!(s.tag, 0xfeed),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_offset_is_garbage() {
        let b = stamped(8192, 5, 0, 1);
        assert_eq!(decode(&b, 8192 + 512), SectorContent::Garbage);
        assert_eq!(why_garbage(&b, 8192 + 512), Some(GarbageKind::WrongOffset));
    }

    #[test]
    fn any_flipped_byte_is_garbage() {
        let b = stamped(0, 9, 1, 1);
        for i in 0..SECTOR {
            let mut c = b.clone();
            c[i] ^= 0x40;
            assert_eq!(decode(&c, 0), SectorContent::Garbage, "byte {i}");
        }
    }

    #[test]
    fn zeros_are_zero_and_junk_is_garbage() {
        assert_eq!(decode(&[0u8; SECTOR], 0), SectorContent::Zero);
        let mut j = [0u8; SECTOR];
        j[300] = 1;
        assert_eq!(decode(&j, 0), SectorContent::Garbage);
        assert_eq!(why_garbage(&j, 0), Some(GarbageKind::NoMagic));
        assert_eq!(why_garbage(&[0u8; SECTOR], 0), None);
    }

    #[test]
    fn sector_torn_between_two_writes_is_garbage() {
        let a = stamped(0, 1, 0, 1);
        let b = stamped(0, 2, 1, 1);
        let mut t = a.clone();
        t[256..].copy_from_slice(&b[256..]);
        assert_eq!(why_garbage(&t, 0), Some(GarbageKind::BadChecksum));
        // Head of a stamp, zeros after it: a short copy into a zero sector.
        let mut h = a.clone();
        h[100..].fill(0);
        assert_eq!(decode(&h, 0), SectorContent::Garbage);
    }

    #[test]
    fn patterns_differ_between_ops_and_offsets() {
        let a = stamped(0, 1, 0, 2);
        let b = stamped(0, 2, 0, 2);
        assert_ne!(a[HEADER..SECTOR], b[HEADER..SECTOR]);
        assert_ne!(a[HEADER..SECTOR], a[SECTOR + HEADER..]);
    }

    #[test]
    fn try_fill_refuses_unaligned() {
        let mut b = vec![0u8; 1000];
        assert_eq!(
            try_fill(&mut b, 0, 1, 0),
            Err(StampError::UnalignedLength(1000))
        );
        let mut b = vec![0u8; 512];
        assert_eq!(
            try_fill(&mut b, 100, 1, 0),
            Err(StampError::UnalignedOffset(100))
        );
        assert!(try_fill(&mut b, 512, 1, 0).is_ok());
        // fill stamps whole chunks and patterns the rest of an odd buffer.
        let mut b = vec![0u8; 700];
        fill(&mut b, 0, 1, 0);
        assert!(matches!(decode(&b[..512], 0), SectorContent::Stamp(_)));
        assert!(b[512..].iter().any(|&x| x != 0));
    }
}

//! CRC-32C (Castagnoli), the checksum bcachefs uses too: the disk's
//! superblock and metadata, and every stamped sector; and content
//! provenance's sector digest, a crc32c of mixed words. SSE4.2 where the
//! CPU has it, slice-by-8 in software.

const POLY: u32 = 0x82f6_3b78;

/// Slice-by-8 tables for the portable path.
static TABLES: [[u32; 256]; 8] = make_tables();

const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut j = 1;
    while j < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[j - 1][i];
            t[j][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        j += 1;
    }
    t
}

/// crc32c of arbitrary bytes (standard init and final xor): SSE4.2's
/// crc32 instruction where the CPU has it (content provenance digests every
/// sector written, so this runs at memcpy-like rates), slice-by-8 otherwise.
pub fn crc32c(data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the CPU supports SSE4.2, checked just above.
            return unsafe { crc32c_hw(data) };
        }
    }
    crc32c_sw(data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn crc32c_hw(data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};
    let mut crc = !0u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        crc = _mm_crc32_u64(crc, u64::from_le_bytes(c.try_into().unwrap()));
    }
    let mut crc = crc as u32;
    for &b in chunks.remainder() {
        crc = _mm_crc32_u8(crc, b);
    }
    !crc
}

/// Added to each of the sector digest's words (a bijection on words whose
/// carries are not linear over GF(2)).
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// Content provenance's digest of each 512-byte sector of `data` (whole
/// sectors only), pushed onto `out`: crc32c of the sector's 8-byte words,
/// each with a constant added first. A plain crc32c is linear over GF(2),
/// so a sector that carries the crc32c of its own leading bytes (fio's
/// verify header, checksummed metadata) digests to one constant whatever
/// those bytes are; the addition's carries break that. (An add, not a
/// multiply: the multiply shares the CPU port the crc32 instruction uses
/// and cost half the digest's speed.) With
/// SSE4.2, four sectors go through the crc32 instruction side by side:
/// one sector's chain waits on the instruction's latency, four independent
/// chains fill its throughput (content provenance's cost is this loop).
pub fn sector_digests(data: &[u8], out: &mut Vec<u32>) {
    const S: usize = 512;
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.2") {
            let mut quads = data.chunks_exact(4 * S);
            for q in &mut quads {
                // SAFETY: the CPU supports SSE4.2, checked just above.
                out.extend_from_slice(&unsafe { digest_4_sectors_hw(q) });
            }
            for sector in quads.remainder().chunks_exact(S) {
                // SAFETY: as above.
                out.push(unsafe { digest_hw(sector) });
            }
            return;
        }
    }
    out.extend(data.chunks_exact(S).map(digest_sw));
}

/// [`sector_digests`] of one sector.
pub fn sector_digest(sector: &[u8; 512]) -> u32 {
    let mut out = Vec::with_capacity(1);
    sector_digests(sector, &mut out);
    out[0]
}

fn word_at(q: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(q[i..i + 8].try_into().unwrap()).wrapping_add(MIX)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn digest_4_sectors_hw(q: &[u8]) -> [u32; 4] {
    use std::arch::x86_64::_mm_crc32_u64;
    let mut c = [!0u64; 4];
    for i in (0..512).step_by(8) {
        c[0] = _mm_crc32_u64(c[0], word_at(q, i));
        c[1] = _mm_crc32_u64(c[1], word_at(q, 512 + i));
        c[2] = _mm_crc32_u64(c[2], word_at(q, 1024 + i));
        c[3] = _mm_crc32_u64(c[3], word_at(q, 1536 + i));
    }
    c.map(|x| !(x as u32))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn digest_hw(sector: &[u8]) -> u32 {
    use std::arch::x86_64::_mm_crc32_u64;
    let mut c = !0u64;
    for i in (0..sector.len()).step_by(8) {
        c = _mm_crc32_u64(c, word_at(sector, i));
    }
    !(c as u32)
}

/// The portable path of one sector's digest.
fn digest_sw(sector: &[u8]) -> u32 {
    let mut crc = !0u32;
    for i in (0..sector.len()).step_by(8) {
        crc = step_sw(crc, word_at(sector, i));
    }
    !crc
}

/// The portable path of [`crc32c`].
fn crc32c_sw(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        crc = step_sw(crc, u64::from_le_bytes(c.try_into().unwrap()));
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ TABLES[0][((crc ^ b as u32) & 0xff) as usize];
    }
    !crc
}

/// One 8-byte step of the slice-by-8 table walk (the stamp checksum folds
/// its own words through it).
#[inline]
pub fn step_sw(crc: u32, word: u64) -> u32 {
    let x = word ^ crc as u64;
    let t = &TABLES;
    t[7][(x & 0xff) as usize]
        ^ t[6][(x >> 8 & 0xff) as usize]
        ^ t[5][(x >> 16 & 0xff) as usize]
        ^ t[4][(x >> 24 & 0xff) as usize]
        ^ t[3][(x >> 32 & 0xff) as usize]
        ^ t[2][(x >> 40 & 0xff) as usize]
        ^ t[1][(x >> 48 & 0xff) as usize]
        ^ t[0][(x >> 56) as usize]
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_vectors() {
        assert_eq!(super::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(super::crc32c(b""), 0);
        assert_eq!(super::crc32c(&[0u8; 32]), 0x8a91_36aa);
    }

    #[test]
    fn sector_digests_match_one_at_a_time_on_both_paths() {
        let data: Vec<u8> = (0..512 * 11 + 100)
            .map(|i| (i * 31 + i / 7) as u8)
            .collect();
        let mut out = Vec::new();
        super::sector_digests(&data, &mut out);
        let want: Vec<u32> = data.chunks_exact(512).map(super::digest_sw).collect();
        assert_eq!(out, want);
        assert_eq!(
            out[10],
            super::sector_digest(data[5120..5632].try_into().unwrap())
        );
        // Not the plain crc32c of the sector.
        assert_ne!(out[0], super::crc32c(&data[..512]));
    }

    #[test]
    fn both_paths_agree() {
        let data: Vec<u8> = (0..1021u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for len in [0, 1, 7, 8, 9, 512, 1021] {
            assert_eq!(super::crc32c(&data[..len]), super::crc32c_sw(&data[..len]));
        }
    }
}

//! CRC-32C (Castagnoli), the checksum bcachefs uses too: the disk's
//! superblock and metadata, and every stamped sector. Slice-by-8 in
//! software; the harness's stamp.rs adds the SSE4.2 path for whole sectors.

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
    fn both_paths_agree() {
        let data: Vec<u8> = (0..1021u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for len in [0, 1, 7, 8, 9, 512, 1021] {
            assert_eq!(super::crc32c(&data[..len]), super::crc32c_sw(&data[..len]));
        }
    }
}

//! Content provenance: a digest (`crc32c::sector_digests`: crc32c of the
//! sector's words, mixed first) of every 512-byte file sector an op wrote
//! or read, a writeback IO carried or a check read back, kept beside
//! the events (the trace's `extents` table), so a checker can follow any
//! program's bytes, not only data lockline stamped itself. The kernel has
//! no counterpart; it is what blktrace plus a content hash would give.
//!
//! Digests are taken only by threads attached to a recorder that asked for
//! them (`Recorder::record_digests`): otherwise a write pays one
//! thread-local load.
//! Sectors are file sectors (offset / 512), so the digest a write took of
//! sector s compares directly with the digest a read or check took of s.

use super::recorder;
use super::schema::{now_ns, ExtentKind};
use crate::crc32c::{self, sector_digest};
use serde::Serialize;
use std::cell::Cell;

/// Bytes per digest.
pub const SECTOR: u64 = 512;

/// One extent of digests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Extent {
    /// CLOCK_MONOTONIC ns when the bytes had moved (after the op's copy).
    pub ts_ns: u64,
    pub tid: u32,
    pub kind: ExtentKind,
    /// The op the bytes belong to (a writeback IO: the fsync it runs for,
    /// 0 for the flusher's).
    pub op: u64,
    pub inode: u64,
    /// A writeback IO's folio identity; a check's tag; 0 otherwise.
    pub tag: u64,
    /// File sector of the first digest.
    pub first_sector: u64,
    /// Bytes the digests cover from `first_sector * 512`: whole sectors,
    /// but for a read's zero-padded last sector at EOF.
    pub len: u64,
    pub digests: Vec<u32>,
}

/// The digest of a sector of zeros: what a hole, a punched range or a
/// truncated tail reads as.
pub fn zero_digest() -> u32 {
    sector_digest(&[0u8; SECTOR as usize])
}

/// Digests of the whole file sectors in `data` (which sits at file offset
/// `pos`): (first sector, bytes covered, digests). With `tail`, a last
/// partial sector counts too, zero-padded, as a read at EOF returns it.
pub fn sector_digests(pos: u64, data: &[u8], tail: bool) -> (u64, u64, Vec<u32>) {
    let end = pos + data.len() as u64;
    let first = pos.div_ceil(SECTOR);
    let whole_end = end / SECTOR;
    let mut digests = Vec::with_capacity(whole_end.saturating_sub(first) as usize + 1);
    let mut s = first;
    if first < whole_end {
        let at = (first * SECTOR - pos) as usize;
        crc32c::sector_digests(&data[at..(whole_end * SECTOR - pos) as usize], &mut digests);
        s = whole_end;
    }
    let mut len = whole_end.saturating_sub(first) * SECTOR;
    if tail && !end.is_multiple_of(SECTOR) && s * SECTOR < end {
        let at = (s * SECTOR - pos) as usize;
        let mut pad = [0u8; SECTOR as usize];
        pad[..data.len() - at].copy_from_slice(&data[at..]);
        digests.push(sector_digest(&pad));
        len += end - s * SECTOR;
    }
    (first, len, digests)
}

thread_local! {
    /// The tag of the check whose read-back the calling thread is making.
    static CHECKING: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Runs `f` (a check's read-back) so that its reads record `Check`
/// extents tagged `tag` instead of `Read` extents: a checker tells the
/// check's own reads from the program's.
pub fn checking<R>(tag: u8, f: impl FnOnce() -> R) -> R {
    let prev = CHECKING.with(|c| c.replace(Some(tag)));
    let r = f();
    CHECKING.with(|c| c.set(prev));
    r
}

#[inline]
fn record(kind: ExtentKind, inode: u64, op: u64, tag: u64, pos: u64, data: &[u8], tail: bool) {
    if !recorder::digests_on() {
        return;
    }
    let (first_sector, len, digests) = sector_digests(pos, data, tail);
    // A check of an empty file is kept: "it was empty" is its finding.
    if digests.is_empty() && kind != ExtentKind::Check {
        return;
    }
    recorder::record_extent(|tid| Extent {
        ts_ns: now_ns(),
        tid,
        kind,
        op,
        inode,
        tag,
        first_sector,
        len,
        digests,
    });
}

/// Op `op` wrote `data` at `pos`. Public for targets other than the
/// engine (a kernel file system's file), whose ops record the same way.
#[inline]
pub fn wrote(inode: u64, op: u64, pos: u64, data: &[u8]) {
    record(ExtentKind::Write, inode, op, 0, pos, data, false);
}

/// Op `op` read `data` at `pos`; `at_eof` when the read reached i_size.
/// Public as [`wrote`] is.
#[inline]
pub fn read(inode: u64, op: u64, pos: u64, data: &[u8], at_eof: bool) {
    match CHECKING.with(|c| c.get()) {
        Some(tag) => record(ExtentKind::Check, inode, op, tag as u64, pos, data, at_eof),
        None => record(ExtentKind::Read, inode, op, 0, pos, data, at_eof),
    }
}

/// A writeback IO of folio `fid` carried `data` to file offset `pos`.
#[inline]
pub(crate) fn writeback_io(inode: u64, fid: u64, pos: u64, data: &[u8]) {
    let op = super::points::current_op();
    record(ExtentKind::WritebackIo, inode, op, fid, pos, data, false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_sectors_only_unless_a_tail_is_asked() {
        let data: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
        // At offset 100: sectors 1..=3 are whole (bytes 512..2048 of the
        // file are data[412..1948]); sector 0 and 4 are partial.
        let (first, len, d) = sector_digests(100, &data, false);
        assert_eq!((first, len, d.len()), (1, 3 * 512, 3));
        assert_eq!(d[0], sector_digest(data[412..924].try_into().unwrap()));
        let (first, len, d) = sector_digests(100, &data, true);
        assert_eq!((first, len, d.len()), (1, 3 * 512 + 52, 4));
        let mut pad = [0u8; 512];
        pad[..52].copy_from_slice(&data[1948..]);
        assert_eq!(d[3], sector_digest(&pad));
        // Nothing whole in a short unaligned piece, and no tail either.
        assert_eq!(sector_digests(10, &data[..100], true).2.len(), 0);
        assert_eq!(zero_digest(), sector_digest(&[0u8; 512]));
    }

    /// fio's verify header carries the crc32c of the header before it, and
    /// a crc32c over data followed by its own crc32c is one constant: a
    /// plain crc32c digest saw every loop of fio's writes to a block as
    /// the same bytes, and missed the loss fio reported. The digest must
    /// tell such sectors apart.
    #[test]
    fn sectors_that_hold_their_own_crc32c_digest_apart() {
        let sector = |numberio: u16, nsec: u32| {
            let mut s = [0x5au8; 512];
            s[..0x1c].fill(0);
            s[0x1c..0x20].copy_from_slice(&nsec.to_le_bytes());
            s[0x22..0x24].copy_from_slice(&numberio.to_le_bytes());
            let crc = crc32c(&s[..0x24]);
            s[0x24..0x28].copy_from_slice(&crc.to_le_bytes());
            s
        };
        let (a, b) = (sector(6, 0x0bed_79cf), sector(134, 0x0bf3_e9a6));
        // The trap itself: a plain crc32c cannot tell them apart.
        use crate::crc32c::crc32c;
        assert_eq!(crc32c(&a), crc32c(&b));
        let mut both = a.to_vec();
        both.extend_from_slice(&b);
        let (_, _, d) = sector_digests(0, &both, false);
        assert_ne!(d[0], d[1], "the digest is blind to the header's change");
        assert_eq!(d[0], sector_digests(0, &a, false).2[0]);
        let (_, _, t) = sector_digests(0, &b[..300], true);
        let mut pad = [0u8; 512];
        pad[..300].copy_from_slice(&b[..300]);
        assert_eq!(t[0], sector_digests(0, &pad, false).2[0]);
    }

    #[test]
    fn only_attached_threads_record_and_checks_are_tagged() {
        let rec = recorder::Recorder::new(1000);
        wrote(1, 1, 0, &[1u8; 1024]);
        recorder::attach(Some(&rec));
        wrote(1, 2, 0, &[1u8; 1024]);
        rec.record_digests(true);
        wrote(2, 7, 0, &[1u8; 1024]);
        checking(3, || read(2, 8, 0, &[1u8; 1000], true));
        read(2, 9, 512, &[1u8; 512], false);
        recorder::attach(None);
        let ex = rec.drain_extents();
        let kinds: Vec<_> = ex
            .iter()
            .map(|e| (e.kind, e.op, e.tag, e.digests.len()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (ExtentKind::Write, 7, 0, 2),
                (ExtentKind::Check, 8, 3, 2),
                (ExtentKind::Read, 9, 0, 1)
            ]
        );
    }
}

//! The checker on any program's data: instead of stamps, the crc32c each
//! write took of every file sector it wrote (engine `probe::provenance`)
//! says whose bytes a sector holds. The rules, classes, explanations and
//! reports are the stamp checker's: a digest is resolved to the write that
//! left it (classify::resolve), then classified as a stamp would be.
//!
//! What digests cannot tell apart, this checker does not either: two
//! writes of identical bytes to a sector are one to it (it takes the one
//! that may be last), and a sector no op of the trace touched holds data
//! older than the trace, which it does not judge.

use super::read_whole;
use super::{check_read_with, check_with, classify, content, CheckReport, ReadChecks};
use super::{AFTER_FSYNC, AFTER_REMOUNT, AFTER_RUN, DURING_RUN, MAX_READ_VIOLATIONS};
use crate::history::{History, OpRecord};
use lockline_engine::disk::FileKind;
use lockline_engine::fs::{Fs, MountOptions};
use lockline_engine::probe::provenance::{checking, Extent};
use lockline_engine::probe::{Event, ExtentKind};
use std::path::Path;

/// Label of the check a mount or exec run makes of every file at unmount.
pub const AT_UNMOUNT: &str = "at-unmount";

/// The tag a check's extents carry (`provenance::checking`), by label.
pub fn check_tag(label: &str) -> u8 {
    match label {
        AFTER_RUN => 1,
        AFTER_FSYNC => 2,
        AFTER_REMOUNT => 3,
        AT_UNMOUNT => 4,
        _ => 0,
    }
}

/// The label of a check's tag; None for an unknown tag.
pub fn check_label(tag: u64) -> Option<&'static str> {
    Some(match tag {
        1 => AFTER_RUN,
        2 => AFTER_FSYNC,
        3 => AFTER_REMOUNT,
        4 => AT_UNMOUNT,
        _ => return None,
    })
}

/// What a read or check saw: one digest per sector from `first_sector`.
#[derive(Clone, Copy, Debug)]
pub struct Seen<'a> {
    pub first_sector: u64,
    pub digests: &'a [u32],
}

/// (inode, sector, digest) → the writes that left that digest there,
/// over every write of a trace: built once, looked up per sector.
pub struct DigestIndex {
    entries: Vec<(u64, u64, u32, u64)>,
}

impl DigestIndex {
    pub fn new(extents: &[Extent]) -> DigestIndex {
        let mut entries = Vec::with_capacity(
            extents
                .iter()
                .filter(|x| x.kind == ExtentKind::Write)
                .map(|x| x.digests.len())
                .sum(),
        );
        for x in extents.iter().filter(|x| x.kind == ExtentKind::Write) {
            for (i, &d) in x.digests.iter().enumerate() {
                entries.push((x.inode, x.first_sector + i as u64, d, x.op));
            }
        }
        entries.sort_unstable();
        DigestIndex { entries }
    }

    /// Ops whose write left digest `d` in sector `s` of inode `ino`.
    pub fn ops_at(&self, ino: u64, s: u64, d: u32) -> impl Iterator<Item = u64> + Clone + '_ {
        let i = self
            .entries
            .partition_point(|e| (e.0, e.1, e.2) < (ino, s, d));
        self.entries[i..]
            .iter()
            .take_while(move |e| e.0 == ino && e.1 == s && e.2 == d)
            .map(|e| e.3)
    }
}

fn decode(
    ops: &classify::Ops,
    effects: &[classify::Effect],
    index: &DigestIndex,
    ino: u64,
    seen: &Seen,
    n: u64,
) -> content::Decoded {
    classify::resolve(ops, effects.to_vec(), index, ino, seen, n)
}

/// Checks inode `ino`, `size` bytes read back whole, as `seen` (from
/// sector 0) shows it, by the stamp checker's rules.
pub fn check_digests(
    history: &History,
    index: &DigestIndex,
    ino: u64,
    size: u64,
    seen: &Seen,
    label: &str,
) -> CheckReport {
    check_with(history, ino, size, label, |ops, effects, n| {
        decode(ops, effects, index, ino, seen, n)
    })
}

/// Checks what read op `op` returned (its digests in `seen`, `len` bytes
/// from `seen.first_sector`) against the history as it stood during the
/// read, as [`super::check_read`] does for stamps.
pub fn check_read_digests(
    history: &History,
    index: &DigestIndex,
    ino: u64,
    op: u64,
    len: u64,
    seen: &Seen,
) -> Option<CheckReport> {
    let lo = seen.first_sector;
    let hi = lo + seen.digests.len() as u64;
    let end = lo * 512 + len;
    check_read_with(history, ino, op, lo, hi, end, |ops, effects| {
        decode(ops, effects, index, ino, seen, hi)
    })
}

/// What a trace's digests show: every check it recorded, judged, and every
/// read a program made during the run.
#[derive(Debug, Default)]
pub struct Judged {
    pub checks: Vec<CheckReport>,
    pub reads: ReadChecks,
}

/// Judges a trace by its digests: each `Check` extent (a whole file read
/// back by a check) against the ops that began before it, and each `Read`
/// extent against the history as it stood during the read. Extents of ops
/// the events do not show (lost events) are skipped.
pub fn judge(events: &[Event], extents: &[Extent]) -> Judged {
    let history = History::from_events(events);
    let index = DigestIndex::new(extents);
    let mut out = Judged::default();
    for x in extents {
        let Some(r) = history.get(x.op) else {
            continue;
        };
        let seen = Seen {
            first_sector: x.first_sector,
            digests: &x.digests,
        };
        match x.kind {
            ExtentKind::Check if x.first_sector == 0 => {
                let Some(label) = check_label(x.tag) else {
                    continue;
                };
                let before: Vec<OpRecord> = history
                    .ops()
                    .iter()
                    .filter(|o| o.begin_ns < r.begin_ns && o.op != r.op)
                    .copied()
                    .collect();
                let h = History::from_records(before);
                let mut c = check_digests(&h, &index, x.inode, x.len, &seen, label);
                c.round = r.round as u64;
                out.checks.push(c);
            }
            ExtentKind::Read => {
                out.reads.reads += 1;
                out.reads.sectors += x.digests.len() as u64;
                let Some(rep) = check_read_digests(&history, &index, x.inode, x.op, x.len, &seen)
                else {
                    continue;
                };
                out.reads.bad_reads += 1;
                out.reads.counts += rep.counts;
                let room = MAX_READ_VIOLATIONS.saturating_sub(out.reads.violations.len());
                out.reads
                    .violations
                    .extend(rep.violations.into_iter().take(room));
            }
            _ => {}
        }
    }
    out
}

/// The final check of a mount or exec run: mounts `disk` (its recorder
/// taking digests), reads every regular file back whole as the
/// [`AT_UNMOUNT`] check, and unmounts. Returns the files read. What the
/// disk kept is what [`judge`] then checks against every write.
pub fn read_back_at_unmount(disk: &Path, opts: &MountOptions) -> lockline_engine::Result<u64> {
    let fs = Fs::mount(disk, opts.clone())?;
    let mut files = 0;
    let mut dirs = vec!["/".to_string()];
    let r = (|| {
        while let Some(dir) = dirs.pop() {
            for e in fs.readdir(&dir)? {
                let path = format!("{}/{}", dir.trim_end_matches('/'), e.name);
                match e.kind {
                    FileKind::Dir => dirs.push(path),
                    FileKind::File => {
                        checking(check_tag(AT_UNMOUNT), || read_whole(&fs, e.ino))?;
                        files += 1;
                    }
                }
            }
        }
        Ok(())
    })();
    let u = fs.unmount();
    r.and(u).map(|_| files)
}

/// The read checks as one report, for a trace's violations table; None
/// when no read saw a violation.
pub fn reads_report(reads: &ReadChecks) -> Option<CheckReport> {
    if reads.violations.is_empty() {
        return None;
    }
    Some(CheckReport {
        label: DURING_RUN.to_string(),
        round: 0,
        ino: reads.violations[0].ino,
        size: 0,
        sectors_checked: reads.sectors,
        ok: reads.sectors.saturating_sub(reads.counts.total()),
        violations: reads.violations.clone(),
        counts: reads.counts,
        unfinished: Vec::new(),
        short_file: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Class;
    use lockline_engine::crc32c::crc32c;
    use lockline_engine::probe::provenance::zero_digest;
    use lockline_engine::probe::OpKind;

    const INO: u64 = 5;

    fn op(op: u64, kind: OpKind, offset: u64, len: u64, t: u64) -> OpRecord {
        OpRecord {
            op,
            tid: 1,
            kind,
            ino: INO,
            offset,
            len,
            begin_ns: t,
            end_ns: t + 5,
            result: len as i64,
            thread: None,
            round: 0,
        }
    }

    fn sector(tag: u8) -> Vec<u8> {
        (0..512).map(|i| tag ^ (i as u8)).collect()
    }

    /// A write extent of `op` over whole sectors from `first`, one tag each.
    fn wrote(op: u64, ino: u64, first: u64, tags: &[u8]) -> Extent {
        Extent {
            ts_ns: 0,
            tid: 1,
            kind: ExtentKind::Write,
            op,
            inode: ino,
            tag: 0,
            first_sector: first,
            len: tags.len() as u64 * 512,
            digests: tags.iter().map(|&t| crc32c(&sector(t))).collect(),
        }
    }

    fn seen(tags: &[Option<u8>]) -> Vec<u32> {
        tags.iter()
            .map(|t| match t {
                Some(t) => crc32c(&sector(*t)),
                None => zero_digest(),
            })
            .collect()
    }

    fn classes(r: &CheckReport) -> Vec<(u64, u64, Class)> {
        r.violations
            .iter()
            .map(|v| (v.first_sector, v.nr_sectors, v.class))
            .collect()
    }

    fn check(ops: Vec<OpRecord>, extents: &[Extent], size: u64, got: &[u32]) -> CheckReport {
        let h = History::from_records(ops);
        let index = DigestIndex::new(extents);
        let s = Seen {
            first_sector: 0,
            digests: got,
        };
        check_digests(&h, &index, INO, size, &s, AT_UNMOUNT)
    }

    /// Created, 4 sectors written, cut to 2, extended to 4 again.
    fn cut_and_extended() -> Vec<OpRecord> {
        vec![
            op(1, OpKind::Create, 0, 0, 10),
            op(2, OpKind::Write, 0, 2048, 20),
            op(3, OpKind::Truncate, 1024, 0, 30),
            op(4, OpKind::Truncate, 2048, 0, 40),
        ]
    }

    #[test]
    fn the_last_write_and_zeros_where_due_are_ok() {
        let ops = cut_and_extended();
        let x = [wrote(2, INO, 0, &[1, 2, 3, 4])];
        let r = check(ops, &x, 2048, &seen(&[Some(1), Some(2), None, None]));
        assert!(r.violations.is_empty(), "{:?}", r.violations);
        assert_eq!(r.ok, 4);
    }

    #[test]
    fn cut_bytes_that_came_back_are_stale_and_lost_ones_dropped() {
        let mut ops = cut_and_extended();
        ops.push(op(5, OpKind::Write, 0, 512, 50));
        let x = [wrote(2, INO, 0, &[1, 2, 3, 4]), wrote(5, INO, 0, &[9])];
        // Sector 0 kept op 2's bytes (op 5's were dropped), sector 2 holds
        // op 2's cut bytes again.
        let r = check(ops, &x, 2048, &seen(&[Some(1), Some(2), Some(3), None]));
        assert_eq!(
            classes(&r),
            vec![(0, 1, Class::Stale), (2, 1, Class::Stale)],
            "{:?}",
            r.violations
        );
        assert!(r.violations[1].explanation.contains("came back"));
        // Zeros where op 5's bytes were due: dropped.
        let ops = vec![
            op(1, OpKind::Create, 0, 0, 10),
            op(5, OpKind::Write, 0, 512, 50),
        ];
        let r = check(ops, &[wrote(5, INO, 0, &[9])], 512, &seen(&[None]));
        assert_eq!(classes(&r), vec![(0, 1, Class::Dropped)]);
    }

    #[test]
    fn unknown_bytes_are_torn_unless_no_op_touched_them_or_a_write_was_partial() {
        let ops = vec![
            op(1, OpKind::Create, 0, 0, 10),
            op(2, OpKind::Write, 0, 1024, 20),
        ];
        // Another inode's write of the same bytes does not count.
        let x = [wrote(2, INO, 0, &[1, 2]), wrote(7, INO + 1, 1, &[8])];
        let r = check(ops, &x, 1024, &seen(&[Some(1), Some(8)]));
        assert_eq!(classes(&r), vec![(1, 1, Class::Torn)]);
        // A file from before the trace: no op touched it, nothing judged.
        let r = check(vec![], &[], 1024, &seen(&[Some(1), Some(8)]));
        assert!(r.violations.is_empty(), "{:?}", r.violations);
        // A write of 100 bytes into sector 0: any mix is fine, zeros too.
        let mut w = op(2, OpKind::Write, 100, 100, 20);
        w.result = 100;
        for got in [Some(3), None] {
            let ops = vec![op(1, OpKind::Create, 0, 0, 10), w];
            let r = check(ops, &[], 512, &seen(&[got]));
            assert!(r.violations.is_empty(), "{got:?}: {:?}", r.violations);
        }
    }

    #[test]
    fn a_read_is_judged_against_the_ops_of_its_time() {
        let ops = vec![
            op(1, OpKind::Create, 0, 0, 10),
            op(2, OpKind::Write, 0, 1024, 20),
            op(3, OpKind::Read, 0, 1024, 30),
            op(4, OpKind::Write, 0, 1024, 40),
        ];
        let x = [wrote(2, INO, 0, &[1, 2]), wrote(4, INO, 0, &[5, 6])];
        let h = History::from_records(ops);
        let index = DigestIndex::new(&x);
        // It saw op 2's bytes: op 4 began after the read ended.
        let got = seen(&[Some(1), Some(2)]);
        let s = Seen {
            first_sector: 0,
            digests: &got,
        };
        assert!(check_read_digests(&h, &index, INO, 3, 1024, &s).is_none());
        // Zeros where op 2 had written: dropped.
        let got = seen(&[None, Some(2)]);
        let s = Seen {
            first_sector: 0,
            digests: &got,
        };
        let r = check_read_digests(&h, &index, INO, 3, 1024, &s).expect("a violation");
        assert_eq!(classes(&r), vec![(0, 1, Class::Dropped)]);
    }
}

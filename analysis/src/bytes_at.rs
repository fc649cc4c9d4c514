//! `analyze --at INO:OFFSET[+LEN]`: everything a trace knows about some
//! bytes of a file, sector by sector and in time order: each op that wrote,
//! cut or created them, each writeback IO that carried them to disk, each
//! read and check that saw them (with whose bytes it saw, from the digests),
//! and the violations and culprits that name them. The question a developer
//! with an fsx or QEMU miscompare asks first.

use crate::culprit;
use crate::Trace;
use lockline_engine::probe::provenance::{zero_digest, Extent, SECTOR};
use lockline_engine::probe::{ExtentKind, OpKind};
use serde::Serialize;
use std::fmt::Write as _;

/// At most this many sectors are told; a wider range says how many more.
pub const MAX_SECTORS: u64 = 32;

/// Bytes a user asked about: `ino:offset[+len]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    pub ino: u64,
    pub offset: u64,
    pub len: u64,
}

impl std::str::FromStr for At {
    type Err = String;
    /// `3:129919`, `3:0x1fb7f+4096`, `3:1M+64K` (K, M, G: binary units).
    fn from_str(s: &str) -> Result<At, String> {
        let bad = || format!("'{s}': expected INO:OFFSET[+LEN], e.g. 3:129536+512");
        let (ino, rest) = s.split_once(':').ok_or_else(bad)?;
        let (off, len) = match rest.split_once('+') {
            Some((o, l)) => (o, Some(l)),
            None => (rest, None),
        };
        let num = |t: &str| -> Result<u64, String> {
            let t = t.trim();
            let (digits, mult) = match t.chars().last() {
                Some('K' | 'k') => (&t[..t.len() - 1], 1u64 << 10),
                Some('M' | 'm') => (&t[..t.len() - 1], 1 << 20),
                Some('G' | 'g') => (&t[..t.len() - 1], 1 << 30),
                _ => (t, 1),
            };
            let v = match digits.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => digits.parse(),
            }
            .map_err(|_| bad())?;
            v.checked_mul(mult).ok_or_else(bad)
        };
        let at = At {
            ino: ino.trim().parse().map_err(|_| bad())?,
            offset: num(off)?,
            len: len.map(num).transpose()?.unwrap_or(1),
        };
        if at.len == 0 {
            return Err(format!("'{s}': the length must be at least 1"));
        }
        at.offset.checked_add(at.len).ok_or_else(bad)?;
        Ok(at)
    }
}

/// One thing that happened to a sector.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub ts_ns: u64,
    /// write, read, writeback_io, check, truncate, punch, create.
    pub what: String,
    pub op: u64,
    pub tid: u32,
    /// The sector's digest, for extents.
    pub digest: Option<u32>,
    /// In words: what the step did or whose bytes it saw.
    pub detail: String,
}

/// One sector's story.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sector {
    pub sector: u64,
    pub steps: Vec<Step>,
    /// "violation 3 (at-unmount, stale): …" and its culprit, if found.
    pub violations: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BytesAt {
    pub ino: u64,
    pub offset: u64,
    pub len: u64,
    /// Whether the trace took content digests at all.
    pub has_digests: bool,
    pub sectors: Vec<Sector>,
    /// Sectors of the range not told (over [`MAX_SECTORS`]).
    pub more_sectors: u64,
}

/// Whose bytes digest `d` of sector `s` is: the latest write of the inode
/// recorded at or before `ts` that left it there, zeros, or neither.
fn whose(writes: &[&Extent], s: u64, d: u32, ts: u64) -> String {
    let by = writes
        .iter()
        .filter(|w| w.ts_ns <= ts && w.first_sector <= s)
        .filter(|w| w.digests.get((s - w.first_sector) as usize) == Some(&d))
        .max_by_key(|w| w.ts_ns);
    match by {
        Some(w) => format!("op {}'s bytes", w.op),
        None if d == zero_digest() => "zeros".to_string(),
        None => {
            "a mix no single write left whole (a write or cut inside the sector), or foreign bytes"
                .to_string()
        }
    }
}

/// Everything `trace` knows about the bytes `at` names.
pub fn bytes_at(trace: &Trace, at: At) -> BytesAt {
    let lo = at.offset / SECTOR;
    let hi = (at.offset + at.len).div_ceil(SECTOR);
    let told = (hi - lo).min(MAX_SECTORS);
    let of_ino: Vec<&Extent> = trace.extents.iter().filter(|x| x.inode == at.ino).collect();
    let writes: Vec<&Extent> = of_ino
        .iter()
        .copied()
        .filter(|x| x.kind == ExtentKind::Write)
        .collect();
    let t0 = trace.events.first().map_or(0, |e| e.ts_ns);
    let culprits = culprit::culprits(trace);
    let mut sectors = Vec::new();
    for s in lo..lo + told {
        let (b0, b1) = (s * SECTOR, (s + 1) * SECTOR);
        let mut steps = Vec::new();
        for x in &of_ino {
            let Some(&d) = (s >= x.first_sector)
                .then(|| x.digests.get((s - x.first_sector) as usize))
                .flatten()
            else {
                continue;
            };
            let detail = match x.kind {
                // The write's op tells it, with this digest.
                ExtentKind::Write => continue,
                ExtentKind::WritebackIo => format!(
                    "carried {} to disk (folio identity {})",
                    whose(&writes, s, d, x.ts_ns),
                    x.tag
                ),
                ExtentKind::Read => format!("returned {}", whose(&writes, s, d, x.ts_ns)),
                ExtentKind::Check => format!(
                    "read back {} (check {})",
                    whose(&writes, s, d, x.ts_ns),
                    lockline_harness::check::provenance::check_label(x.tag).unwrap_or("?")
                ),
            };
            steps.push(Step {
                ts_ns: x.ts_ns,
                what: x.kind.name().to_string(),
                op: x.op,
                tid: x.tid,
                digest: Some(d),
                detail,
            });
        }
        for o in trace.ops.iter().filter(|o| o.ino == at.ino) {
            let digest = writes
                .iter()
                .find(|w| w.op == o.op && w.first_sector <= s)
                .and_then(|w| w.digests.get((s - w.first_sector) as usize).copied());
            let detail = match o.kind {
                OpKind::Write if o.offset < b1 && o.offset + o.len > b0 => {
                    // Whole-sector writes show as extents when digests were
                    // taken; the op itself says what it asked and returned.
                    let part = if o.offset <= b0 && o.offset + o.len >= b1 {
                        "the whole sector"
                    } else {
                        "part of the sector"
                    };
                    format!(
                        "asked {} bytes at {} ({part}), returned {}",
                        o.len, o.offset, o.result
                    )
                }
                OpKind::Truncate if o.offset < b1 => {
                    format!(
                        "truncated the file to {} bytes (zeros from there)",
                        o.offset
                    )
                }
                OpKind::Punch if o.offset < b1 && o.offset + o.len > b0 => {
                    format!("punched {} bytes at {}", o.len, o.offset)
                }
                OpKind::Create => "created the file, empty".to_string(),
                _ => continue,
            };
            steps.push(Step {
                ts_ns: o.begin_ns,
                what: o.kind.name().to_string(),
                op: o.op,
                tid: o.tid,
                digest,
                detail,
            });
        }
        steps.sort_by_key(|st| (st.ts_ns, st.op));
        for st in &mut steps {
            st.ts_ns = st.ts_ns.saturating_sub(t0);
        }
        let violations = trace
            .violations
            .iter()
            .filter(|v| v.ino == at.ino && v.first_sector <= s && s < v.first_sector + v.nr_sectors)
            .map(|v| {
                let mut line = format!(
                    "violation {} ({}, round {}, {}): {}",
                    v.id, v.check, v.round, v.class, v.explanation
                );
                if let Some(c) = culprits.get(&v.id) {
                    let _ = write!(line, "\n      culprit: {}", c.line);
                }
                line
            })
            .collect();
        sectors.push(Sector {
            sector: s,
            steps,
            violations,
        });
    }
    BytesAt {
        ino: at.ino,
        offset: at.offset,
        len: at.len,
        has_digests: !trace.extents.is_empty(),
        sectors,
        more_sectors: (hi - lo) - told,
    }
}

impl BytesAt {
    pub fn text(&self) -> String {
        let mut s = format!(
            "inode {}, bytes {}..{}{}\n",
            self.ino,
            self.offset,
            self.offset + self.len,
            if self.has_digests {
                ""
            } else {
                " (this trace took no content digests: ops only; `run --trace` and `mount --trace` take them)"
            }
        );
        for sec in &self.sectors {
            let _ = writeln!(
                s,
                "sector {} (bytes {}..{}):",
                sec.sector,
                sec.sector * SECTOR,
                (sec.sector + 1) * SECTOR
            );
            if sec.steps.is_empty() {
                s.push_str("  nothing in the trace touched it\n");
            }
            for st in &sec.steps {
                let digest = st.digest.map(|d| format!(" [{d:08x}]")).unwrap_or_default();
                let _ = writeln!(
                    s,
                    "  {:>10.3} ms  {:<12} op {:<6} tid {:<7} {}{}",
                    st.ts_ns as f64 / 1e6,
                    st.what,
                    st.op,
                    st.tid,
                    st.detail,
                    digest
                );
            }
            for v in &sec.violations {
                let _ = writeln!(s, "  {v}");
            }
        }
        if self.more_sectors > 0 {
            let _ = writeln!(
                s,
                "({} more sectors not shown: at most {MAX_SECTORS} are; narrow the range)",
                self.more_sectors
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets_and_lengths() {
        let a: At = "3:129536+512".parse().unwrap();
        assert_eq!((a.ino, a.offset, a.len), (3, 129536, 512));
        let a: At = "7:0x10+1K".parse().unwrap();
        assert_eq!((a.ino, a.offset, a.len), (7, 16, 1024));
        let a: At = "2:1M".parse().unwrap();
        assert_eq!((a.ino, a.offset, a.len), (2, 1 << 20, 1));
        for bad in [
            "3",
            "x:1",
            "3:y",
            "3:1+0",
            "3:1+",
            ":1",
            "3:18446744073709551615+2",
        ] {
            assert!(bad.parse::<At>().is_err(), "{bad}");
        }
    }
}

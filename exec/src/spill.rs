//! A process's probe events and content digests, written at its exit for
//! the parent to judge: fixed little-endian records, no framing beyond a
//! magic and two counts, because a QEMU run spills millions of events and
//! the library links nothing but the engine.
//!
//! Op ids and folio identities are numbered per process. [`Shift`] moves
//! one process's numbers past another's when the parent puts several
//! processes (and its own read-back at unmount) into one trace.

use lockline_engine::probe::provenance::Extent;
use lockline_engine::probe::{Event, ExtentKind, NO_FID};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"LLSPILL1";

pub fn path(out: &Path, pid: u32) -> PathBuf {
    out.join(format!("{pid}.spill"))
}

pub fn write(path: &Path, events: &[Event], extents: &[Extent]) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    w.write_all(MAGIC)?;
    w.write_all(&(events.len() as u64).to_le_bytes())?;
    for e in events {
        w.write_all(&e.ts_ns.to_le_bytes())?;
        w.write_all(&e.tid.to_le_bytes())?;
        w.write_all(&e.code.to_le_bytes())?;
        for v in [e.inode, e.folio, e.op, e.a, e.b, e.fid] {
            w.write_all(&v.to_le_bytes())?;
        }
    }
    w.write_all(&(extents.len() as u64).to_le_bytes())?;
    for x in extents {
        w.write_all(&x.ts_ns.to_le_bytes())?;
        w.write_all(&x.tid.to_le_bytes())?;
        w.write_all(&(x.kind as u32).to_le_bytes())?;
        for v in [x.op, x.inode, x.tag, x.first_sector, x.len] {
            w.write_all(&v.to_le_bytes())?;
        }
        w.write_all(&(x.digests.len() as u64).to_le_bytes())?;
        for d in &x.digests {
            w.write_all(&d.to_le_bytes())?;
        }
    }
    w.flush()
}

struct In<R>(R);

impl<R: Read> In<R> {
    fn u64(&mut self) -> io::Result<u64> {
        let mut b = [0; 8];
        self.0.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn u32(&mut self) -> io::Result<u32> {
        let mut b = [0; 4];
        self.0.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
}

fn bad(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

pub fn read(path: &Path) -> io::Result<(Vec<Event>, Vec<Extent>)> {
    let f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    let mut r = In(BufReader::with_capacity(1 << 20, f));
    let mut magic = [0; 8];
    r.0.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(bad(path, "not a lockline spill"));
    }
    let n = r.u64()?;
    if n > size / 64 {
        return Err(bad(path, "event count past the end of the file"));
    }
    let mut events = Vec::with_capacity(n as usize);
    for _ in 0..n {
        events.push(Event {
            ts_ns: r.u64()?,
            tid: r.u32()?,
            code: r.u32()?,
            inode: r.u64()?,
            folio: r.u64()?,
            op: r.u64()?,
            a: r.u64()?,
            b: r.u64()?,
            fid: r.u64()?,
        });
    }
    let n = r.u64()?;
    if n > size / 64 {
        return Err(bad(path, "extent count past the end of the file"));
    }
    let mut extents = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let ts_ns = r.u64()?;
        let tid = r.u32()?;
        let kind = ExtentKind::from_u8(r.u32()? as u8).ok_or_else(|| bad(path, "extent kind"))?;
        let (op, inode, tag, first_sector, len) =
            (r.u64()?, r.u64()?, r.u64()?, r.u64()?, r.u64()?);
        let nd = r.u64()?;
        if nd > size / 4 {
            return Err(bad(path, "digest count past the end of the file"));
        }
        let digests = (0..nd).map(|_| r.u32()).collect::<io::Result<Vec<_>>>()?;
        extents.push(Extent {
            ts_ns,
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
    Ok((events, extents))
}

/// Moves a process's op ids and folio identities past everything already
/// in a trace, so numbers from different processes never meet.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shift {
    op: u64,
    fid: u64,
}

impl Shift {
    /// Applies the shift to one process's records and advances it past
    /// their largest numbers.
    pub fn apply(&mut self, events: &mut [Event], extents: &mut [Extent]) {
        let (op0, fid0) = (self.op, self.fid);
        for e in events.iter_mut() {
            if e.op != 0 {
                e.op += op0;
                self.op = self.op.max(e.op);
            }
            if e.fid != NO_FID {
                e.fid += fid0;
                self.fid = self.fid.max(e.fid + 1);
            }
        }
        for x in extents.iter_mut() {
            if x.op != 0 {
                x.op += op0;
                self.op = self.op.max(x.op);
            }
            // A writeback IO's tag is its folio's identity; a check's tag
            // is the check's and stays.
            if x.kind == ExtentKind::WritebackIo {
                x.tag += fid0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(op: u64, fid: u64) -> Event {
        Event {
            ts_ns: 5,
            tid: 7,
            code: 0x0102,
            inode: 3,
            folio: 4,
            op,
            a: 1,
            b: 2,
            fid,
        }
    }

    fn ext(kind: ExtentKind, op: u64, tag: u64) -> Extent {
        Extent {
            ts_ns: 9,
            tid: 7,
            kind,
            op,
            inode: 3,
            tag,
            first_sector: 8,
            len: 1024,
            digests: vec![1, 2],
        }
    }

    #[test]
    fn a_spill_reads_back_as_written_and_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path(), 42);
        let events = vec![ev(1, 0), ev(2, NO_FID)];
        let extents = vec![ext(ExtentKind::Write, 1, 0), ext(ExtentKind::Check, 0, 3)];
        write(&p, &events, &extents).unwrap();
        assert_eq!(read(&p).unwrap(), (events, extents));
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 3]).unwrap();
        assert!(read(&p).is_err());
        std::fs::write(&p, b"LLSPILL1\xff\xff\xff\xff\xff\xff\xff\x7f").unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("past the end"));
        std::fs::write(&p, b"not a spill").unwrap();
        assert!(read(&p).is_err());
    }

    #[test]
    fn shifted_processes_keep_their_numbers_apart() {
        let mut s = Shift::default();
        let mut a = vec![ev(1, 0), ev(4, 2), ev(0, NO_FID)];
        let mut ax = vec![ext(ExtentKind::WritebackIo, 0, 2)];
        s.apply(&mut a, &mut ax);
        let mut b = vec![ev(1, 0), ev(2, 1)];
        let mut bx = vec![
            ext(ExtentKind::WritebackIo, 2, 1),
            ext(ExtentKind::Check, 0, 77),
        ];
        s.apply(&mut b, &mut bx);
        assert_eq!((b[0].op, b[0].fid), (5, NO_FID));
        assert_eq!((b[1].op, b[1].fid), (6, 4));
        assert_eq!((bx[0].op, bx[0].tag), (6, 4));
        assert_eq!(bx[1].tag, 77, "a check's tag is not a folio");
        assert_eq!(a[2].op, 0, "background work stays op 0");
    }
}

//! Writes recorded events as one CSV file (one header row, nanosecond
//! timestamps), readable by polars, DuckDB and pandas as is: what
//! `--trace FILE.csv` asks for instead of a Parquet trace directory.

use anyhow::Result;
use lockline_engine::probe::{Event, EventKind, LockMode, NO_FOLIO};
use std::io::{BufWriter, Write};
use std::path::Path;

pub fn write(path: &Path, events: &[Event]) -> Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "ts_ns,tid,kind,class,mode,inode,folio,fid,op,a,b")?;
    for e in events {
        let folio = if e.folio == NO_FOLIO {
            String::new()
        } else {
            e.folio.to_string()
        };
        let fid = if e.fid == 0 {
            String::new()
        } else {
            e.fid.to_string()
        };
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{},{}",
            e.ts_ns,
            e.tid,
            e.kind().map(EventKind::name).unwrap_or("unknown"),
            e.class_name(),
            e.mode().map(LockMode::name).unwrap_or(""),
            e.inode,
            folio,
            fid,
            e.op,
            e.a,
            e.b as i64
        )?;
    }
    w.flush()?;
    Ok(())
}

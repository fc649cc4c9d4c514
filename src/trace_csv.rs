//! Writes recorded events as CSV (one header row, nanosecond timestamps),
//! readable by polars, DuckDB and pandas as is.

use crate::exit::usage;
use anyhow::{Context, Result};
use lockline_engine::probe::{Event, EventKind, LockClass, LockMode, MmAction, OpKind};
use std::io::{BufWriter, Write};
use std::path::Path;

/// Fails early, before a long run, when the trace cannot be written there.
pub fn check_writable(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(usage(format!(
            "trace directory {} does not exist",
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(usage(format!(
            "trace path {} is a directory",
            path.display()
        )));
    }
    Ok(())
}

fn class_name(e: &Event) -> &'static str {
    match e.kind() {
        Some(EventKind::LockWait | EventKind::LockAcquired | EventKind::LockReleased) => {
            e.lock_class().map(LockClass::name).unwrap_or("")
        }
        Some(EventKind::OpBegin | EventKind::OpEnd) => e.op_kind().map(OpKind::name).unwrap_or(""),
        Some(EventKind::MmAction) => MmAction::from_u8((e.code >> 8) as u8)
            .map(MmAction::name)
            .unwrap_or(""),
        _ => "",
    }
}

/// Writes the trace when the user asked for one (`--trace`).
pub fn write_opt(path: Option<&Path>, events: &[Event]) -> Result<()> {
    match path {
        Some(p) => write(p, events).with_context(|| format!("writing trace {}", p.display())),
        None => Ok(()),
    }
}

pub fn write(path: &Path, events: &[Event]) -> Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "ts_ns,tid,kind,class,mode,inode,folio,op,a,b")?;
    for e in events {
        let folio = if e.folio == lockline_engine::probe::NO_FOLIO {
            String::new()
        } else {
            e.folio.to_string()
        };
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{}",
            e.ts_ns,
            e.tid,
            e.kind().map(EventKind::name).unwrap_or("unknown"),
            class_name(e),
            e.mode().map(LockMode::name).unwrap_or(""),
            e.inode,
            folio,
            e.op,
            e.a,
            e.b as i64
        )?;
    }
    w.flush()?;
    Ok(())
}

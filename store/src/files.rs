//! Trace directories on disk: where each table goes, how a write replaces
//! an earlier trace without ever leaving a half one, and how a read tells a
//! damaged file from a directory that is not a trace at all.

use crate::error::{Result, StoreError};
use crate::page_headers;
use crate::tables::{self, Table};
use lockline_analysis::{Trace, TraceMeta, SCHEMA_VERSION};
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// The tables of a trace, in the order they are written; `meta` last, so a
/// directory with meta.parquet holds a complete trace.
pub const TABLES: [&str; 7] = [
    "events",
    "ops",
    "violations",
    "counters",
    "extents",
    "handoffs",
    "meta",
];

fn table_path(dir: &Path, table: &str, ext: &str) -> PathBuf {
    dir.join(format!("{table}.{ext}"))
}

/// Whether writing tables (`ext`: "parquet" or "csv") into `dir` loses
/// nothing: it is absent, empty, or holds an earlier trace (or CSV export).
/// Front ends call this before a long run; every write calls it again.
pub fn check_dir(dir: &Path, ext: &str) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(StoreError::Occupied(dir.to_path_buf()));
    }
    if dir.is_dir() {
        let mut entries = std::fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))?;
        let empty = entries.next().is_none();
        if !empty && !table_path(dir, "meta", ext).is_file() {
            return Err(StoreError::Occupied(dir.to_path_buf()));
        }
    }
    Ok(())
}

fn prepare_dir(dir: &Path, ext: &str) -> Result<()> {
    check_dir(dir, ext)?;
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))
}

fn frames(trace: &Trace) -> std::result::Result<Vec<(&'static str, DataFrame)>, PolarsError> {
    Ok(vec![
        ("events", tables::events_df(&trace.events)?),
        ("ops", tables::ops_df(&trace.ops)?),
        ("violations", tables::violations_df(&trace.violations)?),
        ("counters", tables::counters_df(&trace.counters)?),
        ("extents", tables::extents_df(&trace.extents)?),
        ("handoffs", tables::handoffs_df(&trace.events)?),
        ("meta", tables::meta_df(&trace.meta)?),
    ])
}

/// Writes each table to a temporary name, then renames them into place with
/// meta last: a crash leaves either the old trace, or a directory without
/// meta.parquet that no reader takes for a trace.
fn write_tables(
    dir: &Path,
    ext: &str,
    trace: &Trace,
    mut one: impl FnMut(&Path, &mut DataFrame) -> PolarsResult<()>,
) -> Result<()> {
    prepare_dir(dir, ext)?;
    let werr = |p: &Path, e: PolarsError| StoreError::Write {
        path: p.to_path_buf(),
        detail: e.to_string(),
    };
    let frames = frames(trace).map_err(|e| werr(dir, e))?;
    // The old meta goes first, so the directory stops being a trace
    // before any table changes.
    let meta = table_path(dir, "meta", ext);
    if meta.exists() {
        std::fs::remove_file(&meta).map_err(|e| StoreError::io(&meta, e))?;
    }
    for (name, mut df) in frames {
        let fin = table_path(dir, name, ext);
        let tmp = dir.join(format!(".{name}.{ext}.tmp"));
        one(&tmp, &mut df).map_err(|e| werr(&tmp, e))?;
        std::fs::rename(&tmp, &fin).map_err(|e| StoreError::io(&fin, e))?;
    }
    Ok(())
}

/// Writes `trace` as a Parquet dataset directory.
pub fn write(dir: &Path, trace: &Trace) -> Result<()> {
    write_tables(dir, "parquet", trace, |p, df| {
        let f = std::fs::File::create(p)?;
        ParquetWriter::new(f)
            .with_compression(ParquetCompression::Snappy)
            .finish(df)
            .map(|_| ())
    })
}

/// Writes every table as CSV (one header row), for `export --format csv`.
pub fn write_csv(dir: &Path, trace: &Trace) -> Result<()> {
    write_tables(dir, "csv", trace, |p, df| {
        // CSV has no list type: a violation's ops become "12 15 19", an
        // extent's digests likewise.
        let mut flat = df.clone();
        for name in ["ops", "digests"] {
            let Ok(col) = df.column(name) else { continue };
            if !col.dtype().is_list() {
                continue;
            }
            let joined: Vec<String> = col
                .list()?
                .amortized_iter()
                .map(|s| {
                    s.and_then(|s| {
                        s.as_ref().cast(&DataType::UInt64).ok().and_then(|v| {
                            v.u64().ok().map(|v| {
                                v.no_null_iter()
                                    .map(|x| x.to_string())
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            })
                        })
                    })
                    .unwrap_or_default()
                })
                .collect();
            flat.with_column(Column::new(name.into(), joined))?;
        }
        let mut f = std::fs::File::create(p)?;
        CsvWriter::new(&mut f)
            .include_header(true)
            .finish(&mut flat)
    })
}

/// The trace directory `path` names: the directory itself, or the parent
/// of one of its table files.
fn trace_dir(path: &Path) -> Result<PathBuf> {
    if !path.exists() {
        return Err(StoreError::Missing(path.to_path_buf()));
    }
    if path.is_dir() {
        if !path.join("meta.parquet").is_file() {
            return Err(StoreError::NotATrace {
                path: path.to_path_buf(),
                why: "a directory without meta.parquet".into(),
            });
        }
        return Ok(path.to_path_buf());
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("parquet") => {
            let dir = path.parent().unwrap_or(Path::new("."));
            trace_dir(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
        }
        Some("csv") => Err(StoreError::NotATrace {
            path: path.to_path_buf(),
            why: "a CSV file".into(),
        }),
        _ => Err(StoreError::NotATrace {
            path: path.to_path_buf(),
            why: "a file".into(),
        }),
    }
}

/// Reads one table. polars reports most damage as errors; the catch_unwind
/// is for the damage it does not expect, which must still be one line.
fn read_table<'a>(dir: &Path, name: &str, path_buf: &'a mut PathBuf) -> Result<Table<'a>> {
    read_columns(dir, name, None, path_buf)
}

/// Reads one table, only `columns` when given (the events' name columns are
/// derived from `code` and not worth decoding).
fn read_columns<'a>(
    dir: &Path,
    name: &str,
    columns: Option<&[&str]>,
    path_buf: &'a mut PathBuf,
) -> Result<Table<'a>> {
    *path_buf = table_path(dir, name, "parquet");
    let path: &'a Path = path_buf;
    let file = std::fs::File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StoreError::NotATrace {
                path: dir.to_path_buf(),
                why: format!("{name}.parquet is missing"),
            }
        } else {
            StoreError::io(path, e)
        }
    })?;
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    // Quiet while reading: a panic here is reported as Corrupt, in one line.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // polars aborts on some damaged headers rather than erring.
        if let Err(detail) = page_headers::check(&file, columns) {
            return Ok(Err(Refused::Pages(detail)));
        }
        let mut r = ParquetReader::new(file);
        // A projection naming a column the file lacks is a polars error;
        // say which column instead.
        if let Some(cols) = columns {
            let schema = r.schema()?;
            if let Some(c) = cols.iter().find(|c| !schema.contains(c)) {
                return Ok(Err(Refused::Column(c.to_string())));
            }
        }
        r.with_columns(columns.map(|c| c.iter().map(|s| s.to_string()).collect()))
            .finish()
            .map(Ok)
    }));
    std::panic::set_hook(hook);
    let df = match r {
        Ok(Ok(Ok(df))) => df,
        Ok(Ok(Err(Refused::Column(column)))) => {
            return Err(StoreError::Column {
                path: path.to_path_buf(),
                column,
                detail: "missing".into(),
            })
        }
        Ok(Ok(Err(Refused::Pages(detail)))) => return Err(corrupt(first_line(&detail))),
        Ok(Err(e)) => return Err(corrupt(first_line(&e.to_string()))),
        Err(_) => return Err(corrupt("the Parquet reader gave up".into())),
    };
    Ok(Table { df, path })
}

/// Why a table was not handed to polars' decoder.
enum Refused {
    /// A projected column the file lacks.
    Column(String),
    /// A page header polars would trust and should not.
    Pages(String),
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

fn check_version(meta: &TraceMeta, dir: &Path) -> Result<()> {
    if meta.schema_version != SCHEMA_VERSION {
        return Err(StoreError::Version {
            path: dir.to_path_buf(),
            found: meta.schema_version,
            expected: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Reads only the metadata of the trace at `path`.
pub fn read_meta(path: &Path) -> Result<TraceMeta> {
    let dir = trace_dir(path)?;
    let mut p = PathBuf::new();
    let t = read_table(&dir, "meta", &mut p)?;
    let version = t.u32("schema_version")?;
    let meta = match version.first() {
        Some(&v) if v != SCHEMA_VERSION => {
            return Err(StoreError::Version {
                path: dir,
                found: v,
                expected: SCHEMA_VERSION,
            })
        }
        _ => tables::meta_from(&t)?,
    };
    check_version(&meta, &dir)?;
    Ok(meta)
}

/// Reads the whole trace at `path` (its directory or one of its files).
pub fn read(path: &Path) -> Result<Trace> {
    let meta = read_meta(path)?;
    let dir = trace_dir(path)?;
    let mut p = PathBuf::new();
    let events = tables::events_from(&read_columns(
        &dir,
        "events",
        Some(&tables::EVENT_COLUMNS),
        &mut p,
    )?)?;
    let ops = tables::ops_from(&read_table(&dir, "ops", &mut p)?)?;
    let violations = tables::violations_from(&read_table(&dir, "violations", &mut p)?)?;
    let counters = tables::counters_from(&read_table(&dir, "counters", &mut p)?)?;
    let extents = tables::extents_from(&read_table(&dir, "extents", &mut p)?)?;
    Ok(Trace {
        meta,
        events,
        ops,
        violations,
        counters,
        extents,
    })
}

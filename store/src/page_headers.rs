//! Parquet page headers checked against the footer before polars decodes
//! them (polars-parquet's `PageReader`, walked header by header).
//!
//! polars sizes its buffers from what a page header claims. A data page
//! whose `num_values` is negative is taken as 2^64 − 2 values, and the
//! validity bitmap reserved for them is 2^61 bytes: the allocation fails
//! and the process aborts, which no `catch_unwind` can turn into one line
//! (the trace reader's fuzz target found it:
//! `fuzz/regressions/trace_reader/validity-claims-2-61-bytes`). So every
//! count polars would trust is checked first: each row group's rows, each
//! column chunk's values, each page's values, nulls and rows. lockline's
//! columns are flat (one value per row) but for the extents' digest lists,
//! whose chunks hold one value per list entry (and one per empty list); in
//! both, the data pages add up to exactly what the chunk claims.

use polars_buffer::Buffer;
use polars_parquet::parquet::page::{CompressedPage, DataPageHeader};
use polars_parquet::parquet::read::{read_metadata, PageReader};
use std::fs::File;
use std::io::{BufReader, Cursor};
use std::os::unix::fs::FileExt;

/// More rows than any trace holds (at 64 bytes an event, 256 GiB): a
/// footer that claims more is damaged, and polars would reserve for it.
const MAX_ROWS: u64 = 1 << 32;

/// Checks the page headers of `file`'s columns named in `columns` (all of
/// them when `None`). The error is one line saying what is wrong where.
pub fn check(file: &File, columns: Option<&[&str]>) -> Result<(), String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let meta = read_metadata(&mut BufReader::new(file)).map_err(|e| e.to_string())?;
    let mut total: u64 = 0;
    for (g, rg) in meta.row_groups.iter().enumerate() {
        let rows = rg.num_rows() as u64;
        total = total.saturating_add(rows);
        if total > MAX_ROWS {
            return Err(format!(
                "row group {g} brings the rows past {MAX_ROWS}, more than a trace holds"
            ));
        }
        for chunk in rg.parquet_columns() {
            let Some(name) = chunk.descriptor().path_in_schema.first() else {
                return Err(format!("row group {g}: a column chunk with no path"));
            };
            if columns.is_some_and(|cols| !cols.iter().any(|c| c == name)) {
                continue;
            }
            let at = |what: String| format!("row group {g}, column {name}: {what}");
            let values = chunk.num_values();
            let nested = chunk.descriptor().descriptor.max_rep_level > 0;
            let sane = if nested {
                values >= 0 && values as u64 >= rows && values as u64 <= MAX_ROWS
            } else {
                values >= 0 && values as u64 == rows
            };
            if !sane {
                return Err(at(format!(
                    "the chunk claims {values} values for {rows} rows"
                )));
            }
            let values = values as u64;
            let range = chunk.byte_range();
            if range.start > range.end || range.end > len {
                return Err(at(format!(
                    "bytes {}..{} lie outside the file's {len}",
                    range.start, range.end
                )));
            }
            let mut bytes = vec![0u8; (range.end - range.start) as usize];
            file.read_exact_at(&mut bytes, range.start)
                .map_err(|e| at(e.to_string()))?;
            let size = bytes.len();
            let mut pages =
                PageReader::new(Cursor::new(Buffer::from(bytes)), chunk, Vec::new(), size);
            pages.read_dict().map_err(|e| at(e.to_string()))?;
            let (mut seen, mut seen_rows) = (0u64, 0u64);
            for page in pages {
                let CompressedPage::Data(page) = page.map_err(|e| at(e.to_string()))? else {
                    continue;
                };
                let (n, nulls, page_rows) = match page.header() {
                    // A v1 header does not count nulls or rows.
                    DataPageHeader::V1(h) => (h.num_values, 0, 0),
                    DataPageHeader::V2(h) => (h.num_values, h.num_nulls, h.num_rows),
                };
                let (left, rows_left) = (values - seen, rows - seen_rows);
                let within = |x: i32, most: u64| x >= 0 && x as u64 <= most;
                if !within(n, left) || !within(nulls, n as u64) || !within(page_rows, rows_left) {
                    return Err(at(format!(
                        "a data page claims {n} values ({nulls} null, {page_rows} rows) \
                         where {left} values and {rows_left} rows are left"
                    )));
                }
                seen += n as u64;
                seen_rows += page_rows as u64;
            }
            if seen != values {
                return Err(at(format!(
                    "its data pages hold {seen} values, not {values}"
                )));
            }
        }
    }
    Ok(())
}

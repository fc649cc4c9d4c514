//! The trace store: a [`lockline_analysis::Trace`] as a directory of
//! Parquet files (`meta`, `events`, `ops`, `violations`, `counters`),
//! written and read with polars, readable unchanged by polars, pyarrow and
//! DuckDB. store/SCHEMA.md documents every column.

mod error;
mod files;
mod page_headers;
mod tables;

pub use error::{Result, StoreError};
pub use files::{check_dir, read, read_meta, write, write_csv, TABLES};

//! The trace store: a [`lockline_analysis::Trace`] as a directory of
//! Parquet files, written and read with polars.

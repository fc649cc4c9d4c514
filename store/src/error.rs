//! What can be wrong with a trace on disk, each as one line naming the path.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}: no such file or directory")]
    Missing(PathBuf),
    #[error(
        "{path}: {why}, not a lockline trace directory (write one with `lockline run --trace DIR`)"
    )]
    NotATrace { path: PathBuf, why: String },
    #[error("{path}: damaged or truncated Parquet: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path}: trace schema version {found}, this lockline reads {expected}")]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("{path}: column {column}: {detail}")]
    Column {
        path: PathBuf,
        column: String,
        detail: String,
    },
    #[error("{0}: refusing to write into a non-empty directory that holds no lockline trace")]
    Occupied(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: writing: {detail}")]
    Write { path: PathBuf, detail: String },
}

impl StoreError {
    /// Bad input the user can fix (exit 2), as opposed to a failing disk.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, StoreError::Io { .. } | StoreError::Write { .. })
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

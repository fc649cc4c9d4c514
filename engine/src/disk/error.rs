//! Errors of the on-disk layer, each one human line, each with an errno for a
//! FUSE front end.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("{}: {context}: {source}", path.display())]
    Io {
        path: PathBuf,
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a lockline disk (no lockline superblock found)", .0.display())]
    NotLockline(PathBuf),
    /// Found parsing a blob, before the image it came from is known.
    #[error("corrupt lockline disk: {0}")]
    Corrupt(String),
    /// `Corrupt` once the image is known (`in_image`): the line names it.
    #[error("{}: corrupt lockline disk: {detail}", path.display())]
    CorruptImage { path: PathBuf, detail: String },
    #[error("unsupported lockline format version {found} (this build reads version {supported})")]
    UnsupportedVersion { found: u32, supported: u32 },
    #[error("{size} bytes is too small for a lockline disk (minimum {min} bytes)")]
    TooSmall { size: u64, min: u64 },
    #[error("{size} bytes is too large for a lockline disk (maximum {max} bytes)")]
    TooLarge { size: u64, max: u64 },
    #[error("{0}; use --force to format it anyway")]
    InUse(String),
    #[error("{}: already opened by another lockline process or mount", .0.display())]
    Busy(PathBuf),
    #[error("no space left on the lockline disk")]
    NoSpace,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    Exists(String),
    #[error("not a directory")]
    NotDir,
    #[error("is a directory")]
    IsDir,
    #[error("directory not empty")]
    NotEmpty,
    #[error("invalid file name {0:?}")]
    InvalidName(String),
    #[error("invalid argument: {0}")]
    Invalid(String),
    #[error("the lockline disk has been unmounted")]
    Unmounted,
}

pub type Result<T> = std::result::Result<T, DiskError>;

impl DiskError {
    /// The errno a syscall would fail with.
    pub(crate) fn errno(&self) -> i32 {
        use DiskError::*;
        match self {
            Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            NotLockline(_) | UnsupportedVersion { .. } | TooSmall { .. } => libc::EINVAL,
            TooLarge { .. } => libc::EFBIG,
            Corrupt(_) | CorruptImage { .. } => libc::EUCLEAN,
            InUse(_) | Busy(_) => libc::EBUSY,
            NoSpace => libc::ENOSPC,
            NotFound(_) => libc::ENOENT,
            Exists(_) => libc::EEXIST,
            NotDir => libc::ENOTDIR,
            IsDir => libc::EISDIR,
            NotEmpty => libc::ENOTEMPTY,
            InvalidName(n) if n.len() > super::metadata::MAX_NAME_LEN => libc::ENAMETOOLONG,
            InvalidName(_) | Invalid(_) => libc::EINVAL,
            Unmounted => libc::ESHUTDOWN,
        }
    }

    /// True when the user can fix it by changing the command (wrong path,
    /// wrong size, missing --force, an image that is not a sound lockline
    /// disk: bad input, exit 2), as opposed to the disk failing under us
    /// (IO errors, no space). Corruption is only ever found reading an image
    /// in (its superblock, commit or metadata), before anything is written.
    pub fn is_user_error(&self) -> bool {
        use DiskError::*;
        match self {
            Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::IsADirectory
            ),
            NoSpace | Unmounted => false,
            _ => true,
        }
    }

    /// Names the image a `Corrupt` came from; other errors pass unchanged.
    pub(crate) fn in_image(self, path: &std::path::Path) -> Self {
        match self {
            DiskError::Corrupt(detail) => DiskError::CorruptImage {
                path: path.to_path_buf(),
                detail,
            },
            e => e,
        }
    }

    pub(crate) fn io(
        path: &std::path::Path,
        context: impl Into<String>,
        source: std::io::Error,
    ) -> Self {
        DiskError::Io {
            path: path.to_path_buf(),
            context: context.into(),
            source,
        }
    }
}

//! Engine errors: the disk's, plus what the IO paths add.

use crate::disk::DiskError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Disk(#[from] DiskError),
    #[error("invalid argument: {0}")]
    Invalid(String),
    #[error("no space left on the disk")]
    NoSpace,
    #[error("out of memory for page cache folios")]
    NoMemory,
    #[error("writeback failed earlier: {}", std::io::Error::from_raw_os_error(*.0))]
    Writeback(i32),
    #[error("file system is shutting down")]
    Shutdown,
    #[error("read error (injected)")]
    ReadError,
    /// A store through a mapping to a page past EOF: SIGBUS to a program.
    #[error("bad address: the mapped page lies past the end of the file")]
    Fault,
    /// An explored schedule could not finish: a deadlock among its threads
    /// or a thread that panicked.
    #[error("{0}")]
    Schedule(String),
}

impl Error {
    /// The errno a syscall would return (for op_end results and FUSE).
    pub fn errno(&self) -> i32 {
        match self {
            Error::Disk(e) => e.errno(),
            Error::Invalid(_) => libc::EINVAL,
            Error::NoSpace => libc::ENOSPC,
            Error::NoMemory => libc::ENOMEM,
            Error::Writeback(e) => *e,
            Error::Shutdown => libc::ESHUTDOWN,
            Error::ReadError => libc::EIO,
            Error::Fault => libc::EFAULT,
            Error::Schedule(_) => libc::EDEADLK,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

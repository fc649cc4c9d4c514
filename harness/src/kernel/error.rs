//! Errors of a kernel run, each one human line; the missing-tool error
//! names the Debian package to install.

#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("{tool} not found: install the Debian package {package} (apt-get install {package})")]
    MissingTool { tool: String, package: &'static str },
    #[error("lockline kernel needs root (it runs losetup, mkfs and mount)")]
    NotRoot,
    #[error("{0}")]
    Invalid(String),
    #[error("{cmd} failed ({status}){}", if .stderr.is_empty() { String::new() } else { format!(": {}", .stderr) })]
    Command {
        cmd: String,
        status: String,
        stderr: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] lockline_engine::Error),
}

impl KernelError {
    /// Errors the user fixes (install a package, run as root, change an
    /// argument) rather than failures of the system under test.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            KernelError::MissingTool { .. }
                | KernelError::NotRoot
                | KernelError::Invalid(_)
                | KernelError::Engine(lockline_engine::Error::Invalid(_))
        )
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> KernelError {
        KernelError::Io {
            what: what.into(),
            source,
        }
    }

    /// The last OS error, described by `what`.
    pub(crate) fn last_os(what: impl Into<String>) -> KernelError {
        KernelError::io(what, std::io::Error::last_os_error())
    }
}

pub type Result<T> = std::result::Result<T, KernelError>;

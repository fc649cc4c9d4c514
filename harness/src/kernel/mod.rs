//! Runs lockline's workloads through real syscalls on a real kernel file
//! system (ext4, xfs, btrfs) on a loop device, with the engine's checker:
//! the same stamps, the same op history, the same three checks.

mod error;
mod file;
mod loopdev;
mod session;
mod tools;

pub use error::KernelError;
pub use file::KernelFile;
pub use loopdev::{is_mounted, Image, LoopDev, Mount, WorkDir};
pub use session::{
    preflight, run_kernel_session, run_kernel_session_with, DeviceInfo, KernelReport, KernelSpec,
};

use serde::Serialize;

/// A kernel file system lockline can format and mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KernelFs {
    Ext4,
    Xfs,
    Btrfs,
}

lockline_engine::named_choices!(KernelFs, "file system", {
    Ext4 => "ext4",
    Xfs => "xfs",
    Btrfs => "btrfs",
});

impl KernelFs {
    /// The mkfs program (looked up on PATH and in the sbin directories).
    pub fn mkfs_program(self) -> &'static str {
        match self {
            KernelFs::Ext4 => "mkfs.ext4",
            KernelFs::Xfs => "mkfs.xfs",
            KernelFs::Btrfs => "mkfs.btrfs",
        }
    }

    /// The Debian package that ships [`mkfs_program`](Self::mkfs_program).
    pub fn package(self) -> &'static str {
        match self {
            KernelFs::Ext4 => "e2fsprogs",
            KernelFs::Xfs => "xfsprogs",
            KernelFs::Btrfs => "btrfs-progs",
        }
    }

    /// Quiet, non-interactive mkfs arguments before the device: the image is
    /// ours and fresh, so "force" only skips the prompt about old
    /// signatures.
    pub fn mkfs_args(self) -> &'static [&'static str] {
        match self {
            KernelFs::Ext4 => &["-q", "-F"],
            KernelFs::Xfs => &["-q", "-f"],
            KernelFs::Btrfs => &["-q", "-f"],
        }
    }

    /// Smallest image mkfs accepts (xfs refuses below 300 MiB).
    pub fn min_image(self) -> u64 {
        match self {
            KernelFs::Ext4 => 32 << 20,
            KernelFs::Xfs => 300 << 20,
            KernelFs::Btrfs => 256 << 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in KernelFs::ALL {
            assert_eq!(k.name().parse::<KernelFs>(), Ok(k));
            assert!(k.mkfs_program().ends_with(k.name()));
        }
        assert!("zfs".parse::<KernelFs>().unwrap_err().contains("ext4"));
    }
}

//! Which kernel events to keep: by process for task-context events, by
//! device and inode for file events that kworkers raise too.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Kernel-event filters; 0 in a field means "no filter".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelFilters {
    /// Thread-group id for syscall and lock-contention events.
    pub tgid: u32,
    /// Device as `stat` reports it (st_dev), for page-cache and ext4 events.
    pub dev: u64,
    /// Inode number for page-cache, dirtying and ext4 events.
    pub ino: u64,
}

impl KernelFilters {
    /// Every process, every file.
    pub fn all() -> KernelFilters {
        KernelFilters::default()
    }

    /// Syscalls of this process only; file events unfiltered.
    pub fn this_process() -> KernelFilters {
        KernelFilters {
            tgid: std::process::id(),
            ..KernelFilters::default()
        }
    }

    /// Narrows file events to the file at `path`.
    pub fn with_file(self, path: &Path) -> std::io::Result<KernelFilters> {
        let m = std::fs::metadata(path)?;
        Ok(KernelFilters {
            dev: m.dev(),
            ino: m.ino(),
            ..self
        })
    }

    /// `dev` in the kernel's internal dev_t encoding (major << 20 | minor),
    /// which is what tracepoints report; userspace st_dev is encoded
    /// differently.
    pub fn kernel_dev(&self) -> u64 {
        if self.dev == 0 {
            return 0;
        }
        let (major, minor) = (libc::major(self.dev) as u64, libc::minor(self.dev) as u64);
        (major << 20) | minor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_dev_encoding() {
        let f = KernelFilters {
            dev: libc::makedev(259, 3),
            ..KernelFilters::default()
        };
        assert_eq!(f.kernel_dev(), (259 << 20) | 3);
        assert_eq!(KernelFilters::all().kernel_dev(), 0);
    }
}

//! Positioned IO on the image or device: O_DIRECT when the file system
//! allows it (the kernel's bio path, no second page cache under ours), with an
//! aligned bounce buffer for callers whose buffer is not aligned.

use super::error::{DiskError, Result};
use super::BLOCK_SIZE;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

const ALIGN: usize = BLOCK_SIZE as usize;
/// _IOR(0x12, 114, size_t): the device size in bytes.
const BLKGETSIZE64: libc::c_ulong = 0x8008_1272;

/// A zeroed heap buffer aligned for O_DIRECT.
pub(crate) struct AlignedBuf {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// The buffer is uniquely owned plain bytes.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    pub(crate) fn zeroed(len: usize) -> AlignedBuf {
        let layout = std::alloc::Layout::from_size_align(len.max(ALIGN), ALIGN).expect("layout");
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr =
            std::ptr::NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        AlignedBuf { ptr, len }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        let layout =
            std::alloc::Layout::from_size_align(self.len.max(ALIGN), ALIGN).expect("layout");
        // SAFETY: allocated in `zeroed` with this same layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) }
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: ptr is valid for len initialized bytes while self lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and &mut self makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

fn aligned(p: *const u8) -> bool {
    (p as usize).is_multiple_of(ALIGN)
}

pub(crate) struct DevFile {
    file: File,
    path: PathBuf,
    direct: bool,
    size: u64,
}

impl DevFile {
    /// Opens for IO; `direct` asks for O_DIRECT and falls back to buffered
    /// IO where the file system refuses it.
    pub(crate) fn open(path: &Path, writable: bool, direct: bool) -> Result<DevFile> {
        let plain = || {
            OpenOptions::new()
                .read(true)
                .write(writable)
                .open(path)
                .map_err(|e| DiskError::io(path, "open", e))
        };
        let mut file = None;
        if direct {
            if let Ok(f) = OpenOptions::new()
                .read(true)
                .write(writable)
                .custom_flags(libc::O_DIRECT)
                .open(path)
            {
                // Some file systems accept the flag and fail the first IO.
                let mut probe = AlignedBuf::zeroed(ALIGN);
                if f.read_at(&mut probe, 0).is_ok() {
                    file = Some(f);
                }
            }
        }
        let direct = file.is_some();
        let file = match file {
            Some(f) => f,
            None => plain()?,
        };
        let meta = file
            .metadata()
            .map_err(|e| DiskError::io(path, "stat", e))?;
        let size = if meta.file_type().is_block_device() {
            block_device_size(&file, path)?
        } else if meta.is_file() {
            meta.len()
        } else {
            return Err(DiskError::Invalid(format!(
                "{} is neither a regular file nor a block device",
                path.display()
            )));
        };
        Ok(DevFile {
            file,
            path: path.to_path_buf(),
            direct,
            size,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn direct(&self) -> bool {
        self.direct
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// flock on this open file description: a second open of the same disk,
    /// even from this process, gets Busy.
    pub(crate) fn lock(&self, exclusive: bool) -> Result<()> {
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        // SAFETY: flock on a valid fd has no memory effects.
        if unsafe { libc::flock(self.file.as_raw_fd(), op | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(DiskError::Busy(self.path.clone()));
            }
            return Err(DiskError::io(&self.path, "flock", e));
        }
        Ok(())
    }

    pub(crate) fn unlock(&self) {
        // SAFETY: as in lock.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }

    pub(crate) fn read_at(&self, buf: &mut [u8], off: u64) -> Result<()> {
        if self.direct && !aligned(buf.as_ptr()) {
            let mut bounce = AlignedBuf::zeroed(buf.len());
            self.read_exact(&mut bounce, off)?;
            buf.copy_from_slice(&bounce);
            return Ok(());
        }
        self.read_exact(buf, off)
    }

    fn read_exact(&self, buf: &mut [u8], off: u64) -> Result<()> {
        self.file.read_exact_at(buf, off).map_err(|e| {
            DiskError::io(
                &self.path,
                format!("read {} bytes at offset {off}", buf.len()),
                e,
            )
        })
    }

    pub(crate) fn write_at(&self, buf: &[u8], off: u64) -> Result<()> {
        if self.direct && !aligned(buf.as_ptr()) {
            let mut bounce = AlignedBuf::zeroed(buf.len());
            bounce.copy_from_slice(buf);
            return self.write_exact(&bounce, off);
        }
        self.write_exact(buf, off)
    }

    fn write_exact(&self, buf: &[u8], off: u64) -> Result<()> {
        self.file.write_all_at(buf, off).map_err(|e| {
            DiskError::io(
                &self.path,
                format!("write {} bytes at offset {off}", buf.len()),
                e,
            )
        })
    }

    /// fdatasync: with O_DIRECT it flushes the device cache, without it the
    /// page cache too.
    pub(crate) fn sync(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| DiskError::io(&self.path, "fdatasync", e))
    }

    pub(crate) fn raw(&self) -> &File {
        &self.file
    }
}

fn block_device_size(file: &File, path: &Path) -> Result<u64> {
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), BLKGETSIZE64 as _, &mut size as *mut u64) };
    if rc != 0 {
        return Err(DiskError::io(
            path,
            "BLKGETSIZE64",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(size)
}

impl Drop for DevFile {
    /// Closing the fd is not enough: a child forked by another thread
    /// between our open and its exec holds a copy of the open file
    /// description, and with it the flock, until it execs. LOCK_UN releases
    /// the lock on the description itself.
    fn drop(&mut self) {
        self.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unaligned_buffers_bounce() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("img");
        std::fs::write(&p, vec![7u8; 3 * ALIGN]).unwrap();
        let f = DevFile::open(&p, true, true).unwrap();
        let mut backing = vec![0u8; 2 * ALIGN + 1];
        let odd = if aligned(backing.as_ptr()) {
            &mut backing[1..]
        } else {
            &mut backing[..2 * ALIGN]
        };
        odd.fill(9);
        f.write_at(odd, ALIGN as u64).unwrap();
        odd.fill(0);
        f.read_at(odd, ALIGN as u64).unwrap();
        assert!(odd.iter().all(|&b| b == 9));
        let mut a = AlignedBuf::zeroed(ALIGN);
        f.read_at(&mut a, 0).unwrap();
        assert!(a.iter().all(|&b| b == 7));
        f.lock(true).unwrap();
        let g = DevFile::open(&p, false, false).unwrap();
        assert!(matches!(g.lock(false), Err(DiskError::Busy(_))));
        f.unlock();
        g.lock(false).unwrap();
    }
}

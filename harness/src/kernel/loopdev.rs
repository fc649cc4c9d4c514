//! The scaffolding of a kernel run: a work directory, a sparse image, a
//! loop device over it and a mount of it. Each is a guard that undoes itself
//! on drop, so declaring them in that order tears down in reverse (unmount,
//! `losetup -d`, remove the image) on every path, errors included. The
//! explicit `finish` methods do the same and report failures.

use super::error::{KernelError, Result};
use super::tools;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A fresh directory holding the image and the mount point. Removed
/// without recursion: if something is still mounted on the mount point the
/// rmdir fails instead of deleting the mounted file system's files.
pub struct WorkDir {
    pub dir: PathBuf,
    pub image: PathBuf,
    pub mnt: PathBuf,
}

impl WorkDir {
    pub fn create(parent: &Path) -> Result<WorkDir> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = parent.join(format!(
            "lockline-kernel-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir)
            .map_err(|e| KernelError::io(format!("{}: mkdir", dir.display()), e))?;
        let w = WorkDir {
            image: dir.join("disk.img"),
            mnt: dir.join("mnt"),
            dir,
        };
        std::fs::create_dir(&w.mnt)
            .map_err(|e| KernelError::io(format!("{}: mkdir", w.mnt.display()), e))?;
        Ok(w)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.image);
        let _ = std::fs::remove_dir(&self.mnt);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A sparse image file of `size` bytes.
pub struct Image;

impl Image {
    pub fn create(path: &Path, size: u64) -> Result<()> {
        let f = std::fs::File::create_new(path)
            .map_err(|e| KernelError::io(format!("{}: create", path.display()), e))?;
        f.set_len(size)
            .map_err(|e| KernelError::io(format!("{}: set size", path.display()), e))
    }
}

/// A loop device attached with `losetup -f --show`; detached on drop.
pub struct LoopDev {
    pub dev: PathBuf,
    losetup: PathBuf,
    attached: bool,
}

impl LoopDev {
    pub fn attach(losetup: &Path, image: &Path) -> Result<LoopDev> {
        let out = tools::run(
            losetup,
            &[
                Path::new("-f").as_os_str(),
                Path::new("--show").as_os_str(),
                image.as_os_str(),
            ],
        )?;
        let dev = PathBuf::from(out.lines().last().unwrap_or_default().trim());
        if !dev.starts_with("/dev/") {
            return Err(KernelError::Invalid(format!(
                "losetup -f --show printed '{out}', not a device"
            )));
        }
        Ok(LoopDev {
            dev,
            losetup: losetup.to_path_buf(),
            attached: true,
        })
    }

    /// /sys/block/loopN/loop: present while a backing file is attached.
    fn sys_dir(&self) -> Option<PathBuf> {
        let name = self.dev.file_name()?;
        Some(Path::new("/sys/block").join(name).join("loop"))
    }

    /// `losetup -d`, then waits (up to 2 s) for the kernel to let go: a
    /// device still open elsewhere (udev probing) is only marked
    /// autoclear and detaches when that opener closes.
    pub fn detach(mut self) -> Result<()> {
        self.attached = false;
        self.do_detach()
    }

    fn do_detach(&self) -> Result<()> {
        tools::run(
            &self.losetup,
            &[Path::new("-d").as_os_str(), self.dev.as_os_str()],
        )?;
        let deadline = Instant::now() + Duration::from_secs(2);
        while let Some(d) = self.sys_dir() {
            if !d.join("backing_file").exists() || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        if self.attached {
            if let Err(e) = self.do_detach() {
                eprintln!("lockline: warning: {}: {e}", self.dev.display());
            }
        }
    }
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("paths have no NUL")
}

/// A kernel mount of a device, by the mount(2) syscall; unmounted on drop.
pub struct Mount {
    pub target: PathBuf,
    mounted: bool,
}

impl Mount {
    pub fn new(dev: &Path, target: &Path, fstype: &str) -> Result<Mount> {
        let (d, t, f) = (cstr(dev), cstr(target), CString::new(fstype).unwrap());
        // SAFETY: valid NUL-terminated strings; no data argument.
        let r = unsafe { libc::mount(d.as_ptr(), t.as_ptr(), f.as_ptr(), 0, std::ptr::null()) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENODEV) {
                return Err(KernelError::Invalid(format!(
                    "this kernel does not support {fstype} (not in /proc/filesystems; try modprobe {fstype})"
                )));
            }
            return Err(KernelError::io(
                format!("mount -t {fstype} {} {}", dev.display(), target.display()),
                e,
            ));
        }
        Ok(Mount {
            target: target.to_path_buf(),
            mounted: true,
        })
    }

    pub fn unmount(mut self) -> Result<()> {
        self.mounted = false;
        self.do_unmount(false)
    }

    /// umount, retrying a busy mount for a second (a just-closed file can
    /// still hold it); `lazy` detaches it as a last resort so the loop
    /// device can go.
    fn do_unmount(&self, lazy: bool) -> Result<()> {
        let t = cstr(&self.target);
        for _ in 0..50 {
            // SAFETY: valid path.
            if unsafe { libc::umount2(t.as_ptr(), 0) } == 0 {
                return Ok(());
            }
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EBUSY) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let e = KernelError::last_os(format!("umount {}", self.target.display()));
        // SAFETY: valid path.
        if lazy && unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) } == 0 {
            return Ok(());
        }
        Err(e)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.mounted {
            if let Err(e) = self.do_unmount(true) {
                eprintln!("lockline: warning: {e}");
            }
        }
    }
}

/// True when something is mounted at `target` (per /proc/self/mountinfo).
pub fn is_mounted(target: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let t = target.to_string_lossy();
    info.lines()
        .any(|l| l.split(' ').nth(4).is_some_and(|m| m == t))
}

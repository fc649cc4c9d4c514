//! The program's descriptors of routed files: fd -> open file of the
//! engine (`Desc`, the open file description: shared by dup, with its own
//! position and status flags). One slot per descriptor number, each with
//! its own lock, so threads on different descriptors never meet here and
//! threads on one descriptor only take a shared lock.

use crate::real::real;
use crate::session;
use parking_lot::{Mutex, RwLock};
use std::ffi::{c_int, CString};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Descriptor numbers the table can hold; a routed open that the kernel
/// numbers higher fails with EMFILE.
pub const SLOTS: usize = 1 << 16;

/// An open routed file.
pub struct Desc {
    pub ino: u64,
    /// The engine's path, for messages.
    pub path: String,
    /// Access mode and status flags (O_APPEND, O_DIRECT, O_DSYNC, ...),
    /// as F_GETFL reports them.
    pub flags: AtomicI32,
    /// The file position, under its own lock as the kernel's f_pos_lock
    /// serialises read() and write() on one description.
    pub pos: Mutex<u64>,
    /// A real descriptor of the placeholder, opened on the first lock
    /// request: fcntl and flock locks live on it, per description.
    lock_fd: OnceLock<c_int>,
}

impl Desc {
    pub fn new(ino: u64, path: String, flags: c_int) -> Desc {
        Desc {
            ino,
            path,
            flags: AtomicI32::new(flags),
            pos: Mutex::new(0),
            lock_fd: OnceLock::new(),
        }
    }

    pub fn flags(&self) -> c_int {
        self.flags.load(Ordering::Relaxed)
    }

    pub fn readable(&self) -> bool {
        self.flags() & libc::O_ACCMODE != libc::O_WRONLY
    }

    pub fn writable(&self) -> bool {
        self.flags() & libc::O_ACCMODE != libc::O_RDONLY
    }

    /// The descriptor locks go to, opened with this description's access
    /// mode so a write lock on a read-only file fails as it would. Opened
    /// through /proc/self/fd of the program's descriptor `fd` (one of this
    /// description's), which reaches the placeholder even after an unlink,
    /// as QEMU's snapshot overlay is locked after it is unlinked.
    pub fn lock_fd(&self, fd: c_int) -> c_int {
        *self.lock_fd.get_or_init(|| {
            let open = real!(open: fn(*const libc::c_char, c_int, libc::mode_t) -> c_int);
            let mode = self.flags() & libc::O_ACCMODE;
            let link = CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL");
            // SAFETY: link is a valid C string.
            unsafe { open(link.as_ptr(), mode | libc::O_CLOEXEC, 0) }
        })
    }
}

impl Drop for Desc {
    /// The last descriptor of it closed: the engine's open count goes down
    /// (an unlinked file is freed now), the lock descriptor closes.
    fn drop(&mut self) {
        if let Some(e) = session::mounted() {
            let _ = e.fs.release(self.ino);
        }
        if let Some(&fd) = self.lock_fd.get() {
            if fd >= 0 {
                let close = real!(close: fn(c_int) -> c_int);
                // SAFETY: our own descriptor.
                unsafe { close(fd) };
            }
        }
    }
}

type Slot = RwLock<Option<Arc<Desc>>>;

static TABLE: [Slot; SLOTS] = [const { RwLock::new(None) }; SLOTS];
/// Routed descriptors open now: while 0, no call looks at the table.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The routed file behind `fd`, if it is one.
pub fn get(fd: c_int) -> Option<Arc<Desc>> {
    if LIVE.load(Ordering::Relaxed) == 0 || fd < 0 || fd as usize >= SLOTS {
        return None;
    }
    TABLE[fd as usize].read().clone()
}

/// Puts `desc` at `fd` (None clears it); returns what was there.
pub fn set(fd: c_int, desc: Option<Arc<Desc>>) -> Option<Arc<Desc>> {
    if fd < 0 || fd as usize >= SLOTS {
        return None;
    }
    let new = desc.is_some();
    let old = std::mem::replace(&mut *TABLE[fd as usize].write(), desc);
    match (old.is_some(), new) {
        (false, true) => {
            LIVE.fetch_add(1, Ordering::Relaxed);
        }
        (true, false) => {
            LIVE.fetch_sub(1, Ordering::Relaxed);
        }
        _ => {}
    }
    old
}

/// Whether any routed descriptor is open (close_range's fast path).
pub fn any() -> bool {
    LIVE.load(Ordering::Relaxed) > 0
}

//! `KernelFile`: the workload target backed by a file on a mounted kernel
//! file system. Each op is one syscall (pwrite, ftruncate, fallocate)
//! bracketed by op_begin/op_end probe events, with op ids and recorder
//! attachment exactly as the engine does it, so the history, the stamps and
//! the checker are the same whatever file system is underneath.

use super::error::{KernelError, Result};
use crate::workload::Target;
use lockline_engine::disk::DiskError;
use lockline_engine::fs::OpGuard;
use lockline_engine::probe::points;
use lockline_engine::probe::provenance;
use lockline_engine::probe::recorder::{self, Recorder};
use lockline_engine::probe::OpKind;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct KernelFile {
    fd: OwnedFd,
    path: PathBuf,
    ino: u64,
    recorder: Option<Arc<Recorder>>,
    /// Set from a signal handler: ends the workload early.
    cancel: Option<&'static AtomicBool>,
    /// Serialises appends: the stamps need the offset before the write, so
    /// an O_APPEND write is emulated as fstat + pwrite at the size, and
    /// this lock stands in for the inode lock the kernel takes around both.
    append_lock: parking_lot::Mutex<()>,
}

/// The syscall's result as op_end records it: bytes or a negative errno.
fn code(r: &std::io::Result<u64>) -> i64 {
    match r {
        Ok(n) => *n as i64,
        Err(e) => -(e.raw_os_error().unwrap_or(libc::EIO) as i64),
    }
}

fn check(ret: libc::c_long) -> std::io::Result<u64> {
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret as u64)
    }
}

impl KernelFile {
    /// Opens `path` (creating or emptying it), recording ops into
    /// `recorder`.
    pub fn create(path: &Path, recorder: Option<Arc<Recorder>>) -> Result<KernelFile> {
        Self::open(path, libc::O_CREAT | libc::O_TRUNC, recorder)
    }

    /// Opens an existing file, e.g. after a remount.
    /// The file again (after a remount), recording to `recorder`.
    pub fn open_existing(path: &Path, recorder: Option<Arc<Recorder>>) -> Result<KernelFile> {
        Self::open(path, 0, recorder)
    }

    fn open(path: &Path, flags: i32, recorder: Option<Arc<Recorder>>) -> Result<KernelFile> {
        let c = CString::new(path.as_os_str().as_bytes()).expect("paths have no NUL");
        // SAFETY: valid path; the fd is owned below.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC | flags, 0o644) };
        if fd < 0 {
            return Err(KernelError::last_os(format!("{}: open", path.display())));
        }
        // SAFETY: a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut f = KernelFile {
            fd,
            path: path.to_path_buf(),
            ino: 0,
            recorder,
            cancel: None,
            append_lock: parking_lot::Mutex::new(()),
        };
        f.ino = f.stat()?.st_ino;
        Ok(f)
    }

    /// Stops the workload early once `flag` is set.
    pub fn with_cancel(mut self, flag: Option<&'static AtomicBool>) -> Self {
        self.cancel = flag;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fstat(&self) -> std::io::Result<libc::stat> {
        // SAFETY: zeroed stat is a valid out-buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid fd and buffer.
        if unsafe { libc::fstat(self.fd.as_raw_fd(), &mut st) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(st)
    }

    fn stat(&self) -> Result<libc::stat> {
        self.fstat()
            .map_err(|e| KernelError::io(format!("{}: fstat", self.path.display()), e))
    }

    pub fn size(&self) -> Result<u64> {
        Ok(self.stat()?.st_size as u64)
    }

    /// The whole file, by pread (through the page cache, as a reader would
    /// see it): one read op, as the engine's check read-backs are, so a
    /// check's digests have an op to stand in.
    pub fn read_all(&self) -> Result<Vec<u8>> {
        let g = self.begin_op();
        let size = self.size()? as usize;
        points::op_begin(OpKind::Read, self.ino, 0, size as u64);
        let r = self.pread_all(size);
        let result = r.as_ref().map_or(-(libc::EIO as i64), |b| b.len() as i64);
        points::op_end(OpKind::Read, self.ino, 0, result);
        if let Ok(buf) = &r {
            // A check's read, when one is running (provenance::checking).
            provenance::read(self.ino, g.op, 0, buf, true);
        }
        r
    }

    fn pread_all(&self, size: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; size];
        let mut done = 0;
        while done < size {
            let rest = &mut buf[done..];
            // SAFETY: valid fd and buffer bounds.
            let n = unsafe {
                libc::pread(
                    self.fd.as_raw_fd(),
                    rest.as_mut_ptr().cast(),
                    rest.len(),
                    done as libc::off_t,
                )
            };
            match n {
                n if n < 0 => {
                    let e = std::io::Error::last_os_error();
                    if e.kind() == std::io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(KernelError::io(
                        format!("{}: pread", self.path.display()),
                        e,
                    ));
                }
                0 => break,
                n => done += n as usize,
            }
        }
        buf.truncate(done);
        Ok(buf)
    }

    /// fsync(2), recorded as an fsync op like the engine's.
    pub fn fsync(&self) -> Result<()> {
        let _g = self.begin_op();
        points::op_begin(OpKind::Fsync, self.ino, 0, 0);
        // SAFETY: valid fd.
        let r = check(unsafe { libc::fsync(self.fd.as_raw_fd()) } as libc::c_long);
        points::op_end(OpKind::Fsync, self.ino, 0, code(&r));
        r.map(drop)
            .map_err(|e| KernelError::io(format!("{}: fsync", self.path.display()), e))
    }

    /// A syscall's error in the engine's error type (the runner's
    /// currency); the errno survives.
    fn err(&self, what: &str, e: std::io::Error) -> lockline_engine::Error {
        DiskError::Io {
            path: self.path.clone(),
            context: what.to_string(),
            source: e,
        }
        .into()
    }

    /// mmap(MAP_SHARED) of the pages holding [offset, offset + len), the
    /// bytes stored, munmap: the kernel's own page_mkwrite path. The caller
    /// keeps the range inside the file (a store past EOF is SIGBUS).
    fn store_mapped(&self, offset: u64, data: &[u8]) -> std::io::Result<u64> {
        if data.is_empty() {
            return Ok(0);
        }
        // Past EOF a store is SIGBUS, which would end this process: a
        // range the file does not cover (a failed extend before) is EFAULT.
        let size = self.fstat()?.st_size as u64;
        if offset + data.len() as u64 > size {
            return Err(std::io::Error::from_raw_os_error(libc::EFAULT));
        }
        let page = 4096u64;
        let start = offset / page * page;
        let len = (offset + data.len() as u64 - start) as usize;
        // SAFETY: a fresh mapping of our own fd; checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                self.fd.as_raw_fd(),
                start as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the mapping is `len` bytes; the copy stays inside it.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                (p as *mut u8).add((offset - start) as usize),
                data.len(),
            );
            libc::munmap(p, len);
        }
        Ok(data.len() as u64)
    }

    /// One non-write op: its own op id, begin/end events, one syscall.
    fn simple_op(
        &self,
        kind: OpKind,
        a: u64,
        b: u64,
        what: &str,
        call: impl FnOnce(i32) -> libc::c_long,
    ) -> lockline_engine::Result<()> {
        let _g = self.begin_op();
        points::op_begin(kind, self.ino, a, b);
        let r = check(call(self.fd.as_raw_fd()));
        points::op_end(kind, self.ino, a, code(&r).min(0));
        r.map(drop).map_err(|e| self.err(what, e))
    }
}

impl Target for KernelFile {
    fn begin_op(&self) -> OpGuard {
        recorder::attach(self.recorder.as_ref());
        OpGuard::new(points::next_op_id())
    }

    fn thread_started(&self, thread: u32) {
        points::attach_thread(
            self.recorder.as_ref(),
            lockline_engine::probe::ThreadRole::Worker,
            thread as u64,
        );
    }

    fn write(&self, op: &OpGuard, offset: u64, data: &[u8]) -> lockline_engine::Result<u64> {
        points::op_begin(OpKind::Write, self.ino, offset, data.len() as u64);
        // One pwrite is one op: a short count is reported as is, like the
        // syscall would to an application.
        // SAFETY: valid fd and buffer.
        let r = check(unsafe {
            libc::pwrite(
                self.fd.as_raw_fd(),
                data.as_ptr().cast(),
                data.len(),
                offset as libc::off_t,
            )
        } as libc::c_long);
        points::op_end(OpKind::Write, self.ino, offset, code(&r));
        if let Ok(n) = r {
            provenance::wrote(self.ino, op.op, offset, &data[..n as usize]);
        }
        r.map_err(|e| self.err("pwrite", e))
    }

    fn append(
        &self,
        op: &OpGuard,
        data: &mut [u8],
        fill: &mut dyn FnMut(u64, &mut [u8]),
    ) -> lockline_engine::Result<u64> {
        let _g = self.append_lock.lock();
        let size = self.fstat().map_err(|e| self.err("fstat", e))?.st_size as u64;
        fill(size, data);
        self.write(op, size, data)
    }

    fn read(&self, op: &OpGuard, offset: u64, buf: &mut [u8]) -> lockline_engine::Result<usize> {
        points::op_begin(OpKind::Read, self.ino, offset, buf.len() as u64);
        // SAFETY: valid fd and buffer.
        let r = check(unsafe {
            libc::pread(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                offset as libc::off_t,
            )
        } as libc::c_long);
        points::op_end(OpKind::Read, self.ino, offset, code(&r));
        if let Ok(n) = r {
            let n = n as usize;
            // A short read ended at EOF.
            provenance::read(self.ino, op.op, offset, &buf[..n], n < buf.len());
        }
        r.map(|n| n as usize).map_err(|e| self.err("pread", e))
    }

    fn map_write(&self, op: &OpGuard, offset: u64, data: &[u8]) -> lockline_engine::Result<u64> {
        points::op_begin(OpKind::Write, self.ino, offset, data.len() as u64);
        let r = self.store_mapped(offset, data);
        points::op_end(OpKind::Write, self.ino, offset, code(&r));
        if let Ok(n) = r {
            provenance::wrote(self.ino, op.op, offset, &data[..n as usize]);
        }
        r.map_err(|e| self.err("mmap store", e))
    }

    fn truncate(&self, size: u64) -> lockline_engine::Result<()> {
        self.simple_op(OpKind::Truncate, size, 0, "ftruncate", |fd| {
            // SAFETY: valid fd.
            unsafe { libc::ftruncate(fd, size as libc::off_t) as libc::c_long }
        })
    }

    fn punch(&self, offset: u64, len: u64) -> lockline_engine::Result<()> {
        self.simple_op(OpKind::Punch, offset, len, "fallocate(PUNCH_HOLE)", |fd| {
            let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
            // SAFETY: valid fd.
            unsafe {
                libc::fallocate(fd, mode, offset as libc::off_t, len as libc::off_t) as libc::c_long
            }
        })
    }

    fn fallocate(&self, offset: u64, len: u64, keep_size: bool) -> lockline_engine::Result<()> {
        self.simple_op(OpKind::Fallocate, offset, len, "fallocate", |fd| {
            let mode = if keep_size {
                libc::FALLOC_FL_KEEP_SIZE
            } else {
                0
            };
            // SAFETY: valid fd.
            unsafe {
                libc::fallocate(fd, mode, offset as libc::off_t, len as libc::off_t) as libc::c_long
            }
        })
    }

    fn ino(&self) -> u64 {
        self.ino
    }

    fn should_stop(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

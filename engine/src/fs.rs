//! A mounted engine: the disk, the in-memory inodes, the background
//! threads (flusher, mm) and the entry points of every operation, each
//! bracketed by op_begin/op_end probes. Models the VFS side of fs.c.

use crate::config::{Build, Knobs};
use crate::disk::{DirEntry, Disk, FileKind, InodeAttr};
use crate::error::{Error, Result};
use crate::inode::Inode;
use crate::pagecache::CacheStats;
use crate::probe::points::{self, OpScope};
use crate::probe::provenance;
use crate::probe::recorder::{self, Recorder};
use crate::probe::{OpKind, ThreadRole};
use crate::space::Space;
use crate::{buffered_read, buffered_write, fallocate, mm, page_fault, truncate, writeback};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct MountOptions {
    pub build: Build,
    pub knobs: Knobs,
    /// Record events in process into this recorder (None: probes only).
    pub recorder: Option<Arc<Recorder>>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            build: Build::Locked,
            knobs: Knobs::default(),
            recorder: None,
        }
    }
}

/// Counters a run reports; all monotonic.
#[derive(Debug, Default)]
pub struct FsCounters {
    pub short_copies: AtomicU64,
    pub restarts: AtomicU64,
    /// Lockless passes that found their folios did not cover the write
    /// and asked for the inode lock (-BCH_ERR_need_inode_lock); each
    /// leads to a restart.
    pub need_inode_lock: AtomicU64,
    pub post_eof_truncates: AtomicU64,
    pub folios_written: AtomicU64,
    pub folios_dropped_past_eof: AtomicU64,
    pub reclaimed_folios: AtomicU64,
    pub migrated_folios: AtomicU64,
    pub compactions: AtomicU64,
    /// Times an i_size-extending write found itself without the inode lock
    /// (the lockless path's BUG_ON; counted, not fatal).
    pub extend_without_inode_lock: AtomicU64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CountersSnapshot {
    pub short_copies: u64,
    pub restarts: u64,
    pub need_inode_lock: u64,
    pub post_eof_truncates: u64,
    pub folios_written: u64,
    pub folios_dropped_past_eof: u64,
    pub reclaimed_folios: u64,
    pub migrated_folios: u64,
    pub compactions: u64,
    pub extend_without_inode_lock: u64,
}

impl std::ops::AddAssign for CountersSnapshot {
    fn add_assign(&mut self, o: CountersSnapshot) {
        self.short_copies += o.short_copies;
        self.restarts += o.restarts;
        self.need_inode_lock += o.need_inode_lock;
        self.post_eof_truncates += o.post_eof_truncates;
        self.folios_written += o.folios_written;
        self.folios_dropped_past_eof += o.folios_dropped_past_eof;
        self.reclaimed_folios += o.reclaimed_folios;
        self.migrated_folios += o.migrated_folios;
        self.compactions += o.compactions;
        self.extend_without_inode_lock += o.extend_without_inode_lock;
    }
}

impl FsCounters {
    pub fn snapshot(&self) -> CountersSnapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CountersSnapshot {
            short_copies: l(&self.short_copies),
            restarts: l(&self.restarts),
            need_inode_lock: l(&self.need_inode_lock),
            post_eof_truncates: l(&self.post_eof_truncates),
            folios_written: l(&self.folios_written),
            folios_dropped_past_eof: l(&self.folios_dropped_past_eof),
            reclaimed_folios: l(&self.reclaimed_folios),
            migrated_folios: l(&self.migrated_folios),
            compactions: l(&self.compactions),
            extend_without_inode_lock: l(&self.extend_without_inode_lock),
        }
    }
}

pub struct Fs {
    pub disk: Arc<Disk>,
    pub build: Build,
    pub knobs: Knobs,
    recorder: Option<Arc<Recorder>>,
    inodes: Mutex<HashMap<u64, Arc<Inode>>>,
    /// Open file handles per inode (FUSE opens): an unlinked file stays
    /// readable and writable until its last one closes.
    pub(crate) opens: Mutex<HashMap<u64, u32>>,
    pub(crate) cache: Arc<CacheStats>,
    pub(crate) space: Space,
    pub counters: FsCounters,
    shutdown: AtomicBool,
    sleep: (Mutex<()>, Condvar),
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// The calling thread works for one op until this drops.
pub struct OpGuard {
    pub op: u64,
    _scope: OpScope,
}

impl OpGuard {
    /// Marks the calling thread as working for `op` (ids come from the
    /// caller's counter: other targets, such as kernel files, number their
    /// own ops).
    pub fn new(op: u64) -> OpGuard {
        OpGuard {
            op,
            _scope: OpScope::enter(op),
        }
    }
}

impl Fs {
    /// Mounts the lockline disk at `path` and starts the background threads
    /// the knobs ask for.
    pub fn mount(path: &Path, opts: MountOptions) -> Result<Arc<Fs>> {
        opts.knobs.validate().map_err(Error::Invalid)?;
        let disk = Disk::open(path)?;
        let free = disk.geometry().free_blocks * 8;
        let fs = Arc::new(Fs {
            disk,
            build: opts.build,
            knobs: opts.knobs,
            recorder: opts.recorder,
            inodes: Mutex::new(HashMap::new()),
            opens: Mutex::new(HashMap::new()),
            cache: Arc::new(CacheStats::default()),
            space: Space::new(free),
            counters: FsCounters::default(),
            shutdown: AtomicBool::new(false),
            sleep: (Mutex::new(()), Condvar::new()),
            threads: Mutex::new(Vec::new()),
        });
        let mut threads = Vec::new();
        if fs.knobs.writeback_interval_ms > 0 {
            let period = Duration::from_millis(fs.knobs.writeback_interval_ms);
            threads.push(fs.spawn_background(ThreadRole::Flusher, period, |fs| {
                writeback::flush_all(fs, writeback::SyncMode::None);
            })?);
        }
        threads.extend(mm::spawn_threads(&fs)?);
        *fs.threads.lock() = threads;
        Ok(fs)
    }

    /// Runs `work` every `period` on a named thread until unmount. The
    /// thread holds only a weak reference so a forgotten unmount cannot
    /// keep the mount alive forever.
    pub(crate) fn spawn_background(
        self: &Arc<Self>,
        role: ThreadRole,
        period: Duration,
        work: impl Fn(&Fs) + Send + 'static,
    ) -> Result<JoinHandle<()>> {
        let weak: Weak<Fs> = Arc::downgrade(self);
        let name = format!("lockline-{role}");
        std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                if let Some(fs) = weak.upgrade() {
                    fs.attach_thread(role, 0);
                }
                loop {
                    let Some(fs) = weak.upgrade() else { return };
                    if fs.shutdown.load(Ordering::Acquire) {
                        return;
                    }
                    recorder::attach(fs.recorder.as_ref());
                    work(&fs);
                    let mut g = fs.sleep.0.lock();
                    if !fs.shutdown.load(Ordering::Acquire) {
                        fs.sleep.1.wait_for(&mut g, period);
                    }
                }
            })
            .map_err(|e| Error::Invalid(format!("cannot start {name} thread: {e}")))
    }

    /// Attaches the calling thread to the run's recorder and announces its
    /// role, so traces name its lane from the engine (call once per thread).
    pub fn attach_thread(&self, role: ThreadRole, index: u64) {
        points::attach_thread(self.recorder.as_ref(), role, index);
    }

    /// Starts an op on the calling thread: a fresh op id (unique in the
    /// process, so across remounts too) and the run's recorder attached.
    pub fn begin_op(&self) -> OpGuard {
        recorder::attach(self.recorder.as_ref());
        let op = points::next_op_id();
        OpGuard {
            op,
            _scope: OpScope::enter(op),
        }
    }

    /// Page-cache size in bytes.
    pub(crate) fn cached_bytes(&self) -> u64 {
        self.cache.pages.load(Ordering::Relaxed) * crate::config::PAGE_SIZE
    }

    // --- inodes and namespace ----------------------------------------------

    /// The in-memory inode for `ino`, loaded from disk on first use.
    pub fn inode(&self, ino: u64) -> Result<Arc<Inode>> {
        let mut inodes = self.inodes.lock();
        if let Some(i) = inodes.get(&ino) {
            return Ok(i.clone());
        }
        let attr = self.disk.stat(ino)?;
        if attr.kind != FileKind::File {
            return Err(crate::disk::DiskError::IsDir.into());
        }
        let i = Arc::new(Inode::new(ino, attr.size, self.cache.clone()));
        inodes.insert(ino, i.clone());
        Ok(i)
    }

    /// Forgets the in-memory inode (its page cache already dropped).
    pub(crate) fn forget_inode(&self, ino: u64) {
        self.inodes.lock().remove(&ino);
    }

    pub(crate) fn cached_inodes(&self) -> Vec<Arc<Inode>> {
        self.inodes.lock().values().cloned().collect()
    }

    fn split_parent(path: &str) -> Result<(&str, &str)> {
        let t = path.trim_end_matches('/');
        let (dir, name) = t.rsplit_once('/').unwrap_or(("", t));
        if name.is_empty() {
            return Err(Error::Invalid(format!("'{path}' names no file")));
        }
        Ok((if dir.is_empty() { "/" } else { dir }, name))
    }

    /// Opens a regular file, creating it when `create` is set.
    pub fn open(&self, path: &str, create: bool) -> Result<u64> {
        match self.disk.resolve(path) {
            Ok(ino) => {
                self.inode(ino)?;
                Ok(ino)
            }
            Err(crate::disk::DiskError::NotFound(_)) if create => {
                let (dir, name) = Self::split_parent(path)?;
                let parent = self.disk.resolve(dir)?;
                self.create_at(parent, name, FileKind::File)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        Ok(self.disk.readdir(self.disk.resolve(path)?)?)
    }

    pub fn stat(&self, ino: u64) -> Result<InodeAttr> {
        let mut a = self.disk.stat(ino)?;
        if let Some(i) = self.inodes.lock().get(&ino) {
            a.size = i.i_size.read();
        }
        Ok(a)
    }

    /// Sectors of disk space reserved for dirty page-cache data.
    pub fn reserved_sectors(&self) -> u64 {
        self.space.reserved()
    }

    /// i_size as the page cache sees it.
    pub fn size(&self, ino: u64) -> Result<u64> {
        Ok(self.inode(ino)?.i_size.read())
    }

    /// unlink(): drops the page cache and the disk inode.
    pub fn unlink(&self, path: &str) -> Result<()> {
        let (dir, name) = Self::split_parent(path)?;
        let parent = self.disk.resolve(dir)?;
        self.unlink_at(parent, name)
    }

    // --- IO --------------------------------------------------------------

    /// pwrite(): a buffered write through the run's build.
    pub fn write(&self, ino: u64, pos: u64, buf: &[u8]) -> Result<usize> {
        let g = self.begin_op();
        self.write_in(&g, ino, pos, buf)
    }

    /// pwrite() as part of an op the caller began, so it can stamp the data
    /// with the op id first.
    pub fn write_in(&self, op: &OpGuard, ino: u64, pos: u64, buf: &[u8]) -> Result<usize> {
        let inode = self.inode(ino)?;
        points::op_begin(OpKind::Write, ino, pos, buf.len() as u64);
        let r = if buf.is_empty() {
            Ok(0)
        } else {
            buffered_write::buffered_write(self, &inode, pos, buf)
        };
        points::op_end(OpKind::Write, ino, pos, result_code(&r));
        if let Ok(n) = r {
            provenance::wrote(ino, op.op, pos, &buf[..n]);
        }
        r
    }

    /// pwrite() on an O_APPEND file as part of an op the caller began: the
    /// position is i_size, taken under the inode lock; `fill` stamps `buf`
    /// for it before the copy. The op's begin event is emitted then, with
    /// the position, so the history sees the append where it was placed.
    pub fn append_in(
        &self,
        op: &OpGuard,
        ino: u64,
        buf: &mut [u8],
        fill: &mut dyn FnMut(u64, &mut [u8]),
    ) -> Result<(u64, usize)> {
        let inode = self.inode(ino)?;
        let len = buf.len() as u64;
        let (pos, r) = buffered_write::buffered_append(self, &inode, buf, &mut |pos, b| {
            points::op_begin(OpKind::Write, ino, pos, len);
            fill(pos, b)
        });
        points::op_end(OpKind::Write, ino, pos, result_code(&r));
        if let Ok(n) = r {
            provenance::wrote(ino, op.op, pos, &buf[..n]);
        }
        r.map(|n| (pos, n))
    }

    /// A store through a shared writable mapping (page_fault.rs) as part
    /// of an op the caller began: a write op in the history, whose trace
    /// shows the faults' add-lock holds and page_mkwrite events instead of
    /// the write path's. Bytes stored, or the fault's error if none.
    pub fn map_write_in(&self, op: &OpGuard, ino: u64, pos: u64, buf: &[u8]) -> Result<usize> {
        let inode = self.inode(ino)?;
        points::op_begin(OpKind::Write, ino, pos, buf.len() as u64);
        let r = page_fault::map_write(self, &inode, pos, buf);
        points::op_end(OpKind::Write, ino, pos, result_code(&r));
        if let Ok(n) = r {
            provenance::wrote(ino, op.op, pos, &buf[..n]);
        }
        r
    }

    /// pread(): a buffered read.
    pub fn read(&self, ino: u64, pos: u64, buf: &mut [u8]) -> Result<usize> {
        let g = self.begin_op();
        self.read_in(&g, ino, pos, buf)
    }

    /// pread() as part of an op the caller began (a verifying reader keeps
    /// the op id to find the read's window in the history).
    pub fn read_in(&self, op: &OpGuard, ino: u64, pos: u64, buf: &mut [u8]) -> Result<usize> {
        let inode = self.inode(ino)?;
        points::op_begin(OpKind::Read, ino, pos, buf.len() as u64);
        let r = buffered_read::buffered_read(self, &inode, pos, buf);
        points::op_end(OpKind::Read, ino, pos, result_code(&r));
        if let Ok(n) = r {
            // i_size now, not at the copy: a read that ended at an EOF a
            // racing extend moved on keeps its last partial sector out.
            let at_eof = pos + n as u64 >= inode.i_size.read();
            provenance::read(ino, op.op, pos, &buf[..n], at_eof);
        }
        r
    }

    /// ftruncate()
    pub fn truncate(&self, ino: u64, size: u64) -> Result<()> {
        let g = self.begin_op();
        self.truncate_in(&g, ino, size)
    }

    /// ftruncate() as part of an op the caller began (a schedule or a model
    /// workload keeps the op id).
    pub fn truncate_in(&self, _op: &OpGuard, ino: u64, size: u64) -> Result<()> {
        let inode = self.inode(ino)?;
        points::op_begin(OpKind::Truncate, ino, size, 0);
        let r = truncate::truncate(self, &inode, size);
        points::op_end(OpKind::Truncate, ino, size, result_code(&r));
        r
    }

    /// fallocate(mode 0 or FALLOC_FL_KEEP_SIZE)
    pub fn fallocate(&self, ino: u64, offset: u64, len: u64, keep_size: bool) -> Result<()> {
        let inode = self.inode(ino)?;
        let _g = self.begin_op();
        points::op_begin(OpKind::Fallocate, ino, offset, len);
        let r = fallocate::allocate(self, &inode, offset, len, keep_size);
        points::op_end(OpKind::Fallocate, ino, offset, result_code(&r));
        r
    }

    /// fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
    pub fn punch_hole(&self, ino: u64, offset: u64, len: u64) -> Result<()> {
        let inode = self.inode(ino)?;
        let _g = self.begin_op();
        points::op_begin(OpKind::Punch, ino, offset, len);
        let r = fallocate::punch_hole(self, &inode, offset, len);
        points::op_end(OpKind::Punch, ino, offset, result_code(&r));
        r
    }

    /// fsync(): write back and wait, publish i_size, commit the disk.
    pub fn fsync(&self, ino: u64) -> Result<()> {
        let inode = self.inode(ino)?;
        let _g = self.begin_op();
        points::op_begin(OpKind::Fsync, ino, 0, 0);
        let r = writeback::fsync(self, &inode);
        points::op_end(OpKind::Fsync, ino, 0, result_code(&r));
        r
    }

    /// sync(): every inode written back, one commit.
    pub fn sync_all(&self) -> Result<()> {
        let _g = self.begin_op();
        writeback::flush_all(self, writeback::SyncMode::All);
        self.disk.commit()?;
        self.refresh_space();
        Ok(())
    }

    pub(crate) fn refresh_space(&self) {
        self.space.refresh(self.disk.geometry().free_blocks * 8);
    }

    /// Stops the background threads, writes everything back and unmounts
    /// the disk cleanly.
    pub fn unmount(&self) -> Result<()> {
        {
            let _g = self.sleep.0.lock();
            self.shutdown.store(true, Ordering::Release);
            self.sleep.1.notify_all();
        }
        let threads = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            let _ = t.join();
        }
        // Nothing can hold a file open past unmount (a FUSE release may
        // not have arrived before the session ended): orphans go now.
        self.opens.lock().clear();
        for ino in self.disk.orphans() {
            self.release_orphan(ino)?;
        }
        self.sync_all()?;
        self.disk.unmount()?;
        recorder::flush_current_thread();
        Ok(())
    }
}

/// What an op returns on success, as op_end's result argument.
pub(crate) trait OpResult {
    fn bytes(&self) -> i64;
}
impl OpResult for usize {
    fn bytes(&self) -> i64 {
        *self as i64
    }
}
impl OpResult for () {
    fn bytes(&self) -> i64 {
        0
    }
}

/// op_end's result argument: bytes, or a negative errno.
pub(crate) fn result_code<T: OpResult>(r: &Result<T>) -> i64 {
    match r {
        Ok(n) => n.bytes(),
        Err(e) => -(e.errno() as i64),
    }
}

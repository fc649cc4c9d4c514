//! Models bcachefs's VFS entry points behind FUSE: each request calls the
//! engine entry point the kernel would (fs.c's bch2_lookup, bch2_setattr,
//! bch2_rename2; fs-io-buffered.c's bch2_write_iter; fs-io-direct.c's
//! bch2_read_iter; fs-io.c's bch2_fallocate_dispatch and bch2_fsync; ...),
//! each IO an engine op with its own op id on the probe
//! points. Files are opened FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES,
//! so the kernel keeps no page cache of its own in front of the engine's
//! and passes clients' concurrent writes through without taking its inode
//! lock exclusively (except for appends and writes past its i_size).

use crate::attr::{file_attr, kind};
use fuser::{
    Errno, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, InitFlags, KernelConfig,
    LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use lockline_engine::disk::{FileKind, BLOCK_SIZE};
use lockline_engine::probe::ThreadRole;
use lockline_engine::Fs;
use std::cell::Cell;
use std::ffi::OsStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the kernel may cache names and attributes. Every change goes
/// through this mount, and the kernel updates i_size itself after writes
/// it passes on, so a short TTL only bounds staleness after a truncate by
/// the engine's own background threads (there are none that change size).
const TTL: Duration = Duration::from_secs(1);

/// What the kernel is told of every opened file.
const OPEN_FLAGS: FopenFlags =
    FopenFlags::FOPEN_DIRECT_IO.union(FopenFlags::FOPEN_PARALLEL_DIRECT_WRITES);

/// The largest write the kernel passes in one request: 1 MiB, what QEMU's
/// and fio's larger requests need without being split.
pub const MAX_WRITE: u32 = 1 << 20;

const FALLOC_FL_KEEP_SIZE: i32 = 0x01;
const FALLOC_FL_PUNCH_HOLE: i32 = 0x02;

/// Requests served, for the daemon's summary.
#[derive(Debug, Default)]
pub struct Served {
    pub writes: AtomicU64,
    pub write_bytes: AtomicU64,
    pub reads: AtomicU64,
    pub read_bytes: AtomicU64,
    pub fsyncs: AtomicU64,
    pub errors: AtomicU64,
}

/// The engine as a FUSE file system.
pub struct EngineFs {
    fs: Arc<Fs>,
    threads: AtomicU64,
    pub served: Arc<Served>,
}

thread_local! {
    static ATTACHED: Cell<bool> = const { Cell::new(false) };
}

fn errno(e: &lockline_engine::Error) -> Errno {
    Errno::from_i32(e.errno())
}

impl EngineFs {
    pub fn new(fs: Arc<Fs>) -> EngineFs {
        EngineFs {
            fs,
            threads: AtomicU64::new(0),
            served: Arc::default(),
        }
    }

    /// The engine, for the code that unmounts it.
    pub fn engine(&self) -> &Arc<Fs> {
        &self.fs
    }

    /// Announces a FUSE worker thread to the probes once, as worker N, so
    /// traces give each serving thread a lane.
    fn attach(&self) {
        ATTACHED.with(|a| {
            if !a.get() {
                let i = self.threads.fetch_add(1, Ordering::Relaxed);
                self.fs.attach_thread(ThreadRole::Worker, i);
                a.set(true);
            }
        });
    }

    fn failed(&self, e: &lockline_engine::Error) -> Errno {
        self.served.errors.fetch_add(1, Ordering::Relaxed);
        errno(e)
    }

    fn entry(&self, ino: u64, reply: ReplyEntry) {
        match self.fs.stat(ino) {
            Ok(a) => reply.entry(&TTL, &file_attr(&a), Generation(0)),
            Err(e) => reply.error(self.failed(&e)),
        }
    }

    /// mkdir and create: a new `kind` named `name` in `parent`; without
    /// `excl`, the one another client created since the kernel's lookup
    /// failed.
    fn make(
        &self,
        parent: INodeNo,
        name: &OsStr,
        kind: FileKind,
        excl: bool,
    ) -> Result<u64, Errno> {
        self.attach();
        let name = name_of(name)?;
        match self.fs.create_at(parent.0, name, kind) {
            Err(lockline_engine::Error::Disk(lockline_engine::disk::DiskError::Exists(_)))
                if !excl =>
            {
                self.fs.lookup(parent.0, name)
            }
            r => r,
        }
        .map_err(|e| errno(&e))
    }

    /// unlink (`dir` false) and rmdir (`dir` true).
    fn remove(&self, parent: INodeNo, name: &OsStr, dir: bool, reply: ReplyEmpty) {
        self.attach();
        let Ok(name) = name_of(name) else {
            return reply.error(Errno::ENOENT);
        };
        match self.fs.remove_at(parent.0, name, dir) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn attr(&self, ino: u64, reply: ReplyAttr) {
        match self.fs.stat(ino) {
            Ok(a) => reply.attr(&TTL, &file_attr(&a)),
            Err(e) => reply.error(self.failed(&e)),
        }
    }
}

/// A name the engine can store: valid UTF-8 (its directories hold Strings).
fn name_of(name: &OsStr) -> Result<&str, Errno> {
    name.to_str().ok_or(Errno::EINVAL)
}

fn ns_since_epoch(t: TimeOrNow) -> u64 {
    let t = match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    };
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Filesystem for EngineFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Asynchronous direct IO lets the kernel keep several of one
        // client's AIO requests in flight at once (qemu-io aio_write).
        let _ = config.add_capabilities(InitFlags::FUSE_ASYNC_DIO);
        // Shared mappings of our direct-IO files (kernel 6.6+): without it
        // mmap(MAP_SHARED) fails with ENODEV and fsx's map ops cannot run.
        // The mapped pages live in the kernel's page cache, not the
        // engine's; the kernel writes them back as ordinary writes.
        let _ = config.add_capabilities(InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP);
        let _ = config.set_max_write(MAX_WRITE);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.attach();
        let Ok(name) = name_of(name) else {
            return reply.error(Errno::ENOENT);
        };
        match self.fs.lookup(parent.0, name) {
            Ok(ino) => self.entry(ino, reply),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.attach();
        self.attr(ino.0, reply)
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        self.attach();
        let cur = match self.fs.stat(ino.0) {
            Ok(a) => file_attr(&a),
            Err(e) => return reply.error(self.failed(&e)),
        };
        // The disk stores no modes or owners: a change to them would be
        // silently lost, so it is refused; setting what is shown is fine.
        // Access times are not kept (as with noatime).
        if mode.is_some_and(|m| m & 0o7777 != u32::from(cur.perm))
            || uid.is_some_and(|u| u != cur.uid)
            || gid.is_some_and(|g| g != cur.gid)
        {
            return reply.error(Errno::EPERM);
        }
        if let Some(size) = size {
            if cur.kind != fuser::FileType::RegularFile {
                return reply.error(Errno::EISDIR);
            }
            if let Err(e) = self.fs.truncate(ino.0, size) {
                return reply.error(self.failed(&e));
            }
        }
        if let Some(t) = mtime {
            if let Err(e) = self.fs.set_mtime(ino.0, ns_since_epoch(t)) {
                return reply.error(self.failed(&e));
            }
        }
        self.attr(ino.0, reply)
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        match self.make(parent, name, FileKind::Dir, true) {
            Ok(ino) => self.entry(ino, reply),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, false, reply)
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.remove(parent, name, true, reply)
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        self.attach();
        if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
            return reply.error(Errno::EINVAL);
        }
        let (Ok(name), Ok(newname)) = (name_of(name), name_of(newname)) else {
            return reply.error(Errno::EINVAL);
        };
        let noreplace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        match self
            .fs
            .rename_at(parent.0, name, newparent.0, newname, noreplace)
        {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.attach();
        // Loads the inode (EISDIR for a directory) before the first IO and
        // counts the handle, so an unlink while open keeps the file.
        match self.fs.open_ino(ino.0) {
            Ok(_) => reply.opened(FileHandle(0), OPEN_FLAGS),
            Err(e) => reply.error(errno(&e)),
        }
    }

    /// The last close of a handle: counted down, so an unlink frees a
    /// closed file at once and the last close frees one unlinked while
    /// open.
    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.attach();
        match self.fs.release(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.failed(&e)),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let ino = match self.make(parent, name, FileKind::File, flags & libc::O_EXCL != 0) {
            Ok(ino) => ino,
            Err(e) => return reply.error(e),
        };
        let opened = self.fs.open_ino(ino).and_then(|_| self.fs.stat(ino));
        match opened {
            Ok(a) => reply.created(
                &TTL,
                &file_attr(&a),
                Generation(0),
                FileHandle(0),
                OPEN_FLAGS,
            ),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.attach();
        let mut buf = vec![0u8; size as usize];
        match self.fs.read(ino.0, offset, &mut buf) {
            Ok(n) => {
                self.served.reads.fetch_add(1, Ordering::Relaxed);
                self.served
                    .read_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                reply.data(&buf[..n])
            }
            Err(e) => reply.error(self.failed(&e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        self.attach();
        match self.fs.write(ino.0, offset, data) {
            Ok(n) => {
                self.served.writes.fetch_add(1, Ordering::Relaxed);
                self.served
                    .write_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                reply.written(n as u32)
            }
            Err(e) => reply.error(self.failed(&e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close() promises nothing about durability; fsync() does.
        reply.ok()
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.attach();
        match self.fs.fsync(ino.0) {
            Ok(()) => {
                self.served.fsyncs.fetch_add(1, Ordering::Relaxed);
                reply.ok()
            }
            Err(e) => reply.error(self.failed(&e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        self.attach();
        let entries = match self.fs.readdir_ino(ino.0) {
            Ok(e) => e,
            Err(e) => return reply.error(errno(&e)),
        };
        let dots = [
            (ino.0, fuser::FileType::Directory, "."),
            (ino.0, fuser::FileType::Directory, ".."),
        ];
        let all = dots.into_iter().chain(
            entries
                .iter()
                .map(|e| (e.ino, kind(e.kind), e.name.as_str())),
        );
        // Offsets are 1-based positions: the kernel passes back the last
        // one it took.
        for (i, (ino, k, name)) in all.enumerate().skip(offset as usize) {
            if reply.add(INodeNo(ino), i as u64 + 1, k, name) {
                break;
            }
        }
        reply.ok()
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.attach();
        match self.fs.sync_all() {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.failed(&e)),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let s = self.fs.statfs();
        // Inodes are not preallocated: as many are free as blocks are.
        reply.statfs(
            s.blocks,
            s.free_blocks,
            s.free_blocks,
            s.files + s.free_blocks,
            s.free_blocks,
            BLOCK_SIZE as u32,
            255,
            BLOCK_SIZE as u32,
        )
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        self.attach();
        let r = match mode {
            0 => self.fs.fallocate(ino.0, offset, length, false),
            FALLOC_FL_KEEP_SIZE => self.fs.fallocate(ino.0, offset, length, true),
            m if m == FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE => {
                self.fs.punch_hole(ino.0, offset, length)
            }
            // Zero range, collapse, insert, unshare: not modelled.
            _ => return reply.error(Errno::EOPNOTSUPP),
        };
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.failed(&e)),
        }
    }
}

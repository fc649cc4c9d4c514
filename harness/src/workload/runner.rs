//! Runs a pattern from N threads: stamps each write with its op id, issues
//! it through the engine, counts ops and bytes, stops on an op budget or a
//! deadline.

use super::{Op, Pattern, Prepare, ThreadCtx, WorkloadKind};
use crate::stamp;
use lockline_engine::error::{Error, Result};
use lockline_engine::fs::{Fs, OpGuard};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// Total ops across all threads.
    Ops(u64),
    Seconds(f64),
}

#[derive(Clone, Debug, Serialize)]
pub struct RunSpec {
    pub workload: WorkloadKind,
    pub threads: u32,
    pub stop: Stop,
    pub seed: u64,
    /// Path of the file inside the engine, e.g. "/overlay.qcow2".
    pub file: String,
    pub file_size: u64,
    /// Write size of the `disjoint` workload.
    pub write_size: u64,
    /// Verifying readers beside the writers: each reads write-size ranges
    /// until the writers finish, and every read is checked against the
    /// history as it stood during the read (check::check_read).
    pub readers: u32,
}

impl RunSpec {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.threads == 0 {
            return bad("--threads must be at least 1".into());
        }
        if self.threads > 1024 {
            return bad(format!("--threads {} is more than 1024", self.threads));
        }
        if self.readers > 64 {
            return bad(format!("--readers {} is more than 64", self.readers));
        }
        match self.stop {
            Stop::Ops(0) => return bad("--ops must be at least 1".into()),
            Stop::Seconds(s) if !(s > 0.0 && s.is_finite()) => {
                return bad(format!("--seconds {s} is not a positive duration"))
            }
            _ => {}
        }
        if self.file_size < 4 << 20 || !self.file_size.is_multiple_of(65536) {
            return bad(format!(
                "file size {} must be a multiple of 64 KiB and at least 4 MiB",
                self.file_size
            ));
        }
        if self.write_size == 0
            || !self.write_size.is_multiple_of(512)
            || self.write_size > self.file_size
        {
            return bad(format!(
                "write size {} must be a positive multiple of 512 within the file",
                self.write_size
            ));
        }
        Ok(())
    }
}

/// Live counters a progress display can poll while the run goes on.
#[derive(Debug, Default)]
pub struct Progress {
    pub ops: AtomicU64,
    pub bytes: AtomicU64,
    pub errors: AtomicU64,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunOutcome {
    pub ino: u64,
    pub ops: u64,
    pub bytes: u64,
    pub errors: u64,
    /// First error seen, for the summary.
    pub first_error: Option<String>,
    pub seconds: f64,
    /// What the verifying readers read, then what the writers read
    /// themselves (at most MAX_READS each).
    #[serde(skip)]
    pub reads: Vec<crate::check::ReadRecord>,
    /// Reads made beyond those budgets, not kept.
    pub reads_not_kept: u64,
}

/// Reads kept for checking per run: bounded memory (at most this many
/// write-size buffers).
pub const MAX_READS: usize = 4096;

/// The file a workload drives: the engine's (here) or a kernel
/// filesystem's. Each op is bracketed by op_begin/op_end probe events so the
/// history comes from the same events whatever the target.
pub trait Target: Sync {
    /// Starts an op on the calling thread; its id is stamped into the data.
    fn begin_op(&self) -> OpGuard;
    fn write(&self, op: &OpGuard, offset: u64, data: &[u8]) -> Result<u64>;
    /// One O_APPEND write of `data.len()` bytes: the offset is the file's
    /// size, taken atomically with the write; `fill` stamps `data` for it
    /// before the data is written. Returns the bytes written.
    fn append(
        &self,
        op: &OpGuard,
        data: &mut [u8],
        fill: &mut dyn FnMut(u64, &mut [u8]),
    ) -> Result<u64>;
    /// A store of `data` at `offset` through a shared writable mapping
    /// (mmap, memcpy, munmap), as op `op`: bytes stored.
    fn map_write(&self, op: &OpGuard, offset: u64, data: &[u8]) -> Result<u64>;
    /// One pread as op `op`: bytes read (fewer at EOF).
    fn read(&self, op: &OpGuard, offset: u64, buf: &mut [u8]) -> Result<usize>;
    fn truncate(&self, size: u64) -> Result<()>;
    fn punch(&self, offset: u64, len: u64) -> Result<()>;
    /// fallocate mode 0 (or FALLOC_FL_KEEP_SIZE) over [offset, offset + len).
    fn fallocate(&self, offset: u64, len: u64, keep_size: bool) -> Result<()>;
    /// Inode number the events and the checker use for this file.
    fn ino(&self) -> u64;
    /// Called on each worker thread before its first op (e.g. to open
    /// per-thread perf counters, which count the calling thread).
    fn thread_started(&self, _thread: u32) {}
    /// Called on each worker thread after its last op.
    fn thread_finished(&self, _thread: u32) {}
    /// Polled before each op: true ends the run early (e.g. on Ctrl-C).
    fn should_stop(&self) -> bool {
        false
    }
}

/// A file of a mounted engine.
pub struct FsFile<'a> {
    pub fs: &'a Fs,
    pub ino: u64,
    /// Set (Ctrl-C, a front end's quit) to end the workload early.
    pub stop: Option<&'a AtomicBool>,
}

impl<'a> FsFile<'a> {
    /// Creates `path` afresh on `fs`: a file left by an earlier run holds
    /// stamps whose op ids this mount will reuse.
    pub fn create(fs: &'a Fs, path: &str, size: u64) -> Result<FsFile<'a>> {
        let free = fs.disk.geometry().free_blocks * lockline_engine::disk::BLOCK_SIZE;
        if size > free {
            return Err(Error::Invalid(format!(
                "the disk has {} MiB free, the workload's file needs {} MiB",
                free >> 20,
                size >> 20
            )));
        }
        if fs.open(path, false).is_ok() {
            fs.unlink(path)?;
        }
        Ok(FsFile {
            fs,
            ino: fs.open(path, true)?,
            stop: None,
        })
    }

    /// Ends the workload early once `stop` is set.
    pub fn with_stop(mut self, stop: Option<&'a AtomicBool>) -> Self {
        self.stop = stop;
        self
    }
}

impl Target for FsFile<'_> {
    fn begin_op(&self) -> OpGuard {
        self.fs.begin_op()
    }
    fn write(&self, op: &OpGuard, offset: u64, data: &[u8]) -> Result<u64> {
        self.fs
            .write_in(op, self.ino, offset, data)
            .map(|n| n as u64)
    }
    fn append(
        &self,
        op: &OpGuard,
        data: &mut [u8],
        fill: &mut dyn FnMut(u64, &mut [u8]),
    ) -> Result<u64> {
        self.fs
            .append_in(op, self.ino, data, fill)
            .map(|(_, n)| n as u64)
    }
    fn map_write(&self, op: &OpGuard, offset: u64, data: &[u8]) -> Result<u64> {
        self.fs
            .map_write_in(op, self.ino, offset, data)
            .map(|n| n as u64)
    }
    fn read(&self, op: &OpGuard, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.fs.read_in(op, self.ino, offset, buf)
    }
    fn truncate(&self, size: u64) -> Result<()> {
        self.fs.truncate(self.ino, size)
    }
    fn punch(&self, offset: u64, len: u64) -> Result<()> {
        self.fs.punch_hole(self.ino, offset, len)
    }
    fn fallocate(&self, offset: u64, len: u64, keep_size: bool) -> Result<()> {
        self.fs.fallocate(self.ino, offset, len, keep_size)
    }
    fn ino(&self) -> u64 {
        self.ino
    }
    fn thread_started(&self, thread: u32) {
        self.fs
            .attach_thread(lockline_engine::probe::ThreadRole::Worker, thread as u64);
    }
    fn should_stop(&self) -> bool {
        self.stop.is_some_and(|s| s.load(Ordering::Relaxed))
    }
}

/// Runs `spec` against `target`, preparing the file as the pattern asks.
/// `progress` may carry counts from earlier runs (rounds share one): the
/// outcome counts only this run's.
pub fn run(target: &dyn Target, spec: &RunSpec, progress: &Progress) -> Result<RunOutcome> {
    spec.validate()?;
    let (ops0, bytes0, errors0) = (
        progress.ops.load(Ordering::Relaxed),
        progress.bytes.load(Ordering::Relaxed),
        progress.errors.load(Ordering::Relaxed),
    );
    let pattern = spec.workload.pattern(spec.file_size, spec.write_size);
    match pattern.prepare() {
        Prepare::Empty => {}
        Prepare::Size(n) => target.truncate(n)?,
        Prepare::Preallocate(n) => target.fallocate(0, n, false)?,
    }
    let ino = target.ino();

    let budget = AtomicU64::new(match spec.stop {
        Stop::Ops(n) => n,
        Stop::Seconds(_) => u64::MAX,
    });
    let deadline = match spec.stop {
        Stop::Seconds(s) => Some(Instant::now() + Duration::from_secs_f64(s)),
        Stop::Ops(_) => None,
    };
    let stop = AtomicBool::new(false);
    let first_error = parking_lot::Mutex::new(None::<String>);
    let t0 = Instant::now();
    let writers_left = std::sync::atomic::AtomicU32::new(spec.threads);
    // Readers read flat out and would fill one budget at once: the
    // writers' own reads (fsx-mix reads back between its ops) keep theirs.
    let keeper = ReadKeeper::default();
    let own_reads = ReadKeeper::default();
    std::thread::scope(|s| {
        for reader in 0..spec.readers {
            let (writers_left, keeper, first_error) = (&writers_left, &keeper, &first_error);
            let pattern = &pattern;
            let thread = spec.threads + reader;
            s.spawn(move || {
                // Readers pick write-size, sector-aligned ranges of the
                // file's extent from their own stream.
                let mut t = ThreadCtx::new(spec.seed ^ 0x7265_6164, thread, spec.threads);
                let len = spec.write_size.clamp(512, 1 << 20) & !511;
                let span = spec.file_size.max(len);
                target.thread_started(thread);
                while writers_left.load(Ordering::Acquire) > 0 && !target.should_stop() {
                    let offset = (t.next_u64() % span.div_ceil(4096)) * 4096;
                    if let Err(e) = keeper.read(target, offset, len) {
                        progress.errors.fetch_add(1, Ordering::Relaxed);
                        first_error.lock().get_or_insert_with(|| e.to_string());
                    }
                    // Paced like the writers: a reader spinning while they
                    // think would fill the recorder with its own reads.
                    think(pattern.as_ref(), &mut t);
                }
                target.thread_finished(thread);
                lockline_engine::probe::recorder::flush_current_thread();
            });
        }
        for thread in 0..spec.threads {
            let (pattern, budget, stop, first_error) = (&pattern, &budget, &stop, &first_error);
            let keeper = &own_reads;
            let writers_left = &writers_left;
            s.spawn(move || {
                // Readers stop when the last writer is done, even if one
                // of them panics.
                struct Done<'a>(&'a std::sync::atomic::AtomicU32);
                impl Drop for Done<'_> {
                    fn drop(&mut self) {
                        self.0.fetch_sub(1, Ordering::Release);
                    }
                }
                let _done = Done(writers_left);
                let mut t = ThreadCtx::new(spec.seed, thread, spec.threads);
                let mut buf = vec![0u8; pattern.max_write() as usize];
                target.thread_started(thread);
                loop {
                    if stop.load(Ordering::Relaxed) || target.should_stop() {
                        break;
                    }
                    if budget
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
                        .is_err()
                    {
                        break;
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                    let op = pattern.next(&mut t);
                    t.n += 1;
                    let r = issue(target, op, thread, &mut buf, Some(keeper));
                    progress.ops.fetch_add(1, Ordering::Relaxed);
                    match r {
                        // Bytes written: a writer's own reads are not.
                        Ok(n) if !matches!(op, Op::Read { .. }) => {
                            progress.bytes.fetch_add(n, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(e) => {
                            progress.errors.fetch_add(1, Ordering::Relaxed);
                            first_error.lock().get_or_insert_with(|| e.to_string());
                        }
                    }
                    think(pattern.as_ref(), &mut t);
                }
                target.thread_finished(thread);
                lockline_engine::probe::recorder::flush_current_thread();
            });
        }
    });
    Ok(RunOutcome {
        ino,
        ops: progress.ops.load(Ordering::Relaxed) - ops0,
        bytes: progress.bytes.load(Ordering::Relaxed) - bytes0,
        errors: progress.errors.load(Ordering::Relaxed) - errors0,
        first_error: first_error.into_inner(),
        seconds: t0.elapsed().as_secs_f64(),
        reads_not_kept: keeper.not_kept.into_inner() + own_reads.not_kept.into_inner(),
        reads: {
            let mut r = keeper.reads.into_inner();
            r.extend(own_reads.reads.into_inner());
            r
        },
    })
}

/// The reads a run keeps for checking, up to [`MAX_READS`].
#[derive(Default)]
pub(crate) struct ReadKeeper {
    reads: parking_lot::Mutex<Vec<crate::check::ReadRecord>>,
    not_kept: AtomicU64,
}

impl ReadKeeper {
    /// One pread of `len` bytes at `offset` as an op of its own, kept for
    /// the check: bytes read.
    fn read(&self, target: &dyn Target, offset: u64, len: u64) -> Result<u64> {
        let g = target.begin_op();
        let mut buf = vec![0u8; len as usize];
        let n = target.read(&g, offset, &mut buf)?;
        buf.truncate(n);
        let mut kept = self.reads.lock();
        if kept.len() < MAX_READS {
            kept.push(crate::check::ReadRecord {
                op: g.op,
                offset,
                data: buf,
            });
        } else {
            self.not_kept.fetch_add(1, Ordering::Relaxed);
        }
        Ok(n as u64)
    }
}

/// Issues one op of worker `thread` on `target`, its data stamped with the
/// op's id; `buf` holds at least the pattern's largest write. A read is
/// kept for the check when there is a `keeper`. Returns the bytes written
/// or read.
pub(crate) fn issue(
    target: &dyn Target,
    op: Op,
    thread: u32,
    buf: &mut [u8],
    keeper: Option<&ReadKeeper>,
) -> Result<u64> {
    match op {
        Op::Read { offset, len } => match keeper {
            Some(k) => k.read(target, offset, len),
            None => {
                let g = target.begin_op();
                target
                    .read(&g, offset, &mut buf[..len as usize])
                    .map(|n| n as u64)
            }
        },
        Op::Write { offset, len } => {
            let g = target.begin_op();
            let data = &mut buf[..len as usize];
            stamp::fill(data, offset, g.op, thread);
            target.write(&g, offset, data)
        }
        Op::Append { len } => {
            let g = target.begin_op();
            let op = g.op;
            let data = &mut buf[..len as usize];
            target.append(&g, data, &mut |pos, d| stamp::fill(d, pos, op, thread))
        }
        Op::MapWrite { offset, len } => {
            let g = target.begin_op();
            let data = &mut buf[..len as usize];
            stamp::fill(data, offset, g.op, thread);
            target.map_write(&g, offset, data)
        }
        Op::Truncate { size } => target.truncate(size).map(|_| 0),
        Op::Allocate {
            offset,
            len,
            keep_size,
        } => target.fallocate(offset, len, keep_size).map(|_| 0),
        Op::Punch { offset, len } => target.punch(offset, len).map(|_| 0),
    }
}

/// Sleeps the pattern's think time between two ops of a thread.
fn think(pattern: &dyn Pattern, t: &mut ThreadCtx) {
    let us = pattern.think_us(t);
    if us > 0 {
        std::thread::sleep(Duration::from_micros(us));
    }
}

//! Deterministic schedules of known interleavings, forced through the
//! probe hook, with stamped data so the checker judges them and a recorder
//! so the trace shows them. harness/tests/{hazard,torn}.rs assert the
//! losses; the analysis tests assert that each culprit is named. The hook
//! is process-wide: one schedule at a time ([`SERIAL`]).
//!
//! [`early_exit_truncate`], the lockless path's hazard (ARCHITECTURE.md,
//! "The early-exit truncate hazard: the result"):
//!
//! - E extends the file: inode lock, add lock, a new folio at the old EOF,
//!   data copied; E is held just before it publishes i_size.
//! - N writes 2 MiB inside i_size with nothing cached past 1 MiB: the
//!   contiguous folios stop at 1 MiB, so the pass bails out with
//!   need-inode-lock. Its `last_folio_pos` still holds the i_size it read on
//!   entry, which equals the current i_size, so it calls
//!   truncate_pagecache(i_size) with neither the inode lock nor the block
//!   lock, and waits on E's folio lock.
//! - E is released: it publishes the new i_size, dirties its folio, unlocks.
//! - N's truncation, whose range was fixed at the old i_size, now drops E's
//!   dirty folio. The file's size says E's bytes exist; they read as zeros.
//!
//! N's early exit has three causes ([`EarlyExit`]). need-inode-lock exists
//! only in the lockless build. A folio allocation that fails and a read
//! error (bch2_read_single_folio) leave __bch2_buffered_write by the same
//! `goto out` in *every* build, before `last_folio_pos` is set: in the
//! reduced patch (lockless-min) N holds no inode lock there either, so the
//! same truncation drops E's write.

use crate::check::{self, CheckReport, EngineFile};
use crate::history::History;
use crate::stamp;
use hold::Hold;
use lockline_engine::fs::{Fs, MountOptions};
use lockline_engine::probe::points::{set_hook, Hook};
use lockline_engine::probe::recorder::Recorder;
use lockline_engine::probe::{Event, EventKind, LockClass, ThreadRole};
use lockline_engine::{Build, Knobs, Result};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::Duration;

/// Held while a schedule runs: the hook sees every thread's events.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub const OLD_EOF: u64 = 4 << 20;
pub const E_LEN: usize = 8192;
pub const N_LEN: usize = 2 << 20;

/// Why N leaves its pass early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EarlyExit {
    /// 2 MiB with nothing cached past 1 MiB: -BCH_ERR_need_inode_lock
    /// (lockless only).
    NeedInodeLock,
    /// 8 KiB at 0, uncached: the first folio allocation fails (-ENOMEM).
    AllocFailure,
    /// 512 bytes at 100, uncached: reading the partial first folio fails
    /// (-EIO).
    ReadError,
}

impl EarlyExit {
    fn write(self) -> (u64, usize) {
        match self {
            EarlyExit::NeedInodeLock => (0, N_LEN),
            EarlyExit::AllocFailure => (0, 8192),
            EarlyExit::ReadError => (512, 512),
        }
    }
    fn arm(self) {
        match self {
            EarlyExit::NeedInodeLock => {}
            EarlyExit::AllocFailure => lockline_engine::fault::fail_next_alloc(),
            EarlyExit::ReadError => lockline_engine::fault::fail_next_read(),
        }
    }
}

/// What the schedule left behind.
pub struct HazardRun {
    /// Whether N really waited while E was parked (else the interleaving
    /// was not the one described).
    pub schedule_reached: bool,
    pub e_op: u64,
    pub n_op: u64,
    pub e_tid: u32,
    pub n_tid: u32,
    pub e_result: usize,
    /// N's result: bytes, or the error of its early exit.
    pub n_result: std::result::Result<usize, i32>,
    pub size: u64,
    pub e_bytes_after: Vec<u8>,
    pub e_bytes_after_remount: Vec<u8>,
    /// The verifying read of E's range after both writers returned, checked
    /// against the history as it stood then (None: it saw E's data).
    pub read_check: Option<CheckReport>,
    /// The file's size after remount: what the disk kept.
    pub size_after_remount: u64,
    /// The checker's verdicts: after the run and after remount.
    pub checks: Vec<CheckReport>,
    pub events: Vec<Event>,
    pub ino: u64,
}

/// One workload-style write on the calling thread: announced as worker
/// `thread` (its tid published in `tid` for the hook), stamped with its op
/// id; `before` runs just before the write (to arm an injected fault).
fn stamped_write(
    fs: &Fs,
    ino: u64,
    thread: u32,
    pos: u64,
    len: usize,
    tid: &AtomicU32,
    before: impl FnOnce(),
) -> (u64, Result<usize>) {
    // SAFETY: gettid has no preconditions.
    tid.store(unsafe { libc::gettid() } as u32, Ordering::SeqCst);
    fs.attach_thread(ThreadRole::Worker, thread as u64);
    let g = fs.begin_op();
    let mut buf = vec![0u8; len];
    stamp::fill(&mut buf, pos, g.op, thread);
    before();
    (g.op, fs.write_in(&g, ino, pos, &buf))
}

/// Runs the schedule on a freshly made lockline disk at `disk`. The hook is
/// process-wide: callers must not run two schedules at once.
pub fn early_exit_truncate(disk: &Path, build: Build, cause: EarlyExit) -> Result<HazardRun> {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rec = Recorder::new(1 << 22);
    let opts = MountOptions {
        build,
        knobs: Knobs::quiet(),
        recorder: Some(rec.clone()),
    };
    let fs = Fs::mount(disk, opts.clone())?;
    fs.attach_thread(ThreadRole::Main, 0);
    let ino = fs.open("/overlay", true)?;
    fs.truncate(ino, OLD_EOF)?;

    // E held at its inode lock (its i_size publish) until N waits on some
    // lock.
    let hold = Hold::install(
        |ev| {
            ev.kind() == Some(EventKind::LockAcquired) && ev.lock_class() == Some(LockClass::ILock)
        },
        |ev| ev.kind() == Some(EventKind::LockWait),
    );
    let (e_tid, n_tid) = (&hold.held_tid, &hold.other_tid);

    // Each writer stamps its data with its own op id, as workloads do.
    let write = |thread: u32, pos: u64, len: usize, tid: &AtomicU32| {
        let arm = || {
            if thread == 1 {
                cause.arm();
            }
        };
        stamped_write(&fs, ino, thread, pos, len, tid, arm)
    };
    let start = Barrier::new(2);
    let result = std::thread::scope(|s| {
        let e = s.spawn(|| write(0, OLD_EOF, E_LEN, e_tid));
        // N starts once E is parked at its publish point.
        hold.wait_held();
        let n = s.spawn(|| {
            start.wait();
            let (pos, len) = cause.write();
            write(1, pos, len, n_tid)
        });
        start.wait();
        let n = n.join().expect("N panicked");
        let e = e.join().expect("E panicked");
        (e, n)
    });
    let schedule_reached = hold.release();
    let ((e_op, e_result), (n_op, n_result)) = (result.0, result.1);
    let e_result = e_result?;
    let n_result = n_result.map_err(|e| e.errno());

    let size = fs.size(ino)?;
    // A verifying read of E's range, as a `--readers` thread makes them.
    let read = verifying_read(&fs, ino, OLD_EOF, E_LEN)?;
    let e_bytes_after = read.data.clone();
    let events = rec.drain();
    let history = History::from_events(&events);
    let read_check = check::check_read(&history, ino, &read);
    let end = check_and_remount(fs, disk, opts, &rec, "/overlay", &history, events)?;
    // What the disk kept of E's range (zeros past the end of the file).
    let mut e_bytes_after_remount = vec![0u8; E_LEN];
    if let Some(kept) = end.after_remount.get(OLD_EOF as usize..) {
        let n = kept.len().min(E_LEN);
        e_bytes_after_remount[..n].copy_from_slice(&kept[..n]);
    }
    let size_after_remount = end.after_remount.len() as u64;
    let (checks, events) = (end.checks, end.events);
    Ok(HazardRun {
        schedule_reached,
        e_op,
        n_op,
        e_tid: e_tid.load(Ordering::SeqCst),
        n_tid: n_tid.load(Ordering::SeqCst),
        e_result,
        n_result,
        size,
        e_bytes_after,
        e_bytes_after_remount,
        size_after_remount,
        read_check,
        checks,
        events,
        ino,
    })
}

/// A read of `len` bytes at `offset` as an op of its own, kept for
/// `check::check_read`, as a `--readers` thread makes them.
fn verifying_read(fs: &Fs, ino: u64, offset: u64, len: usize) -> Result<check::ReadRecord> {
    let g = fs.begin_op();
    let mut data = vec![0u8; len];
    fs.read_in(&g, ino, offset, &mut data)?;
    Ok(check::ReadRecord {
        op: g.op,
        offset,
        data,
    })
}

/// How a schedule ends: the whole file checked against the history after
/// the run, after fsync, and after unmount and a fresh mount.
struct Ending {
    /// The three checks, each with its folios annotated.
    checks: Vec<CheckReport>,
    /// The whole file as the fresh mount reads it.
    after_remount: Vec<u8>,
    /// `events` and those of both mounts since, sorted.
    events: Vec<Event>,
}

/// Checks `path` (open as `fs`) against `history` (`check::check_round`),
/// then unmounts the fresh mount and annotates the checks with every
/// event since.
fn check_and_remount(
    mut fs: Arc<Fs>,
    disk: &Path,
    opts: MountOptions,
    rec: &Arc<Recorder>,
    path: &str,
    history: &History,
    mut events: Vec<Event>,
) -> Result<Ending> {
    let ino = fs.open(path, false)?;
    let mut mounted = true;
    let mut file = EngineFile {
        fs: &mut fs,
        mounted: &mut mounted,
        disk,
        opts: &opts,
        ino,
        retired: None,
    };
    let check::Checked { mut checks, kept } =
        check::check_round(&mut file, history, ino, 0, |_| {})?;
    fs.unmount()?;
    events.extend(rec.drain());
    events.sort_by_key(|e| (e.ts_ns, e.tid));
    for c in &mut checks {
        check::annotate_folios(c, &events);
    }
    Ok(Ending {
        checks,
        after_remount: kept,
        events,
    })
}

const MIB: u64 = 1 << 20;

/// What [`two_writers`] left behind.
pub struct TwoWriters {
    pub a_op: u64,
    pub b_op: u64,
    /// The check of the content read back right after the writes.
    pub check: CheckReport,
    pub events: Vec<Event>,
    /// Content digests of both writes and of the check's read-back.
    pub extents: Vec<lockline_engine::probe::provenance::Extent>,
    pub ino: u64,
}

/// Two writers in one interleaving: writer A copies a 2 MiB write in two
/// passes (the page cache creates folios only 1 MiB ahead of a write) and
/// is parked between them; writer B writes [512 KiB, 1.5 MiB), across A's
/// pass boundary. Whether B can run in A's gap depends on the build's lock
/// protocol (lockless-min: it can, and the write tears). The file starts
/// `initial` bytes long.
pub fn two_writers(disk: &Path, build: Build, knobs: Knobs, initial: u64) -> Result<TwoWriters> {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rec = Recorder::new(1 << 22);
    rec.record_digests(true);
    let fs = Fs::mount(
        disk,
        MountOptions {
            build,
            knobs,
            recorder: Some(rec.clone()),
        },
    )?;
    fs.attach_thread(ThreadRole::Main, 0);
    let ino = fs.open("/t", true)?;
    fs.truncate(ino, initial)?;

    let (a_tid, b_tid) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    // 0: A running, 1: A parked between passes, 2: A may go on
    let state = Arc::new((Mutex::new(0u8), Condvar::new()));
    let hook: Hook = {
        let (a_tid, b_tid, state) = (a_tid.clone(), b_tid.clone(), state.clone());
        Arc::new(move |ev| {
            let (m, cv) = &*state;
            // A pass ends by unlocking its folios from the last to the
            // first; folio 0 going means A holds no folio lock.
            if ev.tid == a_tid.load(Ordering::SeqCst)
                && ev.kind() == Some(EventKind::LockReleased)
                && ev.lock_class() == Some(LockClass::Folio)
                && ev.folio == 0
            {
                let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
                if *g == 0 {
                    *g = 1;
                    cv.notify_all();
                    let _ = cv.wait_timeout_while(g, Duration::from_secs(5), |s| *s != 2);
                }
            }
            // B blocked on a lock A holds: let A go on.
            if ev.tid == b_tid.load(Ordering::SeqCst) && ev.kind() == Some(EventKind::LockWait) {
                *m.lock().unwrap_or_else(|p| p.into_inner()) = 2;
                cv.notify_all();
            }
        })
    };
    set_hook(Some(hook));
    let write = |tid: &AtomicU32, off: u64, len: u64, thread: u32| -> Result<(u64, usize)> {
        let (op, r) = stamped_write(&fs, ino, thread, off, len as usize, tid, || {});
        Ok((op, r?))
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| write(&a_tid, 0, 2 * MIB, 0));
        {
            let (m, cv) = &*state;
            let g = m.lock().unwrap_or_else(|p| p.into_inner());
            let _ = cv.wait_timeout_while(g, Duration::from_secs(5), |s| *s == 0);
        }
        let b = s.spawn(|| write(&b_tid, MIB / 2, MIB, 1));
        // B either finishes in A's gap or blocks behind A (the hook then
        // releases A); a B that finished releases A here.
        while !b.is_finished() && *state.0.lock().unwrap_or_else(|p| p.into_inner()) != 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        *state.0.lock().unwrap_or_else(|p| p.into_inner()) = 2;
        state.1.notify_all();
        (a.join().expect("A panicked"), b.join().expect("B panicked"))
    });
    set_hook(None);
    let ((a_op, a_n), (b_op, b_n)) = (a?, b?);
    if a_n != 2 * MIB as usize || b_n != MIB as usize {
        return Err(lockline_engine::Error::Invalid(format!(
            "short writes: A {a_n}, B {b_n}"
        )));
    }
    let mut content = vec![0u8; fs.size(ino)? as usize];
    let tag = check::provenance::check_tag(check::AFTER_RUN);
    lockline_engine::probe::provenance::checking(tag, || fs.read(ino, 0, &mut content))?;
    let mut events = rec.drain();
    let history = History::from_events(&events);
    let mut check = check::check(&history, ino, &content, check::AFTER_RUN);
    fs.unmount()?;
    events.extend(rec.drain());
    events.sort_by_key(|e| (e.ts_ns, e.tid));
    check::annotate_folios(&mut check, &events);
    Ok(TwoWriters {
        a_op,
        b_op,
        check,
        events,
        extents: rec.drain_extents(),
        ino,
    })
}

mod hold;
mod writeback_cut;
pub use writeback_cut::{writeback_cut, CutRun, CUT, EXTEND, W_LEN, W_POS};

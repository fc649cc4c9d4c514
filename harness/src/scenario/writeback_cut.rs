//! A truncate down that meets a writeback IO in flight, then an extend:
//! the schedule behind issue 21 (fsx's READ BAD DATA on the locked build).
//!
//! - W writes [W_POS, W_POS + W_LEN) into an empty file (size 0 on disk).
//! - F, one flusher pass, takes W's folio, clears its dirty bit, starts
//!   writeback, unlocks it and is held where it builds the IO
//!   (FolioWritebackIo), before anything reaches the disk.
//! - T truncates to CUT, below W: i_size goes down first
//!   (truncate_setsize), then T waits on W's folio's writeback.
//! - F is released by T's i_size change: its IO writes W's blocks and
//!   publishes the size it may carry, which is now CUT; the writeback ends.
//! - T drops the folio and cuts the disk at CUT.
//! - The file is extended to EXTEND (ftruncate up) and [CUT, EXTEND) is
//!   read: zeros are due there, since T cut W's bytes.
//!
//! Before the fix the disk's cut freed only blocks below the size it had
//! recorded, which F had just published as CUT: W's blocks survived and the
//! extend brought them back. `Inject::cut_to_recorded_size` plants that
//! code again.
//!
//! Every build takes the same locks here (truncate takes the inode and
//! block locks; writeback takes none of them), so the schedule is the same
//! on all three.

use super::hold::Hold;
use super::{check_and_remount, verifying_read, SERIAL};
use crate::check::{self, CheckReport};
use crate::history::History;
use crate::stamp;
use lockline_engine::config::Inject;
use lockline_engine::fs::{Fs, MountOptions};
use lockline_engine::probe::recorder::Recorder;
use lockline_engine::probe::{Event, EventKind, ThreadRole};
use lockline_engine::writeback::{flush_all, SyncMode};
use lockline_engine::{Build, Knobs, Result};
use std::path::Path;
use std::sync::atomic::Ordering;

pub const W_POS: u64 = 48 << 10;
pub const W_LEN: usize = 8 << 10;
/// Not block-aligned: the disk's cut also zeroes a partial block.
pub const CUT: u64 = 20_000;
pub const EXTEND: u64 = 64 << 10;

/// What the schedule left behind.
pub struct CutRun {
    /// Whether F really was held until T changed i_size.
    pub schedule_reached: bool,
    pub w_op: u64,
    pub t_op: u64,
    pub extend_op: u64,
    /// [CUT, EXTEND) read right after the extend, and after remount.
    pub gap: Vec<u8>,
    pub gap_after_remount: Vec<u8>,
    /// The check of that read against the history.
    pub read_check: Option<CheckReport>,
    /// The checker's verdicts on the whole file: after the run, after
    /// remount.
    pub checks: Vec<CheckReport>,
    pub events: Vec<Event>,
    /// Content digests of every write, read and check.
    pub extents: Vec<lockline_engine::probe::provenance::Extent>,
    pub ino: u64,
}

/// Runs the schedule on a freshly made lockline disk at `disk`.
pub fn writeback_cut(disk: &Path, build: Build, inject: Inject) -> Result<CutRun> {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let rec = Recorder::new(1 << 22);
    rec.record_digests(true);
    let opts = MountOptions {
        build,
        knobs: Knobs {
            inject,
            ..Knobs::quiet()
        },
        recorder: Some(rec.clone()),
    };
    let fs = Fs::mount(disk, opts.clone())?;
    fs.attach_thread(ThreadRole::Main, 0);
    let ino = fs.open("/cut", true)?;

    let w_op = {
        fs.attach_thread(ThreadRole::Worker, 0);
        let g = fs.begin_op();
        let mut buf = vec![0u8; W_LEN];
        stamp::fill(&mut buf, W_POS, g.op, 0);
        fs.write_in(&g, ino, W_POS, &buf)?;
        g.op
    };

    // F held at its writeback IO, with the IO unbuilt, until T changes
    // i_size.
    let hold = Hold::install(
        |ev| ev.kind() == Some(EventKind::FolioWritebackIo),
        |ev| ev.kind() == Some(EventKind::IsizeChanged),
    );
    let (f_tid, t_tid) = (&hold.held_tid, &hold.other_tid);
    let gettid = || {
        // SAFETY: gettid has no preconditions.
        unsafe { libc::gettid() as u32 }
    };
    let t_op = std::thread::scope(|s| {
        let f = s.spawn(|| {
            f_tid.store(gettid(), Ordering::SeqCst);
            fs.attach_thread(ThreadRole::Flusher, 0);
            flush_all(&fs, SyncMode::None);
        });
        // T starts once F is held with the IO unbuilt.
        hold.wait_held();
        let t = s.spawn(|| {
            t_tid.store(gettid(), Ordering::SeqCst);
            fs.attach_thread(ThreadRole::Worker, 1);
            let g = fs.begin_op();
            fs.truncate_in(&g, ino, CUT).map(|()| g.op)
        });
        let t = t.join().expect("T panicked");
        f.join().expect("F panicked");
        t
    });
    let schedule_reached = hold.release();
    let t_op = t_op?;

    fs.attach_thread(ThreadRole::Worker, 0);
    let extend_op = {
        let g = fs.begin_op();
        fs.truncate_in(&g, ino, EXTEND)?;
        g.op
    };
    // The check reads whole sectors: from the sector holding CUT.
    let from = CUT / 512 * 512;
    let read = verifying_read(&fs, ino, from, (EXTEND - from) as usize)?;
    let gap = read.data[(CUT - from) as usize..].to_vec();
    let events = rec.drain();
    let history = History::from_events(&events);
    let read_check = check::check_read(&history, ino, &read);
    let end = check_and_remount(fs, disk, opts, &rec, "/cut", &history, events)?;
    let gap_after_remount = end
        .after_remount
        .get(CUT as usize..EXTEND as usize)
        .unwrap_or_default()
        .to_vec();
    let (checks, events) = (end.checks, end.events);
    Ok(CutRun {
        schedule_reached,
        w_op,
        t_op,
        extend_op,
        gap,
        gap_after_remount,
        read_check,
        checks,
        events,
        extents: rec.drain_extents(),
        ino,
    })
}

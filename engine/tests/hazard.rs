//! The early-exit truncate hazard of the lockless path (DESIGN.md), driven
//! into its interleaving deterministically with a schedule hook:
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

mod common;

use common::*;
use lockline_engine::probe::points::{set_hook, Hook};
use lockline_engine::probe::{EventKind, LockClass};
use lockline_engine::Build;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::Duration;

const OLD_EOF: u64 = 4 << 20;
const E_LEN: usize = 8192;

struct Outcome {
    e_result: usize,
    size: u64,
    e_bytes_after: Vec<u8>,
    e_bytes_after_remount: Vec<u8>,
    schedule_reached: bool,
}

fn run(build: Build) -> Outcome {
    let d = disk(64 << 20);
    let fs = mount(&d, build, quiet_knobs());
    let ino = fs.open("/overlay", true).unwrap();
    fs.truncate(ino, OLD_EOF).unwrap();

    let e_tid = Arc::new(AtomicU32::new(0));
    let n_tid = Arc::new(AtomicU32::new(0));
    // (E parked at its i_size publish, N waiting on some lock)
    let state = Arc::new((Mutex::new((false, false)), Condvar::new()));
    let reached = Arc::new(Mutex::new(false));
    let hook: Hook = {
        let (e_tid, n_tid, state, reached) =
            (e_tid.clone(), n_tid.clone(), state.clone(), reached.clone());
        Arc::new(move |ev| {
            let class = ev.lock_class();
            if ev.tid == e_tid.load(Ordering::SeqCst)
                && ev.kind() == Some(EventKind::LockAcquired)
                && class == Some(LockClass::ILock)
            {
                let (m, cv) = &*state;
                let mut g = m.lock().unwrap();
                g.0 = true;
                cv.notify_all();
                let (g, to) = cv
                    .wait_timeout_while(g, Duration::from_secs(5), |s| !s.1)
                    .unwrap();
                *reached.lock().unwrap() = !to.timed_out() && g.1;
            }
            if ev.tid == n_tid.load(Ordering::SeqCst) && ev.kind() == Some(EventKind::LockWait) {
                let (m, cv) = &*state;
                m.lock().unwrap().1 = true;
                cv.notify_all();
            }
        })
    };
    set_hook(Some(hook));

    let e_data = pattern(0xe, OLD_EOF, E_LEN);
    let start = Arc::new(Barrier::new(2));
    let e_result = std::thread::scope(|s| {
        let e = s.spawn(|| {
            e_tid.store(unsafe { libc::gettid() } as u32, Ordering::SeqCst);
            fs.write(ino, OLD_EOF, &e_data).unwrap()
        });
        // N starts once E is parked at its publish point.
        {
            let (m, cv) = &*state;
            let g = m.lock().unwrap();
            let _ = cv
                .wait_timeout_while(g, Duration::from_secs(5), |s| !s.0)
                .unwrap();
        }
        let n = s.spawn(|| {
            n_tid.store(unsafe { libc::gettid() } as u32, Ordering::SeqCst);
            start.wait();
            fs.write(ino, 0, &pattern(0x4, 0, 2 << 20)).unwrap()
        });
        start.wait();
        assert_eq!(n.join().unwrap(), 2 << 20);
        e.join().unwrap()
    });
    set_hook(None);

    let size = fs.size(ino).unwrap();
    let mut e_bytes_after = vec![0u8; E_LEN];
    fs.read(ino, OLD_EOF, &mut e_bytes_after).unwrap();
    fs.fsync(ino).unwrap();
    fs.unmount().unwrap();
    let fs = mount(&d, build, quiet_knobs());
    let ino = fs.open("/overlay", false).unwrap();
    let mut e_bytes_after_remount = vec![0u8; E_LEN];
    fs.read(ino, OLD_EOF, &mut e_bytes_after_remount).unwrap();
    fs.unmount().unwrap();
    let schedule_reached = *reached.lock().unwrap();
    Outcome {
        e_result,
        size,
        e_bytes_after,
        e_bytes_after_remount,
        schedule_reached,
    }
}

#[test]
fn early_exit_truncate_drops_an_extending_write_only_when_lockless() {
    let e_data = pattern(0xe, OLD_EOF, E_LEN);

    let lockless = run(Build::Lockless);
    assert!(
        lockless.schedule_reached,
        "N never waited while E was parked"
    );
    assert_eq!(lockless.e_result, E_LEN, "E was acknowledged in full");
    assert_eq!(
        lockless.size,
        OLD_EOF + E_LEN as u64,
        "i_size covers E's write"
    );
    assert!(
        lockless.e_bytes_after.iter().all(|b| *b == 0),
        "lockless: E's acknowledged bytes should read back as zeros (dropped)"
    );
    assert!(lockless.e_bytes_after_remount.iter().all(|b| *b == 0));

    // The same schedule on the locked build: N waits for the inode lock
    // before touching the page cache, so nothing is lost.
    let locked = run(Build::Locked);
    assert!(locked.schedule_reached);
    assert_eq!(locked.e_bytes_after, e_data);
    assert_eq!(locked.e_bytes_after_remount, e_data);
}

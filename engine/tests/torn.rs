//! Two writers driven into one interleaving with a schedule hook: writer A
//! copies a 2 MiB write in two passes (the page cache creates folios only
//! 1 MiB ahead of a write) and is parked between them; writer B writes
//! [512 KiB, 1.5 MiB), across A's pass boundary. Whether B can run in A's
//! gap depends on the lock protocol of the build; the checker judges the
//! result from the recorded history.

mod common;

use common::*;
use lockline_engine::check::{self, Class};
use lockline_engine::config::Inject;
use lockline_engine::history::History;
use lockline_engine::probe::points::{set_hook, Hook};
use lockline_engine::probe::{EventKind, LockClass};
use lockline_engine::stamp;
use lockline_engine::{Build, Knobs};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const MIB: u64 = 1 << 20;

fn gettid() -> u32 {
    unsafe { libc::gettid() as u32 }
}

/// The schedule hook is process-wide: one schedule at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs the schedule on a file of `initial` bytes; returns the check.
fn two_writers(build: Build, knobs: Knobs, initial: u64) -> check::CheckReport {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let d = disk(64 << 20);
    let (fs, rec) = mount_recorded(&d, build, knobs);
    let ino = fs.open("/t", true).unwrap();
    fs.truncate(ino, initial).unwrap();

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
                let mut g = m.lock().unwrap();
                if *g == 0 {
                    *g = 1;
                    cv.notify_all();
                    let _ = cv
                        .wait_timeout_while(g, Duration::from_secs(5), |s| *s != 2)
                        .unwrap();
                }
            }
            // B blocked on a lock A holds: let A go on.
            if ev.tid == b_tid.load(Ordering::SeqCst) && ev.kind() == Some(EventKind::LockWait) {
                *m.lock().unwrap() = 2;
                cv.notify_all();
            }
        })
    };
    set_hook(Some(hook));
    let write = |tid: &AtomicU32, off: u64, len: u64, thread: u32| {
        tid.store(gettid(), Ordering::SeqCst);
        let g = fs.begin_op();
        let mut buf = vec![0u8; len as usize];
        stamp::fill(&mut buf, off, g.op, thread);
        fs.write_in(&g, ino, off, &buf).unwrap()
    };
    std::thread::scope(|s| {
        let a = s.spawn(|| write(&a_tid, 0, 2 * MIB, 0));
        {
            let (m, cv) = &*state;
            let g = m.lock().unwrap();
            let _ = cv
                .wait_timeout_while(g, Duration::from_secs(5), |s| *s == 0)
                .unwrap();
        }
        let b = s.spawn(|| write(&b_tid, MIB / 2, MIB, 1));
        // B either finishes in A's gap or blocks behind A (the hook then
        // releases A); a B that finished releases A here.
        while !b.is_finished() && *state.0.lock().unwrap() != 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        *state.0.lock().unwrap() = 2;
        state.1.notify_all();
        assert_eq!(b.join().unwrap(), MIB as usize);
        assert_eq!(a.join().unwrap(), 2 * MIB as usize);
    });
    set_hook(None);
    let history = History::from_events(&rec.drain());
    let content = read_all(&fs, ino);
    let r = check::check(&history, ino, &content, check::AFTER_RUN);
    fs.unmount().unwrap();
    r
}

fn assert_torn(r: &check::CheckReport) {
    assert!(r.counts.torn > 0, "{r}");
    let v = r
        .violations
        .iter()
        .find(|v| v.class == Class::Torn)
        .unwrap();
    assert_eq!(v.ops.len(), 2, "{}", v.explanation);
}

#[test]
fn lockless_min_tears_a_multi_pass_write() {
    // Inside i_size: lockless-min takes no inode lock and holds nothing
    // across passes, so B lands between A's passes.
    assert_torn(&two_writers(Build::LocklessMin, quiet_knobs(), 4 * MIB));
    // lockless restarts a write its pass cannot cover under the inode lock
    // before copying anything; locked holds the inode lock throughout.
    for build in [Build::Lockless, Build::Locked] {
        let r = two_writers(build, quiet_knobs(), 4 * MIB);
        assert!(r.is_clean(), "{build}: {r}");
    }
}

#[test]
fn planted_isize_before_copy_tears_an_extending_write() {
    // From an empty file A extends under the inode lock. With i_size
    // published before the copy, B believes it extends nothing, skips the
    // inode lock and lands between A's passes.
    let mut inject = Inject::default();
    inject.enable("isize-before-copy").unwrap();
    let buggy = Knobs {
        inject,
        ..quiet_knobs()
    };
    assert_torn(&two_writers(Build::Lockless, buggy, 0));
    // Without the bug B sees that it extends i_size, takes the inode lock
    // and waits for A.
    let r = two_writers(Build::Lockless, quiet_knobs(), 0);
    assert!(r.is_clean(), "{r}");
}

//! Stores through a shared mapping (page_fault.rs: bch2_page_fault and
//! bch2_page_mkwrite): the data lands and survives writeback and remount,
//! a store past EOF faults without changing anything, and a store whose
//! mkwrite comes after a truncate cut its page fails instead of bringing
//! cut bytes back.

mod common;

use common::*;
use lockline_engine::probe::points::{set_hook, Hook};
use lockline_engine::probe::EventKind;
use lockline_engine::{Build, Knobs};
use lockline_harness::check;
use lockline_harness::history::History;
use lockline_harness::scenario::SERIAL;
use lockline_harness::stamp;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[test]
fn a_mapped_store_lands_and_survives_remount() {
    for build in Build::ALL {
        let d = disk(64 << 20);
        let (fs, rec) = mount_recorded(&d, build, Knobs::quiet());
        let ino = fs.open("/m", true).unwrap();
        fs.write(ino, 0, &[0x11; 16384]).unwrap();
        let g = fs.begin_op();
        let mut data = vec![0u8; 6144];
        stamp::fill(&mut data, 1024, g.op, 0);
        assert_eq!(fs.map_write_in(&g, ino, 1024, &data).unwrap(), 6144);
        drop(g);
        let mut back = vec![0u8; 6144];
        fs.read(ino, 1024, &mut back).unwrap();
        assert_eq!(back, data, "{build:?}");
        fs.fsync(ino).unwrap();
        let events = rec.drain();
        // Two pages, two write faults; a fault takes the add lock, never
        // the inode lock.
        let mkwrites = events
            .iter()
            .filter(|e| e.kind() == Some(EventKind::PageMkwrite))
            .count();
        assert_eq!(mkwrites, 2, "{build:?}");
        fs.unmount().unwrap();
        let fs = mount(&d, build, Knobs::quiet());
        let ino = fs.open("/m", false).unwrap();
        fs.read(ino, 1024, &mut back).unwrap();
        assert_eq!(back, data, "{build:?}: after remount");
        fs.unmount().unwrap();
    }
}

#[test]
fn a_store_past_eof_faults_and_changes_nothing() {
    let d = disk(64 << 20);
    let fs = mount(&d, Build::Locked, Knobs::quiet());
    let ino = fs.open("/m", true).unwrap();
    fs.write(ino, 0, &[0x22; 4096]).unwrap();
    let g = fs.begin_op();
    let e = fs.map_write_in(&g, ino, 8192, &[1; 512]).unwrap_err();
    assert_eq!(e.errno(), libc::EFAULT);
    // Straddling EOF: the first page takes the bytes, the next faults.
    assert_eq!(fs.map_write_in(&g, ino, 3072, &[3; 2048]).unwrap(), 1024);
    assert_eq!(fs.size(ino).unwrap(), 4096, "a store never extends");
    fs.unmount().unwrap();
}

/// The store's read fault finds the page; a truncate below it runs before
/// its write fault; mkwrite then finds the folio gone and the store fails.
/// After an extend the range reads zeros and the checker agrees.
#[test]
fn mkwrite_after_a_truncate_cut_the_page_fails_the_store() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let d = disk(64 << 20);
    let (fs, rec) = mount_recorded(&d, Build::Locked, Knobs::quiet());
    let ino = fs.open("/m", true).unwrap();
    {
        let g = fs.begin_op();
        let mut data = vec![0u8; 65536];
        stamp::fill(&mut data, 0, g.op, 0);
        fs.write_in(&g, ino, 0, &data).unwrap();
    }
    let store_tid = Arc::new(AtomicU32::new(0));
    // (store parked between its faults, truncate done)
    let state = Arc::new((Mutex::new((false, false)), Condvar::new()));
    let hook: Hook = {
        let (store_tid, state) = (store_tid.clone(), state.clone());
        Arc::new(move |ev| {
            // The read fault has returned, its add lock dropped.
            if ev.tid == store_tid.load(Ordering::SeqCst) && ev.kind() == Some(EventKind::PageFault)
            {
                let (m, cv) = &*state;
                let mut g = m.lock().unwrap();
                if !g.0 {
                    g.0 = true;
                    cv.notify_all();
                    let _ = cv.wait_timeout_while(g, Duration::from_secs(5), |s| !s.1);
                }
            }
        })
    };
    set_hook(Some(hook));
    let store = std::thread::scope(|s| {
        let h = s.spawn(|| {
            // SAFETY: gettid has no preconditions.
            store_tid.store(unsafe { libc::gettid() } as u32, Ordering::SeqCst);
            let g = fs.begin_op();
            let mut data = vec![0u8; 4096];
            stamp::fill(&mut data, 40960, g.op, 1);
            fs.map_write_in(&g, ino, 40960, &data)
                .map_err(|e| e.errno())
        });
        let (m, cv) = &*state;
        let g = m.lock().unwrap();
        let (mut g, _) = cv
            .wait_timeout_while(g, Duration::from_secs(5), |s| !s.0)
            .unwrap();
        assert!(g.0, "the store never reached its write fault");
        drop(g);
        fs.truncate(ino, 20000).unwrap();
        g = m.lock().unwrap();
        g.1 = true;
        cv.notify_all();
        drop(g);
        h.join().unwrap()
    });
    set_hook(None);
    assert_eq!(store, Err(libc::EFAULT));
    fs.truncate(ino, 65536).unwrap();
    let mut content = vec![0u8; 65536];
    fs.read(ino, 0, &mut content).unwrap();
    assert!(content[20000..].iter().all(|b| *b == 0));
    let history = History::from_events(&rec.drain());
    let c = check::check(&history, ino, &content, check::AFTER_RUN);
    assert!(c.violations.is_empty(), "{c}");
    fs.unmount().unwrap();
}

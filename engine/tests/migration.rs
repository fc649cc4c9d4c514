//! Migration modes and the refcount freeze (mm/migrate.c): async skips a
//! locked folio, sync-light sleeps on it, sync also waits for writeback; an
//! extra reference (someone between a lookup and its put) makes migration
//! fail; dirty folios move with their data and dirty state.

mod common;
use common::*;
use lockline_engine::config::MigrateMode;
use lockline_engine::mm::migrate::migrate_folio;
use lockline_engine::{Build, Knobs};
use std::time::{Duration, Instant};

fn knobs(mode: MigrateMode) -> Knobs {
    Knobs {
        migrate_mode: mode,
        ..Knobs::quiet()
    }
}

/// A mounted disk with one 64 KiB file written (dirty, one order-4 folio).
fn setup(mode: MigrateMode) -> (TestDisk, std::sync::Arc<lockline_engine::Fs>, u64) {
    let d = disk(64 << 20);
    let fs = mount(&d, Build::Locked, knobs(mode));
    let ino = fs.open("/f", true).unwrap();
    fs.write(ino, 0, &[0x5a; 65536]).unwrap();
    (d, fs, ino)
}

#[test]
fn a_dirty_folio_moves_with_its_data_and_dirty_state() {
    let (_d, fs, ino) = setup(MigrateMode::Async);
    let inode = fs.inode(ino).unwrap();
    let old = inode.mapping.lookup(0).unwrap();
    assert!(old.test_dirty());
    assert!(migrate_folio(&fs, &inode, &old));
    let new = inode.mapping.lookup(0).unwrap();
    assert_ne!(new.id, old.id);
    assert!(new.test_dirty(), "dirty state moved");
    drop((old, new));
    let mut b = vec![0u8; 65536];
    assert_eq!(fs.read(ino, 0, &mut b).unwrap(), 65536);
    assert!(b.iter().all(|&x| x == 0x5a));
    fs.unmount().unwrap();
}

#[test]
fn an_extra_reference_fails_the_refcount_freeze() {
    for mode in MigrateMode::ALL {
        let (_d, fs, ino) = setup(mode);
        let inode = fs.inode(ino).unwrap();
        let old = inode.mapping.lookup(0).unwrap();
        // A writer or reader between its lookup and its put.
        let other = inode.mapping.lookup(0).unwrap();
        assert!(!migrate_folio(&fs, &inode, &old), "{mode:?}");
        let cur = inode.mapping.lookup(0).unwrap();
        assert_eq!(cur.id, old.id, "{mode:?}: the folio stayed");
        assert!(!old.test_removed());
        drop((other, cur));
        assert!(
            migrate_folio(&fs, &inode, &old),
            "{mode:?}: moves once let go"
        );
        fs.unmount().unwrap();
    }
}

#[test]
fn async_skips_a_locked_folio_and_sync_light_waits_for_it() {
    for (mode, moves) in [(MigrateMode::Async, false), (MigrateMode::SyncLight, true)] {
        let (_d, fs, ino) = setup(mode);
        let inode = fs.inode(ino).unwrap();
        let old = inode.mapping.lookup(0).unwrap();
        old.lock();
        let t0 = Instant::now();
        let moved = std::thread::scope(|s| {
            let m = s.spawn(|| {
                let f = inode.mapping.lookup(0).unwrap();
                migrate_folio(&fs, &inode, &f)
            });
            std::thread::sleep(Duration::from_millis(100));
            // As a writer does: unlock, then put the reference.
            old.unlock();
            drop(old);
            m.join().unwrap()
        });
        assert_eq!(moved, moves, "{mode:?}");
        if moves {
            assert!(
                t0.elapsed() >= Duration::from_millis(100),
                "it slept on the lock"
            );
        }
        fs.unmount().unwrap();
    }
}

#[test]
fn only_sync_waits_for_writeback() {
    for (mode, moves) in [
        (MigrateMode::Async, false),
        (MigrateMode::SyncLight, false),
        (MigrateMode::Sync, true),
    ] {
        let (_d, fs, ino) = setup(mode);
        let inode = fs.inode(ino).unwrap();
        let old = inode.mapping.lookup(0).unwrap();
        old.start_writeback(0);
        let moved = std::thread::scope(|s| {
            let m = s.spawn(|| {
                let f = inode.mapping.lookup(0).unwrap();
                migrate_folio(&fs, &inode, &f)
            });
            std::thread::sleep(Duration::from_millis(100));
            inode.mapping.end_writeback(&old, 0);
            drop(old);
            m.join().unwrap()
        });
        assert_eq!(moved, moves, "{mode:?}");
        fs.unmount().unwrap();
    }
}

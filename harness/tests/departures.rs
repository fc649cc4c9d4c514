//! One deterministic test per kernel behaviour issue 13 asked the model to
//! follow: readers copying without the folio lock, writeback building its
//! IO after folio_unlock, source-page faults and the fault-in retry,
//! reservations put back after a pass, partial invalidation keeping sector
//! state, and O_APPEND appends placed under the inode lock. Schedules are
//! forced through the process-wide probe hook, so each takes
//! `scenario::SERIAL`.

mod common;

use common::*;
use lockline_engine::config::{SourceFaultMode, SourceFaults};
use lockline_engine::folio::SectorState;
use lockline_engine::probe::points::set_hook;
use lockline_engine::probe::{EventKind, LockClass, ThreadRole};
use lockline_engine::{truncate, Build, Knobs};
use lockline_harness::check;
use lockline_harness::history::History;
use lockline_harness::scenario::SERIAL;
use lockline_harness::stamp;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

fn op_of(sector: &[u8], offset: u64) -> Option<u64> {
    match stamp::decode(sector, offset) {
        stamp::SectorContent::Stamp(s) => Some(s.op),
        _ => None,
    }
}

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// filemap_read copies an uptodate folio holding only a reference: a read
/// made while a writer holds the folio locks (here: every folio copied,
/// i_size not yet taken) returns the writer's bytes before the write
/// returns. A reader that locked folios would wait for the writer, which
/// waits for it: the 5 s timeout turns that into a failure, not a hang.
#[test]
fn a_reader_sees_a_write_in_flight_without_the_folio_lock() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let d = disk(64 << 20);
    let fs = mount(&d, Build::Locked, Knobs::quiet());
    let ino = fs.open("/f", true).unwrap();
    fs.write(ino, 0, &[0xaa; 8192]).unwrap();

    let writer = Arc::new(AtomicU32::new(0));
    let seen: Arc<std::sync::Mutex<Option<Vec<u8>>>> = Arc::default();
    let fired = Arc::new(AtomicBool::new(false));
    {
        let (writer, seen, fired, fs) = (writer.clone(), seen.clone(), fired.clone(), fs.clone());
        set_hook(Some(Arc::new(move |ev| {
            if ev.tid != writer.load(Ordering::SeqCst)
                || ev.kind() != Some(EventKind::LockAcquired)
                || ev.lock_class() != Some(LockClass::ILock)
                || fired.swap(true, Ordering::SeqCst)
            {
                return;
            }
            let (tx, rx) = mpsc::channel();
            let fs = fs.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 8192];
                let n = fs.read(ino, 0, &mut buf).unwrap();
                buf.truncate(n);
                let _ = tx.send(buf);
            });
            *seen.lock().unwrap() = rx.recv_timeout(Duration::from_secs(5)).ok();
        })));
    }
    writer.store(gettid(), Ordering::SeqCst);
    let r = fs.write(ino, 0, &[0xbb; 8192]);
    set_hook(None);
    assert_eq!(r.unwrap(), 8192);
    assert!(fired.load(Ordering::SeqCst), "the writer never took i_lock");
    let seen = seen
        .lock()
        .unwrap()
        .take()
        .expect("the read blocked on the writer");
    assert_eq!(seen, vec![0xbb; 8192], "the read saw the write in flight");
    fs.unmount().unwrap();
}

/// A read racing a write is checked against the history cut at the read's
/// window: the writer's stamps, seen while it is in flight, are fine.
#[test]
fn a_read_of_a_write_in_flight_is_not_a_finding() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let d = disk(64 << 20);
    let (fs, rec) = mount_recorded(&d, Build::Locked, Knobs::quiet());
    fs.attach_thread(ThreadRole::Main, 0);
    let ino = fs.open("/f", true).unwrap();
    let g = fs.begin_op();
    let mut a = vec![0u8; 8192];
    stamp::fill(&mut a, 0, g.op, 0);
    fs.write_in(&g, ino, 0, &a).unwrap();
    drop(g);

    let writer = Arc::new(AtomicU32::new(0));
    let read: Arc<std::sync::Mutex<Option<check::ReadRecord>>> = Arc::default();
    {
        let (writer, read, fs) = (writer.clone(), read.clone(), fs.clone());
        set_hook(Some(Arc::new(move |ev| {
            if ev.tid != writer.load(Ordering::SeqCst)
                || ev.kind() != Some(EventKind::LockAcquired)
                || ev.lock_class() != Some(LockClass::ILock)
            {
                return;
            }
            writer.store(0, Ordering::SeqCst);
            let (tx, rx) = mpsc::channel();
            let fs = fs.clone();
            std::thread::spawn(move || {
                fs.attach_thread(ThreadRole::Worker, 1);
                let g = fs.begin_op();
                let mut buf = vec![0u8; 8192];
                fs.read_in(&g, ino, 0, &mut buf).unwrap();
                let _ = tx.send(check::ReadRecord {
                    op: g.op,
                    offset: 0,
                    data: buf,
                });
                lockline_engine::probe::recorder::flush_current_thread();
            });
            *read.lock().unwrap() = rx.recv_timeout(Duration::from_secs(5)).ok();
        })));
    }
    writer.store(gettid(), Ordering::SeqCst);
    let g = fs.begin_op();
    let mut b = vec![0u8; 8192];
    stamp::fill(&mut b, 0, g.op, 0);
    fs.write_in(&g, ino, 0, &b).unwrap();
    let b_op = g.op;
    drop(g);
    set_hook(None);
    let read = read.lock().unwrap().take().expect("the read blocked");
    assert_eq!(op_of(&read.data[..512], 0), Some(b_op));
    lockline_engine::probe::recorder::flush_current_thread();
    let history = History::from_events(&rec.drain());
    assert!(check::check_read(&history, ino, &read).is_none());
    fs.unmount().unwrap();
}

/// __bch2_writepage unlocks the folio before the IO is built: a writer
/// that takes the lock in between puts its bytes into *this* IO. The disk
/// then holds the racing write while the folio is dirty again; a crash
/// right after the IO leaves the racing write's bytes, not the ones the
/// writeback started with.
#[test]
fn a_writer_racing_writeback_changes_what_the_io_carries() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let d = disk(64 << 20);
    let fs = mount(&d, Build::Locked, Knobs::quiet());
    let ino = fs.open("/f", true).unwrap();
    fs.write(ino, 0, &[0xaa; 4096]).unwrap();
    fs.fsync(ino).unwrap();
    fs.write(ino, 0, &[0xbb; 4096]).unwrap();

    let flusher = Arc::new(AtomicU32::new(0));
    let raced = Arc::new(AtomicBool::new(false));
    {
        let (flusher, raced, fs) = (flusher.clone(), raced.clone(), fs.clone());
        set_hook(Some(Arc::new(move |ev| {
            if ev.tid != flusher.load(Ordering::SeqCst)
                || ev.kind() != Some(EventKind::FolioWritebackIo)
                || raced.swap(true, Ordering::SeqCst)
            {
                return;
            }
            let (tx, rx) = mpsc::channel();
            let fs = fs.clone();
            std::thread::spawn(move || {
                let _ = tx.send(fs.write(ino, 0, &[0xcc; 4096]).is_ok());
            });
            assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        })));
    }
    flusher.store(gettid(), Ordering::SeqCst);
    let inode = fs.inode(ino).unwrap();
    let r = lockline_engine::writeback::writepages(
        &fs,
        &inode,
        lockline_engine::writeback::SyncMode::All,
    );
    set_hook(None);
    r.unwrap();
    assert!(raced.load(Ordering::SeqCst));
    let mut on_disk = vec![0u8; 4096];
    fs.disk.read(ino, 0, &mut on_disk).unwrap();
    assert_eq!(on_disk, vec![0xcc; 4096], "the IO carried the racing write");
    let f = inode.mapping.lookup(0).unwrap();
    assert!(f.test_dirty(), "the racing write dirtied the folio again");
    fs.unmount().unwrap();
}

/// With the caller's pages unmapped between fault-in and copy, the atomic
/// copy can make no progress at all: the pass returns 0 and the write
/// retries with at most one page (the rest of the page at pos and of the
/// iovec segment), faulting that in again, until it gets through. The
/// write completes with every byte in place, in every build.
#[test]
fn a_zero_length_copy_takes_the_fault_in_retry_path() {
    for build in Build::ALL {
        let d = disk(64 << 20);
        let knobs = Knobs {
            iov_segments: 4,
            source_faults: SourceFaults {
                rate: 0.5,
                mode: SourceFaultMode::Scattered,
            },
            seed: 3,
            ..Knobs::quiet()
        };
        let (fs, rec) = mount_recorded(&d, build, knobs);
        fs.attach_thread(ThreadRole::Main, 0);
        let ino = fs.open("/f", true).unwrap();
        fs.truncate(ino, 1 << 20).unwrap();
        let data = pattern(7, 0, 256 << 10);
        let mut zero_then_page = false;
        for i in 0..8u64 {
            let pos = i * (256 << 10) / 2 + 1024;
            assert_eq!(fs.write(ino, pos, &data).unwrap(), data.len(), "{build}");
            let mut back = vec![0u8; data.len()];
            fs.read(ino, pos, &mut back).unwrap();
            assert!(back == data, "{build}: write {i} read back different");
        }
        lockline_engine::probe::recorder::flush_current_thread();
        let shorts: Vec<(u64, u64)> = rec
            .drain()
            .iter()
            .filter(|e| e.kind() == Some(EventKind::ShortCopy))
            .map(|e| (e.a, e.b))
            .collect();
        // A copy that moved nothing, later followed by a retry that asked
        // for one page at most.
        if let Some(z) = shorts.iter().position(|&(_, got)| got == 0) {
            zero_then_page = shorts[z + 1..].iter().any(|&(asked, _)| asked <= 4096);
        }
        assert!(
            zero_then_page,
            "{build}: no zero copy and page retry in {shorts:?}"
        );
        fs.unmount().unwrap();
    }
}

/// bch2_folio_reservation_put: space reserved for bytes a short copy did
/// not copy goes back. Afterwards no folio holds a reservation for a sector
/// that is not dirty, and the pool's count is exactly what dirty sectors
/// hold.
#[test]
fn reservations_for_uncopied_bytes_are_put_back() {
    let d = disk(64 << 20);
    let knobs = Knobs {
        short_copy_rate: 0.5,
        seed: 9,
        ..Knobs::quiet()
    };
    let fs = mount(&d, Build::Locked, knobs);
    let ino = fs.open("/f", true).unwrap();
    for i in 0..64u64 {
        let len = 4096 * (1 + (i * 7) % 40) as usize;
        fs.write(ino, (i * 13 % 50) * 4096 + 512, &pattern(i as u8, 0, len))
            .unwrap();
    }
    let inode = fs.inode(ino).unwrap();
    let (mut reserved_sectors, mut stray) = (0u64, 0u64);
    for f in inode.mapping.all_folios() {
        f.with_sectors(|s| {
            for st in s.iter() {
                reserved_sectors += st.is_reserved() as u64;
                stray += (*st == SectorState::Reserved) as u64;
            }
        });
    }
    assert_eq!(stray, 0, "sectors still reserved for bytes never copied");
    assert_eq!(fs.reserved_sectors(), reserved_sectors);
    assert!(reserved_sectors > 0);
    fs.unmount().unwrap();
}

/// truncate_inode_partial_folio zeroes the part of a straddling folio past
/// the cut and calls bch2_invalidate_folio, which ignores partial ranges:
/// the sectors stay dirty and reserved (the lockless cleanup truncation
/// does exactly this). ftruncate runs __bch2_truncate_folio first, which
/// gives back the sectors of whole blocks past the new size and keeps the
/// partial block's, now zero, dirty so the zeros are written.
#[test]
fn a_partially_truncated_folio_keeps_its_dirty_sectors() {
    let d = disk(64 << 20);
    let fs = mount(&d, Build::Locked, Knobs::quiet());
    let ino = fs.open("/f", true).unwrap();
    fs.write(ino, 0, &[0x5a; 8192]).unwrap();
    let inode = fs.inode(ino).unwrap();
    let f = inode.mapping.lookup(0).unwrap();
    assert_eq!(f.size(), 8192, "one order-1 folio");
    let states = |f: &lockline_engine::folio::Folio| f.with_sectors(|s| s.to_vec());

    truncate::truncate_pagecache(&fs, &inode, 5000);
    assert!(inode.mapping.lookup(0).is_some_and(|g| g.id == f.id));
    assert!(states(&f).iter().all(|s| s.is_dirty()), "{:?}", states(&f));
    assert!(f.test_dirty());
    let mut b = vec![0u8; 8192 - 5000];
    f.copy_out_unlocked(5000, &mut b);
    assert!(b.iter().all(|x| *x == 0), "zeroed past the cut");

    let before = fs.reserved_sectors();
    fs.truncate(ino, 3000).unwrap();
    let st = states(&f);
    assert!(st[..8].iter().all(|s| s.is_dirty()), "{st:?}");
    assert!(
        st[8..].iter().all(|s| *s == SectorState::Unallocated),
        "{st:?}"
    );
    assert_eq!(
        before - fs.reserved_sectors(),
        8,
        "block 1's reservations put"
    );
    fs.fsync(ino).unwrap();
    fs.unmount().unwrap();
    let fs = mount(&d, Build::Locked, Knobs::quiet());
    let ino = fs.open("/f", false).unwrap();
    assert_eq!(read_all(&fs, ino), vec![0x5a; 3000]);
    fs.unmount().unwrap();
}

/// O_APPEND: the position is i_size, taken under the inode lock, so
/// concurrent appends tile the file with no gap and no overlap, in every
/// build, and each append's stamps are for the offset it was placed at.
#[test]
fn appends_tile_the_file_under_the_inode_lock() {
    for build in Build::ALL {
        let d = disk(128 << 20);
        let fs = mount(&d, build, Knobs::default());
        let ino = fs.open("/log", true).unwrap();
        let placed = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for t in 0..4u32 {
                let (fs, placed) = (&fs, &placed);
                s.spawn(move || {
                    for i in 0..40u64 {
                        let len = 512 * (1 + (i * 37 + t as u64 * 11) % 300) as usize;
                        let g = fs.begin_op();
                        let op = g.op;
                        let mut buf = vec![0u8; len];
                        let (pos, n) = fs
                            .append_in(&g, ino, &mut buf, &mut |pos, b| stamp::fill(b, pos, op, t))
                            .unwrap();
                        assert_eq!(n, len);
                        placed.lock().unwrap().push((pos, len as u64, op));
                    }
                });
            }
        });
        let mut placed = placed.into_inner().unwrap();
        placed.sort_unstable();
        let mut end = 0;
        for &(pos, len, _) in &placed {
            assert_eq!(pos, end, "{build}: a gap or an overlap at {pos}");
            end = pos + len;
        }
        assert_eq!(fs.size(ino).unwrap(), end);
        let content = read_all(&fs, ino);
        for &(pos, len, op) in &placed {
            for s in (pos..pos + len).step_by(512) {
                let sector = &content[s as usize..s as usize + 512];
                assert_eq!(op_of(sector, s), Some(op), "{build} at {s}");
            }
        }
        fs.unmount().unwrap();
    }
}

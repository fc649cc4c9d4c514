//! The Disk API on real image files: round trips, truncate, fallocate,
//! punch, unlink, concurrency, exclusive open.

mod common;

use common::{block_pattern as pattern, image};
use lockline_engine::disk::{
    fsck, mkfs, Disk, DiskError, FileKind, MkfsOptions, BLOCK_SIZE, ROOT_INO,
};
use std::path::Path;
use std::sync::Arc;

const B: usize = BLOCK_SIZE as usize;

fn read(d: &Disk, ino: u64, first: u64, blocks: usize) -> Vec<u8> {
    let mut v = vec![0xaau8; blocks * B];
    d.read(ino, first, &mut v).unwrap();
    v
}

fn assert_clean(p: &Path) {
    let r = fsck(p).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
}

#[test]
fn create_write_commit_unmount_reopen_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), 64 << 20);
    let data = pattern(1, 40);
    {
        let d = Disk::open(&p).unwrap();
        assert!(d.geometry().direct_io, "ext4/xfs tempdirs take O_DIRECT");
        let sub = d.create(ROOT_INO, "sub", FileKind::Dir).unwrap();
        let f = d.create(sub, "f", FileKind::File).unwrap();
        assert!(matches!(
            d.create(sub, "f", FileKind::File),
            Err(DiskError::Exists(_))
        ));
        assert!(matches!(
            d.create(ROOT_INO, "a/b", FileKind::File),
            Err(DiskError::InvalidName(_))
        ));
        d.write(f, 0, &data).unwrap();
        d.set_size(f, 40 * BLOCK_SIZE - 100).unwrap();
        d.set_mtime(f, 12345).unwrap();
        assert_eq!(read(&d, f, 0, 40), data);
        assert_eq!(d.resolve("/sub/f").unwrap(), f);
        assert_eq!(d.resolve("sub/f").unwrap(), f);
        assert_eq!(d.resolve("/").unwrap(), ROOT_INO);
        assert!(matches!(
            d.resolve("/sub/nope"),
            Err(DiskError::NotFound(_))
        ));
        assert!(matches!(d.lookup(f, "x"), Err(DiskError::NotDir)));
        assert!(matches!(
            d.read(sub, 0, &mut [0u8; B]),
            Err(DiskError::IsDir)
        ));
        d.commit().unwrap();
        d.unmount().unwrap();
        assert!(matches!(d.stat(f), Err(DiskError::Unmounted)));
    }
    let r = fsck(&p).unwrap();
    assert!(r.clean && r.problems.is_empty(), "{r:?}");
    assert_eq!((r.inodes, r.dirs, r.used_blocks), (3, 2, 40));
    let d = Disk::open(&p).unwrap();
    let f = d.resolve("/sub/f").unwrap();
    let a = d.stat(f).unwrap();
    assert_eq!(
        (a.size, a.blocks, a.nlink, a.mtime_ns, a.kind),
        (40 * BLOCK_SIZE - 100, 40, 1, 12345, FileKind::File)
    );
    assert_eq!(d.stat(ROOT_INO).unwrap().nlink, 3);
    assert_eq!(read(&d, f, 0, 40), data);
    let names: Vec<_> = d
        .readdir(ROOT_INO)
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.kind))
        .collect();
    assert_eq!(names, vec![("sub".to_string(), FileKind::Dir)]);
    assert!(!fsck_clean_flag(&p), "mounted disks are marked not clean");
}

fn fsck_clean_flag(p: &Path) -> bool {
    // fsck refuses while a Disk holds the exclusive lock.
    match fsck(p) {
        Err(DiskError::Busy(_)) => false,
        Ok(r) => r.clean,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn unaligned_buffers_and_reads_of_holes() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), 16 << 20);
    let d = Disk::open(&p).unwrap();
    let f = d.create(ROOT_INO, "f", FileKind::File).unwrap();
    let data = pattern(3, 3);
    let mut backing = vec![0u8; 3 * B + 1];
    let start = if (backing.as_ptr() as usize).is_multiple_of(B) {
        1
    } else {
        0
    };
    backing[start..start + 3 * B].copy_from_slice(&data);
    d.write(f, 5, &backing[start..start + 3 * B]).unwrap();
    backing.fill(0xee);
    d.read(f, 4, &mut backing[start..start + 3 * B]).unwrap();
    assert!(
        backing[start..start + B].iter().all(|&b| b == 0),
        "hole reads zeros"
    );
    assert_eq!(&backing[start + B..start + 3 * B], &data[..2 * B]);
    assert!(matches!(
        d.write(f, 0, &[0u8; 100]),
        Err(DiskError::Invalid(_))
    ));
}

#[test]
fn truncate_zeroes_the_tail_of_the_straddling_block() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), 16 << 20);
    let d = Disk::open(&p).unwrap();
    let f = d.create(ROOT_INO, "f", FileKind::File).unwrap();
    d.write(f, 0, &vec![0x5a; 4 * B]).unwrap();
    d.set_size(f, 4 * BLOCK_SIZE).unwrap();
    d.commit().unwrap();
    let free_before = d.geometry().free_blocks;
    d.set_size(f, BLOCK_SIZE + 10).unwrap();
    assert_eq!(d.stat(f).unwrap().blocks, 2);
    d.set_size(f, 4 * BLOCK_SIZE).unwrap(); // grow again: just the size
    let got = read(&d, f, 0, 4);
    assert!(got[..B + 10].iter().all(|&b| b == 0x5a));
    assert!(
        got[B + 10..].iter().all(|&b| b == 0),
        "tail and freed blocks read zeros"
    );
    d.commit().unwrap();
    assert_eq!(d.geometry().free_blocks, free_before + 2);
    d.unmount().unwrap();
    assert_clean(&p);
}

#[test]
fn fallocate_reads_zeros_survives_remount_and_converts_on_write() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), 194 * BLOCK_SIZE); // 64 data blocks
    {
        let d = Disk::open(&p).unwrap();
        let f = d.create(ROOT_INO, "f", FileKind::File).unwrap();
        // Dirty every block, so the zeros below prove "unwritten".
        let junk = d.create(ROOT_INO, "junk", FileKind::File).unwrap();
        d.write(junk, 0, &vec![0xff; 64 * B]).unwrap();
        d.unlink(ROOT_INO, "junk").unwrap();
        d.commit().unwrap();
        d.fallocate(f, 0, 16).unwrap();
        assert_eq!(d.stat(f).unwrap().size, 0, "fallocate keeps the size");
        assert_eq!(d.stat(f).unwrap().blocks, 16);
        assert!(read(&d, f, 0, 16).iter().all(|&b| b == 0));
        d.write(f, 4, &vec![7u8; B]).unwrap();
        d.set_size(f, 10 * BLOCK_SIZE).unwrap();
        let free = d.geometry().free_blocks;
        d.write(f, 4, &vec![8u8; B]).unwrap();
        assert_eq!(d.geometry().free_blocks, free, "overwrite in place");
        d.unmount().unwrap();
    }
    assert_clean(&p); // unwritten blocks past i_size are legal
    let d = Disk::open(&p).unwrap();
    let f = d.resolve("f").unwrap();
    let got = read(&d, f, 0, 16);
    assert!(got[4 * B..5 * B].iter().all(|&b| b == 8));
    assert!(got[..4 * B].iter().chain(&got[5 * B..]).all(|&b| b == 0));
    let free = d.geometry().free_blocks;
    assert!(matches!(
        d.fallocate(f, 100, free + 1),
        Err(DiskError::NoSpace)
    ));
    assert_eq!(
        d.geometry().free_blocks,
        free,
        "ENOSPC leaves nothing half-done"
    );
    assert_eq!(d.stat(f).unwrap().blocks, 16);
}

#[test]
fn punch_makes_a_hole_again() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), 16 << 20);
    let d = Disk::open(&p).unwrap();
    let f = d.create(ROOT_INO, "f", FileKind::File).unwrap();
    let data = pattern(4, 10);
    d.write(f, 0, &data).unwrap();
    d.set_size(f, 10 * BLOCK_SIZE).unwrap();
    d.punch(f, 3, 4).unwrap();
    assert_eq!(d.stat(f).unwrap().blocks, 6);
    let got = read(&d, f, 0, 10);
    assert_eq!(&got[..3 * B], &data[..3 * B]);
    assert!(got[3 * B..7 * B].iter().all(|&b| b == 0));
    assert_eq!(&got[7 * B..], &data[7 * B..]);
    d.unmount().unwrap();
    assert_clean(&p);
}

#[test]
fn unlink_frees_blocks_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), 16 << 20);
    let d = Disk::open(&p).unwrap();
    let empty = d.geometry().free_blocks;
    assert_eq!(empty, d.geometry().data_blocks);
    let sub = d.create(ROOT_INO, "d", FileKind::Dir).unwrap();
    let f = d.create(sub, "f", FileKind::File).unwrap();
    d.write(f, 0, &pattern(5, 50)).unwrap();
    d.set_size(f, 50 * BLOCK_SIZE).unwrap();
    d.commit().unwrap();
    assert_eq!(d.geometry().free_blocks, empty - 50);
    assert!(matches!(d.unlink(ROOT_INO, "d"), Err(DiskError::NotEmpty)));
    assert_eq!(d.unlink(sub, "f").unwrap(), f);
    assert!(matches!(d.stat(f), Err(DiskError::NotFound(_))));
    assert_eq!(
        d.geometry().free_blocks,
        empty - 50,
        "deferred until the commit"
    );
    d.commit().unwrap();
    assert_eq!(d.geometry().free_blocks, empty);
    d.unlink(ROOT_INO, "d").unwrap();
    assert_eq!(d.stat(ROOT_INO).unwrap().nlink, 2);
    d.unmount().unwrap();
    assert_clean(&p);
}

#[test]
fn allocation_waits_for_a_commit_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), 194 * BLOCK_SIZE); // 64 data blocks
    let d = Disk::open(&p).unwrap();
    let n = d.geometry().data_blocks as usize;
    let a = d.create(ROOT_INO, "a", FileKind::File).unwrap();
    d.write(a, 0, &vec![1; n * B]).unwrap();
    d.commit().unwrap();
    d.punch(a, 0, n as u64).unwrap();
    let b = d.create(ROOT_INO, "b", FileKind::File).unwrap();
    d.write(b, 0, &vec![2; n * B]).unwrap();
    assert!(matches!(
        d.write(b, n as u64, &[0; B]),
        Err(DiskError::NoSpace)
    ));
    d.set_size(b, (n * B) as u64).unwrap();
    d.unmount().unwrap();
    assert_clean(&p);
}

#[test]
fn metadata_bigger_than_its_region_is_nospace_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), 1 << 20); // regions of 64 blocks = 256 KiB
    let d = Disk::open(&p).unwrap();
    d.create(ROOT_INO, "keep", FileKind::File).unwrap();
    d.commit().unwrap();
    let long = "n".repeat(250);
    let mut err = None;
    for i in 0..2000 {
        d.create(ROOT_INO, &format!("{long}{i}"), FileKind::File)
            .unwrap();
        if i % 100 == 99 {
            if let Err(e) = d.commit() {
                err = Some(e);
                break;
            }
        }
    }
    assert!(matches!(err, Some(DiskError::NoSpace)), "{err:?}");
    drop(d);
    let d = Disk::open(&p).unwrap();
    assert!(d.lookup(ROOT_INO, "keep").is_ok());
}

#[test]
fn concurrent_writers_and_readers_on_different_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), 64 << 20);
    let d = Disk::open(&p).unwrap();
    let files: Vec<u64> = (0..4)
        .map(|i| {
            d.create(ROOT_INO, &format!("f{i}"), FileKind::File)
                .unwrap()
        })
        .collect();
    std::thread::scope(|s| {
        for (t, &f) in files.iter().enumerate() {
            for half in 0..2u64 {
                let d = Arc::clone(&d);
                s.spawn(move || {
                    for blk in (half..64).step_by(2) {
                        let data = pattern(t as u64 * 1000 + blk, 1);
                        d.write(f, blk, &data).unwrap();
                        assert_eq!(read(&d, f, blk, 1), data);
                        if blk % 16 == 0 {
                            d.commit().unwrap();
                        }
                    }
                });
            }
        }
    });
    for (t, &f) in files.iter().enumerate() {
        d.set_size(f, 64 * BLOCK_SIZE).unwrap();
        for blk in 0..64 {
            assert_eq!(read(&d, f, blk, 1), pattern(t as u64 * 1000 + blk, 1));
        }
    }
    d.unmount().unwrap();
    assert_clean(&p);
}

#[test]
fn sequential_writes_allocate_contiguously() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), 16 << 20);
    let d = Disk::open(&p).unwrap();
    let f = d.create(ROOT_INO, "f", FileKind::File).unwrap();
    for blk in 0..32 {
        d.write(f, blk, &[1u8; B]).unwrap();
    }
    d.set_size(f, 32 * BLOCK_SIZE).unwrap();
    d.unmount().unwrap();
    let mut extents = 0;
    lockline_engine::disk::testing::tamper(&p, |m| extents = m.inodes[&f].extents.len()).unwrap();
    assert_eq!(extents, 1);
}

#[test]
fn second_open_is_busy_until_unmount() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), 16 << 20);
    let d = Disk::open(&p).unwrap();
    assert!(matches!(Disk::open(&p), Err(DiskError::Busy(_))));
    assert!(matches!(fsck(&p), Err(DiskError::Busy(_))));
    assert!(matches!(
        mkfs(
            &p,
            &MkfsOptions {
                size: None,
                force: true
            }
        ),
        Err(DiskError::Busy(_))
    ));
    d.unmount().unwrap();
    let again = Disk::open(&p).unwrap();
    drop(again);
    drop(d);
    Disk::open(&p).unwrap();
}

#[test]
fn buffered_fallback_on_tmpfs() {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        println!("note: no /dev/shm; skipping the tmpfs fallback test");
        return;
    }
    let dir = tempfile::tempdir_in(shm).unwrap();
    let p = image(dir.path(), 4 << 20);
    let d = Disk::open(&p).unwrap();
    println!("tmpfs direct_io = {}", d.geometry().direct_io);
    let f = d.create(ROOT_INO, "f", FileKind::File).unwrap();
    d.write(f, 0, &pattern(9, 2)).unwrap();
    d.set_size(f, 2 * BLOCK_SIZE).unwrap();
    d.unmount().unwrap();
    drop(d);
    let d = Disk::open(&p).unwrap();
    assert_eq!(read(&d, d.resolve("f").unwrap(), 0, 2), pattern(9, 2));
}

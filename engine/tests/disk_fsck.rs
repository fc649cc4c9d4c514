//! Damaged disks: open and fsck return errors or name the problem, never
//! panic.

mod common;

use common::image;
use lockline_engine::disk::testing::{self, Extent};
use lockline_engine::disk::{fsck, Disk, DiskError, FileKind, BLOCK_SIZE, ROOT_INO};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const B: usize = BLOCK_SIZE as usize;

/// A committed disk with /d/f (8 blocks) and /g (4 blocks).
fn populated(dir: &Path) -> PathBuf {
    let p = image(dir, 8 << 20);
    let d = Disk::open(&p).unwrap();
    let sub = d.create(ROOT_INO, "d", FileKind::Dir).unwrap();
    let f = d.create(sub, "f", FileKind::File).unwrap();
    d.write(f, 0, &vec![1; 8 * B]).unwrap();
    d.set_size(f, 8 * BLOCK_SIZE).unwrap();
    let g = d.create(ROOT_INO, "g", FileKind::File).unwrap();
    d.write(g, 0, &vec![2; 4 * B]).unwrap();
    d.set_size(g, 4 * BLOCK_SIZE).unwrap();
    d.unmount().unwrap();
    p
}

fn kinds(p: &Path) -> Vec<(String, String)> {
    fsck(p)
        .unwrap()
        .problems
        .into_iter()
        .map(|p| (p.kind, p.detail))
        .collect()
}

fn has(problems: &[(String, String)], kind: &str, needle: &str) -> bool {
    problems
        .iter()
        .any(|(k, d)| k == kind && d.contains(needle))
}

fn flip(p: &Path, off: u64) {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, off).unwrap();
    f.write_all_at(&[b[0] ^ 0x40], off).unwrap();
}

#[test]
fn a_clean_disk_has_no_problems() {
    let dir = tempfile::tempdir().unwrap();
    let p = populated(dir.path());
    let r = fsck(&p).unwrap();
    assert!(r.problems.is_empty() && r.clean, "{r:?}");
    assert_eq!((r.inodes, r.dirs, r.used_blocks), (4, 2, 12));
}

#[test]
fn bad_metadata_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let p = populated(dir.path());
    let (off, len) = testing::metadata_location(&p).unwrap();
    flip(&p, off + len / 2);
    assert!(has(&kinds(&p), "metadata-checksum", "checksum"));
    assert!(!fsck(&p).unwrap().mountable());
    let before = std::fs::read(&p).unwrap();
    let e = Disk::open(&p).err().expect("must not open");
    assert!(
        std::fs::read(&p).unwrap() == before,
        "open wrote to a damaged disk"
    );
    assert!(matches!(e, DiskError::CorruptImage { .. }), "{e}");
    assert!(e.to_string().starts_with(&p.display().to_string()), "{e}");
}

#[test]
fn dangling_dirent() {
    let dir = tempfile::tempdir().unwrap();
    let p = populated(dir.path());
    testing::tamper(&p, |m| {
        m.inodes
            .get_mut(&ROOT_INO)
            .unwrap()
            .entries
            .insert("ghost".into(), 77);
    })
    .unwrap();
    let k = kinds(&p);
    assert!(
        has(
            &k,
            "dangling-dirent",
            "\"ghost\" points to missing inode 77"
        ),
        "{k:?}"
    );
    assert!(matches!(
        Disk::open(&p),
        Err(DiskError::CorruptImage { .. })
    ));
}

#[test]
fn overlapping_extents_across_inodes() {
    let dir = tempfile::tempdir().unwrap();
    let p = populated(dir.path());
    let (mut f_ino, mut g_ino) = (0, 0);
    testing::tamper(&p, |m| {
        let root = &m.inodes[&ROOT_INO];
        g_ino = root.entries["g"];
        f_ino = m.inodes[&root.entries["d"]].entries["f"];
        let f_first = m.inodes[&f_ino].extents[&0];
        // g gets a second extent on f's third block.
        let ext = Extent {
            disk: f_first.disk + 2,
            len: 1,
            unwritten: false,
        };
        let g = m.inodes.get_mut(&g_ino).unwrap();
        g.extents.insert(3, ext);
        g.extents.get_mut(&0).unwrap().len = 3;
    })
    .unwrap();
    let k = kinds(&p);
    assert!(
        has(&k, "extent-overlap", &format!("inode {g_ino}"))
            && has(&k, "extent-overlap", &format!("inode {f_ino}")),
        "{k:?}"
    );
    assert!(has(&k, "leaked-block", ""), "g's dropped 4th block: {k:?}");
    assert!(matches!(
        Disk::open(&p),
        Err(DiskError::CorruptImage { .. })
    ));
}

#[test]
fn leaked_and_used_but_free_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let p = populated(dir.path());
    testing::tamper(&p, |m| {
        m.bitmap.set_range(1000, 3);
    })
    .unwrap();
    let k = kinds(&p);
    let start = Disk::open(&p).unwrap().geometry().data_start; // leaks are tolerated
    assert!(
        has(
            &k,
            "leaked-block",
            &format!("{}..={}", start + 1000, start + 1002)
        ),
        "{k:?}"
    );
    testing::tamper(&p, |m| {
        m.bitmap.clear_range(0, 1);
    })
    .unwrap();
    let k = kinds(&p);
    assert!(
        has(
            &k,
            "used-block-marked-free",
            &format!("{start}..={start} (inode")
        ),
        "{k:?}"
    );
    assert!(matches!(
        Disk::open(&p),
        Err(DiskError::CorruptImage { .. })
    ));
}

#[test]
fn wrong_link_count_and_unreachable_inode() {
    let dir = tempfile::tempdir().unwrap();
    let p = populated(dir.path());
    let mut g = 0;
    testing::tamper(&p, |m| {
        g = m.inodes[&ROOT_INO].entries["g"];
        m.inodes.get_mut(&g).unwrap().nlink = 5;
        m.inodes.get_mut(&ROOT_INO).unwrap().entries.remove("d");
    })
    .unwrap();
    let k = kinds(&p);
    assert!(
        has(&k, "nlink", &format!("file inode {g} has nlink 5 but 1")),
        "{k:?}"
    );
    assert!(has(&k, "nlink", "directory inode 1 has nlink 3"), "{k:?}");
    assert!(has(&k, "unreachable", "directory inode"), "{k:?}");
    assert!(has(&k, "unreachable", "file inode"), "{k:?}");
}

#[test]
fn dir_cycle_and_written_past_size() {
    let dir = tempfile::tempdir().unwrap();
    let p = populated(dir.path());
    testing::tamper(&p, |m| {
        let d = m.inodes[&ROOT_INO].entries["d"];
        m.inodes
            .get_mut(&d)
            .unwrap()
            .entries
            .insert("loop".into(), d);
        let g = m.inodes[&ROOT_INO].entries["g"];
        m.inodes.get_mut(&g).unwrap().size = 100;
    })
    .unwrap();
    let k = kinds(&p);
    assert!(has(&k, "dir-cycle", "\"loop\""), "{k:?}");
    assert!(has(&k, "written-past-size", "past i_size 100"), "{k:?}");
}

#[test]
fn torn_superblock_falls_back_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let p = populated(dir.path());
    {
        let d = Disk::open(&p).unwrap();
        d.create(ROOT_INO, "later", FileKind::File).unwrap();
        d.commit().unwrap();
    }
    let gen = fsck(&p).unwrap().generation;
    flip(&p, (gen % 2) * BLOCK_SIZE + testing::OFF_GENERATION as u64);
    let r = fsck(&p).unwrap();
    assert_eq!(r.generation, gen - 1);
    assert!(
        r.problems.iter().any(|p| p.kind == "superblock-slot"),
        "{r:?}"
    );
    // Not damage: what a torn superblock write leaves, mounted by design.
    assert!(r.mountable(), "{r:?}");
    // Back to the commit before the torn one.
    let d = Disk::open(&p).unwrap();
    assert!(d.resolve("/d/f").is_ok());
    assert!(matches!(d.resolve("/later"), Err(DiskError::NotFound(_))));
    d.unmount().unwrap();
    assert!(
        fsck(&p).unwrap().problems.is_empty(),
        "the next commit rewrote the slot"
    );
}

#[test]
fn garbage_truncated_and_foreign_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let g = dir.path().join("garbage");
    let mut x = 0x1234_5678_9abc_def0u64;
    let junk: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&g, &junk).unwrap();
    assert!(matches!(Disk::open(&g), Err(DiskError::NotLockline(_))));
    assert!(matches!(fsck(&g), Err(DiskError::NotLockline(_))));
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(Disk::open(&empty), Err(DiskError::NotLockline(_))));
    assert!(matches!(
        Disk::open(&dir.path().join("missing")),
        Err(DiskError::Io { .. })
    ));
    assert!(Disk::open(dir.path()).is_err());

    let p = populated(dir.path());
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(1 << 20).unwrap();
    let e = Disk::open(&p).err().expect("truncated");
    assert!(
        matches!(e, DiskError::CorruptImage { .. }) && e.to_string().contains("truncated"),
        "{e}"
    );
    f.set_len(4096 + 100).unwrap();
    assert!(Disk::open(&p).is_err());
    assert!(fsck(&p).is_err());
}

#[test]
fn version_and_both_superblocks_bad() {
    let dir = tempfile::tempdir().unwrap();
    let p = populated(dir.path());
    flip(&p, 20);
    flip(&p, BLOCK_SIZE + 20);
    let e = Disk::open(&p).err().unwrap();
    assert!(
        matches!(e, DiskError::CorruptImage { .. }) && e.to_string().contains("bad checksum"),
        "{e}"
    );
    assert!(matches!(fsck(&p), Err(DiskError::CorruptImage { .. })));
}

#[test]
fn random_byte_flips_in_metadata_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let p = populated(dir.path());
    let pristine = std::fs::read(&p).unwrap();
    let (off, len) = testing::metadata_location(&p).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..200 {
        let mut img = pristine.clone();
        let region = if i % 4 == 0 {
            0..2 * B as u64
        } else {
            off..off + len
        };
        for _ in 0..1 + rand() % 4 {
            let at = region.start + rand() % (region.end - region.start);
            img[at as usize] ^= 1 << (rand() % 8);
        }
        std::fs::write(&p, &img).unwrap();
        let _ = fsck(&p);
        if let Ok(d) = Disk::open(&p) {
            let _ = d.resolve("/d/f");
            let _ = d.readdir(ROOT_INO);
        }
    }
    // Valid checksums over damaged content: the decoder and checks alone.
    for i in 0..100u64 {
        std::fs::write(&p, &pristine).unwrap();
        testing::tamper(&p, |m| {
            let g = m.inodes[&ROOT_INO].entries["g"];
            let rec = m.inodes.get_mut(&g).unwrap();
            let e = rec.extents.get_mut(&0).unwrap();
            match i % 4 {
                0 => e.disk = rand(),
                1 => e.len = rand(),
                2 => {
                    rec.extents.insert(
                        rand(),
                        Extent {
                            disk: rand() % 4096,
                            len: 1 + rand() % 9,
                            unwritten: false,
                        },
                    );
                }
                _ => m.next_ino = rand() % 4,
            }
        })
        .unwrap();
        let _ = fsck(&p).unwrap();
        if let Ok(d) = Disk::open(&p) {
            let g = d.resolve("/g").unwrap();
            let mut buf = vec![0u8; 4 * B];
            let _ = d.read(g, 0, &mut buf);
            let _ = d.punch(g, 0, 4);
            let _ = d.create(ROOT_INO, "new", FileKind::File);
        }
    }
}

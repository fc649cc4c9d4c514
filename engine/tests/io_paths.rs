//! Edge cases of the buffered IO paths on a real image, for every build.

mod common;

use common::*;
use lockline_engine::probe::EventKind;
use lockline_engine::{Build, Knobs};

const MIB: u64 = 1 << 20;

#[test]
fn write_inside_one_folio_then_read_back() {
    for build in Build::ALL {
        let d = disk(64 * MIB);
        let fs = mount(&d, build, Knobs::quiet());
        let ino = fs.open("/f", true).unwrap();
        assert_eq!(fs.write(ino, 0, &pattern(1, 0, 8192)).unwrap(), 8192);
        // Unaligned overwrite inside the first page.
        assert_eq!(fs.write(ino, 100, &pattern(2, 100, 300)).unwrap(), 300);
        let mut want = pattern(1, 0, 8192);
        want[100..400].copy_from_slice(&pattern(2, 100, 300));
        assert_eq!(read_all(&fs, ino), want, "{build}");
        fs.unmount().unwrap();
    }
}

#[test]
fn writes_across_large_folio_boundaries() {
    for build in Build::ALL {
        let d = disk(64 * MIB);
        let knobs = Knobs {
            max_folio_order: 2,
            ..Knobs::quiet()
        };
        let fs = mount(&d, build, knobs);
        let ino = fs.open("/f", true).unwrap();
        fs.truncate(ino, 256 << 10).unwrap();
        // 40 KiB starting 3 KiB before a 16 KiB folio boundary.
        let off = 16384 * 3 - 3072;
        let data = pattern(3, off, 40 << 10);
        assert_eq!(fs.write(ino, off, &data).unwrap(), data.len());
        let mut got = vec![0u8; data.len() + 8192];
        fs.read(ino, off - 4096, &mut got).unwrap();
        assert!(got[..4096].iter().all(|b| *b == 0));
        assert_eq!(&got[4096..4096 + data.len()], &data[..], "{build}");
        assert!(got[4096 + data.len()..].iter().all(|b| *b == 0));
        fs.unmount().unwrap();
    }
}

#[test]
fn append_and_extend_update_i_size() {
    for build in Build::ALL {
        let d = disk(64 * MIB);
        let fs = mount(&d, build, Knobs::quiet());
        let ino = fs.open("/f", true).unwrap();
        fs.write(ino, 0, &pattern(1, 0, 1000)).unwrap();
        assert_eq!(fs.size(ino).unwrap(), 1000);
        fs.write(ino, 1000, &pattern(2, 1000, 5000)).unwrap();
        assert_eq!(fs.size(ino).unwrap(), 6000);
        // Extend past a hole.
        fs.write(ino, 100_000, &pattern(3, 100_000, 10)).unwrap();
        assert_eq!(fs.size(ino).unwrap(), 100_010);
        let all = read_all(&fs, ino);
        assert_eq!(&all[..1000], &pattern(1, 0, 1000)[..]);
        assert_eq!(&all[1000..6000], &pattern(2, 1000, 5000)[..]);
        assert!(
            all[6000..100_000].iter().all(|b| *b == 0),
            "{build}: hole not zero"
        );
        fs.unmount().unwrap();
    }
}

#[test]
fn lockless_takes_inode_lock_only_to_extend() {
    let d = disk(64 * MIB);
    let (fs, rec) = mount_recorded(&d, Build::Lockless, Knobs::quiet());
    let ino = fs.open("/f", true).unwrap();
    fs.write(ino, 0, &pattern(1, 0, 65536)).unwrap();
    rec.drain();
    fs.write(ino, 4096, &pattern(2, 4096, 4096)).unwrap();
    let ev = rec.drain();
    let inode_locks = ev
        .iter()
        .filter(|e| {
            e.kind() == Some(EventKind::LockAcquired)
                && e.lock_class() == Some(lockline_engine::probe::LockClass::Inode)
        })
        .count();
    assert_eq!(
        inode_locks, 0,
        "non-extending lockless write took the inode lock"
    );
    fs.write(ino, 65536, &pattern(3, 65536, 10)).unwrap();
    let ev = rec.drain();
    assert!(ev.iter().any(|e| e.kind() == Some(EventKind::LockAcquired)
        && e.lock_class() == Some(lockline_engine::probe::LockClass::Inode)));
    fs.unmount().unwrap();
}

#[test]
fn short_copies_restart_under_inode_lock_and_keep_data() {
    let d = disk(64 * MIB);
    let knobs = Knobs {
        short_copy_rate: 0.5,
        ..Knobs::quiet()
    };
    let (fs, rec) = mount_recorded(&d, Build::Lockless, knobs);
    let ino = fs.open("/f", true).unwrap();
    fs.truncate(ino, 4 * MIB).unwrap();
    let mut want = vec![0u8; 4 * MIB as usize];
    for i in 0..64u64 {
        let off = (i * 37 % 60) * 65536 + 512;
        let data = pattern(i as u8, off, 3 * 4096 + 100);
        assert_eq!(fs.write(ino, off, &data).unwrap(), data.len());
        want[off as usize..off as usize + data.len()].copy_from_slice(&data);
    }
    assert_eq!(read_all(&fs, ino), want);
    let ev = rec.drain();
    let restarts: Vec<_> = ev
        .iter()
        .filter(|e| e.kind() == Some(EventKind::WriteRestart))
        .collect();
    assert!(
        !restarts.is_empty(),
        "no restart with a 50% short-copy rate"
    );
    // At a restart, written2 has caught up with written (and then exceeds
    // the reset `written`); some restart must have written something.
    assert!(restarts.iter().all(|e| e.b >= e.a));
    assert!(
        restarts.iter().any(|e| e.b > 0),
        "no restart after a partial write"
    );
    assert!(fs.counters.snapshot().restarts as usize == restarts.len());
    // Short copies restart without a pass asking for the inode lock.
    assert_eq!(fs.counters.snapshot().need_inode_lock, 0);
    fs.unmount().unwrap();
}

#[test]
fn truncate_and_punch_partial_large_folios() {
    for build in Build::ALL {
        let d = disk(64 * MIB);
        let knobs = Knobs {
            max_folio_order: 4,
            ..Knobs::quiet()
        };
        let fs = mount(&d, build, knobs);
        let ino = fs.open("/f", true).unwrap();
        let data = pattern(7, 0, 256 << 10);
        fs.write(ino, 0, &data).unwrap();
        // Punch the middle of a 64 KiB folio, unaligned at both ends.
        fs.punch_hole(ino, 70_000, 30_000).unwrap();
        let mut want = data.clone();
        want[70_000..100_000].fill(0);
        assert_eq!(read_all(&fs, ino), want, "{build} punch");
        // Truncate into the middle of a large folio, then extend again.
        fs.truncate(ino, 150_001).unwrap();
        fs.truncate(ino, 200_000).unwrap();
        want.truncate(150_001);
        want.resize(200_000, 0);
        assert_eq!(read_all(&fs, ino), want, "{build} truncate");
        // Everything survives writeback and a remount.
        fs.unmount().unwrap();
        let fs = mount(&d, build, Knobs::quiet());
        let ino = fs.open("/f", false).unwrap();
        assert_eq!(read_all(&fs, ino), want, "{build} after remount");
        fs.unmount().unwrap();
        let r = lockline_engine::disk::fsck(&d.path).unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }
}

#[test]
fn data_survives_unmount_and_remount_with_background_threads() {
    let d = disk(64 * MIB);
    let knobs = Knobs {
        writeback_interval_ms: 5,
        reclaim_limit_bytes: 2 * MIB,
        migration_interval_us: 200,
        compaction_interval_ms: 5,
        ..Knobs::default()
    };
    let fs = mount(&d, Build::Locked, knobs);
    let ino = fs.open("/dir-less-file", true).unwrap();
    let mut want = Vec::new();
    for i in 0..200u64 {
        let chunk = pattern(i as u8, i * 40_000, 40_000);
        fs.write(ino, i * 40_000, &chunk).unwrap();
        want.extend_from_slice(&chunk);
    }
    assert_eq!(read_all(&fs, ino), want);
    let c = fs.counters.snapshot();
    assert!(c.folios_written > 0 && c.reclaimed_folios > 0, "{c:?}");
    fs.unmount().unwrap();
    let fs = mount(&d, Build::Lockless, Knobs::quiet());
    let ino = fs.open("/dir-less-file", false).unwrap();
    assert_eq!(read_all(&fs, ino), want);
    fs.unmount().unwrap();
}

#[test]
fn fsynced_data_survives_kill_9() {
    const CHILD: &str = "LOCKLINE_KILL9_CHILD";
    if let Ok(path) = std::env::var(CHILD) {
        let d = TestDiskRef(std::path::PathBuf::from(path));
        let fs = lockline_engine::Fs::mount(
            &d.0,
            lockline_engine::MountOptions {
                build: Build::Lockless,
                knobs: Knobs::quiet(),
                recorder: None,
            },
        )
        .unwrap();
        let ino = fs.open("/synced", true).unwrap();
        fs.write(ino, 0, &pattern(9, 0, 300_000)).unwrap();
        fs.fsync(ino).unwrap();
        let other = fs.open("/unsynced", true).unwrap();
        fs.write(other, 0, &pattern(8, 0, 100_000)).unwrap();
        fs.write(ino, 300_000, &pattern(7, 300_000, 50_000))
            .unwrap();
        println!("READY");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
        std::thread::sleep(std::time::Duration::from_secs(60));
        return;
    }
    let d = disk(64 * MIB);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["fsynced_data_survives_kill_9", "--exact", "--nocapture"])
        .env(CHILD, &d.path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let out = child.stdout.take().unwrap();
    let ready = std::io::BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("READY"));
    assert!(ready, "child never got ready");
    child.kill().unwrap();
    child.wait().unwrap();
    let r = lockline_engine::disk::fsck(&d.path).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let fs = mount(&d, Build::Locked, Knobs::quiet());
    let ino = fs.open("/synced", false).unwrap();
    let got = read_all(&fs, ino);
    assert!(got.len() >= 300_000);
    assert_eq!(&got[..300_000], &pattern(9, 0, 300_000)[..]);
    fs.unmount().unwrap();
}

struct TestDiskRef(std::path::PathBuf);

/// A non-extending lockless write over more uncached range than one pass
/// creates folios for (1 MiB) gets -need_inode_lock from its pass and
/// restarts under the inode lock: both counters count it once.
#[test]
fn need_inode_lock_is_counted_with_its_restart() {
    let d = disk(64 * MIB);
    let (fs, _rec) = mount_recorded(&d, Build::Lockless, Knobs::quiet());
    let ino = fs.open("/f", true).unwrap();
    fs.truncate(ino, 4 * MIB).unwrap();
    let data = pattern(7, 0, 2 * MIB as usize);
    assert_eq!(fs.write(ino, 0, &data).unwrap(), data.len());
    let c = fs.counters.snapshot();
    assert_eq!((c.need_inode_lock, c.restarts), (1, 1));
    assert_eq!(&read_all(&fs, ino)[..data.len()], &data[..]);
    fs.unmount().unwrap();
}

/// fsx through the mount, judged by content provenance, found this on the
/// locked build: write a block's worth across EOF, fsync, truncate down
/// into the block, truncate up past it, read: the bytes past the cut must
/// read as zeros.
#[test]
fn a_cut_after_fsync_then_an_extend_reads_zeros_past_the_cut() {
    for build in Build::ALL {
        let d = disk(64 << 20);
        let fs = mount(&d, build, Knobs::quiet());
        let ino = fs.open("/f", true).unwrap();
        fs.truncate(ino, 262_144).unwrap();
        fs.fsync(ino).unwrap();
        let data = pattern(7, 86016, 45056);
        assert_eq!(fs.write(ino, 86016, &data).unwrap(), 45056);
        fs.fsync(ino).unwrap();
        fs.truncate(ino, 129_919).unwrap();
        fs.truncate(ino, 222_652).unwrap();
        let mut buf = vec![0u8; 131_072];
        assert_eq!(fs.read(ino, 86016, &mut buf).unwrap(), 131_072);
        let past = &buf[(129_919 - 86016) as usize..(131_072 - 86016) as usize];
        let nonzero = past.iter().filter(|b| **b != 0).count();
        assert_eq!(
            nonzero, 0,
            "{build}: {nonzero} bytes past the cut came back"
        );
        fs.unmount().unwrap();
    }
}

/// statfs counts dirty page-cache data as used, as bch2_statfs counts the
/// disk reservations such data holds: free space must not depend on
/// whether the flusher has run (a FUSE test saw it only when it had).
#[test]
fn statfs_counts_dirty_data_as_used_before_writeback() {
    for build in Build::ALL {
        let d = disk(64 * MIB);
        let fs = mount(&d, build, Knobs::quiet());
        let empty = fs.statfs().free_blocks;
        let ino = fs.open("/f", true).unwrap();
        fs.write(ino, 0, &pattern(1, 0, MIB as usize)).unwrap();
        let dirty = fs.statfs().free_blocks;
        assert!(
            dirty + 256 <= empty,
            "{build}: {dirty} of {empty} free with 1 MiB dirty"
        );
        fs.fsync(ino).unwrap();
        let written = fs.statfs().free_blocks;
        assert!(
            written + 256 <= empty,
            "{build}: {written} of {empty} free after fsync"
        );
        assert!(
            written >= dirty,
            "{build}: writeback used more than it held"
        );
        fs.unmount().unwrap();
    }
}

/// A punch that reaches EOF writes i_size to the disk inode, as
/// bchfs_fpunch does (bch2_write_inode_size when the punch ends at or past
/// i_size and left no partial last page to write back): the punch drops
/// the dirty folios whose writeback would have published the size, so
/// without it a file extended by a write came back shorter after a clean
/// unmount. Found by the `engine_ops` fuzz target
/// (fuzz/regressions/engine_ops/punch-to-eof-size), its ops as here.
#[test]
fn a_punch_to_eof_keeps_the_size_over_a_remount() {
    for build in Build::ALL {
        let d = disk(64 * MIB);
        let knobs = Knobs {
            large_folios: false,
            ..Knobs::quiet()
        };
        let fs = mount(&d, build, knobs.clone());
        let ino = fs.open("/f", true).unwrap();
        fs.write(ino, 70933, &[21; 5397]).unwrap();
        fs.write(ino, 191211, &[21; 5397]).unwrap();
        fs.write(ino, 37397, &[69; 268]).unwrap();
        // From inside a block to past EOF: the blocks from 98304 go.
        fs.punch_hole(ino, 96525, 168083).unwrap();
        assert_eq!(fs.size(ino).unwrap(), 196608, "{build}");
        fs.unmount().unwrap();
        drop(fs);
        let fs = mount(&d, build, knobs);
        let ino = fs.open("/f", false).unwrap();
        assert_eq!(fs.size(ino).unwrap(), 196608, "{build}: size after remount");
        let mut want = vec![0u8; 196608];
        want[70933..76330].fill(21);
        want[37397..37665].fill(69);
        assert_eq!(read_all(&fs, ino), want, "{build}");
        fs.unmount().unwrap();
    }
}

/// filemap_read returns what it copied when a later folio cannot be had
/// (`already_read ?: error`): a read whose first page is cached and whose
/// second page's allocation fails is a short read of the first page, not
/// ENOMEM with the copied bytes thrown away.
#[test]
fn a_read_that_copied_bytes_returns_them_when_an_allocation_then_fails() {
    use lockline_engine::fault;
    for build in Build::ALL {
        let d = disk(64 * MIB);
        let knobs = Knobs {
            large_folios: false,
            ..Knobs::quiet()
        };
        let fs = mount(&d, build, knobs.clone());
        let ino = fs.open("/f", true).unwrap();
        let data = pattern(7, 0, 16384);
        assert_eq!(fs.write(ino, 0, &data).unwrap(), 16384);
        fs.unmount().unwrap();
        drop(fs);
        let fs = mount(&d, build, knobs);
        let ino = fs.open("/f", false).unwrap();
        let mut buf = vec![0u8; 4096];
        assert_eq!(fs.read(ino, 0, &mut buf).unwrap(), 4096, "{build}");
        let mut buf = vec![0u8; 16384];
        fault::fail_next_alloc();
        let r = fs.read(ino, 0, &mut buf);
        fault::cancel_pending();
        assert_eq!(r.map_err(|e| e.to_string()), Ok(4096), "{build}");
        assert_eq!(buf[..4096], data[..4096], "{build}");
        fs.unmount().unwrap();
    }
}

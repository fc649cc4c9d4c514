//! Issue 21's schedule (scenario::writeback_cut): a truncate down meets a
//! writeback IO in flight, then the file is extended. The bytes the
//! truncate cut must read as zeros on every build, after the run and after
//! remount. With the pre-fix disk planted back (cut-to-recorded-size) they
//! come back, and the checker says so in its own words.

mod common;

use common::*;
use lockline_engine::config::Inject;
use lockline_engine::{Build, Knobs};
use lockline_harness::check::Class;
use lockline_harness::scenario::{writeback_cut, CutRun, CUT, W_LEN, W_POS};
use lockline_harness::stamp;

fn run(build: Build, inject: Inject) -> CutRun {
    let d = disk(64 << 20);
    writeback_cut(&d.path, build, inject).expect("schedule ran")
}

#[test]
fn cut_bytes_stay_cut_on_every_build() {
    for build in Build::ALL {
        let r = run(build, Inject::default());
        assert!(
            r.schedule_reached,
            "{build:?}: F was not held until T's i_size"
        );
        let nonzero = r.gap.iter().position(|b| *b != 0);
        assert_eq!(
            nonzero, None,
            "{build:?}: truncated data came back after the extend"
        );
        assert!(
            r.gap_after_remount.iter().all(|b| *b == 0),
            "{build:?}: after remount"
        );
        assert!(r.read_check.is_none(), "{build:?}: {:?}", r.read_check);
        for c in &r.checks {
            assert!(c.violations.is_empty(), "{build:?}: {c}");
        }
    }
}

#[test]
fn the_old_cut_brings_the_bytes_back_and_the_checker_names_it() {
    let inject = Inject {
        cut_to_recorded_size: true,
        ..Inject::default()
    };
    let r = run(Build::Locked, inject);
    assert!(r.schedule_reached);
    // W's own stamps, where zeros are due.
    let mut w = vec![0u8; W_LEN];
    stamp::fill(&mut w, W_POS, r.w_op, 0);
    let at = (W_POS - CUT) as usize;
    assert_eq!(&r.gap[at..at + W_LEN], &w[..]);
    assert_eq!(&r.gap_after_remount[at..at + W_LEN], &w[..]);
    let sectors = (W_LEN / 512) as u64;
    let read = r
        .read_check
        .as_ref()
        .expect("the read of the gap is a finding");
    assert_eq!(read.counts.stale, sectors, "{read}");
    for c in &r.checks {
        assert_eq!(c.counts.stale, sectors, "{c}");
        let v = &c.violations[0];
        assert_eq!(v.class, Class::Stale);
        assert_eq!(v.first_sector, W_POS / 512, "{c}");
        let want = format!(
            "truncated data came back: op {}'s bytes, cut by op {}",
            r.w_op, r.t_op
        );
        assert!(v.explanation.starts_with(&want), "{c}");
    }
}

/// Block 0 of `ino` as the disk holds it.
fn disk_block(fs: &lockline_engine::Fs, ino: u64) -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    fs.disk.read(ino, 0, &mut b).unwrap();
    b
}

/// A truncate into a block the page cache holds leaves that block on disk
/// to writeback. The disk used to rewrite it itself, from its own older
/// copy with the tail zeroed; a writeback IO of newer bytes landing between
/// that read and that write was lost (found by fsx-mix on lockless-min with
/// busy knobs: one round in 200, the last write's sectors old after remount).
/// When the block is not cached, the truncate reads it in and writes the
/// zeroed tail through the page cache.
#[test]
fn a_truncate_leaves_the_block_holding_eof_to_the_page_cache() {
    let d = disk(64 << 20);
    let fs = mount(&d, Build::Locked, Knobs::quiet());
    let ino = fs.open("/t", true).unwrap();
    let a = pattern(1, 0, 8192);
    fs.write(ino, 0, &a).unwrap();
    fs.fsync(ino).unwrap();
    let b = pattern(2, 0, 1536);
    fs.write(ino, 0, &b).unwrap();
    fs.truncate(ino, 2955).unwrap();
    assert_eq!(
        disk_block(&fs, ino),
        a[..4096],
        "the truncate wrote the cached block"
    );
    fs.fsync(ino).unwrap();
    let mut want = a[..4096].to_vec();
    want[..1536].copy_from_slice(&b);
    want[2955..].fill(0);
    assert_eq!(
        disk_block(&fs, ino),
        want,
        "writeback carried the cut block"
    );
    fs.unmount().unwrap();

    // Not cached: read in, zeroed, written back.
    let fs = mount(&d, Build::Locked, Knobs::quiet());
    let ino = fs.open("/t", false).unwrap();
    fs.truncate(ino, 1000).unwrap();
    fs.truncate(ino, 8192).unwrap();
    fs.unmount().unwrap();
    let fs = mount(&d, Build::Locked, Knobs::quiet());
    let ino = fs.open("/t", false).unwrap();
    let got = read_all(&fs, ino);
    assert_eq!(got[..1000], b[..1000]);
    assert!(
        got[1000..].iter().all(|x| *x == 0),
        "old bytes past the cut"
    );
    fs.unmount().unwrap();
}

/// The provenance check, from the run's digests alone, finds what the
/// stamps show: the same stale sectors in each check of the whole file.
#[test]
fn provenance_finds_the_old_cut_as_the_stamps_do() {
    let inject = Inject {
        cut_to_recorded_size: true,
        ..Inject::default()
    };
    let r = run(Build::Locked, inject);
    let judged = lockline_harness::check::provenance::judge(&r.events, &r.extents);
    assert_eq!(judged.checks.len(), r.checks.len());
    for (p, st) in judged.checks.iter().zip(&r.checks) {
        assert_eq!(p.label, st.label);
        assert_eq!(p.counts, st.counts, "{p}\n{st}");
        let (a, b) = (&p.violations[0], &st.violations[0]);
        assert_eq!(
            (a.class, a.first_sector, a.nr_sectors),
            (b.class, b.first_sector, b.nr_sectors)
        );
    }
    // The fixed disk: nothing, by either.
    let r = run(Build::Locked, Inject::default());
    let judged = lockline_harness::check::provenance::judge(&r.events, &r.extents);
    assert!(judged.checks.iter().all(|c| c.violations.is_empty()));
    assert_eq!(judged.checks.len(), r.checks.len());
}

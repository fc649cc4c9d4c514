//! Two writers driven into one interleaving (`scenario::two_writers`:
//! writer A parked between the two passes of a 2 MiB write, writer B
//! across A's pass boundary). Whether B can run in A's gap depends on the
//! lock protocol of the build; the checker judges the result from the
//! recorded history.

mod common;

use common::*;
use lockline_engine::config::Inject;
use lockline_engine::{Build, Knobs};
use lockline_harness::check::{self, Class};
use lockline_harness::scenario;

const MIB: u64 = 1 << 20;

/// The stamp checker's report; the provenance check of the same run, from
/// its digests alone, must find the same classes on the same sectors.
fn two_writers(build: Build, knobs: Knobs, initial: u64) -> check::CheckReport {
    let d = disk(64 << 20);
    let r = scenario::two_writers(&d.path, build, knobs, initial).expect("schedule ran");
    let judged = check::provenance::judge(&r.events, &r.extents);
    assert_eq!(judged.checks.len(), 1, "{build}: one check");
    let p = &judged.checks[0];
    assert_eq!(
        p.counts, r.check.counts,
        "{build}: provenance {p}\nstamps {}",
        r.check
    );
    let spans = |c: &check::CheckReport| -> Vec<(Class, u64, u64)> {
        c.violations
            .iter()
            .map(|v| (v.class, v.first_sector, v.nr_sectors))
            .collect()
    };
    assert_eq!(spans(p), spans(&r.check), "{build}");
    r.check
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
    assert_torn(&two_writers(Build::LocklessMin, Knobs::quiet(), 4 * MIB));
    // lockless restarts a write its pass cannot cover under the inode lock
    // before copying anything; locked holds the inode lock throughout.
    for build in [Build::Lockless, Build::Locked] {
        let r = two_writers(build, Knobs::quiet(), 4 * MIB);
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
        ..Knobs::quiet()
    };
    assert_torn(&two_writers(Build::Lockless, buggy, 0));
    // Without the bug B sees that it extends i_size, takes the inode lock
    // and waits for A.
    let r = two_writers(Build::Lockless, Knobs::quiet(), 0);
    assert!(r.is_clean(), "{r}");
}

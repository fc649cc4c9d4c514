//! Issue 21's schedule (scenario::writeback_cut): a truncate down meets a
//! writeback IO in flight, then the file is extended. The bytes the
//! truncate cut must read as zeros on every build, after the run and after
//! remount. With the pre-fix disk planted back (cut-to-recorded-size) they
//! come back, and the checker says so in its own words.

mod common;

use common::*;
use lockline_engine::check::Class;
use lockline_engine::config::Inject;
use lockline_engine::scenario::{writeback_cut, CutRun, CUT, W_LEN, W_POS};
use lockline_engine::{stamp, Build};

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

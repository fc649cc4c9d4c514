//! Issue 21's schedule (scenario::writeback_cut): a truncate down meets a
//! writeback IO in flight, then the file is extended. The bytes the
//! truncate cut must read as zeros on every build, after the run and after
//! remount, and the checker must have nothing to say.

mod common;

use common::*;
use lockline_engine::scenario::{writeback_cut, CutRun};
use lockline_engine::Build;

fn run(build: Build) -> CutRun {
    let d = disk(64 << 20);
    writeback_cut(&d.path, build).expect("schedule ran")
}

#[test]
fn cut_bytes_stay_cut_on_every_build() {
    for build in Build::ALL {
        let r = run(build);
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

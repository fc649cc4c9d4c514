//! The early-exit truncate hazard of the lockless path (DESIGN.md), driven
//! into its interleaving deterministically by `scenario::early_exit_truncate`
//! (the schedule is described there): the lockless build drops the
//! extending write E; the locked build, on the same schedule, does not.

mod common;

use common::*;
use lockline_engine::check::Class;
use lockline_engine::scenario::{early_exit_truncate, HazardRun, E_LEN, OLD_EOF};
use lockline_engine::{stamp, Build};

fn run(build: Build) -> HazardRun {
    let d = disk(64 << 20);
    early_exit_truncate(&d.path, build).expect("schedule ran")
}

#[test]
fn early_exit_truncate_drops_an_extending_write_only_when_lockless() {
    let lockless = run(Build::Lockless);
    assert!(
        lockless.schedule_reached,
        "N never waited while E was parked"
    );
    assert_eq!(lockless.e_result, E_LEN, "E was acknowledged in full");
    assert_eq!(
        lockless.size,
        OLD_EOF + E_LEN as u64,
        "i_size covers E's write"
    );
    assert!(
        lockless.e_bytes_after.iter().all(|b| *b == 0),
        "lockless: E's acknowledged bytes should read back as zeros (dropped)"
    );
    assert!(lockless.e_bytes_after_remount.iter().all(|b| *b == 0));
    // The checker proves it from the stamps: E's sectors, dropped.
    let last = lockless.checks.last().unwrap();
    let e_first = OLD_EOF / 512;
    assert!(
        last.violations.iter().any(|v| v.class == Class::Dropped
            && v.first_sector <= e_first
            && v.ops.iter().any(|o| o.op == lockless.e_op)),
        "{last}"
    );

    // The same schedule on the locked build: N waits for the inode lock
    // before touching the page cache, so nothing is lost.
    let locked = run(Build::Locked);
    assert!(locked.schedule_reached);
    let mut e_data = vec![0u8; E_LEN];
    stamp::fill(&mut e_data, OLD_EOF, locked.e_op, 0);
    assert_eq!(locked.e_bytes_after, e_data);
    assert_eq!(locked.e_bytes_after_remount, e_data);
    assert!(locked.checks.iter().all(|c| c.violations.is_empty()));
}

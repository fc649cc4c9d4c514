//! The early-exit truncate hazard (ARCHITECTURE.md, "The early-exit truncate
//! hazard: the result"), driven into its interleaving deterministically by
//! `scenario::early_exit_truncate` (the schedule is described there): the
//! lockless build drops the extending write E; the locked build, on the
//! same schedule, does not. An allocation failure or a read error takes the
//! same exit in every build, and in the reduced patch (lockless-min), where
//! N holds no inode lock, drops E too: the model's answer to why the reduced
//! patch still lost writes.

mod common;

use common::*;
use lockline_engine::Build;
use lockline_harness::check::{Class, ShortFile};
use lockline_harness::scenario::{early_exit_truncate, EarlyExit, HazardRun, E_LEN, OLD_EOF};
use lockline_harness::stamp;

fn run_with(build: Build, cause: EarlyExit) -> HazardRun {
    let d = disk(64 << 20);
    early_exit_truncate(&d.path, build, cause).expect("schedule ran")
}

fn run(build: Build) -> HazardRun {
    run_with(build, EarlyExit::NeedInodeLock)
}

/// E's bytes were dropped: acknowledged, inside i_size, zeros after the
/// run and after remount, and the checker says dropped, naming E.
fn assert_dropped(r: &HazardRun, what: &str) {
    assert!(
        r.schedule_reached,
        "{what}: N never waited while E was parked"
    );
    assert_eq!(r.e_result, E_LEN, "{what}: E was acknowledged in full");
    assert_eq!(r.size, OLD_EOF + E_LEN as u64, "{what}: i_size covers E");
    assert!(
        r.e_bytes_after.iter().all(|b| *b == 0),
        "{what}: E survived"
    );
    assert!(r.e_bytes_after_remount.iter().all(|b| *b == 0), "{what}");
    let last = r.checks.last().unwrap();
    assert!(
        last.violations.iter().any(|v| v.class == Class::Dropped
            && v.first_sector <= OLD_EOF / 512
            && v.ops.iter().any(|o| o.op == r.e_op)),
        "{what}: {last}"
    );
    // A reader of E's range after E returned is told so during the run.
    let read = r
        .read_check
        .as_ref()
        .expect("the verifying read saw the loss");
    assert_eq!(read.counts.dropped, (E_LEN / 512) as u64, "{what}: {read}");
    // E's data never reached the disk, so neither did its size: after
    // remount the file ends at the old EOF, a finding of its own.
    assert_eq!(r.size_after_remount, OLD_EOF, "{what}");
    assert_eq!(
        last.short_file,
        Some(ShortFile {
            size: OLD_EOF,
            acknowledged_end: OLD_EOF + E_LEN as u64
        }),
        "{what}: {last}"
    );
}

/// E's bytes are there, after the run and after remount.
fn assert_kept(r: &HazardRun, what: &str) {
    assert!(
        r.schedule_reached,
        "{what}: N never waited while E was parked"
    );
    let mut e_data = vec![0u8; E_LEN];
    stamp::fill(&mut e_data, OLD_EOF, r.e_op, 0);
    assert_eq!(r.e_bytes_after, e_data, "{what}");
    assert_eq!(r.e_bytes_after_remount, e_data, "{what}");
    assert!(r.checks.iter().all(|c| c.violations.is_empty()), "{what}");
    assert!(r.read_check.is_none(), "{what}: {:?}", r.read_check);
    assert_eq!(r.size_after_remount, OLD_EOF + E_LEN as u64, "{what}");
}

#[test]
fn an_allocation_failure_or_read_error_drops_a_write_in_the_reduced_patch() {
    for cause in [EarlyExit::AllocFailure, EarlyExit::ReadError] {
        let errno = match cause {
            EarlyExit::AllocFailure => libc::ENOMEM,
            _ => libc::EIO,
        };
        for build in [Build::LocklessMin, Build::Lockless] {
            let r = run_with(build, cause);
            assert_eq!(r.n_result, Err(errno), "{build} {cause:?}: N failed");
            assert_dropped(&r, &format!("{build} {cause:?}"));
        }
        // Locked: N waits for the inode lock, then fails with nothing of
        // E's past the i_size it truncates at.
        let r = run_with(Build::Locked, cause);
        assert_eq!(r.n_result, Err(errno), "locked {cause:?}");
        assert_kept(&r, &format!("locked {cause:?}"));
    }
}

#[test]
fn early_exit_truncate_drops_an_extending_write_only_when_lockless() {
    assert_dropped(&run(Build::Lockless), "lockless need-inode-lock");
    // The same schedule on the locked build: N waits for the inode lock
    // before touching the page cache, so nothing is lost.
    assert_kept(&run(Build::Locked), "locked");
}

//! Each lint on small hand-built event lists: one that breaks its rule and
//! one that keeps it.

use super::*;
use lockline_engine::probe::{Code, EventKind, LockClass, LockMode};

const INO: u64 = 5;

fn ev(ts: u64, tid: u32, kind: EventKind, class: u8, folio: u64, a: u64, b: u64) -> Event {
    let mode = if class == LockClass::PagecacheAdd as u8 {
        LockMode::Shared as u8
    } else {
        0
    };
    Event {
        ts_ns: ts,
        tid,
        code: Code::pack(kind, class, mode),
        inode: INO,
        folio,
        op: 1,
        a,
        b,
        fid: 0,
    }
}

fn lock(ts: u64, tid: u32, c: LockClass, folio: u64) -> Event {
    ev(ts, tid, EventKind::LockAcquired, c as u8, folio, 0, 0)
}

fn unlock(ts: u64, tid: u32, c: LockClass, folio: u64) -> Event {
    ev(ts, tid, EventKind::LockReleased, c as u8, folio, 0, 0)
}

fn only(lint: &'static str, events: &[Event]) -> Vec<Finding> {
    let opts = LintOptions {
        enabled: vec![lint],
        ..LintOptions::default()
    };
    run(events, &crate::holds_from_events(events), &opts)
}

#[test]
fn dirty_without_add_lock() {
    let name = "dirty-without-add-lock";
    let bad = [
        lock(1, 7, LockClass::Folio, 16),
        ev(2, 7, EventKind::FolioDirtied, 0, 16, 0, 8),
        unlock(3, 7, LockClass::Folio, 16),
    ];
    let f = only(name, &bad);
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].event, f[0].tid, f[0].folio), (1, 7, Some(16)));
    let good = [
        lock(1, 7, LockClass::PagecacheAdd, NO_FOLIO),
        lock(2, 7, LockClass::Folio, 16),
        ev(3, 7, EventKind::FolioDirtied, 0, 16, 0, 8),
        unlock(4, 7, LockClass::Folio, 16),
        unlock(5, 7, LockClass::PagecacheAdd, NO_FOLIO),
        // Another thread's add lock does not cover this one.
        lock(6, 8, LockClass::PagecacheAdd, NO_FOLIO),
    ];
    assert!(only(name, &good).is_empty());
    let mut other = good.to_vec();
    other.push(ev(7, 9, EventKind::FolioDirtied, 0, 16, 0, 8));
    assert_eq!(only(name, &other).len(), 1);
}

#[test]
fn isize_without_inode_lock() {
    let name = "isize-without-inode-lock";
    let bad = [
        lock(1, 7, LockClass::ILock, NO_FOLIO),
        ev(2, 7, EventKind::IsizeChanged, 0, NO_FOLIO, 0, 4096),
        unlock(3, 7, LockClass::ILock, NO_FOLIO),
    ];
    let f = only(name, &bad);
    assert_eq!(f.len(), 1);
    assert!(f[0].message.contains("i_lock only"), "{}", f[0].message);
    let good = [
        lock(1, 7, LockClass::Inode, NO_FOLIO),
        lock(2, 7, LockClass::ILock, NO_FOLIO),
        ev(3, 7, EventKind::IsizeChanged, 0, NO_FOLIO, 0, 4096),
        unlock(4, 7, LockClass::ILock, NO_FOLIO),
        unlock(5, 7, LockClass::Inode, NO_FOLIO),
    ];
    assert!(only(name, &good).is_empty());
}

#[test]
fn truncate_without_block_lock() {
    let name = "truncate-without-block-lock";
    let bad = [
        lock(1, 7, LockClass::PagecacheAdd, NO_FOLIO),
        ev(2, 7, EventKind::FolioTruncated, 0, 32, 0, 4),
    ];
    let f = only(name, &bad);
    assert_eq!(f.len(), 1);
    assert!(f[0].message.contains("add lock"));
    let good = [
        lock(1, 7, LockClass::PagecacheBlock, NO_FOLIO),
        ev(2, 7, EventKind::FolioTruncated, 0, 32, 0, 4),
        unlock(3, 7, LockClass::PagecacheBlock, NO_FOLIO),
    ];
    assert!(only(name, &good).is_empty());
}

#[test]
fn remove_without_folio_lock() {
    let name = "remove-without-folio-lock";
    let fid = |e: Event, fid: u64| Event { fid, ..e };
    // The planted bug: only the new folio (#9, same index) is locked while
    // the old one (#8) is migrated.
    let bad = [
        fid(lock(1, 3, LockClass::Folio, 48), 9),
        fid(ev(2, 3, EventKind::FolioMigrated, 0, 48, 2, 9), 8),
    ];
    let f = only(name, &bad);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].fid, Some(8));
    // Both locks held: the old one's and the new one's.
    let good = [
        fid(lock(1, 3, LockClass::Folio, 48), 8),
        fid(lock(2, 3, LockClass::Folio, 48), 9),
        fid(ev(3, 3, EventKind::FolioMigrated, 0, 48, 2, 9), 8),
        fid(unlock(4, 3, LockClass::Folio, 48), 9),
        fid(ev(5, 3, EventKind::FolioRemoved, 0, 48, 2, 0), 8),
        fid(unlock(6, 3, LockClass::Folio, 48), 8),
    ];
    assert!(only(name, &good).is_empty());
    // Two locks at one index are not enough when one is another folio's.
    let wrong = [
        fid(lock(1, 3, LockClass::Folio, 48), 9),
        fid(lock(2, 3, LockClass::Folio, 48), 10),
        fid(ev(3, 3, EventKind::FolioMigrated, 0, 48, 2, 9), 8),
    ];
    assert_eq!(only(name, &wrong).len(), 1);
}

#[test]
fn folio_lock_across_io() {
    let name = "folio-lock-across-io";
    let ms = 1_000_000;
    let bad = [
        lock(0, 4, LockClass::Folio, 0),
        ev(ms, 4, EventKind::FolioWritebackStart, 0, 0, 4, 8),
        ev(5 * ms, 4, EventKind::FolioWritebackEnd, 0, 0, 4, 0),
        unlock(6 * ms, 4, LockClass::Folio, 0),
    ];
    let f = only(name, &bad);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].event, 2);
    // Unlocked before the IO: fine however long the IO takes.
    let good = [
        lock(0, 4, LockClass::Folio, 0),
        ev(ms, 4, EventKind::FolioWritebackStart, 0, 0, 4, 8),
        unlock(ms + 10, 4, LockClass::Folio, 0),
        ev(9 * ms, 4, EventKind::FolioWritebackEnd, 0, 0, 4, 0),
    ];
    assert!(only(name, &good).is_empty());
}

#[test]
fn unreleased_lock() {
    let name = "unreleased-lock";
    let bad = [
        lock(1, 4, LockClass::Inode, NO_FOLIO),
        lock(2, 4, LockClass::Folio, 3),
        unlock(3, 4, LockClass::Folio, 3),
    ];
    let f = only(name, &bad);
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].event, f[0].folio), (0, None));
    let good = [
        lock(1, 4, LockClass::Inode, NO_FOLIO),
        unlock(2, 4, LockClass::Inode, NO_FOLIO),
    ];
    assert!(only(name, &good).is_empty());
}

#[test]
fn lock_order_cycle() {
    let name = "lock-order-cycle";
    // Thread 7 takes the inode lock then a folio; thread 8 a folio then
    // the inode lock: each could wait for the other forever.
    let bad = [
        lock(1, 7, LockClass::Inode, NO_FOLIO),
        lock(2, 7, LockClass::Folio, 16),
        unlock(3, 7, LockClass::Folio, 16),
        unlock(4, 7, LockClass::Inode, NO_FOLIO),
        lock(5, 8, LockClass::Folio, 17),
        lock(6, 8, LockClass::Inode, NO_FOLIO),
        unlock(7, 8, LockClass::Inode, NO_FOLIO),
        unlock(8, 8, LockClass::Folio, 17),
    ];
    let f = only(name, &bad);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].message
            .contains("inode then folio (tid 7, op 1), but folio then inode (tid 8"),
        "{}",
        f[0].message
    );
    // The same two threads in one order: no cycle.
    let good = [
        lock(1, 7, LockClass::Inode, NO_FOLIO),
        lock(2, 7, LockClass::Folio, 16),
        unlock(3, 7, LockClass::Folio, 16),
        unlock(4, 7, LockClass::Inode, NO_FOLIO),
        lock(5, 8, LockClass::Inode, NO_FOLIO),
        lock(6, 8, LockClass::Folio, 17),
        unlock(7, 8, LockClass::Folio, 17),
        unlock(8, 8, LockClass::Inode, NO_FOLIO),
    ];
    assert!(only(name, &good).is_empty());
    // Taken one after the other, not nested: no order at all.
    let apart = [
        lock(11, 8, LockClass::Folio, 17),
        unlock(12, 8, LockClass::Folio, 17),
        lock(13, 8, LockClass::Inode, NO_FOLIO),
        unlock(14, 8, LockClass::Inode, NO_FOLIO),
    ];
    assert!(only(name, &[&good[..], &apart[..]].concat()).is_empty());
}

#[test]
fn folio_locks_in_descending_order() {
    let name = "lock-order-cycle";
    let down = [
        lock(1, 7, LockClass::Folio, 20),
        lock(2, 7, LockClass::Folio, 16),
        unlock(3, 7, LockClass::Folio, 16),
        unlock(4, 7, LockClass::Folio, 20),
    ];
    let f = only(name, &down);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!((f[0].event, f[0].folio), (1, Some(16)));
    let up = [
        lock(1, 7, LockClass::Folio, 16),
        lock(2, 7, LockClass::Folio, 20),
        unlock(3, 7, LockClass::Folio, 20),
        unlock(4, 7, LockClass::Folio, 16),
        // Released first, then a lower one: not nested.
        lock(5, 7, LockClass::Folio, 3),
        unlock(6, 7, LockClass::Folio, 3),
    ];
    assert!(only(name, &up).is_empty());
}

#[test]
fn every_lint_is_listed_once() {
    let mut names: Vec<_> = ALL.iter().map(|l| l.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), ALL.len());
}

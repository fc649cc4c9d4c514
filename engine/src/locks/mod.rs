//! The locks of the buffered IO path, each instrumented at wait, acquire and
//! release. A wait event is emitted only when the uncontended attempt fails,
//! as the kernel's lock:contention_begin tracepoint does.

pub mod rwsem;
pub(crate) mod spinlock;
pub(crate) mod two_state_lock;

use crate::probe::points;
use crate::probe::yield_point::{self as sched, WaitKey};
use crate::probe::{LockClass, LockMode};

/// Takes a lock through `try_fast`, falling back to the blocking `slow`
/// path, and reports the hand-off to the probe points.
#[inline(always)]
pub(crate) fn acquire_traced(
    class: LockClass,
    mode: LockMode,
    inode: u64,
    folio: u64,
    fid: u64,
    try_fast: impl Fn() -> bool,
    slow: impl FnOnce(),
) {
    sched::before_lock(class);
    if !try_fast() {
        points::lock_wait(class, mode, inode, folio, fid);
        if sched::controlled() {
            acquire_scheduled(WaitKey::lock(class, inode, folio, fid), try_fast, slow);
        } else {
            slow();
        }
    }
    points::lock_acquired(class, mode, inode, folio, fid);
}

/// Under the explore scheduler a thread never sleeps in the OS: it parks
/// on the lock's key until a release lets it try again.
#[cold]
fn acquire_scheduled(key: WaitKey, try_fast: impl Fn() -> bool, slow: impl FnOnce()) {
    while !try_fast() {
        if !sched::block(key) {
            // Control given up: sleep as usual.
            return slow();
        }
    }
}

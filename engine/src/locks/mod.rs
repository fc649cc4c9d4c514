//! The locks of the buffered IO path, each instrumented at wait, acquire and
//! release. A wait event is emitted only when the uncontended attempt fails,
//! as the kernel's lock:contention_begin tracepoint does.

pub mod rwsem;
pub mod spinlock;
pub mod two_state_lock;

use crate::probe::points;
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
    try_fast: impl FnOnce() -> bool,
    slow: impl FnOnce(),
) {
    if !try_fast() {
        points::lock_wait(class, mode, inode, folio, fid);
        slow();
    }
    points::lock_acquired(class, mode, inode, folio, fid);
}

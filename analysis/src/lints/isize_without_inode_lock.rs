//! i_size moved by a thread that does not hold the inode lock. i_size_write
//! itself only needs i_lock, but every other path that reads i_size to
//! decide something (truncate, the post-EOF cleanup of a write, a writer's
//! own "does this extend the file" test) relies on the inode lock to keep it
//! still; the lockless write path changed exactly that (7e64c86cdc6c).

use super::{Ctx, Finding, LintInfo};
use lockline_engine::probe::{EventKind, LockClass};

pub const INFO: LintInfo = LintInfo {
    name: "isize-without-inode-lock",
    description: "i_size changed by a thread not holding the inode lock (i_lock alone)",
    engine_locks: true,
};

pub(crate) fn check(cx: &Ctx) -> Option<Finding> {
    let e = cx.e;
    if cx.kind != Some(EventKind::IsizeChanged) || cx.holds(LockClass::Inode) {
        return None;
    }
    let lock = if cx.holds(LockClass::ILock) {
        "i_lock only"
    } else {
        "no lock at all"
    };
    Some(cx.finding(
        INFO.name,
        format!(
            "i_size of inode {} moved {} -> {} by tid {} (op {}) with {lock}",
            e.inode, e.a, e.b, e.tid, e.op
        ),
    ))
}

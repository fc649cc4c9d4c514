//! A folio dirtied by a thread that holds neither the pagecache add lock
//! nor anything that excludes adds (the block lock, the inode lock taken
//! exclusively): the add lock is what keeps a truncate or a punch from
//! removing the folio between the copy and the dirtying
//! (bch2_buffered_write under bch2_pagecache_add_get, fs-io-buffered.c).

use super::{Ctx, Finding, LintInfo};
use lockline_engine::probe::{EventKind, LockClass};

pub const INFO: LintInfo = LintInfo {
    name: "dirty-without-add-lock",
    description:
        "folio dirtied without the pagecache add lock (or block/inode lock) held by that thread",
    engine_locks: true,
};

pub(crate) fn check(cx: &Ctx) -> Option<Finding> {
    let e = cx.e;
    if cx.kind != Some(EventKind::FolioDirtied) {
        return None;
    }
    use LockClass::{Inode, PagecacheAdd, PagecacheBlock};
    if cx.holds_any(&[PagecacheAdd, PagecacheBlock, Inode]) {
        return None;
    }
    Some(cx.finding(
        INFO.name,
        format!(
            "folio {} of inode {} dirtied by tid {} (op {}) holding neither the pagecache add lock nor the block or inode lock",
            e.folio, e.inode, e.tid, e.op
        ),
    ))
}

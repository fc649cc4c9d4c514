//! Page-cache truncation by a thread holding neither the pagecache block
//! lock nor the inode lock: nothing then stops a concurrent buffered write
//! from adding or dirtying a folio in the range being thrown away
//! (truncate_inode_pages_range under bch2_pagecache_block_get, fs-io.c).

use super::{Ctx, Finding, LintInfo};
use lockline_engine::probe::{EventKind, LockClass};

pub const INFO: LintInfo = LintInfo {
    name: "truncate-without-block-lock",
    description: "page cache truncated without the pagecache block lock or the inode lock",
    engine_locks: true,
};

pub(crate) fn check(cx: &Ctx) -> Option<Finding> {
    let e = cx.e;
    if cx.kind != Some(EventKind::FolioTruncated) {
        return None;
    }
    if cx.holds_any(&[LockClass::PagecacheBlock, LockClass::Inode]) {
        return None;
    }
    let add = if cx.holds(LockClass::PagecacheAdd) {
        " (it holds the add lock, which other writers share)"
    } else {
        ""
    };
    Some(cx.finding(
        INFO.name,
        format!(
            "folio {} of inode {} truncated from byte {} by tid {} (op {}) without the block or inode lock{add}",
            e.folio, e.inode, e.a, e.tid, e.op
        ),
    ))
}

//! A folio migrated or removed from the mapping by a thread that does not
//! hold its folio lock: a writer holding the lock may be copying into the
//! old folio while its contents move (migrate_folio and remove_mapping both
//! require the folio locked, mm/migrate.c, mm/vmscan.c). A migration must
//! hold both folios' locks: the old one's (the event's identity) and the
//! new one's (its `b`).

use super::{Ctx, Finding, LintInfo};
use lockline_engine::probe::EventKind;

pub const INFO: LintInfo = LintInfo {
    name: "remove-without-folio-lock",
    description: "folio migrated or removed from the page cache without its folio lock",
    engine_locks: true,
};

pub(crate) fn check(cx: &Ctx) -> Option<Finding> {
    let e = cx.e;
    let holds = |fid| cx.held.holds_folio(e.tid, e.inode, e.folio, fid);
    let (what, missing) = match cx.kind {
        Some(EventKind::FolioMigrated) if !holds(e.fid) => ("migrated", e.fid),
        Some(EventKind::FolioMigrated) if !holds(e.b) => ("migrated into a folio", e.b),
        Some(EventKind::FolioRemoved) if !holds(e.fid) => ("removed", e.fid),
        _ => return None,
    };
    Some(cx.finding(
        INFO.name,
        format!(
            "folio {} (#{missing}) of inode {} {what} by tid {} without its folio lock",
            e.folio, e.inode, e.tid
        ),
    ))
}

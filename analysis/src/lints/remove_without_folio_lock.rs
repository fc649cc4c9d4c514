//! A folio migrated or removed from the mapping by a thread that does not
//! hold its folio lock: a writer holding the lock may be copying into the
//! old folio while its contents move (migrate_folio and remove_mapping both
//! require the folio locked, mm/migrate.c, mm/vmscan.c). A migration
//! holds the new folio's lock too, so only the count tells them apart.

use super::{Ctx, Finding, LintInfo};
use lockline_engine::probe::EventKind;

pub const INFO: LintInfo = LintInfo {
    name: "remove-without-folio-lock",
    description: "folio migrated or removed from the page cache without its folio lock",
    engine_locks: true,
};

pub(crate) fn check(cx: &Ctx) -> Option<Finding> {
    let e = cx.e;
    // Events name folios by index, and a migration locks the new folio
    // (same index) as well as the old one: it must hold two.
    let (what, need) = match e.kind() {
        Some(EventKind::FolioMigrated) => ("migrated", 2),
        Some(EventKind::FolioRemoved) => ("removed", 1),
        _ => return None,
    };
    if cx.held.folio_locks(e.tid, e.inode, e.folio) >= need {
        return None;
    }
    Some(cx.finding(
        INFO.name,
        format!(
            "folio {} of inode {} {what} by tid {} without its folio lock",
            e.folio, e.inode, e.tid
        ),
    ))
}

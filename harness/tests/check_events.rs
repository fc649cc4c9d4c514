//! The checker through the crate's public API only: probe events in, a
//! report out, the way the runner and the command use it.

use lockline_engine::probe::{Code, Event, EventKind, OpKind, NO_FOLIO};
use lockline_harness::check::{self, Class};
use lockline_harness::history;
use lockline_harness::stamp;

const INO: u64 = 42;

fn op_event(ts: u64, tid: u32, begin: bool, kind: OpKind, op: u64, a: u64, b: u64) -> Event {
    let k = if begin {
        EventKind::OpBegin
    } else {
        EventKind::OpEnd
    };
    Event {
        ts_ns: ts,
        tid,
        code: Code::pack(k, kind as u8, 0),
        inode: INO,
        folio: NO_FOLIO,
        op,
        a,
        b,
        fid: 0,
    }
}

/// Two serial 8 KiB writes to the same range, then a punch of the first
/// 4 KiB; returns the events and the content a correct engine leaves.
fn scenario() -> (Vec<Event>, Vec<u8>) {
    let events = vec![
        op_event(1_000, 7, true, OpKind::Write, 1, 0, 8192),
        op_event(2_000, 7, false, OpKind::Write, 1, 0, 8192),
        op_event(3_000, 8, true, OpKind::Write, 2, 0, 8192),
        op_event(4_000, 8, false, OpKind::Write, 2, 0, 8192),
        op_event(5_000, 7, true, OpKind::Punch, 3, 0, 4096),
        op_event(6_000, 7, false, OpKind::Punch, 3, 0, 0),
    ];
    let mut file = vec![0u8; 8192];
    stamp::fill(&mut file, 0, 2, 1);
    file[..4096].fill(0);
    (events, file)
}

#[test]
fn correct_content_checks_clean() {
    let (events, file) = scenario();
    let h = history::from_events(&events);
    assert_eq!(h.len(), 3);
    let r = check::check(&h, INO, &file, check::AFTER_REMOUNT);
    assert!(r.is_clean(), "{r}");
    assert_eq!((r.sectors_checked, r.ok), (16, 16));
}

#[test]
fn older_write_after_remount_is_stale_and_reported_as_json() {
    let (events, mut file) = scenario();
    stamp::fill(&mut file[4096..], 4096, 1, 0);
    let h = history::from_events(&events);
    let r = check::check(&h, INO, &file, check::AFTER_REMOUNT);
    assert_eq!(r.counts.stale, 8, "{r}");
    let v = &r.violations[0];
    assert_eq!(
        (v.class, v.first_sector, v.nr_sectors, v.folio_index),
        (Class::Stale, 8, 8, 1)
    );
    assert_eq!(v.ops[0].op, 1);
    assert_eq!(v.ops[0].tid, 7);
    assert_eq!(v.ops[0].thread, Some(0));
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.contains("\"label\":\"after-remount\""), "{json}");
    assert!(json.contains("\"class\":\"stale\""), "{json}");
}

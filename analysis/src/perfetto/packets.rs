//! The packets of a Perfetto trace: field numbers of perfetto_trace.proto,
//! the interned names, and `Out`, which writes one sequence of packets
//! (track descriptors, track events, counters) with delta timestamps.

use super::wire::Msg;
use super::PerfettoStats;
use lockline_engine::probe::{EventKind, LockClass, OpKind};
use std::io::{self, Write};

// Field numbers of perfetto_trace.proto (TracePacket and what it holds).
pub(super) const TRACE_PACKET: u32 = 1;
pub(super) const P_TIMESTAMP: u32 = 8;
pub(super) const P_CLOCK_SNAPSHOT: u32 = 6;
pub(super) const P_SEQ_ID: u32 = 10;
pub(super) const P_TRACK_EVENT: u32 = 11;
pub(super) const P_INTERNED: u32 = 12;
pub(super) const P_SEQ_FLAGS: u32 = 13;
pub(super) const P_DEFAULTS: u32 = 59;
pub(super) const P_TRACK_DESCRIPTOR: u32 = 60;
pub(super) const DEFAULTS_CLOCK_ID: u32 = 58;
pub(super) const TD_UUID: u32 = 1;
pub(super) const TD_NAME: u32 = 2;
pub(super) const TD_PROCESS: u32 = 3;
pub(super) const TD_THREAD: u32 = 4;
pub(super) const TD_PARENT: u32 = 5;
pub(super) const TD_COUNTER: u32 = 8;
pub(super) const TE_CATEGORY_IIDS: u32 = 3;
pub(super) const TE_ANNOTATIONS: u32 = 4;
pub(super) const TE_TYPE: u32 = 9;
pub(super) const TE_NAME_IID: u32 = 10;
pub(super) const TE_TRACK: u32 = 11;
pub(super) const TE_NAME: u32 = 23;
pub(super) const TE_DOUBLE_VALUE: u32 = 44;
pub(super) const TE_FLOW_IDS: u32 = 47;
pub(super) const TE_TERMINATING_FLOW_IDS: u32 = 48;
pub(super) const DA_NAME_IID: u32 = 1;
pub(super) const DA_UINT: u32 = 3;
pub(super) const DA_INT: u32 = 4;
pub(super) const DA_STRING: u32 = 6;
pub(super) const TYPE_BEGIN: u64 = 1;
pub(super) const TYPE_END: u64 = 2;
pub(super) const TYPE_INSTANT: u64 = 3;
pub(super) const TYPE_COUNTER: u64 = 4;
pub(super) const SEQ_CLEARED: u64 = 1;
pub(super) const CLOCK_MONOTONIC: u64 = 3;
pub(super) const CLOCK_BOOTTIME: u64 = 6;
/// A sequence-scoped clock (64..127) whose timestamps are deltas.
pub(super) const CLOCK_DELTA: u64 = 64;
pub(super) const SEQ: u64 = 1;
pub(super) const PID: u64 = 1;

/// Debug annotation names, interned as their position + 1.
#[derive(Clone, Copy)]
#[repr(u8)]
pub(super) enum Ann {
    Op = 1,
    Ino,
    Offset,
    Len,
    Result,
    Round,
    Mode,
    Folio,
    Fid,
    A,
    B,
    Explanation,
    Culprit,
    Sectors,
    HeldBy,
    HolderOp,
    Unfinished,
    Check,
    Lock,
}
pub(super) const ANNOTATIONS: [&str; 19] = [
    "op",
    "ino",
    "offset",
    "len",
    "result",
    "round",
    "mode",
    "folio",
    "fid",
    "a",
    "b",
    "explanation",
    "culprit",
    "sectors",
    "held_by",
    "holder_op",
    "unfinished",
    "check",
    "lock",
];

/// Categories, interned the same way.
#[derive(Clone, Copy)]
#[repr(u8)]
pub(super) enum Cat {
    Op = 1,
    Lock,
    LockWait,
    Event,
    Violation,
    Round,
}
pub(super) const CATEGORIES: [&str; 6] = ["op", "lock", "lock_wait", "event", "violation", "round"];

/// Event names: event kinds by code, op kinds at 64 + code, holds at 128 +
/// class, waits at 160 + class, "round" at 200.
pub(super) fn iid_kind(k: EventKind) -> u64 {
    k as u64
}
pub(super) fn iid_op(k: OpKind) -> u64 {
    64 + k as u64
}
pub(super) fn iid_hold(c: LockClass) -> u64 {
    128 + c as u64
}
pub(super) fn iid_wait(c: LockClass) -> u64 {
    160 + c as u64
}
pub(super) const IID_ROUND: u64 = 200;

/// An event's name: interned, or a string of its own.
pub(super) enum Name<'a> {
    None,
    Iid(u64, Cat),
    Str(&'a str, Cat),
}

pub(super) enum Val<'a> {
    U(u64),
    I(i64),
    S(&'a str),
}

/// The packet stream and the state of its one sequence.
pub(super) struct Out<W: Write> {
    pub w: W,
    pub pkt: Msg,
    /// The time of the last timed packet (the delta clock's value).
    pub last: u64,
    pub next_uuid: u64,
    pub stats: PerfettoStats,
}

impl<W: Write> Out<W> {
    /// The sequence's first packet: the clocks (the delta clock starts at
    /// `t0`), the defaults that make every timestamp a delta, every
    /// interned name.
    pub(super) fn begin_sequence(&mut self, t0: u64) -> io::Result<()> {
        self.pkt.nested(P_CLOCK_SNAPSHOT, |m| {
            m.nested(1, |c| {
                c.uint(1, CLOCK_DELTA);
                c.uint(2, t0);
                c.uint(3, 1);
            });
            m.nested(1, |c| {
                c.uint(1, CLOCK_MONOTONIC);
                c.uint(2, t0);
            });
            m.nested(1, |c| {
                c.uint(1, CLOCK_BOOTTIME);
                c.uint(2, t0 + boottime_offset());
            });
        });
        self.pkt.uint(P_SEQ_ID, SEQ);
        self.pkt.uint(P_SEQ_FLAGS, SEQ_CLEARED);
        self.pkt
            .nested(P_DEFAULTS, |m| m.uint(DEFAULTS_CLOCK_ID, CLOCK_DELTA));
        self.pkt.nested(P_INTERNED, |m| {
            for (i, c) in CATEGORIES.iter().enumerate() {
                m.nested(1, |e| {
                    e.uint(1, i as u64 + 1);
                    e.str(2, c);
                });
            }
            let mut name = |iid: u64, s: &str| {
                m.nested(2, |e| {
                    e.uint(1, iid);
                    e.str(2, s);
                })
            };
            for &k in EventKind::ALL {
                name(iid_kind(k), k.name());
            }
            for &k in OpKind::ALL {
                name(iid_op(k), k.name());
            }
            for &c in LockClass::ALL {
                name(iid_hold(c), &format!("{} lock", c.name()));
                name(iid_wait(c), &format!("wait {}", c.name()));
            }
            name(IID_ROUND, "round");
            for (i, a) in ANNOTATIONS.iter().enumerate() {
                m.nested(3, |e| {
                    e.uint(1, i as u64 + 1);
                    e.str(2, a);
                });
            }
        });
        self.flush_packet()
    }

    /// Writes the packet built so far as one `Trace.packet` field.
    pub(super) fn flush_packet(&mut self) -> io::Result<()> {
        let mut head = Msg::default();
        head.bytes_head(TRACE_PACKET, self.pkt.buf.len());
        self.w.write_all(&head.buf)?;
        self.w.write_all(&self.pkt.buf)?;
        self.pkt.clear();
        self.stats.packets += 1;
        Ok(())
    }

    pub(super) fn uuid(&mut self) -> u64 {
        self.next_uuid += 1;
        self.stats.tracks += 1;
        self.next_uuid
    }

    /// A track: a child of `parent` (0: none) named `name`.
    pub(super) fn track(&mut self, parent: u64, name: &str, counter: bool) -> io::Result<u64> {
        let uuid = self.uuid();
        self.pkt.nested(P_TRACK_DESCRIPTOR, |m| {
            m.uint(TD_UUID, uuid);
            if parent != 0 {
                m.uint(TD_PARENT, parent);
            }
            m.str(TD_NAME, name);
            if counter {
                m.nested(TD_COUNTER, |_| {});
            }
        });
        self.flush_packet()?;
        Ok(uuid)
    }

    pub(super) fn thread_track(&mut self, parent: u64, tid: u32, name: &str) -> io::Result<u64> {
        let uuid = self.uuid();
        self.pkt.nested(P_TRACK_DESCRIPTOR, |m| {
            m.uint(TD_UUID, uuid);
            m.uint(TD_PARENT, parent);
            m.nested(TD_THREAD, |t| {
                t.uint(1, PID);
                t.uint(2, u64::from(tid));
                t.str(5, name);
            });
        });
        self.flush_packet()?;
        Ok(uuid)
    }

    /// One track event at `ts` (not before the last one).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn event(
        &mut self,
        ts: u64,
        kind: u64,
        track: u64,
        name: Name,
        args: &[(Ann, Val)],
        flows: &[u64],
        ends: &[u64],
    ) -> io::Result<()> {
        debug_assert!(ts >= self.last, "out of time order");
        self.pkt.uint(P_TIMESTAMP, ts.saturating_sub(self.last));
        self.last = self.last.max(ts);
        self.pkt.uint(P_SEQ_ID, SEQ);
        self.pkt.nested(P_TRACK_EVENT, |m| {
            m.uint(TE_TYPE, kind);
            m.uint(TE_TRACK, track);
            match name {
                Name::None => {}
                Name::Iid(iid, cat) => {
                    m.uint(TE_NAME_IID, iid);
                    m.uint(TE_CATEGORY_IIDS, cat as u64);
                }
                Name::Str(n, cat) => {
                    m.str(TE_NAME, n);
                    m.uint(TE_CATEGORY_IIDS, cat as u64);
                }
            }
            for (a, v) in args {
                m.nested(TE_ANNOTATIONS, |d| {
                    d.uint(DA_NAME_IID, *a as u64);
                    match v {
                        Val::U(x) => d.uint(DA_UINT, *x),
                        Val::I(x) => d.int(DA_INT, *x),
                        Val::S(s) => d.str(DA_STRING, s),
                    }
                });
            }
            for &f in flows {
                m.fixed64(TE_FLOW_IDS, f);
            }
            for &f in ends {
                m.fixed64(TE_TERMINATING_FLOW_IDS, f);
            }
        });
        self.flush_packet()
    }

    pub(super) fn counter(&mut self, ts: u64, track: u64, v: f64) -> io::Result<()> {
        self.pkt.uint(P_TIMESTAMP, ts.saturating_sub(self.last));
        self.last = self.last.max(ts);
        self.pkt.uint(P_SEQ_ID, SEQ);
        self.pkt.nested(P_TRACK_EVENT, |m| {
            m.uint(TE_TYPE, TYPE_COUNTER);
            m.uint(TE_TRACK, track);
            m.double(TE_DOUBLE_VALUE, if v.is_finite() { v } else { 0.0 });
        });
        self.flush_packet()
    }

    pub(super) fn end(&mut self, ts: u64, track: u64) -> io::Result<()> {
        self.event(ts, TYPE_END, track, Name::None, &[], &[], &[])
    }
}

/// CLOCK_BOOTTIME − CLOCK_MONOTONIC now: time spent suspended since boot.
/// The trace's times are CLOCK_MONOTONIC; the snapshot lets Perfetto line
/// them up with traces in its default clock (exact unless the machine
/// slept between the run and the export).
pub(super) fn boottime_offset() -> u64 {
    let read = |clock| {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: t is a valid timespec for the call to fill.
        unsafe { libc::clock_gettime(clock, &mut t) };
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    };
    read(libc::CLOCK_BOOTTIME).saturating_sub(read(libc::CLOCK_MONOTONIC))
}

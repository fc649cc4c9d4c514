//! Chrome trace-event JSON (the object form) for Perfetto: ops as slices on
//! their threads, lock holds and waits as async slices (holds overlap
//! without nesting, which complete slices cannot show), flows from each
//! write through the folio it dirtied to that folio's writeback, violations
//! and the starts of checked rounds as global instants, counters as
//! counter tracks. Times are microseconds
//! from the first event, fractional for nanoseconds.

mod emit;

use crate::counters;
use crate::holds::holds_from_events;
use crate::threads;
use crate::trace::Trace;
use emit::Out;
use lockline_engine::probe::{EventKind, NO_FOLIO};
use rustc_hash::FxHashMap as HashMap;
use std::io::{self, Write};

#[derive(Clone, Debug)]
pub struct ChromeOptions {
    /// Emit an instant for every event that is not a lock or op event
    /// (folio changes, i_size, mm actions); off keeps the file small.
    pub instants: bool,
}

impl Default for ChromeOptions {
    fn default() -> Self {
        ChromeOptions { instants: true }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChromeStats {
    pub trace_events: u64,
    pub flows: u64,
}

const PID: u32 = 1;

/// A folio index as an event argument: -1 for none.
fn folio_arg(folio: u64) -> i64 {
    if folio == NO_FOLIO {
        -1
    } else {
        folio as i64
    }
}

pub fn write(trace: &Trace, out: impl Write, opts: &ChromeOptions) -> io::Result<ChromeStats> {
    let ev = &trace.events;
    let (t0, t_end) = trace.time_bounds();
    let mut o = Out::new(out, t0)?;
    let m = &trace.meta;
    o.raw(&format!(
        r#"{{"ph":"M","pid":{PID},"name":"process_name","args":{{"name":{}}}}}"#,
        emit::s(&format!("lockline {} {}", m.build, m.workload))
    ))?;
    let names = threads::names(ev);
    for (i, (tid, name)) in names.iter().enumerate() {
        o.raw(&format!(
            r#"{{"ph":"M","pid":{PID},"tid":{tid},"name":"thread_name","args":{{"name":{}}}}}"#,
            emit::s(name)
        ))?;
        o.raw(&format!(
            r#"{{"ph":"M","pid":{PID},"tid":{tid},"name":"thread_sort_index","args":{{"sort_index":{i}}}}}"#
        ))?;
    }
    let name_of = |tid: u32| {
        names
            .get(&tid)
            .cloned()
            .unwrap_or_else(|| format!("tid {tid}"))
    };

    // Ops: complete slices.
    for op in &trace.ops {
        // An op that ends before it begins is a damaged trace's (the
        // consistency check names it): an empty slice here.
        let end = if op.finished() {
            op.end_ns.max(op.begin_ns)
        } else {
            t_end.max(op.begin_ns)
        };
        let label = match op.kind.name() {
            k @ ("write" | "read" | "punch" | "fallocate") => {
                format!("{k} {}@{}", op.len, op.offset)
            }
            "truncate" => format!("truncate to {}", op.offset),
            k => k.to_string(),
        };
        o.complete(
            op.tid,
            "op",
            &label,
            op.begin_ns,
            end - op.begin_ns,
            &format!(
                r#"{{"op":{},"ino":{},"offset":{},"len":{},"result":{},"unfinished":{},"round":{}}}"#,
                op.op,
                op.ino,
                op.offset,
                op.len,
                op.result,
                !op.finished(),
                op.round
            ),
        )?;
    }

    // Lock holds and waits: async slices, one track per (class, thread).
    for (id, h) in holds_from_events(ev).iter().enumerate() {
        let track = format!("{} · {}", h.class.name(), name_of(h.tid));
        let args = format!(
            r#"{{"mode":"{}","inode":{},"folio":{},"fid":{},"op":{},"wait_ns":{}}}"#,
            h.mode.name(),
            h.inode,
            folio_arg(h.folio),
            h.fid,
            h.op,
            h.wait_time()
        );
        if let Some(w) = h.wait_ns {
            let wname = format!("wait {track}");
            o.async_pair(
                h.tid,
                "lock_wait",
                &wname,
                id as u64,
                w,
                h.acquired_ns,
                &args,
            )?;
        }
        let end = h.released_ns.unwrap_or(t_end).max(h.acquired_ns);
        o.async_pair(h.tid, "lock", &track, id as u64, h.acquired_ns, end, &args)?;
    }

    // Flows write -> dirtied -> writeback start -> writeback end, and the
    // other events as instants.
    let mut dirty: HashMap<(u64, u64, u64), (u32, u64)> = HashMap::default();
    let mut in_flight: HashMap<(u64, u64, u64), u64> = HashMap::default();
    let mut flows = 0u64;
    for e in ev {
        // One folio identity is one flow: migration's new folio at the
        // same index starts its own.
        let key = (e.inode, e.folio, e.fid);
        let Some(kind) = e.kind() else { continue };
        match kind {
            EventKind::LockWait
            | EventKind::LockAcquired
            | EventKind::LockReleased
            | EventKind::OpBegin
            | EventKind::OpEnd => continue,
            EventKind::RoundBegin => {
                o.raw(&format!(
                    r#"{{"ph":"i","s":"g","pid":{PID},"tid":0,"cat":"round","name":"round {}","ts":{},"args":{{"round":{},"ino":{}}}}}"#,
                    e.a,
                    o.ts(e.ts_ns),
                    e.a,
                    e.inode
                ))?;
                continue;
            }
            EventKind::FolioDirtied => {
                dirty.insert(key, (e.tid, e.ts_ns));
            }
            EventKind::FolioWritebackStart => {
                if let Some((tid, ts)) = dirty.remove(&key) {
                    flows += 1;
                    o.flow('s', tid, flows, ts)?;
                    o.flow('t', e.tid, flows, e.ts_ns)?;
                    in_flight.insert(key, flows);
                }
            }
            EventKind::FolioWritebackEnd => {
                if let Some(id) = in_flight.remove(&key) {
                    o.flow('f', e.tid, id, e.ts_ns)?;
                }
            }
            _ => {}
        }
        // Flow points bind to a slice at their timestamp: dirtying and
        // writeback events are always zero-length slices, whatever `instants`.
        let anchor = matches!(
            kind,
            EventKind::FolioDirtied | EventKind::FolioWritebackStart | EventKind::FolioWritebackEnd
        );
        if anchor || opts.instants {
            o.complete(
                e.tid,
                "event",
                kind.name(),
                e.ts_ns,
                0,
                &format!(
                    r#"{{"inode":{},"folio":{},"fid":{},"op":{},"a":{},"b":{}}}"#,
                    e.inode,
                    folio_arg(e.folio),
                    e.fid,
                    e.op,
                    e.a,
                    e.b as i64
                ),
            )?;
        }
    }

    // Violations: global instants when the last involved op returned.
    for v in trace.final_violations() {
        let at = crate::blame::span(trace, v).map_or(t_end, |s| s.1);
        o.raw(&format!(
            r#"{{"ph":"i","s":"g","pid":{PID},"tid":0,"cat":"violation","name":{},"ts":{},"args":{{"round":{},"explanation":{},"first_sector":{},"nr_sectors":{},"ops":{:?}}}}}"#,
            emit::s(&format!("{} sectors {}..{}", v.class, v.first_sector, v.first_sector + v.nr_sectors)),
            o.ts(at),
            v.round,
            emit::s(&v.explanation),
            v.first_sector,
            v.nr_sectors,
            v.ops
        ))?;
    }

    // Counters.
    let derived = counters::derived_unless_stored(trace);
    for c in derived.iter().chain(&trace.counters) {
        let name = if c.tid == 0 {
            c.track.clone()
        } else {
            format!("{} · {}", c.track, name_of(c.tid))
        };
        o.raw(&format!(
            r#"{{"ph":"C","pid":{PID},"name":{},"ts":{},"args":{{"value":{}}}}}"#,
            emit::s(&name),
            o.ts(c.ts_ns),
            if c.value.is_finite() { c.value } else { 0.0 }
        ))?;
    }

    let n = o.finish(&format!(
        r#"{{"build":{},"workload":{},"seed":{},"probe_source":{},"lost_events":{},"t0_ns":{t0},"time_unit":"µs since t0_ns (CLOCK_MONOTONIC)"}}"#,
        emit::s(&m.build),
        emit::s(&m.workload),
        m.seed,
        emit::s(&m.probe_source),
        m.lost_events
    ))?;
    Ok(ChromeStats {
        trace_events: n,
        flows,
    })
}

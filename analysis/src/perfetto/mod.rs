//! Perfetto's own trace format (a stream of protobuf TracePackets, the
//! format ui.perfetto.dev and trace_processor read natively): a track per
//! thread with its ops as slices, lock holds as slices on child tracks
//! (one per class, more where holds of a class overlap without nesting),
//! waits on a track of their own, folio and mm events as instants, counter
//! tracks, the violations as instants with their explanation and culprit,
//! and flows: write → writeback, holder → waiter at each hand-off
//! (`blocked_by`), culprit → violation.
//!
//! Written as one time-ordered stream: the ops, holds, waits, events,
//! counters and violations are merged by time, with slice ends kept in a
//! heap until their time comes, so memory beyond the trace itself is what
//! is open at once. Timestamps are deltas on a sequence-scoped incremental
//! clock pinned to CLOCK_MONOTONIC by a clock snapshot, and every name is
//! interned once, which is what keeps the file small.

mod packets;
mod tracks;
mod wire;

use crate::blocked_by::{blocked_by, lock_name};
use crate::chrome::ChromeOptions;
use crate::counters;
use crate::culprit::culprits;
use crate::holds::{holds_from_events, Hold};
use crate::threads;
use crate::trace::Trace;
use lockline_engine::probe::{EventKind, LockClass, NO_FOLIO};
use packets::*;
use rustc_hash::FxHashMap as HashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use tracks::{Kind, Lanes};
use wire::Msg;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerfettoStats {
    pub packets: u64,
    pub tracks: u64,
    /// Flows: write → writeback, hand-offs, culprit → violation.
    pub flows: u64,
    pub handoffs: u64,
}

/// What begins at a time, from one of the merged streams.
#[derive(Clone, Copy)]
enum Item {
    /// Event index.
    Event(usize),
    /// Op index.
    Op(usize),
    /// Hold index (its wait).
    Wait(usize),
    /// Hold index.
    Hold(usize),
    /// Counter sample: 0 derived, 1 stored; index.
    Counter(u8, usize),
    /// Violation index (into the final violations).
    Violation(usize),
}

pub fn write(trace: &Trace, out: impl Write, opts: &ChromeOptions) -> io::Result<PerfettoStats> {
    // A trace's events are in time order unless the trace is damaged
    // (`analyze` says so: the consistency check's time-backwards), but
    // the stream's timestamps are deltas and cannot go back: such a
    // trace's events go out sorted by time, each at its own timestamp.
    // Found by fuzz/trace (a damaged events table).
    let sorted;
    let trace = if trace.events.is_sorted_by_key(|e| e.ts_ns) {
        trace
    } else {
        let mut t = trace.clone();
        t.events.sort_by_key(|e| e.ts_ns);
        sorted = t;
        &sorted
    };
    let ev = &trace.events;
    let (t0, t_end) = trace.time_bounds();
    let holds = holds_from_events(ev);
    let blocked = blocked_by(&holds);
    let mut o = Out {
        w: out,
        pkt: Msg::default(),
        last: t0,
        next_uuid: 0,
        stats: PerfettoStats::default(),
    };

    o.begin_sequence(t0)?;

    // Process, threads, and the global tracks.
    let m = &trace.meta;
    let process = o.uuid();
    o.pkt.nested(P_TRACK_DESCRIPTOR, |d| {
        d.uint(TD_UUID, process);
        d.nested(TD_PROCESS, |p| {
            p.uint(1, PID);
            p.str(6, &format!("lockline {} {}", m.build, m.workload));
        });
    });
    o.flush_packet()?;
    let names = threads::names(ev);
    let mut thread_uuid: HashMap<u32, u64> = HashMap::default();
    let mut tids: Vec<u32> = ev.iter().map(|e| e.tid).collect();
    tids.extend(trace.ops.iter().map(|o| o.tid));
    tids.sort_unstable();
    tids.dedup();
    for tid in tids {
        let name = names
            .get(&tid)
            .cloned()
            .unwrap_or_else(|| format!("tid {tid}"));
        let u = o.thread_track(process, tid, &name)?;
        thread_uuid.insert(tid, u);
    }
    let violations_track = o.track(process, "violations", false)?;
    let rounds_track = o.track(process, "rounds", false)?;

    // Flows, decided before anything is written: a flow's first event
    // comes before its last in time, so in the stream.
    let mut flow_id = 0u64;
    let mut next_flow = || {
        flow_id += 1;
        flow_id
    };
    let mut handoff_out: HashMap<usize, Vec<u64>> = HashMap::default();
    let mut handoff_in: HashMap<usize, (u64, usize)> = HashMap::default();
    for w in &blocked.waits {
        if let Some(g) = w.handoff {
            let f = next_flow();
            handoff_out.entry(g).or_default().push(f);
            handoff_in.insert(w.hold, (f, g));
        }
    }
    o.stats.handoffs = handoff_in.len() as u64;
    // write → writeback: a folio's dirtying, the writeback that took it
    // and that writeback's end, one flow per folio identity and round
    // trip (only those that reached the disk: a flow needs two ends).
    let mut event_flows: HashMap<usize, (Vec<u64>, Vec<u64>)> = HashMap::default();
    {
        let mut dirty: HashMap<(u64, u64, u64), usize> = HashMap::default();
        let mut in_flight: HashMap<(u64, u64, u64), u64> = HashMap::default();
        for (i, e) in ev.iter().enumerate() {
            let key = (e.inode, e.folio, e.fid);
            match e.kind() {
                Some(EventKind::FolioDirtied) => {
                    dirty.insert(key, i);
                }
                Some(EventKind::FolioWritebackStart) => {
                    if let Some(d) = dirty.remove(&key) {
                        let f = next_flow();
                        event_flows.entry(d).or_default().0.push(f);
                        event_flows.entry(i).or_default().0.push(f);
                        in_flight.insert(key, f);
                        o.stats.flows += 1;
                    }
                }
                Some(EventKind::FolioWritebackEnd) => {
                    if let Some(f) = in_flight.remove(&key) {
                        event_flows.entry(i).or_default().1.push(f);
                    }
                }
                _ => {}
            }
        }
    }
    let finals: Vec<_> = trace.final_violations().collect();
    let culprit = culprits(trace);
    let mut violation_at: Vec<(u64, Option<u64>)> = Vec::new();
    for v in &finals {
        let c = culprit.get(&v.id);
        let at = crate::blame::span_with(trace, v, c).map_or(t_end, |s| s.1);
        let flow = c.map(|c| {
            let f = next_flow();
            event_flows.entry(c.event as usize).or_default().0.push(f);
            f
        });
        violation_at.push((at, flow));
    }

    // The merged streams, each in time order.
    let mut by_op: Vec<usize> = (0..trace.ops.len()).collect();
    by_op.sort_by_key(|&i| trace.ops[i].begin_ns);
    let mut by_wait: Vec<usize> = (0..holds.len())
        .filter(|&i| holds[i].wait_ns.is_some())
        .collect();
    by_wait.sort_by_key(|&i| holds[i].wait_ns);
    let derived = counters::derived_unless_stored(trace);
    let counter_sets = [&derived[..], &trace.counters[..]];
    let mut by_counter: Vec<(u64, u8, usize)> = counter_sets
        .iter()
        .enumerate()
        .flat_map(|(s, set)| {
            set.iter()
                .enumerate()
                .map(move |(i, c)| (c.ts_ns, s as u8, i))
        })
        .collect();
    by_counter.sort_unstable();
    let mut by_violation: Vec<usize> = (0..finals.len()).collect();
    by_violation.sort_by_key(|&i| violation_at[i].0);
    let op_end = |op: &lockline_harness::history::OpRecord| {
        // An op that ends before it begins is a damaged trace's (the
        // consistency check names it): an empty slice here.
        if op.finished() {
            op.end_ns.max(op.begin_ns)
        } else {
            t_end.max(op.begin_ns)
        }
    };
    let hold_end = |h: &Hold| h.released_ns.unwrap_or(t_end).max(h.acquired_ns);

    let mut heads = [0usize; 6];
    let head_of = |heads: &[usize; 6]| -> Option<(u64, Item)> {
        let mut best: Option<(u64, Item)> = None;
        let mut offer = |t: u64, it: Item| {
            if best.is_none_or(|(bt, _)| t < bt) {
                best = Some((t, it));
            }
        };
        if let Some(e) = ev.get(heads[0]) {
            offer(e.ts_ns, Item::Event(heads[0]));
        }
        if let Some(&i) = by_op.get(heads[1]) {
            offer(trace.ops[i].begin_ns, Item::Op(i));
        }
        if let Some(&h) = by_wait.get(heads[2]) {
            offer(holds[h].wait_ns.unwrap_or(0), Item::Wait(h));
        }
        if let Some(h) = holds.get(heads[3]) {
            offer(h.acquired_ns, Item::Hold(heads[3]));
        }
        if let Some(&(t, s, i)) = by_counter.get(heads[4]) {
            offer(t, Item::Counter(s, i));
        }
        if let Some(&v) = by_violation.get(heads[5]) {
            offer(violation_at[v].0, Item::Violation(v));
        }
        best
    };

    let mut lanes = Lanes::default();
    let mut ends: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
    let mut counter_track_of: HashMap<(&str, u32), u64> = HashMap::default();
    let class_label = |c: u8| LockClass::from_u8(c).map_or("?", LockClass::name);

    while let Some((t, item)) = head_of(&heads) {
        // Slices ending by now end first: a slice that ends when the next
        // one on its lane begins is its sibling, not its parent.
        while let Some(&Reverse((e, track))) = ends.peek() {
            if e > t {
                break;
            }
            ends.pop();
            o.end(e, track)?;
        }
        // A slice's lane track, created when the lane is.
        let mut place = |o: &mut Out<_>, tid: u32, kind: Kind, b: u64, e: u64| {
            let p = lanes.place(tid, kind, b, e);
            if p.uuid != 0 {
                return Ok::<u64, io::Error>(p.uuid);
            }
            let parent = thread_uuid.get(&tid).copied().unwrap_or(process);
            let uuid = match kind {
                Kind::Ops if p.lane == 0 => parent,
                Kind::Ops => o.track(parent, &format!("ops #{}", p.lane + 1), false)?,
                Kind::Lock(c) if p.lane == 0 => {
                    o.track(parent, &format!("{} locks", class_label(c)), false)?
                }
                Kind::Lock(c) => o.track(
                    parent,
                    &format!("{} locks #{}", class_label(c), p.lane + 1),
                    false,
                )?,
                Kind::Waits if p.lane == 0 => o.track(parent, "waits", false)?,
                Kind::Waits => o.track(parent, &format!("waits #{}", p.lane + 1), false)?,
            };
            lanes.name_lane(tid, kind, uuid);
            Ok(uuid)
        };
        match item {
            Item::Event(i) => {
                heads[0] += 1;
                let e = &ev[i];
                let Some(kind) = e.kind() else { continue };
                let track = thread_uuid.get(&e.tid).copied().unwrap_or(process);
                let (flows, terminating) = event_flows
                    .get(&i)
                    .map_or((&[][..], &[][..]), |(f, t)| (&f[..], &t[..]));
                match kind {
                    // Ops and locks are slices; a culprit's flow may still
                    // need one of their events as its instant.
                    EventKind::LockWait
                    | EventKind::LockAcquired
                    | EventKind::LockReleased
                    | EventKind::OpBegin
                    | EventKind::OpEnd
                        if flows.is_empty() =>
                    {
                        continue
                    }
                    EventKind::RoundBegin => {
                        o.event(
                            e.ts_ns,
                            TYPE_INSTANT,
                            rounds_track,
                            Name::Iid(IID_ROUND, Cat::Round),
                            &[(Ann::Round, Val::U(e.a)), (Ann::Ino, Val::U(e.inode))],
                            &[],
                            &[],
                        )?;
                        continue;
                    }
                    _ => {}
                }
                // Flow points are always written, whatever `instants`.
                if flows.is_empty() && terminating.is_empty() && !opts.instants {
                    continue;
                }
                let mut args: Vec<(Ann, Val)> = vec![(Ann::Ino, Val::U(e.inode))];
                if e.folio != NO_FOLIO {
                    args.push((Ann::Folio, Val::U(e.folio)));
                }
                if e.fid != 0 {
                    args.push((Ann::Fid, Val::U(e.fid)));
                }
                if e.op != 0 {
                    args.push((Ann::Op, Val::U(e.op)));
                }
                if e.a != 0 {
                    args.push((Ann::A, Val::U(e.a)));
                }
                if e.b != 0 {
                    args.push((Ann::B, Val::I(e.b as i64)));
                }
                o.event(
                    e.ts_ns,
                    TYPE_INSTANT,
                    track,
                    Name::Iid(iid_kind(kind), Cat::Event),
                    &args,
                    flows,
                    terminating,
                )?;
            }
            Item::Op(i) => {
                heads[1] += 1;
                let op = &trace.ops[i];
                let end = op_end(op);
                let track = place(&mut o, op.tid, Kind::Ops, op.begin_ns, end)?;
                let mut args = vec![
                    (Ann::Op, Val::U(op.op)),
                    (Ann::Ino, Val::U(op.ino)),
                    (Ann::Offset, Val::U(op.offset)),
                    (Ann::Len, Val::U(op.len)),
                    (Ann::Result, Val::I(op.result)),
                ];
                if op.round != 0 {
                    args.push((Ann::Round, Val::U(u64::from(op.round))));
                }
                if !op.finished() {
                    args.push((Ann::Unfinished, Val::U(1)));
                }
                o.event(
                    op.begin_ns,
                    TYPE_BEGIN,
                    track,
                    Name::Iid(iid_op(op.kind), Cat::Op),
                    &args,
                    &[],
                    &[],
                )?;
                ends.push(Reverse((end, track)));
            }
            Item::Wait(h) => {
                heads[2] += 1;
                let hd = &holds[h];
                let begin = hd.wait_ns.unwrap_or(hd.acquired_ns);
                let track = place(&mut o, hd.tid, Kind::Waits, begin, hd.acquired_ns)?;
                let mut args = vec![(Ann::Mode, Val::S(hd.mode.name()))];
                let held_by;
                if let Some(w) = blocked.of_hold(h) {
                    if let Some(g) = w.handoff {
                        let g = &holds[g];
                        held_by = format!(
                            "{} (op {})",
                            names
                                .get(&g.tid)
                                .cloned()
                                .unwrap_or_else(|| format!("tid {}", g.tid)),
                            g.op
                        );
                        args.push((Ann::HeldBy, Val::S(&held_by)));
                        args.push((Ann::HolderOp, Val::U(g.op)));
                    }
                }
                let what = lock_name(hd);
                args.push((Ann::Lock, Val::S(&what)));
                o.event(
                    begin,
                    TYPE_BEGIN,
                    track,
                    Name::Iid(iid_wait(hd.class), Cat::LockWait),
                    &args,
                    &[],
                    &[],
                )?;
                ends.push(Reverse((hd.acquired_ns, track)));
            }
            Item::Hold(h) => {
                heads[3] += 1;
                let hd = &holds[h];
                let end = hold_end(hd);
                let track = place(
                    &mut o,
                    hd.tid,
                    Kind::Lock(hd.class as u8),
                    hd.acquired_ns,
                    end,
                )?;
                let mut args = vec![
                    (Ann::Mode, Val::S(hd.mode.name())),
                    (Ann::Ino, Val::U(hd.inode)),
                    (Ann::Op, Val::U(hd.op)),
                ];
                if hd.folio != NO_FOLIO {
                    args.push((Ann::Folio, Val::U(hd.folio)));
                }
                if hd.fid != 0 {
                    args.push((Ann::Fid, Val::U(hd.fid)));
                }
                let outs = handoff_out.get(&h).map_or(&[][..], |v| &v[..]);
                let ins: Vec<u64> = handoff_in.get(&h).map(|&(f, _)| f).into_iter().collect();
                o.event(
                    hd.acquired_ns,
                    TYPE_BEGIN,
                    track,
                    Name::Iid(iid_hold(hd.class), Cat::Lock),
                    &args,
                    outs,
                    &ins,
                )?;
                ends.push(Reverse((end, track)));
            }
            Item::Counter(s, i) => {
                heads[4] += 1;
                let c = &counter_sets[s as usize][i];
                let track = match counter_track_of.get(&(c.track.as_str(), c.tid)) {
                    Some(&u) => u,
                    None => {
                        let parent = if c.tid == 0 {
                            process
                        } else {
                            thread_uuid.get(&c.tid).copied().unwrap_or(process)
                        };
                        let u = o.track(parent, &c.track, true)?;
                        counter_track_of.insert((c.track.as_str(), c.tid), u);
                        u
                    }
                };
                o.counter(c.ts_ns, track, c.value)?;
            }
            Item::Violation(vi) => {
                heads[5] += 1;
                let v = finals[vi];
                let (at, flow) = violation_at[vi];
                let title = format!(
                    "{} sectors {}..{}",
                    v.class,
                    v.first_sector,
                    v.first_sector + v.nr_sectors
                );
                let sectors = format!("{}+{}", v.first_sector, v.nr_sectors);
                let mut args = vec![
                    (Ann::Explanation, Val::S(&v.explanation)),
                    (Ann::Sectors, Val::S(&sectors)),
                    (Ann::Ino, Val::U(v.ino)),
                    (Ann::Round, Val::U(u64::from(v.round))),
                    (Ann::Check, Val::S(&v.check)),
                ];
                if let Some(c) = culprit.get(&v.id) {
                    args.push((Ann::Culprit, Val::S(&c.line)));
                }
                let ends_here: Vec<u64> = flow.into_iter().collect();
                o.event(
                    at,
                    TYPE_INSTANT,
                    violations_track,
                    Name::Str(&title, Cat::Violation),
                    &args,
                    &[],
                    &ends_here,
                )?;
            }
        }
    }
    while let Some(Reverse((e, track))) = ends.pop() {
        o.end(e, track)?;
    }
    o.stats.flows +=
        o.stats.handoffs + violation_at.iter().filter(|v| v.1.is_some()).count() as u64;
    o.w.flush()?;
    Ok(o.stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(t: &Trace) -> Vec<u8> {
        let mut v = Vec::new();
        write(t, &mut v, &ChromeOptions::default()).expect("to memory");
        v
    }

    /// Found by the trace reader's fuzz target: a damaged events table out
    /// of time order tripped the writer's ordering (a panic in a debug
    /// build, events moved in time in a release one).
    #[test]
    fn events_out_of_time_order_go_out_sorted() {
        let t = crate::synth::generate(2_000, 2, 3);
        let mut shuffled = t.clone();
        let n = shuffled.events.len();
        shuffled.events.swap(10, n - 10);
        shuffled.events[..n / 2].reverse();
        assert!(!shuffled.events.is_sorted_by_key(|e| e.ts_ns));
        let mut resorted = shuffled.clone();
        resorted.events.sort_by_key(|e| e.ts_ns);
        assert_eq!(bytes(&shuffled), bytes(&resorted));
        // And an op that ends before it begins is written, not a panic,
        // here and in the Chrome export.
        let mut t = t;
        let op = &mut t.ops[0];
        op.end_ns = op.begin_ns.saturating_sub(5);
        assert!(!bytes(&t).is_empty());
        let mut chrome = Vec::new();
        crate::chrome::write(&t, &mut chrome, &ChromeOptions::default()).expect("to memory");
    }
}

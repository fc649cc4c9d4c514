"""Decodes a Perfetto trace written by `lockline export --format perfetto`
with the protobuf classes the PyPI `perfetto` package ships (nothing is
downloaded) and checks its structure the way trace_processor will read it:

- timestamps: the incremental clock's deltas rebuild CLOCK_MONOTONIC times
  that never go back;
- every track event names a described track; thread tracks carry the
  names and tids expected;
- slices on one track nest (begin/end as a stack, ends before begins at
  one time) and every slice ends;
- every flow has a first point and a later one.

    python3 scripts/check_perfetto.py TRACE.pb[.gz] EXPECT.json

EXPECT.json (written by the test): {"threads": {"tid": "name"}, "ops": N,
"holds": N, "waits": N, "handoffs": N, "violations": N}. Prints one summary
line as JSON; exit status 1 on any failure.
"""
import collections
import gzip
import json
import sys

from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

BEGIN, END, INSTANT, COUNTER = 1, 2, 3, 4


def load(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    t = pb.Trace()
    t.ParseFromString(raw)
    return t


def main():
    path, expect_path = sys.argv[1], sys.argv[2]
    expect = json.load(open(expect_path))
    t = load(path)
    fail = []
    tracks = {}
    threads = {}
    names = {}
    cats = {}
    incremental = set()
    clock_now = {}
    default_clock = None
    last_ts = 0
    open_slices = collections.defaultdict(list)
    counts = collections.Counter()
    flows = collections.defaultdict(list)
    for i, p in enumerate(t.packet):
        if p.HasField("clock_snapshot"):
            for c in p.clock_snapshot.clocks:
                if c.is_incremental:
                    incremental.add(c.clock_id)
                clock_now[c.clock_id] = c.timestamp
        if p.HasField("trace_packet_defaults"):
            default_clock = p.trace_packet_defaults.timestamp_clock_id
        if p.HasField("interned_data"):
            for n in p.interned_data.event_names:
                names[n.iid] = n.name
            for n in p.interned_data.event_categories:
                cats[n.iid] = n.name
        if p.HasField("track_descriptor"):
            d = p.track_descriptor
            if d.uuid in tracks:
                fail.append(f"track {d.uuid} described twice")
            if d.HasField("parent_uuid") and d.parent_uuid not in tracks:
                fail.append(f"track {d.uuid}: parent {d.parent_uuid} not described before it")
            tracks[d.uuid] = d
            if d.HasField("thread"):
                threads[str(d.thread.tid)] = d.thread.thread_name
            continue
        if not p.HasField("track_event"):
            continue
        clock = p.timestamp_clock_id or default_clock
        if clock in incremental:
            clock_now[clock] += p.timestamp
            ts = clock_now[clock]
        else:
            ts = p.timestamp
        if ts < last_ts:
            fail.append(f"packet {i}: time goes back ({ts} < {last_ts})")
        last_ts = ts
        e = p.track_event
        if e.track_uuid not in tracks:
            fail.append(f"packet {i}: track {e.track_uuid} not described")
        name = e.name or names.get(e.name_iid, "")
        if e.type not in (END, COUNTER) and not name:
            fail.append(f"packet {i}: event without a name")
        cat = cats.get(e.category_iids[0], "") if e.category_iids else ""
        stack = open_slices[e.track_uuid]
        if e.type == BEGIN:
            stack.append((ts, name))
            counts["slice:" + cat] += 1
        elif e.type == END:
            if not stack:
                fail.append(f"packet {i}: slice end on track {e.track_uuid} with none open")
            else:
                stack.pop()
        elif e.type == INSTANT:
            counts["instant:" + cat] += 1
        elif e.type == COUNTER:
            counts["counter"] += 1
        for f in e.flow_ids:
            flows[f].append((ts, False))
        for f in e.terminating_flow_ids:
            flows[f].append((ts, True))
    for u, s in open_slices.items():
        if s:
            fail.append(f"track {u}: {len(s)} slices never end (first {s[0]})")
    for f, pts in flows.items():
        if len(pts) < 2:
            fail.append(f"flow {f} has one end only")
        elif pts[0][1]:
            fail.append(f"flow {f} terminates before it begins")
    if threads != expect["threads"]:
        fail.append(f"threads {threads} != expected {expect['threads']}")
    want = {
        "slice:op": expect["ops"],
        "slice:lock": expect["holds"],
        "slice:lock_wait": expect["waits"],
        "instant:violation": expect["violations"],
    }
    for k, n in want.items():
        if counts[k] != n:
            fail.append(f"{k}: {counts[k]} in the file, {n} expected")
    handoff_flows = sum(
        1 for pts in flows.values() if len(pts) == 2 and pts[1][1] and pts[0][0] <= pts[1][0]
    )
    if handoff_flows < expect["handoffs"]:
        fail.append(f"{handoff_flows} two-point flows, fewer than the {expect['handoffs']} hand-offs")
    print(json.dumps({"packets": len(t.packet), "tracks": len(tracks), "flows": len(flows),
                      **{k: counts[k] for k in sorted(counts)}, "failures": len(fail)}))
    for f in fail[:20]:
        print("FAIL", f)
    sys.exit(1 if fail else 0)


if __name__ == "__main__":
    main()

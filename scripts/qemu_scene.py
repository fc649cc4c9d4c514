#!/usr/bin/env python3
"""The seed's scene for real: QEMU (qemu-io -s with concurrent aio_write and
read -P, a preallocated overlay, qemu-img bench -w -i threads and qemu-img
check) through `lockline client qemu --via exec`, on each build, with and
without the knobs the model says matter. Per build and knob set: regions
and images QEMU's own checks found bad, sectors the provenance check found
dropped/stale/torn, and how often writes met inside the engine (op spans):
an extending write beside another, and two writes on one page.

usage: scripts/qemu_scene.py [--bin target/release/lockline] [--seeds 3]
                             [--threads 8] [--via exec|mount]
"""
import argparse
import json
import subprocess
import sys
import tempfile

import polars as pl

KNOBS = {
    "none": [],
    "short copies, small folios, migration": [
        "--large-folios", "off", "--short-copy-rate", "0.05",
        "--migration-us", "50", "--writeback-ms", "5",
    ],
    "busy mm (short copies, migration, compaction, 4M reclaim)": [
        "--short-copy-rate", "0.05", "--writeback-ms", "5", "--migration-us", "500",
        "--compaction-ms", "50", "--reclaim", "4M",
    ],
    "fragmentation": ["--fragmentation", "0.5", "--writeback-ms", "5"],
}
BUILDS = ["locked", "lockless", "lockless-min"]


def run(binary, via, build, knobs, seed, threads):
    with tempfile.TemporaryDirectory() as tmp:
        trace = f"{tmp}/t"
        cmd = [binary, "client", "qemu", "--via", via, "--build", build,
               "--threads", str(threads), "--seed", str(seed), "--json",
               "--trace", trace] + knobs
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode not in (0, 1):
            sys.exit(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
        report = json.loads(p.stdout)
        meta = pl.read_parquet(f"{trace}/meta.parquet")
        summary = json.loads(meta["summary_json"][0])
        v = pl.read_parquet(f"{trace}/violations.parquet")
        sectors = {c: 0 for c in ("dropped", "stale", "torn")}
        for chk, cls, n in zip(v["check"].to_list(), v["class"].to_list(),
                               v["nr_sectors"].to_list()):
            if chk == "at-unmount":
                sectors[cls] = sectors.get(cls, 0) + n
        return report, summary["write_overlap"], sectors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/lockline")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--via", default="exec")
    a = ap.parse_args()
    cols = ["build", "knobs", "runs", "QEMU bad", "dropped", "stale", "torn",
            "ext. beside a write", "pairs w/ ext.", "same-page pairs", "writes"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for build in BUILDS:
        for name, knobs in KNOBS.items():
            bad = ext = ext_of = pairs = same = writes = 0
            sect = {"dropped": 0, "stale": 0, "torn": 0}
            for seed in range(1, a.seeds + 1):
                r, o, s = run(a.bin, a.via, build, knobs, seed, a.threads)
                bad += sum(x["failed"] for x in r["verdicts"])
                ext += o["extending_beside_a_write"]
                ext_of += o["extending"]
                pairs += o["pairs_with_an_extending_write"]
                same += o.get("same_page_pairs", 0)
                writes += o["writes"]
                for k in sect:
                    sect[k] += s.get(k, 0)
            print(f"| {build} | {name} | {a.seeds} | {bad} | {sect['dropped']} | "
                  f"{sect['stale']} | {sect['torn']} | {ext} of {ext_of} | {pairs} | "
                  f"{same} | {writes} |", flush=True)


if __name__ == "__main__":
    main()

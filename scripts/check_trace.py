"""Reads every table of a lockline trace directory with Python polars,
pyarrow and DuckDB and checks that they agree with each other and with the
schema in the README. One line per table; exit status 1 on any mismatch.

    python3 scripts/check_trace.py TRACE_DIR [TRACE_DIR...]
"""
import os
import sys

import duckdb
import polars as pl
import pyarrow.parquet as pq

SCHEMA = {
    "meta": {"schema_version": pl.UInt32, "build": pl.String, "workload": pl.String, "seed": pl.UInt64,
             "threads": pl.UInt32, "knobs_json": pl.String, "probe_source": pl.String, "clock": pl.String,
             "clock_note": pl.String, "lost_events": pl.UInt64,
             "host": pl.String, "kernel": pl.String, "ino": pl.UInt64, "seconds": pl.Float64,
             "final_check": pl.String},
    "events": {"ts_ns": pl.UInt64, "tid": pl.UInt32, "code": pl.UInt32, "kind": pl.String, "class": pl.String,
               "mode": pl.String, "inode": pl.UInt64, "folio": pl.UInt64, "fid": pl.UInt64, "op": pl.UInt64, "a": pl.UInt64,
               "b": pl.Int64},
    "ops": {"op": pl.UInt64, "tid": pl.UInt32, "kind": pl.String, "ino": pl.UInt64, "offset": pl.UInt64,
            "len": pl.UInt64, "begin_ns": pl.UInt64, "end_ns": pl.UInt64, "result": pl.Int64,
            "thread": pl.UInt32, "round": pl.UInt32},
    "violations": {"id": pl.UInt32, "round": pl.UInt32, "check": pl.String, "class": pl.String, "ino": pl.UInt64,
                   "first_sector": pl.UInt64, "nr_sectors": pl.UInt64, "folio_index": pl.UInt64,
                   "folio_first": pl.UInt64, "folio_order": pl.UInt8, "ops": pl.List(pl.UInt64),
                   "explanation": pl.String},
    "counters": {"ts_ns": pl.UInt64, "track": pl.String, "tid": pl.UInt32, "value": pl.Float64},
    "extents": {"ts_ns": pl.UInt64, "tid": pl.UInt32, "kind": pl.String, "op": pl.UInt64, "inode": pl.UInt64,
                "tag": pl.UInt64, "first_sector": pl.UInt64, "len": pl.UInt64, "digests": pl.List(pl.UInt32)},
    "handoffs": {"waiter_tid": pl.UInt32, "waiter_op": pl.UInt64, "class": pl.String, "mode": pl.String,
                 "inode": pl.UInt64, "folio": pl.UInt64, "fid": pl.UInt64, "wait_ns": pl.UInt64,
                 "granted_ns": pl.UInt64, "holder_tid": pl.UInt32, "holder_op": pl.UInt64,
                 "holder_acquired_ns": pl.UInt64, "released_ns": pl.UInt64, "holders": pl.UInt32},
}


def check(trace):
    bad = []
    for table, cols in SCHEMA.items():
        path = os.path.join(trace, f"{table}.parquet")
        df = pl.read_parquet(path)
        arrow = pq.read_table(path)
        n_duck = duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]
        problems = []
        if not (df.height == arrow.num_rows == n_duck):
            problems.append(f"row counts differ: polars {df.height}, pyarrow {arrow.num_rows}, duckdb {n_duck}")
        for name, dtype in cols.items():
            if name not in df.schema:
                problems.append(f"column {name} missing")
            elif df.schema[name] != dtype:
                problems.append(f"column {name} is {df.schema[name]}, expected {dtype}")
        if table == "meta" and df.height != 1:
            problems.append(f"{df.height} rows, expected 1")
        if table == "meta" and df.height and df["schema_version"][0] != 4:
            problems.append(f"schema_version {df['schema_version'][0]}, expected 4")
        if table == "events" and df.height and not df["ts_ns"].is_sorted():
            problems.append("events not sorted by ts_ns")
        if table == "handoffs" and df.height:
            # A hand-off's release lies inside its wait.
            h = df.filter(pl.col("released_ns").is_not_null())
            bad_h = h.filter((pl.col("released_ns") < pl.col("wait_ns")) | (pl.col("released_ns") > pl.col("granted_ns")))
            if bad_h.height:
                problems.append(f"{bad_h.height} hand-offs released outside their wait")
        if table == "ops" and df.height and df["op"].n_unique() != df.height:
            problems.append(f"op is not a key: {df.height - df['op'].n_unique()} repeated ids")
        if table == "events" and df.height:
            # A folio identity belongs to one (inode, index) for its life.
            f = df.filter(pl.col("fid").is_not_null()).select("inode", "folio", "fid").unique()
            if f.height and f["fid"].n_unique() != f.height:
                problems.append("a folio identity appears at two indices")
        print(f"{trace}/{table}: {df.height} rows, {len(df.columns)} columns: {'ok' if not problems else '; '.join(problems)}")
        bad += problems
    return bad


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: check_trace.py TRACE_DIR [TRACE_DIR...]")
    bad = [p for t in sys.argv[1:] for p in check(t)]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

//! A trace's tables as polars DataFrames and back. Column names, types and
//! meanings are documented in the README's trace table; every time is
//! nanoseconds.

use crate::error::{Result, StoreError};
use lockline_analysis::{CounterSample, TraceMeta, ViolationRow};
use lockline_engine::probe::provenance::Extent;
use lockline_engine::probe::{Event, EventKind, ExtentKind, LockMode, OpKind, NO_FOLIO};
use lockline_harness::history::{OpRecord, UNFINISHED};
use polars::prelude::*;
use std::path::Path;

pub fn events_df(events: &[Event]) -> PolarsResult<DataFrame> {
    let n = events.len();
    let columns = vec![
        Column::new(
            "ts_ns".into(),
            events.iter().map(|e| e.ts_ns).collect::<Vec<u64>>(),
        ),
        Column::new(
            "tid".into(),
            events.iter().map(|e| e.tid).collect::<Vec<u32>>(),
        ),
        Column::new(
            "code".into(),
            events.iter().map(|e| e.code).collect::<Vec<u32>>(),
        ),
        Column::new(
            "kind".into(),
            events
                .iter()
                .map(|e| e.kind().map(EventKind::name).unwrap_or("unknown"))
                .collect::<Vec<&str>>(),
        ),
        Column::new(
            "class".into(),
            events.iter().map(Event::class_name).collect::<Vec<&str>>(),
        ),
        Column::new(
            "mode".into(),
            events
                .iter()
                .map(|e| e.mode().map(LockMode::name).unwrap_or(""))
                .collect::<Vec<&str>>(),
        ),
        Column::new(
            "inode".into(),
            events.iter().map(|e| e.inode).collect::<Vec<u64>>(),
        ),
        Column::new(
            "folio".into(),
            events
                .iter()
                .map(|e| (e.folio != NO_FOLIO).then_some(e.folio))
                .collect::<Vec<Option<u64>>>(),
        ),
        Column::new(
            "fid".into(),
            events
                .iter()
                .map(|e| (e.fid != 0).then_some(e.fid))
                .collect::<Vec<Option<u64>>>(),
        ),
        Column::new(
            "op".into(),
            events.iter().map(|e| e.op).collect::<Vec<u64>>(),
        ),
        Column::new("a".into(), events.iter().map(|e| e.a).collect::<Vec<u64>>()),
        Column::new(
            "b".into(),
            events.iter().map(|e| e.b as i64).collect::<Vec<i64>>(),
        ),
    ];
    DataFrame::new(n, columns)
}

pub fn ops_df(ops: &[OpRecord]) -> PolarsResult<DataFrame> {
    let columns = vec![
        Column::new("op".into(), ops.iter().map(|o| o.op).collect::<Vec<u64>>()),
        Column::new(
            "tid".into(),
            ops.iter().map(|o| o.tid).collect::<Vec<u32>>(),
        ),
        Column::new(
            "kind".into(),
            ops.iter().map(|o| o.kind.name()).collect::<Vec<&str>>(),
        ),
        Column::new(
            "ino".into(),
            ops.iter().map(|o| o.ino).collect::<Vec<u64>>(),
        ),
        Column::new(
            "offset".into(),
            ops.iter().map(|o| o.offset).collect::<Vec<u64>>(),
        ),
        Column::new(
            "len".into(),
            ops.iter().map(|o| o.len).collect::<Vec<u64>>(),
        ),
        Column::new(
            "begin_ns".into(),
            ops.iter().map(|o| o.begin_ns).collect::<Vec<u64>>(),
        ),
        Column::new(
            "end_ns".into(),
            ops.iter()
                .map(|o| o.finished().then_some(o.end_ns))
                .collect::<Vec<Option<u64>>>(),
        ),
        Column::new(
            "result".into(),
            ops.iter().map(|o| o.result).collect::<Vec<i64>>(),
        ),
        Column::new(
            "thread".into(),
            ops.iter().map(|o| o.thread).collect::<Vec<Option<u32>>>(),
        ),
        Column::new(
            "round".into(),
            ops.iter().map(|o| o.round).collect::<Vec<u32>>(),
        ),
    ];
    DataFrame::new(ops.len(), columns)
}

pub fn violations_df(v: &[ViolationRow]) -> PolarsResult<DataFrame> {
    let ops: Vec<Series> = v
        .iter()
        .map(|r| Series::new("".into(), r.ops.clone()))
        .collect();
    let ops_col = if ops.is_empty() {
        Column::new_empty("ops".into(), &DataType::List(Box::new(DataType::UInt64)))
    } else {
        Column::new("ops".into(), ops)
    };
    let columns = vec![
        Column::new("id".into(), v.iter().map(|r| r.id).collect::<Vec<u32>>()),
        Column::new(
            "round".into(),
            v.iter().map(|r| r.round).collect::<Vec<u32>>(),
        ),
        Column::new(
            "check".into(),
            v.iter().map(|r| r.check.as_str()).collect::<Vec<&str>>(),
        ),
        Column::new(
            "class".into(),
            v.iter().map(|r| r.class.as_str()).collect::<Vec<&str>>(),
        ),
        Column::new("ino".into(), v.iter().map(|r| r.ino).collect::<Vec<u64>>()),
        Column::new(
            "first_sector".into(),
            v.iter().map(|r| r.first_sector).collect::<Vec<u64>>(),
        ),
        Column::new(
            "nr_sectors".into(),
            v.iter().map(|r| r.nr_sectors).collect::<Vec<u64>>(),
        ),
        Column::new(
            "folio_index".into(),
            v.iter().map(|r| r.folio_index).collect::<Vec<u64>>(),
        ),
        Column::new(
            "folio_first".into(),
            v.iter()
                .map(|r| r.folio_first)
                .collect::<Vec<Option<u64>>>(),
        ),
        Column::new(
            "folio_order".into(),
            v.iter().map(|r| r.folio_order).collect::<Vec<Option<u8>>>(),
        ),
        ops_col,
        Column::new(
            "explanation".into(),
            v.iter()
                .map(|r| r.explanation.as_str())
                .collect::<Vec<&str>>(),
        ),
    ];
    DataFrame::new(v.len(), columns)
}

pub fn extents_df(x: &[Extent]) -> PolarsResult<DataFrame> {
    let digests: Vec<Series> = x
        .iter()
        .map(|e| Series::new("".into(), e.digests.clone()))
        .collect();
    let digests = if digests.is_empty() {
        Column::new_empty(
            "digests".into(),
            &DataType::List(Box::new(DataType::UInt32)),
        )
    } else {
        Column::new("digests".into(), digests)
    };
    let columns = vec![
        Column::new(
            "ts_ns".into(),
            x.iter().map(|e| e.ts_ns).collect::<Vec<u64>>(),
        ),
        Column::new("tid".into(), x.iter().map(|e| e.tid).collect::<Vec<u32>>()),
        Column::new(
            "kind".into(),
            x.iter().map(|e| e.kind.name()).collect::<Vec<&str>>(),
        ),
        Column::new("op".into(), x.iter().map(|e| e.op).collect::<Vec<u64>>()),
        Column::new(
            "inode".into(),
            x.iter().map(|e| e.inode).collect::<Vec<u64>>(),
        ),
        Column::new("tag".into(), x.iter().map(|e| e.tag).collect::<Vec<u64>>()),
        Column::new(
            "first_sector".into(),
            x.iter().map(|e| e.first_sector).collect::<Vec<u64>>(),
        ),
        Column::new("len".into(), x.iter().map(|e| e.len).collect::<Vec<u64>>()),
        digests,
    ];
    DataFrame::new(x.len(), columns)
}

pub fn extents_from(t: &Table) -> Result<Vec<Extent>> {
    let (ts, tid, op) = (t.u64("ts_ns")?, t.u32("tid")?, t.u64("op")?);
    let (inode, tag) = (t.u64("inode")?, t.u64("tag")?);
    let (first, len) = (t.u64("first_sector")?, t.u64("len")?);
    let kinds = t.str("kind")?;
    let digests = t.list_u32("digests")?;
    let mut out = Vec::with_capacity(ts.len());
    for (i, d) in digests.into_iter().enumerate() {
        let kind = ExtentKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == kinds[i])
            .ok_or_else(|| t.bad("kind", format!("unknown extent kind {:?}", kinds[i])))?;
        out.push(Extent {
            ts_ns: ts[i],
            tid: tid[i],
            kind,
            op: op[i],
            inode: inode[i],
            tag: tag[i],
            first_sector: first[i],
            len: len[i],
            digests: d,
        });
    }
    Ok(out)
}

pub fn counters_df(c: &[CounterSample]) -> PolarsResult<DataFrame> {
    let columns = vec![
        Column::new(
            "ts_ns".into(),
            c.iter().map(|s| s.ts_ns).collect::<Vec<u64>>(),
        ),
        Column::new(
            "track".into(),
            c.iter().map(|s| s.track.as_str()).collect::<Vec<&str>>(),
        ),
        Column::new("tid".into(), c.iter().map(|s| s.tid).collect::<Vec<u32>>()),
        Column::new(
            "value".into(),
            c.iter().map(|s| s.value).collect::<Vec<f64>>(),
        ),
    ];
    DataFrame::new(c.len(), columns)
}

/// Who blocked whom (`lockline_analysis::blocked_by`): one row per wait,
/// derived from the events when the trace is written (readers recompute
/// it; it is never read back).
pub fn handoffs_df(events: &[Event]) -> PolarsResult<DataFrame> {
    let holds = lockline_analysis::holds_from_events(events);
    let b = lockline_analysis::blocked_by::blocked_by(&holds);
    let rows: Vec<(
        &lockline_analysis::Hold,
        Option<&lockline_analysis::Hold>,
        u32,
    )> = b
        .waits
        .iter()
        .map(|w| {
            (
                &holds[w.hold],
                w.handoff.map(|g| &holds[g]),
                w.holders.len() as u32,
            )
        })
        .collect();
    let col_u64 = |name: &str, f: &dyn Fn(&lockline_analysis::Hold) -> u64| {
        Column::new(
            name.into(),
            rows.iter().map(|r| f(r.0)).collect::<Vec<u64>>(),
        )
    };
    let holder = |name: &str, f: &dyn Fn(&lockline_analysis::Hold) -> Option<u64>| {
        Column::new(
            name.into(),
            rows.iter()
                .map(|r| r.1.and_then(f))
                .collect::<Vec<Option<u64>>>(),
        )
    };
    let columns = vec![
        Column::new(
            "waiter_tid".into(),
            rows.iter().map(|r| r.0.tid).collect::<Vec<u32>>(),
        ),
        col_u64("waiter_op", &|h| h.op),
        Column::new(
            "class".into(),
            rows.iter().map(|r| r.0.class.name()).collect::<Vec<&str>>(),
        ),
        Column::new(
            "mode".into(),
            rows.iter().map(|r| r.0.mode.name()).collect::<Vec<&str>>(),
        ),
        col_u64("inode", &|h| h.inode),
        Column::new(
            "folio".into(),
            rows.iter()
                .map(|r| (r.0.folio != NO_FOLIO).then_some(r.0.folio))
                .collect::<Vec<Option<u64>>>(),
        ),
        Column::new(
            "fid".into(),
            rows.iter()
                .map(|r| (r.0.fid != 0).then_some(r.0.fid))
                .collect::<Vec<Option<u64>>>(),
        ),
        col_u64("wait_ns", &|h| h.wait_ns.unwrap_or(h.acquired_ns)),
        col_u64("granted_ns", &|h| h.acquired_ns),
        Column::new(
            "holder_tid".into(),
            rows.iter()
                .map(|r| r.1.map(|g| g.tid))
                .collect::<Vec<Option<u32>>>(),
        ),
        holder("holder_op", &|g| Some(g.op)),
        holder("holder_acquired_ns", &|g| Some(g.acquired_ns)),
        holder("released_ns", &|g| g.released_ns),
        Column::new(
            "holders".into(),
            rows.iter().map(|r| r.2).collect::<Vec<u32>>(),
        ),
    ];
    DataFrame::new(rows.len(), columns)
}

pub fn meta_df(m: &TraceMeta) -> PolarsResult<DataFrame> {
    let s = |name: &str, v: &str| Column::new(name.into(), [v]);
    let columns = vec![
        Column::new("schema_version".into(), [m.schema_version]),
        s("tool_version", &m.tool_version),
        s("build", &m.build),
        s("workload", &m.workload),
        Column::new("seed".into(), [m.seed]),
        Column::new("threads".into(), [m.threads]),
        s("knobs_json", &m.knobs_json),
        s("probe_source", &m.probe_source),
        s("clock", &m.clock),
        s("clock_note", &m.clock_note),
        Column::new("lost_events".into(), [m.lost_events]),
        s("host", &m.host),
        s("kernel", &m.kernel),
        Column::new("created_unix_s".into(), [m.created_unix_s]),
        Column::new("ino".into(), [m.ino]),
        Column::new("seconds".into(), [m.seconds]),
        s("final_check", &m.final_check),
        s("summary_json", &m.summary_json),
    ];
    DataFrame::new(1, columns)
}

/// Typed access to a table read back, with errors naming file and column.
pub struct Table<'a> {
    pub df: DataFrame,
    pub path: &'a Path,
}

impl Table<'_> {
    fn column(&self, name: &str) -> Result<&Column> {
        self.df.column(name).map_err(|_| StoreError::Column {
            path: self.path.to_path_buf(),
            column: name.into(),
            detail: "missing".into(),
        })
    }

    fn bad(&self, name: &str, e: impl std::fmt::Display) -> StoreError {
        StoreError::Column {
            path: self.path.to_path_buf(),
            column: name.into(),
            detail: e.to_string(),
        }
    }

    fn no_nulls(&self, name: &str, c: &Column) -> Result<()> {
        if c.null_count() > 0 {
            return Err(self.bad(name, "has nulls"));
        }
        Ok(())
    }

    /// Column `name` as u64s with no nulls.
    fn col_u64(&self, name: &str) -> Result<&UInt64Chunked> {
        let c = self.column(name)?;
        self.no_nulls(name, c)?;
        c.u64().map_err(|e| self.bad(name, e))
    }

    fn col_u32(&self, name: &str) -> Result<&UInt32Chunked> {
        let c = self.column(name)?;
        self.no_nulls(name, c)?;
        c.u32().map_err(|e| self.bad(name, e))
    }

    fn col_i64(&self, name: &str) -> Result<&Int64Chunked> {
        let c = self.column(name)?;
        self.no_nulls(name, c)?;
        c.i64().map_err(|e| self.bad(name, e))
    }

    pub fn u64(&self, name: &str) -> Result<Vec<u64>> {
        Ok(self.col_u64(name)?.no_null_iter().collect())
    }

    pub fn opt_u64(&self, name: &str) -> Result<Vec<Option<u64>>> {
        let ca = self.column(name)?.u64().map_err(|e| self.bad(name, e))?;
        Ok(ca.iter().collect())
    }

    pub fn opt_u32(&self, name: &str) -> Result<Vec<Option<u32>>> {
        let ca = self.column(name)?.u32().map_err(|e| self.bad(name, e))?;
        Ok(ca.iter().collect())
    }

    pub fn u32(&self, name: &str) -> Result<Vec<u32>> {
        Ok(self.col_u32(name)?.no_null_iter().collect())
    }

    pub fn opt_u8(&self, name: &str) -> Result<Vec<Option<u8>>> {
        let ca = self.column(name)?.u8().map_err(|e| self.bad(name, e))?;
        Ok(ca.iter().collect())
    }

    pub fn i64(&self, name: &str) -> Result<Vec<i64>> {
        Ok(self.col_i64(name)?.no_null_iter().collect())
    }

    pub fn f64(&self, name: &str) -> Result<Vec<f64>> {
        let c = self.column(name)?;
        self.no_nulls(name, c)?;
        let ca = c.f64().map_err(|e| self.bad(name, e))?;
        Ok(ca.no_null_iter().collect())
    }

    pub fn str(&self, name: &str) -> Result<Vec<String>> {
        let c = self.column(name)?;
        self.no_nulls(name, c)?;
        let ca = c.str().map_err(|e| self.bad(name, e))?;
        Ok(ca.no_null_iter().map(str::to_string).collect())
    }

    /// Sets each row's field from column `name` (no nulls), one row at a
    /// time, with no Vec of the column between.
    fn fill_u64<T>(&self, out: &mut [T], name: &str, set: impl Fn(&mut T, u64)) -> Result<()> {
        let ca = self.col_u64(name)?;
        out.iter_mut()
            .zip(ca.no_null_iter())
            .for_each(|(o, v)| set(o, v));
        Ok(())
    }

    fn fill_u32<T>(&self, out: &mut [T], name: &str, set: impl Fn(&mut T, u32)) -> Result<()> {
        let ca = self.col_u32(name)?;
        out.iter_mut()
            .zip(ca.no_null_iter())
            .for_each(|(o, v)| set(o, v));
        Ok(())
    }

    fn fill_i64<T>(&self, out: &mut [T], name: &str, set: impl Fn(&mut T, i64)) -> Result<()> {
        let ca = self.col_i64(name)?;
        out.iter_mut()
            .zip(ca.no_null_iter())
            .for_each(|(o, v)| set(o, v));
        Ok(())
    }

    fn fill_opt_u64<T>(
        &self,
        out: &mut [T],
        name: &str,
        set: impl Fn(&mut T, Option<u64>),
    ) -> Result<()> {
        let ca = self.column(name)?.u64().map_err(|e| self.bad(name, e))?;
        out.iter_mut().zip(ca.iter()).for_each(|(o, v)| set(o, v));
        Ok(())
    }

    pub fn list_u32(&self, name: &str) -> Result<Vec<Vec<u32>>> {
        let ca = self.column(name)?.list().map_err(|e| self.bad(name, e))?;
        let mut out = Vec::with_capacity(ca.len());
        for s in ca.amortized_iter() {
            let s = s.ok_or_else(|| self.bad(name, "has nulls"))?;
            let v = s.as_ref().u32().map_err(|e| self.bad(name, e))?;
            out.push(v.no_null_iter().collect());
        }
        Ok(out)
    }

    pub fn list_u64(&self, name: &str) -> Result<Vec<Vec<u64>>> {
        let ca = self.column(name)?.list().map_err(|e| self.bad(name, e))?;
        let mut out = Vec::with_capacity(ca.len());
        for s in ca.amortized_iter() {
            let s = s.ok_or_else(|| self.bad(name, "has nulls"))?;
            let v = s.as_ref().u64().map_err(|e| self.bad(name, e))?;
            out.push(v.no_null_iter().collect());
        }
        Ok(out)
    }
}

/// The events' columns a reader needs: the rest are names derived from code.
pub const EVENT_COLUMNS: [&str; 9] = [
    "ts_ns", "tid", "code", "inode", "folio", "fid", "op", "a", "b",
];

pub fn events_from(t: &Table) -> Result<Vec<Event>> {
    // Each column goes straight into the events, never through a Vec of
    // its own: at 10 M events those Vecs (880 MB) on top of the frame and
    // the events were the peak of loading a trace.
    let mut out = vec![Event::default(); t.df.height()];
    t.fill_u64(&mut out, "ts_ns", |e, v| e.ts_ns = v)?;
    t.fill_u32(&mut out, "tid", |e, v| e.tid = v)?;
    t.fill_u32(&mut out, "code", |e, v| e.code = v)?;
    t.fill_u64(&mut out, "inode", |e, v| e.inode = v)?;
    t.fill_opt_u64(&mut out, "folio", |e, v| e.folio = v.unwrap_or(NO_FOLIO))?;
    t.fill_u64(&mut out, "op", |e, v| e.op = v)?;
    t.fill_opt_u64(&mut out, "fid", |e, v| e.fid = v.unwrap_or(0))?;
    t.fill_u64(&mut out, "a", |e, v| e.a = v)?;
    t.fill_i64(&mut out, "b", |e, v| e.b = v as u64)?;
    Ok(out)
}

pub fn ops_from(t: &Table) -> Result<Vec<OpRecord>> {
    let (op, tid, kind) = (t.u64("op")?, t.u32("tid")?, t.str("kind")?);
    let (ino, offset, len) = (t.u64("ino")?, t.u64("offset")?, t.u64("len")?);
    let (begin, end, result) = (t.u64("begin_ns")?, t.opt_u64("end_ns")?, t.i64("result")?);
    let (thread, round) = (t.opt_u32("thread")?, t.u32("round")?);
    (0..op.len())
        .map(|i| {
            let k = OpKind::ALL
                .iter()
                .copied()
                .find(|k| k.name() == kind[i])
                .ok_or_else(|| StoreError::Column {
                    path: t.path.to_path_buf(),
                    column: "kind".into(),
                    detail: format!("unknown op kind '{}'", kind[i]),
                })?;
            Ok(OpRecord {
                op: op[i],
                tid: tid[i],
                kind: k,
                ino: ino[i],
                offset: offset[i],
                len: len[i],
                begin_ns: begin[i],
                end_ns: end[i].unwrap_or(UNFINISHED),
                result: result[i],
                thread: thread[i],
                round: round[i],
            })
        })
        .collect()
}

pub fn violations_from(t: &Table) -> Result<Vec<ViolationRow>> {
    let (id, check, class) = (t.u32("id")?, t.str("check")?, t.str("class")?);
    let round = t.u32("round")?;
    let (ino, first, nr) = (t.u64("ino")?, t.u64("first_sector")?, t.u64("nr_sectors")?);
    let (fi, ff, fo) = (
        t.u64("folio_index")?,
        t.opt_u64("folio_first")?,
        t.opt_u8("folio_order")?,
    );
    let (ops, expl) = (t.list_u64("ops")?, t.str("explanation")?);
    Ok((0..id.len())
        .map(|i| ViolationRow {
            id: id[i],
            round: round[i],
            check: check[i].clone(),
            class: class[i].clone(),
            ino: ino[i],
            first_sector: first[i],
            nr_sectors: nr[i],
            folio_index: fi[i],
            folio_first: ff[i],
            folio_order: fo[i],
            ops: ops[i].clone(),
            explanation: expl[i].clone(),
        })
        .collect())
}

pub fn counters_from(t: &Table) -> Result<Vec<CounterSample>> {
    let (ts, track, tid, value) = (
        t.u64("ts_ns")?,
        t.str("track")?,
        t.u32("tid")?,
        t.f64("value")?,
    );
    Ok((0..ts.len())
        .map(|i| CounterSample {
            ts_ns: ts[i],
            track: track[i].clone(),
            tid: tid[i],
            value: value[i],
        })
        .collect())
}

pub fn meta_from(t: &Table) -> Result<TraceMeta> {
    if t.df.height() != 1 {
        return Err(StoreError::NotATrace {
            path: t.path.to_path_buf(),
            why: format!("meta has {} rows, not 1", t.df.height()),
        });
    }
    let s = |n: &str| t.str(n).map(|mut v| v.remove(0));
    let u = |n: &str| t.u64(n).map(|v| v[0]);
    Ok(TraceMeta {
        schema_version: t.u32("schema_version")?[0],
        tool_version: s("tool_version")?,
        build: s("build")?,
        workload: s("workload")?,
        seed: u("seed")?,
        threads: t.u32("threads")?[0],
        knobs_json: s("knobs_json")?,
        probe_source: s("probe_source")?,
        clock: s("clock")?,
        clock_note: s("clock_note")?,
        lost_events: u("lost_events")?,
        host: s("host")?,
        kernel: s("kernel")?,
        created_unix_s: u("created_unix_s")?,
        ino: u("ino")?,
        seconds: t.f64("seconds")?[0],
        final_check: s("final_check")?,
        summary_json: s("summary_json")?,
    })
}

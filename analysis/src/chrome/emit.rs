//! Streaming writer of trace events: one JSON object per line, commas
//! between, timestamps formatted as microseconds with three decimals.

use std::io::{self, Write};

pub(super) struct Out<W: Write> {
    w: W,
    t0: u64,
    n: u64,
}

/// A JSON string literal.
pub(super) fn s(v: &str) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "\"\"".into())
}

impl<W: Write> Out<W> {
    pub fn new(mut w: W, t0: u64) -> io::Result<Self> {
        w.write_all(b"{\"traceEvents\":[\n")?;
        Ok(Out { w, t0, n: 0 })
    }

    /// ns since the epoch of the trace → "µs.fff".
    pub fn ts(&self, ns: u64) -> String {
        let d = ns.saturating_sub(self.t0);
        format!("{}.{:03}", d / 1000, d % 1000)
    }

    fn dur(ns: u64) -> String {
        format!("{}.{:03}", ns / 1000, ns % 1000)
    }

    pub fn raw(&mut self, obj: &str) -> io::Result<()> {
        if self.n > 0 {
            self.w.write_all(b",\n")?;
        }
        self.w.write_all(obj.as_bytes())?;
        self.n += 1;
        Ok(())
    }

    pub fn complete(
        &mut self,
        tid: u32,
        cat: &str,
        name: &str,
        ts: u64,
        dur: u64,
        args: &str,
    ) -> io::Result<()> {
        let line = format!(
            r#"{{"ph":"X","pid":1,"tid":{tid},"cat":"{cat}","name":{},"ts":{},"dur":{},"args":{args}}}"#,
            s(name),
            self.ts(ts),
            Self::dur(dur)
        );
        self.raw(&line)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn async_pair(
        &mut self,
        tid: u32,
        cat: &str,
        name: &str,
        id: u64,
        begin: u64,
        end: u64,
        args: &str,
    ) -> io::Result<()> {
        let b = format!(
            r#"{{"ph":"b","pid":1,"tid":{tid},"cat":"{cat}","name":{},"id":"0x{id:x}","ts":{},"args":{args}}}"#,
            s(name),
            self.ts(begin)
        );
        self.raw(&b)?;
        let e = format!(
            r#"{{"ph":"e","pid":1,"tid":{tid},"cat":"{cat}","name":{},"id":"0x{id:x}","ts":{}}}"#,
            s(name),
            self.ts(end)
        );
        self.raw(&e)
    }

    pub fn flow(&mut self, ph: char, tid: u32, id: u64, ts: u64) -> io::Result<()> {
        let bp = if ph == 'f' { r#","bp":"e""# } else { "" };
        let line = format!(
            r#"{{"ph":"{ph}","pid":1,"tid":{tid},"cat":"flow","name":"write to disk","id":{id},"ts":{}{bp}}}"#,
            self.ts(ts)
        );
        self.raw(&line)
    }

    /// Closes the array with the run's metadata; returns the event count.
    pub fn finish(mut self, other: &str) -> io::Result<u64> {
        write!(
            self.w,
            "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{other}}}\n"
        )?;
        self.w.flush()?;
        Ok(self.n)
    }
}

//! A workload target wrapped so that its worker threads count perf events,
//! and the run that samples them while the workload goes on.

use super::{Collector, PerfReport, PerfSample, PERIOD};
use crate::workload::{self, Progress, RunOutcome, RunSpec, Target};
use lockline_engine::error::Result;
use lockline_engine::fs::OpGuard;
use std::sync::atomic::{AtomicBool, Ordering};

/// `inner` with perf counters on every worker thread.
pub struct Counted<'a> {
    inner: &'a dyn Target,
    perf: Collector,
}

impl Target for Counted<'_> {
    fn begin_op(&self) -> OpGuard {
        self.inner.begin_op()
    }
    fn read(&self, op: &OpGuard, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.inner.read(op, offset, buf)
    }
    fn write(&self, op: &OpGuard, offset: u64, data: &[u8]) -> Result<u64> {
        self.inner.write(op, offset, data)
    }
    fn append(
        &self,
        op: &OpGuard,
        data: &mut [u8],
        fill: &mut dyn FnMut(u64, &mut [u8]),
    ) -> Result<u64> {
        self.inner.append(op, data, fill)
    }
    fn map_write(&self, op: &OpGuard, offset: u64, data: &[u8]) -> Result<u64> {
        self.inner.map_write(op, offset, data)
    }
    fn truncate(&self, size: u64) -> Result<()> {
        self.inner.truncate(size)
    }
    fn punch(&self, offset: u64, len: u64) -> Result<()> {
        self.inner.punch(offset, len)
    }
    fn fallocate(&self, offset: u64, len: u64, keep_size: bool) -> Result<()> {
        self.inner.fallocate(offset, len, keep_size)
    }
    fn ino(&self) -> u64 {
        self.inner.ino()
    }
    fn thread_started(&self, thread: u32) {
        self.inner.thread_started(thread);
        self.perf.thread_started(thread);
    }
    fn thread_finished(&self, thread: u32) {
        self.perf
            .thread_finished(thread, lockline_engine::probe::now_ns());
        self.inner.thread_finished(thread);
    }
    fn should_stop(&self) -> bool {
        self.inner.should_stop()
    }
}

/// Runs the workload on `target`; with `perf`, each worker thread counts
/// perf events, sampled every PERIOD. Returns the outcome, the per-thread
/// report (empty without perf) and the samples.
pub fn run_counted(
    target: &dyn Target,
    spec: &RunSpec,
    progress: &Progress,
    perf: bool,
) -> Result<(RunOutcome, PerfReport, Vec<PerfSample>)> {
    if !perf {
        let outcome = workload::run(target, spec, progress)?;
        return Ok((outcome, PerfReport::default(), Vec::new()));
    }
    let counted = Counted {
        inner: target,
        perf: Collector::default(),
    };
    let sampling = AtomicBool::new(true);
    let outcome = std::thread::scope(|s| {
        s.spawn(|| {
            while sampling.load(Ordering::Relaxed) {
                std::thread::sleep(PERIOD);
                counted.perf.sample(lockline_engine::probe::now_ns());
            }
        });
        let r = workload::run(&counted, spec, progress);
        sampling.store(false, Ordering::Relaxed);
        r
    })?;
    Ok((outcome, counted.perf.report(), counted.perf.samples()))
}

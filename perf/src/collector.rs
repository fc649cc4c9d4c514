//! Counters of a run's worker threads: opened as each starts, sampled while
//! the run goes on (the trace's counter tracks) and read a last time as
//! each finishes (the summary's totals).

use crate::counts::{Counts, PerfReport, PerfThread};
use crate::thread::ThreadCounters;
use std::collections::{BTreeSet, HashMap};

/// One reading of one thread's counters, for the trace's counter tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerfSample {
    /// The caller's clock (the engine passes CLOCK_MONOTONIC, like every
    /// event).
    pub ts_ns: u64,
    pub tid: u32,
    pub counts: Counts,
}

/// Every worker thread's counters, keyed by workload thread index.
#[derive(Default)]
pub struct Collector {
    open: parking_lot::Mutex<HashMap<u32, ThreadCounters>>,
    done: parking_lot::Mutex<Vec<PerfThread>>,
    notes: parking_lot::Mutex<BTreeSet<String>>,
    samples: parking_lot::Mutex<Vec<PerfSample>>,
}

impl Collector {
    /// Opens counters for the calling thread, workload thread `thread`.
    pub fn thread_started(&self, thread: u32) {
        let c = ThreadCounters::open(&mut self.notes.lock());
        self.open.lock().insert(thread, c);
    }

    /// Reads every running thread's counters, stamped `ts_ns`.
    pub fn sample(&self, ts_ns: u64) {
        let now: Vec<PerfSample> = self
            .open
            .lock()
            .values_mut()
            .map(|c| PerfSample {
                ts_ns,
                tid: c.tid(),
                counts: c.read(),
            })
            .collect();
        self.samples.lock().extend(now);
    }

    /// Reads `thread`'s counters a last time and closes them.
    pub fn thread_finished(&self, thread: u32, ts_ns: u64) {
        let Some(mut c) = self.open.lock().remove(&thread) else {
            return;
        };
        let counts = c.read();
        self.samples.lock().push(PerfSample {
            ts_ns,
            tid: c.tid(),
            counts,
        });
        self.done.lock().push(PerfThread {
            thread,
            tid: c.tid(),
            counts,
        });
    }

    /// Every sample so far, thread-end readings included, by time.
    pub fn samples(&self) -> Vec<PerfSample> {
        let mut v = self.samples.lock().clone();
        v.sort_by_key(|s| (s.ts_ns, s.tid));
        v
    }

    /// Finished threads' counts, their total, and what could not be opened.
    pub fn report(&self) -> PerfReport {
        let mut per_thread = self.done.lock().clone();
        per_thread.sort_by_key(|t| t.thread);
        let mut total = Counts::default();
        for t in &per_thread {
            total.add(&t.counts);
        }
        PerfReport {
            per_thread,
            total,
            notes: self.notes.lock().iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_sampled_finished_and_totalled() {
        let col = Collector::default();
        std::thread::scope(|s| {
            for t in 0..2u32 {
                let col = &col;
                s.spawn(move || {
                    col.thread_started(t);
                    let mut x = 0u64;
                    for i in 0..2_000_000u64 {
                        x = std::hint::black_box(x.wrapping_add(i));
                    }
                    col.sample(10 + t as u64);
                    col.thread_finished(t, 100 + t as u64);
                });
            }
        });
        let r = col.report();
        assert_eq!(r.per_thread.len(), 2);
        assert_eq!(r.per_thread[0].thread, 0);
        assert_ne!(r.per_thread[0].tid, r.per_thread[1].tid);
        let samples = col.samples();
        assert!(samples.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
        assert_eq!(samples.iter().filter(|s| s.ts_ns >= 100).count(), 2);
        let Some(total) = r.total.task_clock_ns else {
            eprintln!("note: skipping counts: {:?}", r.notes);
            return;
        };
        let sum: u64 = r
            .per_thread
            .iter()
            .filter_map(|t| t.counts.task_clock_ns)
            .sum();
        assert_eq!(total, sum);
        // Finished threads are no longer sampled.
        let before = col.samples().len();
        col.sample(1000);
        assert_eq!(col.samples().len(), before);
    }
}

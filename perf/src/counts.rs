//! Counter values and the report a run's summary carries.

use serde::Serialize;

/// Counts of one thread (or summed). None: the counter could not be opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub context_switches: Option<u64>,
    pub cpu_migrations: Option<u64>,
    pub page_faults: Option<u64>,
    pub task_clock_ns: Option<u64>,
    pub cycles: Option<u64>,
    pub instructions: Option<u64>,
}

impl Counts {
    /// (name, value) of every counter that opened, in a fixed order; the
    /// names are the trace's counter track names after "perf.".
    pub fn named(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("context_switches", self.context_switches),
            ("cpu_migrations", self.cpu_migrations),
            ("page_faults", self.page_faults),
            ("task_clock_ns", self.task_clock_ns),
            ("cycles", self.cycles),
            ("instructions", self.instructions),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
    }

    /// Adds `o`'s counters (a counter open in either is open in the sum).
    pub fn add(&mut self, o: &Counts) {
        let add = |a: &mut Option<u64>, b: Option<u64>| {
            if let Some(b) = b {
                *a = Some(a.unwrap_or(0) + b);
            }
        };
        add(&mut self.context_switches, o.context_switches);
        add(&mut self.cpu_migrations, o.cpu_migrations);
        add(&mut self.page_faults, o.page_faults);
        add(&mut self.task_clock_ns, o.task_clock_ns);
        add(&mut self.cycles, o.cycles);
        add(&mut self.instructions, o.instructions);
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PerfThread {
    /// Workload thread index.
    pub thread: u32,
    /// Kernel thread id.
    pub tid: u32,
    #[serde(flatten)]
    pub counts: Counts,
}

/// The `perf` object of a run's report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PerfReport {
    pub per_thread: Vec<PerfThread>,
    pub total: Counts,
    pub notes: Vec<String>,
}

impl PerfReport {
    /// Adds a later run's report on the same workload threads (the rounds
    /// of one session): counts summed per workload thread index, whose
    /// `tid` becomes the later run's; notes kept once each.
    pub fn merge(&mut self, o: PerfReport) {
        for t in o.per_thread {
            match self.per_thread.iter_mut().find(|p| p.thread == t.thread) {
                Some(p) => {
                    p.counts.add(&t.counts);
                    p.tid = t.tid;
                }
                None => self.per_thread.push(t),
            }
        }
        self.per_thread.sort_by_key(|p| p.thread);
        self.total.add(&o.total);
        for n in o.notes {
            if !self.notes.contains(&n) {
                self.notes.push(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_sums_per_thread_and_keeps_notes_once() {
        let c = |n| Counts {
            page_faults: Some(n),
            cycles: None,
            ..Default::default()
        };
        let r = |tid, n| PerfReport {
            per_thread: vec![PerfThread {
                thread: 0,
                tid,
                counts: c(n),
            }],
            total: c(n),
            notes: vec!["hw: none".into()],
        };
        let mut a = r(10, 3);
        a.merge(r(11, 4));
        assert_eq!(a.per_thread.len(), 1);
        assert_eq!(a.per_thread[0].tid, 11);
        assert_eq!(a.per_thread[0].counts.page_faults, Some(7));
        assert_eq!(a.total.page_faults, Some(7));
        assert_eq!(a.total.cycles, None);
        assert_eq!(a.notes, vec!["hw: none".to_string()]);
        let names: Vec<_> = a.total.named().map(|(n, _)| n).collect();
        assert_eq!(names, ["page_faults"]);
    }
}

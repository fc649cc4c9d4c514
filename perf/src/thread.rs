//! The counters of one thread: a software group and, where the PMU has
//! them, a hardware group, each read in one syscall so a sample's counters
//! cover the same instant.

use crate::counts::Counts;
use perf_event::events::{Event, Hardware, Software};
use perf_event::{Builder, Counter, Group, GroupData};
use std::collections::BTreeSet;
use std::io;

/// One group of counters for the calling thread (pid 0, any CPU).
struct CounterGroup {
    group: Group,
    members: Vec<Counter>,
}

impl CounterGroup {
    /// Opens `events` as one group; kernel-side counting first, user space
    /// only when perf_event_paranoid forbids it (EACCES).
    fn open<E: Event + Clone>(events: &[E], notes: &mut BTreeSet<String>) -> io::Result<Self> {
        let mut group = Group::new()?;
        let mut members = Vec::with_capacity(events.len());
        for e in events {
            let mut b = Builder::new(e.clone());
            b.include_kernel();
            let c = match group.add(&b) {
                Err(err) if err.raw_os_error() == Some(libc::EACCES) => {
                    notes.insert(
                        "perf_event_paranoid forbids kernel counting: user space only".into(),
                    );
                    group.add(Builder::new(e.clone()).exclude_kernel(true))?
                }
                r => r?,
            };
            members.push(c);
        }
        group.enable()?;
        Ok(CounterGroup { group, members })
    }

    /// Every member's count, scaled up when the kernel multiplexed the
    /// group off the PMU for part of the time; None when unreadable.
    fn read(&mut self) -> Vec<Option<u64>> {
        let Ok(data) = self.group.read() else {
            return vec![None; self.members.len()];
        };
        let scale = Scale::of(&data);
        self.members
            .iter()
            .map(|m| data.get(m).and_then(|e| scale.apply(e.value())))
            .collect()
    }
}

struct Scale {
    enabled: u64,
    running: u64,
}

impl Scale {
    fn of(d: &GroupData) -> Scale {
        let ns = |t: Option<std::time::Duration>| t.map_or(0, |t| t.as_nanos() as u64);
        Scale {
            enabled: ns(d.time_enabled()),
            running: ns(d.time_running()),
        }
    }

    fn apply(&self, value: u64) -> Option<u64> {
        if self.running == 0 {
            // Never scheduled on the PMU: a count is only meaningful when
            // the group was never enabled either.
            return (self.enabled == 0).then_some(value);
        }
        Some(if self.running < self.enabled {
            (value as u128 * self.enabled as u128 / self.running as u128) as u64
        } else {
            value
        })
    }
}

const SOFTWARE: [Software; 4] = [
    Software::CONTEXT_SWITCHES,
    Software::CPU_MIGRATIONS,
    Software::PAGE_FAULTS,
    Software::TASK_CLOCK,
];
const HARDWARE: [Hardware; 2] = [Hardware::CPU_CYCLES, Hardware::INSTRUCTIONS];

/// The open counters of one thread.
pub struct ThreadCounters {
    tid: u32,
    software: Option<CounterGroup>,
    hardware: Option<CounterGroup>,
}

impl ThreadCounters {
    /// Opens every counter for the calling thread; what fails is noted and
    /// reads as None (hardware counters are absent on most VMs' PMUs).
    pub fn open(notes: &mut BTreeSet<String>) -> ThreadCounters {
        let software = CounterGroup::open(&SOFTWARE, notes)
            .map_err(|e| {
                notes.insert(format!(
                    "software perf counters unavailable: perf_event_open: {e}"
                ))
            })
            .ok();
        let hardware = CounterGroup::open(&HARDWARE, notes)
            .map_err(|_| notes.insert("cycles/instructions: not supported by this PMU".into()))
            .ok();
        ThreadCounters {
            // SAFETY: gettid has no preconditions.
            tid: unsafe { libc::gettid() as u32 },
            software,
            hardware,
        }
    }

    pub fn tid(&self) -> u32 {
        self.tid
    }

    /// Whether the software counters opened.
    pub fn has_software(&self) -> bool {
        self.software.is_some()
    }

    /// Reads every open counter now; perf fds may be read from any thread.
    pub fn read(&mut self) -> Counts {
        let read = |g: &mut Option<CounterGroup>, n: usize| match g {
            Some(g) => g.read(),
            None => vec![None; n],
        };
        let sw = read(&mut self.software, SOFTWARE.len());
        let hw = read(&mut self.hardware, HARDWARE.len());
        Counts {
            context_switches: sw[0],
            cpu_migrations: sw[1],
            page_faults: sw[2],
            task_clock_ns: sw[3],
            cycles: hw[0],
            instructions: hw[1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_multiplexed_and_never_scheduled() {
        let s = Scale {
            enabled: 100,
            running: 50,
        };
        assert_eq!(s.apply(7), Some(14));
        let full = Scale {
            enabled: 100,
            running: 100,
        };
        assert_eq!(full.apply(7), Some(7));
        let never = Scale {
            enabled: 100,
            running: 0,
        };
        assert_eq!(never.apply(7), None);
        let off = Scale {
            enabled: 0,
            running: 0,
        };
        assert_eq!(off.apply(0), Some(0));
    }

    #[test]
    fn counts_task_clock_and_page_faults() {
        let mut notes = BTreeSet::new();
        let mut c = ThreadCounters::open(&mut notes);
        if !c.has_software() {
            eprintln!("note: skipping: perf_event_open unavailable here ({notes:?})");
            return;
        }
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        // 16 MiB of fresh anonymous memory (calloc maps it lazily), one
        // write per page.
        let mut v = vec![0u8; 16 << 20];
        for p in v.chunks_mut(4096) {
            p[0] = 1;
        }
        std::hint::black_box(&v);
        let n = c.read();
        assert!(n.task_clock_ns.unwrap() > 1_000_000, "{n:?}");
        assert!(n.page_faults.unwrap() > 0, "{n:?}");
        assert!(n.context_switches.is_some() && n.cpu_migrations.is_some());
        // A second read counts on from the first.
        let m = c.read();
        assert!(m.task_clock_ns >= n.task_clock_ns, "{m:?} {n:?}");
        assert!(m.page_faults >= n.page_faults, "{m:?} {n:?}");
        // Another thread counts only itself: it did almost no work.
        let other = std::thread::spawn(|| {
            let mut notes = BTreeSet::new();
            ThreadCounters::open(&mut notes).read()
        })
        .join()
        .unwrap();
        assert!(
            other.task_clock_ns.unwrap() < n.task_clock_ns.unwrap() / 2,
            "{other:?}"
        );
        if n.cycles.is_none() {
            assert!(notes.iter().any(|s| s.contains("cycles")), "{notes:?}");
        }
    }
}

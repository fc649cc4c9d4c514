//! Per-thread perf counters through the raw perf_event_open syscall (no
//! crate): software counters (context switches, CPU migrations, page
//! faults, task clock) and, where the PMU allows, cycles and instructions.
//! Each counter counts the thread that opened it (pid 0, any CPU) from
//! open until it is read at thread end.

use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const PERF_TYPE_HARDWARE: u32 = 0;
const PERF_TYPE_SOFTWARE: u32 = 1;
const HW_CPU_CYCLES: u64 = 0;
const HW_INSTRUCTIONS: u64 = 1;
const SW_TASK_CLOCK: u64 = 1;
const SW_PAGE_FAULTS: u64 = 2;
const SW_CONTEXT_SWITCHES: u64 = 3;
const SW_CPU_MIGRATIONS: u64 = 4;
const FORMAT_TOTAL_TIME_ENABLED: u64 = 1;
const FORMAT_TOTAL_TIME_RUNNING: u64 = 2;
const FLAG_EXCLUDE_KERNEL: u64 = 1 << 5;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;

/// struct perf_event_attr up to PERF_ATTR_SIZE_VER8 (136 bytes); only the
/// leading fields are set, the rest stay zero.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    /// The bitfield word: disabled, inherit, ..., exclude_kernel (bit 5).
    flags: u64,
    rest: [u64; 11],
}

const _: () = assert!(std::mem::size_of::<PerfEventAttr>() == 136);

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

/// The `perf` object of a kernel report.
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

/// perf_event_open for the calling thread; on EACCES (perf_event_paranoid
/// forbids kernel counting) retries counting user space only.
fn open(type_: u32, config: u64, notes: &mut BTreeSet<String>) -> std::io::Result<OwnedFd> {
    let mut attr = PerfEventAttr {
        type_,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config,
        read_format: FORMAT_TOTAL_TIME_ENABLED | FORMAT_TOTAL_TIME_RUNNING,
        ..Default::default()
    };
    for attempt in 0..2 {
        // SAFETY: attr is a valid, fully initialised perf_event_attr.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const PerfEventAttr,
                0 as libc::pid_t,
                -1 as libc::c_int,
                -1 as libc::c_int,
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: a fresh fd we own.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
        }
        let e = std::io::Error::last_os_error();
        if attempt == 0 && e.raw_os_error() == Some(libc::EACCES) {
            attr.flags |= FLAG_EXCLUDE_KERNEL;
            notes.insert("perf_event_paranoid forbids kernel counting: user space only".into());
            continue;
        }
        return Err(e);
    }
    unreachable!()
}

/// Reads a counter, scaled up when the PMU multiplexed it.
fn read(fd: &OwnedFd) -> Option<u64> {
    let mut v = [0u64; 3];
    // SAFETY: reading into a 24-byte buffer we own.
    let n = unsafe { libc::read(fd.as_raw_fd(), v.as_mut_ptr().cast(), 24) };
    if n != 24 {
        return None;
    }
    let [value, enabled, running] = v;
    if running == 0 {
        return (enabled == 0).then_some(value);
    }
    Some(if running < enabled {
        (value as u128 * enabled as u128 / running as u128) as u64
    } else {
        value
    })
}

/// The open counters of one thread.
pub struct ThreadCounters {
    tid: u32,
    fds: [Option<OwnedFd>; 6],
}

const ORDER: [(u32, u64); 6] = [
    (PERF_TYPE_SOFTWARE, SW_CONTEXT_SWITCHES),
    (PERF_TYPE_SOFTWARE, SW_CPU_MIGRATIONS),
    (PERF_TYPE_SOFTWARE, SW_PAGE_FAULTS),
    (PERF_TYPE_SOFTWARE, SW_TASK_CLOCK),
    (PERF_TYPE_HARDWARE, HW_CPU_CYCLES),
    (PERF_TYPE_HARDWARE, HW_INSTRUCTIONS),
];

impl ThreadCounters {
    /// Opens every counter for the calling thread; what fails is noted.
    pub fn open(notes: &mut BTreeSet<String>) -> ThreadCounters {
        let fds = ORDER.map(|(t, c)| match open(t, c, notes) {
            Ok(fd) => Some(fd),
            Err(e) => {
                notes.insert(if t == PERF_TYPE_HARDWARE {
                    "cycles/instructions: not supported by this PMU".to_string()
                } else {
                    format!("software perf counters unavailable: perf_event_open: {e}")
                });
                None
            }
        });
        ThreadCounters {
            // SAFETY: gettid has no preconditions.
            tid: unsafe { libc::gettid() as u32 },
            fds,
        }
    }

    pub fn read(&self) -> Counts {
        let v = |i: usize| self.fds[i].as_ref().and_then(read);
        Counts {
            context_switches: v(0),
            cpu_migrations: v(1),
            page_faults: v(2),
            task_clock_ns: v(3),
            cycles: v(4),
            instructions: v(5),
        }
    }
}

/// One reading of one thread's counters, for the trace's counter tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerfSample {
    /// CLOCK_MONOTONIC, like every event.
    pub ts_ns: u64,
    pub tid: u32,
    pub counts: Counts,
}

/// Collects counters from the workload's threads: opened at thread start,
/// read while running by [`sample`](Collector::sample), read a last time
/// and closed at thread end.
#[derive(Default)]
pub struct Collector {
    open: parking_lot::Mutex<HashMap<u32, ThreadCounters>>,
    done: parking_lot::Mutex<Vec<PerfThread>>,
    notes: parking_lot::Mutex<BTreeSet<String>>,
    samples: parking_lot::Mutex<Vec<PerfSample>>,
}

impl Collector {
    /// Reads every running thread's counters now (perf fds can be read
    /// from any thread).
    pub fn sample(&self) {
        let ts_ns = crate::probe::now_ns();
        let now: Vec<PerfSample> = self
            .open
            .lock()
            .values()
            .map(|c| PerfSample {
                ts_ns,
                tid: c.tid,
                counts: c.read(),
            })
            .collect();
        self.samples.lock().extend(now);
    }

    /// Every sample so far, thread-end readings included, by time.
    pub fn samples(&self) -> Vec<PerfSample> {
        let mut v = self.samples.lock().clone();
        v.sort_by_key(|s| (s.ts_ns, s.tid));
        v
    }

    pub fn thread_started(&self, thread: u32) {
        let c = ThreadCounters::open(&mut self.notes.lock());
        self.open.lock().insert(thread, c);
    }

    pub fn thread_finished(&self, thread: u32) {
        let Some(c) = self.open.lock().remove(&thread) else {
            return;
        };
        let counts = c.read();
        self.samples.lock().push(PerfSample {
            ts_ns: crate::probe::now_ns(),
            tid: c.tid,
            counts,
        });
        self.done.lock().push(PerfThread {
            thread,
            tid: c.tid,
            counts,
        });
    }

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
    fn counts_task_clock_and_page_faults() {
        let mut notes = BTreeSet::new();
        let c = ThreadCounters::open(&mut notes);
        if c.fds[3].is_none() {
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
        // Totals sum what is there and keep None for what never opened.
        let col = Collector::default();
        col.done.lock().push(PerfThread {
            thread: 0,
            tid: 1,
            counts: n,
        });
        col.done.lock().push(PerfThread {
            thread: 1,
            tid: 2,
            counts: n,
        });
        let r = col.report();
        assert_eq!(r.total.page_faults, Some(2 * n.page_faults.unwrap()));
        assert_eq!(r.total.cycles, n.cycles.map(|c| 2 * c));
    }
}

//! Seeded, reproducible workloads that stamp every sector they write, run
//! from N threads against a mounted engine. Each pattern only chooses ops;
//! the runner stamps, issues and counts them.

mod append_mix;
mod disjoint;
mod fsx_mix;
mod overlap;
mod qemu_snapshot;
mod runner;
mod truncate_mix;

pub(crate) use runner::issue;
pub use runner::{run, FsFile, Progress, RunOutcome, RunSpec, Stop, Target};

use lockline_engine::usercopy::splitmix64;
use serde::Serialize;

/// What one thread does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Write {
        offset: u64,
        len: u64,
    },
    /// An O_APPEND write: the target places it at the file's size.
    Append {
        len: u64,
    },
    Truncate {
        size: u64,
    },
    Punch {
        offset: u64,
        len: u64,
    },
    /// A store through a shared writable mapping of [offset, offset + len),
    /// which the pattern keeps inside the file (past EOF is SIGBUS).
    MapWrite {
        offset: u64,
        len: u64,
    },
    /// fallocate mode 0 or FALLOC_FL_KEEP_SIZE: blocks allocated, reading
    /// as zeros where nothing was written; without keep-size past EOF it
    /// extends the file.
    Allocate {
        offset: u64,
        len: u64,
        keep_size: bool,
    },
    /// A pread by the writer itself, checked like a reader's (fsx reads
    /// back between its writes).
    Read {
        offset: u64,
        len: u64,
    },
}

/// Per-thread state a pattern draws from.
pub struct ThreadCtx {
    pub thread: u32,
    pub threads: u32,
    rng: u64,
    /// Ops this thread has issued so far.
    pub n: u64,
    /// The file size as this thread's own ops left it: a pattern whose one
    /// writer changes the size (fsx-mix) plans against it.
    pub size: u64,
}

impl ThreadCtx {
    pub fn new(seed: u64, thread: u32, threads: u32) -> ThreadCtx {
        let mut rng = seed ^ (thread as u64 + 1).wrapping_mul(0x9e3779b97f4a7c15);
        splitmix64(&mut rng);
        ThreadCtx {
            thread,
            threads,
            rng,
            n: 0,
            size: 0,
        }
    }
    pub fn next_u64(&mut self) -> u64 {
        splitmix64(&mut self.rng)
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.next_u64() % (hi - lo)
        }
    }
    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.next_u64() % 100 < pct
    }
    /// A sector-aligned length in [min, max], log-uniform so small and large
    /// writes both appear often.
    pub fn log_len(&mut self, min: u64, max: u64) -> u64 {
        let (a, b) = (min.max(512).ilog2(), max.max(512).ilog2());
        let exp = self.range(a as u64, b as u64 + 1) as u32;
        let hi = (1u64 << exp).min(max);
        let lo = (hi / 2).max(min);
        self.range(lo / 512, hi / 512 + 1).max(1) * 512
    }
}

/// How a pattern wants its file before the threads start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prepare {
    /// Empty.
    Empty,
    /// This size, a hole.
    Size(u64),
    /// This size, allocated (fallocate mode 0).
    Preallocate(u64),
}

/// A workload's choice of ops. Implementations are shared by all threads.
pub trait Pattern: Send + Sync {
    fn prepare(&self) -> Prepare;
    fn next(&self, t: &mut ThreadCtx) -> Op;
    /// Largest write this pattern issues (sizes the stamping buffer).
    fn max_write(&self) -> u64;
    /// Microseconds the thread pauses after its op, so background threads
    /// (flusher, mm) act between ops, as a program's think time lets them.
    /// Free-running rounds only: the explorer decides who runs itself.
    fn think_us(&self, _t: &mut ThreadCtx) -> u64 {
        0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    Overlap,
    QemuSnapshot,
    AppendMix,
    ClaimMix,
    TruncateMix,
    Disjoint,
    FsxMix,
}

lockline_engine::named_choices!(WorkloadKind, "workload", {
    Overlap => "overlap",
    QemuSnapshot => "qemu-snapshot",
    AppendMix => "append-mix",
    ClaimMix => "claim-mix",
    TruncateMix => "truncate-mix",
    Disjoint => "disjoint",
    FsxMix => "fsx-mix",
});

impl WorkloadKind {
    pub fn describe(self) -> &'static str {
        match self {
            WorkloadKind::Overlap => "random 512 B - 2 MiB pwrites inside one preallocated file",
            WorkloadKind::QemuSnapshot => {
                "a qcow2 -snapshot overlay: cluster appends, table updates, data writes; no fsync"
            }
            WorkloadKind::AppendMix => "O_APPEND appenders and in-place writers on one file",
            WorkloadKind::ClaimMix => {
                "writers filling claimed regions past EOF out of order, and in-place writers"
            }
            WorkloadKind::TruncateMix => "writers racing truncate down/up and punch hole",
            WorkloadKind::Disjoint => "each thread writes its own range (throughput)",
            WorkloadKind::FsxMix => {
                "fsx's mix from one writer: writes in and past EOF, truncate down/up, punch"
            }
        }
    }

    /// The pattern for a file of `file_size` bytes.
    pub fn pattern(self, file_size: u64, write_size: u64) -> Box<dyn Pattern> {
        match self {
            WorkloadKind::Overlap => Box::new(overlap::Overlap { file_size }),
            WorkloadKind::QemuSnapshot => Box::new(qemu_snapshot::QemuSnapshot::new(file_size)),
            WorkloadKind::AppendMix => Box::new(append_mix::AppendMix::new(file_size, false)),
            WorkloadKind::ClaimMix => Box::new(append_mix::AppendMix::new(file_size, true)),
            WorkloadKind::TruncateMix => Box::new(truncate_mix::TruncateMix { file_size }),
            WorkloadKind::Disjoint => Box::new(disjoint::Disjoint {
                file_size,
                write_size,
            }),
            WorkloadKind::FsxMix => Box::new(fsx_mix::FsxMix { file_size }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_choices() {
        for k in WorkloadKind::ALL {
            let p = k.pattern(64 << 20, 65536);
            let run = |seed| {
                let mut t = ThreadCtx::new(seed, 1, 4);
                (0..200).map(|_| p.next(&mut t)).collect::<Vec<_>>()
            };
            if !matches!(
                k,
                WorkloadKind::QemuSnapshot | WorkloadKind::AppendMix | WorkloadKind::ClaimMix
            ) {
                assert_eq!(run(5), run(5), "{k}");
            }
            assert!(run(5).iter().all(|op| match op {
                Op::Write { offset, len } => offset % 512 == 0 && len % 512 == 0 && *len > 0,
                Op::Append { len } => len % 512 == 0 && *len > 0,
                _ => true,
            }));
        }
    }

    #[test]
    fn log_len_stays_in_bounds() {
        let mut t = ThreadCtx::new(1, 0, 1);
        for _ in 0..10_000 {
            let l = t.log_len(512, 2 << 20);
            assert!((512..=2 << 20).contains(&l) && l.is_multiple_of(512), "{l}");
        }
    }

    #[test]
    fn names_round_trip() {
        for k in WorkloadKind::ALL {
            assert_eq!(k.name().parse::<WorkloadKind>(), Ok(k));
        }
        assert!("nope"
            .parse::<WorkloadKind>()
            .unwrap_err()
            .contains("overlap"));
    }
}

//! `disjoint`: each thread owns one slice of the file and writes it
//! sequentially in `write_size` pieces, wrapping around; no two writes ever
//! overlap, so it measures throughput and lock overhead only.

use super::{Op, Pattern, Prepare, ThreadCtx};

pub struct Disjoint {
    pub file_size: u64,
    pub write_size: u64,
}

impl Pattern for Disjoint {
    fn prepare(&self) -> Prepare {
        Prepare::Size(self.file_size)
    }

    fn next(&self, t: &mut ThreadCtx) -> Op {
        let slice = self.file_size / t.threads as u64 / self.write_size * self.write_size;
        let slots = (slice / self.write_size).max(1);
        let offset = t.thread as u64 * slice + (t.n % slots) * self.write_size;
        Op::Write {
            offset,
            len: self.write_size,
        }
    }

    fn max_write(&self) -> u64 {
        self.write_size
    }
}

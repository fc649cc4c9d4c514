//! `overlap`: random pwrites of 512 B - 2 MiB at random sector offsets of
//! one preallocated file, so writes overlap in space and time.

use super::{Op, Pattern, Prepare, ThreadCtx};

pub struct Overlap {
    pub file_size: u64,
}

impl Pattern for Overlap {
    fn prepare(&self) -> Prepare {
        Prepare::Preallocate(self.file_size)
    }

    fn next(&self, t: &mut ThreadCtx) -> Op {
        let len = t.log_len(512, self.max_write().min(self.file_size));
        let offset = t.range(0, (self.file_size - len) / 512 + 1) * 512;
        Op::Write { offset, len }
    }

    fn max_write(&self) -> u64 {
        2 << 20
    }
}

//! `truncate-mix`: writers racing truncate down, truncate up and punch
//! hole. Thread 0 is the truncator (one op in five); the others write.

use super::{Op, Pattern, Prepare, ThreadCtx};

pub struct TruncateMix {
    pub file_size: u64,
}

impl Pattern for TruncateMix {
    fn prepare(&self) -> Prepare {
        Prepare::Size(self.file_size)
    }

    fn next(&self, t: &mut ThreadCtx) -> Op {
        if t.thread == 0 && t.threads > 1 && t.chance(20) {
            let at = t.range(0, self.file_size / 512 + 1) * 512;
            return match t.range(0, 3) {
                0 => Op::Truncate { size: at },
                1 => Op::Truncate {
                    size: self.file_size,
                },
                _ => Op::Punch {
                    offset: at.min(self.file_size - 512),
                    len: t
                        .log_len(512, 1 << 20)
                        .min(self.file_size - at.min(self.file_size - 512)),
                },
            };
        }
        let len = t.log_len(512, 256 << 10);
        let offset = t.range(0, (self.file_size - len) / 512 + 1) * 512;
        Op::Write { offset, len }
    }

    fn max_write(&self) -> u64 {
        256 << 10
    }
}

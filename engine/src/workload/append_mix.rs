//! `append-mix`: half the threads append (O_APPEND: the target places each
//! append at the file's size, taken under the inode lock), the other half
//! overwrite inside what has been appended so far, half the time near the
//! end, where appends are still in flight (as a log rewriting its recent
//! records).

use super::{Op, Pattern, Prepare, ThreadCtx};
use std::sync::atomic::{AtomicU64, Ordering};

/// Appends go up to 2 MiB, so some need more than one pass (the page
/// cache creates folios only 1 MiB ahead of a write).
const APPEND_MAX: u64 = 2 << 20;

pub struct AppendMix {
    file_size: u64,
    eof: AtomicU64,
}

impl AppendMix {
    pub fn new(file_size: u64) -> Self {
        AppendMix {
            file_size,
            eof: AtomicU64::new(0),
        }
    }
}

impl Pattern for AppendMix {
    fn prepare(&self) -> Prepare {
        Prepare::Empty
    }

    fn next(&self, t: &mut ThreadCtx) -> Op {
        let eof = self.eof.load(Ordering::Relaxed);
        let appender = t.thread.is_multiple_of(2) || t.threads == 1 || eof < 8192;
        if appender && eof < self.file_size {
            let len = t.log_len(512, APPEND_MAX);
            // The appended total so far, an estimate of the size the
            // overwriters aim inside (appends in flight may not be there
            // yet; a write past EOF then extends the file).
            let appended = self.eof.fetch_add(len, Ordering::Relaxed);
            if appended + len <= self.file_size {
                return Op::Append { len };
            }
        }
        let eof = self.eof.load(Ordering::Relaxed).min(self.file_size);
        let len = t.log_len(512, (64 << 10).min(eof.max(512)));
        let lo = if t.chance(50) {
            eof.saturating_sub(512 << 10)
        } else {
            0
        };
        let offset = t.range(lo / 512, eof.saturating_sub(len) / 512 + 1) * 512;
        Op::Write { offset, len }
    }

    fn max_write(&self) -> u64 {
        APPEND_MAX
    }
}

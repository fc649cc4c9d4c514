//! `append-mix` and `claim-mix`: half the threads extend the file, the
//! other half overwrite inside what has been written so far, half the time
//! near the end, where extensions are still in flight (as a log rewriting
//! its recent records).
//!
//! - `append-mix` extends with O_APPEND: the target places each append at
//!   the file's size, under the inode lock, so appends never leave a gap.
//! - `claim-mix` extends the way parallel downloaders, qcow2 cluster
//!   allocation and preallocating stores do: a writer claims the next region
//!   past the end from a shared counter and fills it with a positioned
//!   write. Regions are claimed in order and filled out of order, so when a
//!   later region lands first, an earlier one lies inside i_size by the time
//!   its writer starts: a large write that extends nothing, which the
//!   lockless builds run without the inode lock.

use super::{Op, Pattern, Prepare, ThreadCtx};
use std::sync::atomic::{AtomicU64, Ordering};

/// Appends go up to 2 MiB, so some need more than one pass (the page
/// cache creates folios only 1 MiB ahead of a write).
const APPEND_MAX: u64 = 2 << 20;

pub struct AppendMix {
    file_size: u64,
    eof: AtomicU64,
    /// Extend by claimed positioned writes (`claim-mix`), not O_APPEND.
    claim: bool,
}

impl AppendMix {
    pub fn new(file_size: u64, claim: bool) -> Self {
        AppendMix {
            file_size,
            eof: AtomicU64::new(0),
            claim,
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
            // The extended total so far: claim-mix's next region, and the
            // size the overwriters aim inside (extensions in flight may not
            // be there yet; a write past EOF then extends the file).
            let at = self.eof.fetch_add(len, Ordering::Relaxed);
            if at + len <= self.file_size {
                return if self.claim {
                    Op::Write { offset: at, len }
                } else {
                    Op::Append { len }
                };
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

//! `fsx-mix`: fsx's operation mix (xfstests ltp/fsx.c) on one file with
//! one writer that changes its size: writes inside and past EOF (leaving
//! holes), stores through a shared mapping (page faults and mkwrite),
//! truncate down and up to unaligned sizes, punch hole, allocate with and
//! without keep-size. Thread 0 is that writer; with one thread the stamp
//! checker's verdict is exact (every sector has one last op). Further
//! threads write in place inside the first FLOOR bytes, which the writer
//! never truncates below, so they race its truncates and writeback without
//! making its file inexact.
//! The writer reads back between its ops (checked like `--readers`' reads);
//! pauses between ops let the flusher and the mm threads act in between.

use super::{Op, Pattern, Prepare, ThreadCtx};

/// The region the in-place writers own; the fsx writer stays above it when
/// it has company.
pub const FLOOR: u64 = 64 << 10;

pub struct FsxMix {
    /// fsx's maxlen: no op reaches past it.
    pub file_size: u64,
}

impl FsxMix {
    fn max_len(&self) -> u64 {
        (self.file_size / 8).clamp(8 * FLOOR, 4 << 20)
    }
}

impl Pattern for FsxMix {
    fn prepare(&self) -> Prepare {
        Prepare::Empty
    }

    fn next(&self, t: &mut ThreadCtx) -> Op {
        let max = self.max_len();
        if t.thread > 0 {
            let len = t.log_len(512, FLOOR / 4);
            return Op::Write {
                offset: t.range(0, (FLOOR - len) / 512 + 1) * 512,
                len,
            };
        }
        let floor = if t.threads > 1 { FLOOR } else { 0 };
        let size = t.size.max(floor);
        let op = match t.range(0, 100) {
            // Reads of the file as it is, checked against the history (fsx
            // reads between its writes, a third of its ops).
            0..=24 if size > floor => {
                let offset = t.range(floor / 512, size.div_ceil(512)) * 512;
                Op::Read {
                    offset,
                    len: t
                        .log_len(512, 256 << 10)
                        .min(size.div_ceil(512) * 512 - offset),
                }
            }
            // Stores through a shared mapping, inside the file (fsx's
            // mapwrite extends first; here the size stays as it is).
            25..=36 if size >= floor + 512 => {
                let len = t.log_len(512, 64 << 10).min((size - floor) / 512 * 512);
                let offset = t.range(floor / 512, (size - len) / 512 + 1) * 512;
                Op::MapWrite { offset, len }
            }
            // Writes: inside the file, or past EOF leaving a hole.
            0..=64 => {
                let len = t.log_len(512, 256 << 10).min(max - floor);
                let top = if t.chance(50) { size.min(max) } else { max };
                let offset = t.range(floor / 512, (top.max(floor + len) - len) / 512 + 1) * 512;
                Op::Write { offset, len }
            }
            // Truncate down, to any byte (a partial block to zero).
            65..=79 => Op::Truncate {
                size: t.range(floor, size.max(floor) + 1),
            },
            // Truncate up past EOF.
            80..=91 => Op::Truncate {
                size: t.range(size, max + 1),
            },
            // Allocate, past EOF too: with keep-size the size stays,
            // without it the file grows to the end of the range.
            92..=95 => {
                let offset = t.range(floor / 512, max / 512) * 512;
                Op::Allocate {
                    offset,
                    len: t.log_len(512, 256 << 10).min(max - offset),
                    keep_size: t.chance(50),
                }
            }
            // Punch a hole inside the file.
            _ => {
                let offset = t.range(floor / 512, size.max(floor + 512) / 512) * 512;
                Op::Punch {
                    offset,
                    len: t.log_len(512, 128 << 10).min(max - offset.min(max - 512)),
                }
            }
        };
        t.size = match op {
            Op::Write { offset, len } => t.size.max(offset + len),
            Op::Truncate { size } => size,
            Op::Allocate {
                offset,
                len,
                keep_size: false,
            } => t.size.max(offset + len),
            _ => t.size,
        };
        op
    }

    fn max_write(&self) -> u64 {
        256 << 10
    }

    /// fsx paces its ops; up to 1 ms here (2 ms for the in-place writers)
    /// is a few flusher periods at the busy knobs.
    fn think_us(&self, t: &mut ThreadCtx) -> u64 {
        t.range(0, if t.thread == 0 { 1000 } else { 2000 })
    }
}

//! `qemu-snapshot`: the write pattern of QEMU's `-snapshot` qcow2 overlay in
//! $TMPDIR, the workload that lost data on the lockless bcachefs: a pool of
//! writer threads issuing buffered pwrites with no fsync, mixing
//! - cluster allocations that extend the file (64 KiB appends, allocated
//!   from a shared end-of-file counter, so they land out of order),
//! - in-place updates of the L1/L2/refcount tables in the first 256 KiB,
//! - guest data writes into clusters already allocated, now and then a large
//!   one spanning many contiguous clusters (QEMU merges a guest request over
//!   contiguous allocated clusters into one pwritev).

use super::{Op, Pattern, Prepare, ThreadCtx};
use std::sync::atomic::{AtomicU64, Ordering};

pub const CLUSTER: u64 = 64 << 10;
/// Header, L1 and refcount tables live below this.
pub const METADATA_AREA: u64 = 256 << 10;
/// Large guest writes span this many bytes of contiguous clusters.
const LARGE_MIN: u64 = 1 << 20;
const LARGE_MAX: u64 = 4 << 20;

pub struct QemuSnapshot {
    file_size: u64,
    /// Next cluster to hand out (qcow2_alloc_clusters' free_cluster_index).
    next_cluster: AtomicU64,
}

impl QemuSnapshot {
    pub fn new(file_size: u64) -> Self {
        QemuSnapshot {
            file_size,
            next_cluster: AtomicU64::new(METADATA_AREA / CLUSTER),
        }
    }
}

impl Pattern for QemuSnapshot {
    fn prepare(&self) -> Prepare {
        // qemu-img create lays out the header and tables first.
        Prepare::Size(METADATA_AREA)
    }

    fn next(&self, t: &mut ThreadCtx) -> Op {
        let allocated = self.next_cluster.load(Ordering::Relaxed);
        let first_data = METADATA_AREA / CLUSTER;
        let max_clusters = self.file_size / CLUSTER;
        let roll = t.range(0, 100);
        if roll < 30 && allocated < max_clusters || allocated == first_data {
            let c = self.next_cluster.fetch_add(1, Ordering::Relaxed);
            if c < max_clusters {
                return Op::Write {
                    offset: c * CLUSTER,
                    len: CLUSTER,
                };
            }
        }
        if roll < 50 {
            // A table entry update: one to eight sectors.
            let len = t.range(1, 9) * 512;
            let offset = t.range(0, (METADATA_AREA - len) / 512 + 1) * 512;
            return Op::Write { offset, len };
        }
        let allocated = self.next_cluster.load(Ordering::Relaxed).min(max_clusters);
        if roll < 55 && allocated - first_data > LARGE_MAX / CLUSTER {
            let len = t.range(LARGE_MIN / CLUSTER, LARGE_MAX / CLUSTER + 1) * CLUSTER;
            let c = t.range(first_data, allocated - len / CLUSTER + 1);
            return Op::Write {
                offset: c * CLUSTER,
                len,
            };
        }
        let c = t.range(first_data, allocated.max(first_data + 1));
        let len = t.range(1, CLUSTER / 4096 + 1) * 4096;
        let start = t.range(0, (CLUSTER - len) / 512 + 1) * 512;
        Op::Write {
            offset: c * CLUSTER + start,
            len,
        }
    }

    fn max_write(&self) -> u64 {
        LARGE_MAX
    }
}

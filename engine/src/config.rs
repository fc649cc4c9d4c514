//! Run configuration: the write-path build and the "kernel config" knobs.
//!
//! The knobs play the role of the kernel config options the bcachefs
//! developers bisected over (large folios, migration, compaction, reclaim),
//! so a user can flip them one at a time against the same seeded workload.

use serde::{Deserialize, Serialize};

/// Which buffered write path runs (see buffered_write.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Build {
    /// The revert: the inode lock around every buffered write.
    Locked,
    /// 7e64c86cdc6c as shipped: inode lock only for appends/extends, with the
    /// need-inode-lock fallback, the `written2` restart and post-EOF cleanup.
    Lockless,
    /// The reduced patch from the revert message: the locked path with the
    /// inode lock skipped for non-extending writes, nothing else.
    LocklessMin,
}

crate::named_choices!(Build, "build", {
    Locked => "locked",
    Lockless => "lockless",
    LocklessMin => "lockless-min",
});

/// How the migration and compaction threads migrate (enum migrate_mode):
/// compaction from kcompactd and allocation runs MIGRATE_ASYNC or
/// MIGRATE_SYNC_LIGHT; memory hotplug and CMA run MIGRATE_SYNC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrateMode {
    /// Trylock the folio (busy ones are skipped); skip folios under
    /// writeback.
    #[default]
    Async,
    /// Sleep on the folio lock; still skip folios under writeback.
    SyncLight,
    /// Sleep on the folio lock and wait for writeback to end.
    Sync,
}

crate::named_choices!(MigrateMode, "migrate mode", {
    Async => "async",
    SyncLight => "sync-light",
    Sync => "sync",
});

/// Which source pages a buffered write finds unmapped at its atomic copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFaultMode {
    /// Each page of a pass's source, independently (reclaim, swap).
    #[default]
    Scattered,
    /// One run of consecutive pages per pass (migration or compaction of
    /// the caller's memory, e.g. a guest's RAM).
    Migrating,
}

crate::named_choices!(SourceFaultMode, "source-fault mode", {
    Scattered => "scattered",
    Migrating => "migrating",
});

/// Source pages unmapped between a pass's fault-in and its atomic copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceFaults {
    /// Scattered: per page; migrating: per pass.
    pub rate: f64,
    pub mode: SourceFaultMode,
}

/// Kernel-config-like knobs. Defaults are documented in the README and are
/// meant to resemble a distro kernel with a mostly idle mm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Knobs {
    /// Allow folios larger than one page (CONFIG_TRANSPARENT_HUGEPAGE-ish;
    /// bcachefs sets mapping_set_large_folios).
    pub large_folios: bool,
    /// Largest folio order the page cache allocates (0 = single 4 KiB pages).
    pub max_folio_order: u8,
    /// Background flusher period (dirty_writeback_centisecs), milliseconds;
    /// 0 turns the flusher off (only fsync/unmount write back).
    pub writeback_interval_ms: u64,
    /// Page-cache size above which the reclaim thread evicts clean folios
    /// (bytes); 0 turns reclaim off.
    pub reclaim_limit_bytes: u64,
    /// Migration thread (CONFIG_MIGRATION): migrates one random folio every
    /// this many microseconds; 0 = off.
    pub migration_interval_us: u64,
    /// Compaction thread (CONFIG_COMPACTION): every this many milliseconds it
    /// migrates a sweep of folios of one inode; 0 = off.
    pub compaction_interval_ms: u64,
    /// How migration and compaction take the folio and treat writeback.
    pub migrate_mode: MigrateMode,
    /// Probability that a copy from the caller's buffer, done with page
    /// faults disabled, stops short (copy_folio_from_iter_atomic).
    pub short_copy_rate: f64,
    /// iovec segments per write (pwritev from a thread pool, as QEMU
    /// writes guest memory); 1 = one contiguous buffer.
    pub iov_segments: u32,
    /// Source pages found unmapped by the fault-disabled copy although the
    /// pass faulted them in: the copy stops there, at zero bytes when it is
    /// the first page.
    pub source_faults: SourceFaults,
    /// Probability that a folio allocation of the write path fails at
    /// every order (fail_page_alloc; memory pressure with GFP_NOFS): the
    /// write stops at the last folio it got, or with -ENOMEM before any,
    /// and then runs its post-EOF cleanup.
    pub alloc_fail_rate: f64,
    /// Probability that each large-order attempt of a folio allocation
    /// fails and __filemap_get_folio falls back one order (fragmentation).
    pub fragmentation: f64,
    /// Probability that bch2_read_single_folio fails with -EIO (a read IO
    /// or checksum error; fail_make_request), ending the pass early.
    pub read_error_rate: f64,
    /// Seed for the engine's own random choices (mm victims, short copies).
    pub seed: u64,
    /// Planted bugs, for proving the checker (test-only).
    pub inject: Inject,
}

/// Deliberately planted lock-protocol bugs. Test-only: they exist to show
/// that the checker and the analysis find this class of bug.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inject {
    /// Writeback snapshots the folio, unlocks it, and clears the dirty bit
    /// only after the IO: a write landing in between is never written.
    pub writeback_clear_after_copy: bool,
    /// Migration copies the folio without taking its lock: a writer holding
    /// the old folio keeps writing into a folio that is no longer cached.
    pub migrate_without_folio_lock: bool,
    /// The write path publishes the new i_size before copying the data, so
    /// other writers decide they need no inode lock too early.
    pub isize_before_copy: bool,
    /// A truncate down frees only the blocks the disk's recorded size
    /// reaches (the model before issue 21): blocks a writeback IO mapped
    /// before publishing its size survive the cut and an extend brings
    /// their bytes back.
    pub cut_to_recorded_size: bool,
}

impl Inject {
    const NAMES: [&'static str; 4] = [
        "writeback-clear-after-copy",
        "migrate-without-folio-lock",
        "isize-before-copy",
        "cut-to-recorded-size",
    ];

    /// Turns on the bug called `name`.
    pub fn enable(&mut self, name: &str) -> Result<(), String> {
        match name {
            "writeback-clear-after-copy" => self.writeback_clear_after_copy = true,
            "migrate-without-folio-lock" => self.migrate_without_folio_lock = true,
            "isize-before-copy" => self.isize_before_copy = true,
            "cut-to-recorded-size" => self.cut_to_recorded_size = true,
            _ => {
                return Err(format!(
                    "unknown injected bug '{name}' (expected one of: {})",
                    Self::NAMES.join(", ")
                ))
            }
        }
        Ok(())
    }

    pub fn enabled(&self) -> Vec<&'static str> {
        let on = [
            self.writeback_clear_after_copy,
            self.migrate_without_folio_lock,
            self.isize_before_copy,
            self.cut_to_recorded_size,
        ];
        Self::NAMES
            .into_iter()
            .zip(on)
            .filter_map(|(n, on)| on.then_some(n))
            .collect()
    }
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            large_folios: true,
            max_folio_order: 4,
            writeback_interval_ms: 100,
            reclaim_limit_bytes: 256 << 20,
            migration_interval_us: 0,
            compaction_interval_ms: 0,
            migrate_mode: MigrateMode::Async,
            short_copy_rate: 0.0,
            iov_segments: 1,
            source_faults: SourceFaults::default(),
            alloc_fail_rate: 0.0,
            fragmentation: 0.0,
            read_error_rate: 0.0,
            seed: 0x10c411e,
            inject: Inject::default(),
        }
    }
}

impl Knobs {
    /// Every background thread off (flusher, reclaim, migration,
    /// compaction), so a test or scenario decides when things happen.
    pub fn quiet() -> Knobs {
        Knobs {
            writeback_interval_ms: 0,
            reclaim_limit_bytes: 0,
            migration_interval_us: 0,
            compaction_interval_ms: 0,
            ..Knobs::default()
        }
    }

    /// A busy machine: what a distro kernel might run with, with the
    /// pressure turned up (5 ms writeback, reclaim above 4 MiB, a migration
    /// every 500 µs, compaction every 50 ms, 5% short copies) so a few
    /// hundred ops show what the builds do. The demo runs with these.
    pub fn busy(seed: u64) -> Knobs {
        Knobs {
            large_folios: true,
            max_folio_order: 4,
            writeback_interval_ms: 5,
            reclaim_limit_bytes: 4 << 20,
            migration_interval_us: 500,
            compaction_interval_ms: 50,
            short_copy_rate: 0.05,
            seed,
            ..Knobs::default()
        }
    }

    /// The order cap actually in force once `large_folios` is considered.
    pub(crate) fn folio_order_cap(&self) -> u8 {
        if self.large_folios {
            self.max_folio_order.min(MAX_FOLIO_ORDER)
        } else {
            0
        }
    }

    /// Rejects values the engine cannot honour, with one line for the user.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_folio_order > MAX_FOLIO_ORDER {
            return Err(format!(
                "max folio order {} is above the supported {MAX_FOLIO_ORDER}",
                self.max_folio_order
            ));
        }
        // At 1.0 every retry of a one-page copy would fault too: a livelock,
        // in the kernel as here.
        if !(0.0..=0.9).contains(&self.short_copy_rate) || self.short_copy_rate.is_nan() {
            return Err(format!(
                "short-copy rate {} is not a probability in [0, 0.9]",
                self.short_copy_rate
            ));
        }
        if !(1..=64).contains(&self.iov_segments) {
            return Err(format!(
                "iov segments {} is not between 1 and 64",
                self.iov_segments
            ));
        }
        // As for short copies: at 1.0 the one-page retry never progresses.
        let r = self.source_faults.rate;
        if !(0.0..=0.9).contains(&r) || r.is_nan() {
            return Err(format!(
                "source-fault rate {r} is not a probability in [0, 0.9]"
            ));
        }
        // Above one half a write rarely gets a folio at all: every op fails.
        for (name, v, max) in [
            ("alloc-fail rate", self.alloc_fail_rate, 0.5),
            ("fragmentation", self.fragmentation, 1.0),
            ("read-error rate", self.read_error_rate, 0.5),
        ] {
            if !(0.0..=max).contains(&v) || v.is_nan() {
                return Err(format!("{name} {v} is not a probability in [0, {max}]"));
            }
        }
        Ok(())
    }
}

/// 2 MiB folios, the PMD size on x86_64.
const MAX_FOLIO_ORDER: u8 = 9;

pub const PAGE_SIZE: u64 = 4096;
pub const PAGE_SHIFT: u32 = 12;
pub(crate) const SECTOR_SIZE: u64 = 512;
pub(crate) const SECTOR_SHIFT: u32 = 9;

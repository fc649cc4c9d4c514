//! The compiled eBPF object and the names of the programs and maps in it.

/// lockline.bpf.o, built by build.rs (or the committed prebuilt copy).
pub static OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lockline.bpf.o"));

/// The program attached to every engine probe symbol.
pub const ENGINE_PROBE: &str = "engine_probe";
/// A program that returns at once: the uprobe floor for benchmarks.
pub const EMPTY_PROBE: &str = "empty_probe";

/// How many event rings the programs spread their events over.
pub const RINGS: usize = 4;

/// The event rings; a CPU writes to ring (cpu % RINGS).
pub const MAP_EVENTS: [&str; RINGS] = ["EVENTS0", "EVENTS1", "EVENTS2", "EVENTS3"];
pub const MAP_DROPS: &str = "DROPS";
pub const MAP_TARGET_TGID: &str = "TARGET_TGID";
pub const MAP_TARGET_DEV: &str = "TARGET_DEV";
pub const MAP_TARGET_INO: &str = "TARGET_INO";

/// Default size of all rings together: 16 MiB holds ~300 k events, tens
/// of ms of a busy run.
pub const DEFAULT_RING_BYTES: u32 = 16 << 20;

/// Tracepoint programs: (program, category, event).
pub const TRACEPOINTS: &[(&str, &str, &str)] = &[
    ("enter_pwrite64", "syscalls", "sys_enter_pwrite64"),
    ("exit_pwrite64", "syscalls", "sys_exit_pwrite64"),
    ("enter_pread64", "syscalls", "sys_enter_pread64"),
    ("exit_pread64", "syscalls", "sys_exit_pread64"),
    ("enter_ftruncate", "syscalls", "sys_enter_ftruncate"),
    ("exit_ftruncate", "syscalls", "sys_exit_ftruncate"),
    ("enter_fallocate", "syscalls", "sys_enter_fallocate"),
    ("exit_fallocate", "syscalls", "sys_exit_fallocate"),
    ("enter_fsync", "syscalls", "sys_enter_fsync"),
    ("exit_fsync", "syscalls", "sys_exit_fsync"),
    ("enter_fdatasync", "syscalls", "sys_enter_fdatasync"),
    ("exit_fdatasync", "syscalls", "sys_exit_fdatasync"),
    ("dirty_folio", "writeback", "writeback_dirty_folio"),
    ("folio_added", "filemap", "mm_filemap_add_to_page_cache"),
    (
        "folio_removed",
        "filemap",
        "mm_filemap_delete_from_page_cache",
    ),
    ("lock_contention_begin", "lock", "contention_begin"),
    ("lock_contention_end", "lock", "contention_end"),
    ("ext4_write_begin", "ext4", "ext4_da_write_begin"),
    ("ext4_write_end", "ext4", "ext4_da_write_end"),
];

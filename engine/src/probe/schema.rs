//! The event schema: kinds, lock classes, modes, and the event record itself.

use serde::Serialize;

/// Folio index meaning "no folio".
pub const NO_FOLIO: u64 = u64::MAX;

/// Folio identity meaning "no folio" (identities start at 1).
pub const NO_FID: u64 = 0;

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $val:expr => $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $var = $val,)* }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$var,)*];
            pub fn from_u8(v: u8) -> Option<Self> {
                match v { $($val => Some($name::$var),)* _ => None }
            }
            pub fn name(self) -> &'static str {
                match self { $($name::$var => $s,)* }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

code_enum! {
    /// What happened. The numbering is part of the trace format: append only.
    EventKind {
        /// a = lock mode detail (see LockMode); emitted only when the fast path failed
        LockWait = 1 => "lock_wait",
        LockAcquired = 2 => "lock_acquired",
        LockReleased = 3 => "lock_released",
        /// a = folio order
        FolioAdded = 4 => "folio_added",
        /// a = folio order; removal from the mapping by reclaim or migration
        FolioRemoved = 5 => "folio_removed",
        /// a = first sector in folio, b = number of sectors made dirty
        FolioDirtied = 6 => "folio_dirtied",
        /// a = folio order; dirty cleared for IO (folio_clear_dirty_for_io)
        FolioCleaned = 7 => "folio_cleaned",
        /// a = folio order, b = dirty sectors sent to disk
        FolioWritebackStart = 8 => "folio_writeback_start",
        /// a = folio order, b = 0 ok / errno
        FolioWritebackEnd = 9 => "folio_writeback_end",
        /// a = folio order, b = the new folio's identity; the folio's
        /// contents and flags moved to a new folio (the event's fid is the old one)
        FolioMigrated = 10 => "folio_migrated",
        /// a = byte offset in folio where truncation starts (0 = whole folio), b = folio order
        FolioTruncated = 11 => "folio_truncated",
        /// a = old i_size, b = new i_size
        IsizeChanged = 12 => "isize_changed",
        /// a = bytes asked, b = bytes copied
        ShortCopy = 13 => "short_copy",
        /// a = written, b = written2 (lockless restart under the inode lock)
        WriteRestart = 14 => "write_restart",
        /// class = OpKind, a = offset, b = length
        OpBegin = 15 => "op_begin",
        /// class = OpKind, a = offset, b = result (bytes, or negative errno as i64)
        OpEnd = 16 => "op_end",
        /// class = MmAction, a = action argument (new folio id, bytes freed, ...)
        MmAction = 17 => "mm_action",
        /// a = folio order; folio became uptodate (read from disk or zeroed)
        FolioUptodate = 18 => "folio_uptodate",
        /// Kernel sources only. class = OpKind, a = fd, b = length or size
        /// (syscalls:sys_enter_pwrite64 and friends)
        SyscallEnter = 19 => "syscall_enter",
        /// Kernel sources only. class = OpKind, a = fd (if known), b = return value as i64
        SyscallExit = 20 => "syscall_exit",
        /// Kernel sources only. a = file position, b = length
        /// (ext4:ext4_da_write_begin: the inode lock is held from here)
        WriteBegin = 21 => "write_begin",
        /// Kernel sources only. a = file position, b = bytes copied
        /// (ext4:ext4_da_write_end)
        WriteEnd = 22 => "write_end",
        /// class = ThreadRole, a = index within the role (a worker's stamp
        /// thread index); emitted once when an engine thread starts
        ThreadRole = 23 => "thread_role",
        /// a = round number (1-based), inode = the round's file; emitted by
        /// the session's main thread when a checked round starts (the ops
        /// after it, up to the next one, belong to that round)
        RoundBegin = 24 => "round_begin",
        /// a = folio order, b = bytes the IO carries; writeback builds the
        /// IO from the folio's pages here, after folio_unlock (bcachefs
        /// has no stable pages), so a writer may change them meanwhile
        FolioWritebackIo = 25 => "folio_writeback_io",
        /// a = bytes of the folio made writable (up to i_size); mkwrite
        /// dirtied the folio for a store through a shared mapping
        /// (bch2_page_mkwrite)
        PageMkwrite = 26 => "page_mkwrite",
        /// a = folio order; a read fault (bch2_page_fault) found the folio
        /// uptodate and returned, the pagecache add lock dropped: the
        /// mapping may now read it, and a store faults again for write
        PageFault = 27 => "page_fault",
    }
}

code_enum! {
    /// What an engine thread is for, announced by a thread_role event so
    /// traces name lanes from the engine instead of guessing.
    ThreadRole {
        /// The session's own thread: file creation, checks, fsync, read-back.
        Main = 1 => "main",
        /// A workload thread; its index is the stamps' thread index.
        Worker = 2 => "worker",
        Flusher = 3 => "flusher",
        Reclaim = 4 => "reclaim",
        Migrate = 5 => "migrate",
        Compaction = 6 => "compaction",
    }
}

code_enum! {
    /// Lock classes, in the kernel's names.
    LockClass {
        /// inode_lock / i_rwsem
        Inode = 1 => "inode",
        /// bch2_pagecache_add_get: the "add" side of ei_pagecache_lock
        PagecacheAdd = 2 => "pagecache_add",
        /// bch2_pagecache_block_get: the "block" side of ei_pagecache_lock
        PagecacheBlock = 3 => "pagecache_block",
        /// folio_lock
        Folio = 4 => "folio",
        /// inode->v.i_lock (spinlock around i_size updates)
        ILock = 5 => "i_lock",
        /// A kernel lock seen by lock:contention_begin/end; inode = 0,
        /// folio = the lock's address, mode = 0.
        Kernel = 6 => "kernel",
    }
}

code_enum! {
    /// How a lock was taken.
    LockMode {
        Exclusive = 1 => "exclusive",
        Shared = 2 => "shared",
    }
}

code_enum! {
    /// Operations with a begin and an end.
    OpKind {
        Write = 1 => "write",
        Read = 2 => "read",
        Truncate = 3 => "truncate",
        Fallocate = 4 => "fallocate",
        Punch = 5 => "punch",
        Fsync = 6 => "fsync",
        Unlink = 7 => "unlink",
        Writeback = 8 => "writeback",
        /// A regular file came to be, empty (begin and end together, once
        /// its inode exists): a checker knows its content before the first
        /// write instead of taking whatever it finds for older data.
        Create = 9 => "create",
    }
}

code_enum! {
    /// Background mm work.
    MmAction {
        /// a = bytes freed
        Reclaim = 1 => "reclaim",
        /// a = old folio identity
        Migrate = 2 => "migrate",
        /// a = folios migrated in the sweep
        Compact = 3 => "compact",
        /// migration skipped: folio busy (locked, writeback)
        MigrateSkip = 4 => "migrate_skip",
        /// a folio allocation failed at every order (injected; a = the
        /// smallest order tried); folio = the index asked for
        AllocFail = 5 => "alloc_fail",
    }
}

code_enum! {
    /// What an extent of content digests records (provenance.rs; the
    /// trace's `extents` table). The numbering is part of the trace format.
    ExtentKind {
        /// What an op wrote: its source bytes, whole file sectors.
        Write = 1 => "write",
        /// What an op read: the bytes it returned, whole file sectors and,
        /// when it reached EOF, the last one zero-padded.
        Read = 2 => "read",
        /// What a writeback IO carried to disk, block by block.
        WritebackIo = 3 => "writeback_io",
        /// A check's read-back of a whole file (a read made inside
        /// `provenance::checking`); the extent's tag names the check.
        Check = 4 => "check",
    }
}

impl EventKind {
    /// A change to a folio's membership or state (added, removed, dirtied,
    /// cleaned, written back, migrated, truncated); uptodate excluded.
    pub fn is_folio_change(self) -> bool {
        matches!(
            self,
            EventKind::FolioAdded
                | EventKind::FolioRemoved
                | EventKind::FolioDirtied
                | EventKind::FolioCleaned
                | EventKind::FolioWritebackStart
                | EventKind::FolioWritebackEnd
                | EventKind::FolioMigrated
                | EventKind::FolioTruncated
                | EventKind::PageMkwrite
        )
    }

    /// Kinds only kernel tracepoints produce (the engine has no probe
    /// symbol for them).
    #[cfg(test)]
    pub(crate) fn kernel_only(self) -> bool {
        matches!(
            self,
            EventKind::SyscallEnter
                | EventKind::SyscallExit
                | EventKind::WriteBegin
                | EventKind::WriteEnd
        )
    }
}

/// The packed first argument of every probe: kind | class << 8 | mode << 16.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code {
    pub kind: EventKind,
    /// LockClass, OpKind or MmAction depending on kind; 0 when unused.
    pub class: u8,
    /// LockMode for lock events; 0 otherwise.
    pub mode: u8,
}

impl Code {
    pub const fn pack(kind: EventKind, class: u8, mode: u8) -> u32 {
        kind as u32 | (class as u32) << 8 | (mode as u32) << 16
    }

    fn unpack(code: u32) -> Option<Code> {
        Some(Code {
            kind: EventKind::from_u8(code as u8)?,
            class: (code >> 8) as u8,
            mode: (code >> 16) as u8,
        })
    }
}

/// One event, as recorded in process or decoded from the eBPF ring buffer.
/// `repr(C)` so the eBPF side can use the same layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[repr(C)]
pub struct Event {
    /// CLOCK_MONOTONIC nanoseconds (the clock bpf_ktime_get_ns reads).
    pub ts_ns: u64,
    pub tid: u32,
    /// Packed [`Code`].
    pub code: u32,
    pub inode: u64,
    pub folio: u64,
    pub op: u64,
    pub a: u64,
    pub b: u64,
    /// The folio's identity ([`NO_FID`] for none): a serial given when the
    /// folio is created, a new one when migration replaces it, so two
    /// folios that held one index at different times stay apart.
    pub fid: u64,
}

impl Event {
    pub fn decode(&self) -> Option<Code> {
        Code::unpack(self.code)
    }
    pub fn kind(&self) -> Option<EventKind> {
        EventKind::from_u8(self.code as u8)
    }
    pub fn lock_class(&self) -> Option<LockClass> {
        LockClass::from_u8((self.code >> 8) as u8)
    }
    pub fn op_kind(&self) -> Option<OpKind> {
        OpKind::from_u8((self.code >> 8) as u8)
    }
    pub fn mode(&self) -> Option<LockMode> {
        LockMode::from_u8((self.code >> 16) as u8)
    }
    /// A thread_role event's role and index within the role.
    pub fn thread_role(&self) -> Option<(ThreadRole, u64)> {
        if self.kind() != Some(EventKind::ThreadRole) {
            return None;
        }
        Some((ThreadRole::from_u8((self.code >> 8) as u8)?, self.a))
    }
    /// The name of the code's class byte by kind: the lock class of a lock
    /// event, the op kind of an op event, the action of an mm event; ""
    /// when the kind has none. Traces carry it as the `class` column.
    pub fn class_name(&self) -> &'static str {
        let class = (self.code >> 8) as u8;
        match self.kind() {
            Some(EventKind::LockWait | EventKind::LockAcquired | EventKind::LockReleased) => {
                LockClass::from_u8(class).map(LockClass::name).unwrap_or("")
            }
            Some(
                EventKind::OpBegin
                | EventKind::OpEnd
                | EventKind::SyscallEnter
                | EventKind::SyscallExit,
            ) => OpKind::from_u8(class).map(OpKind::name).unwrap_or(""),
            Some(EventKind::MmAction) => MmAction::from_u8(class).map(MmAction::name).unwrap_or(""),
            Some(EventKind::ThreadRole) => ThreadRole::from_u8(class)
                .map(ThreadRole::name)
                .unwrap_or(""),
            _ => "",
        }
    }
}

/// Reads CLOCK_MONOTONIC in nanoseconds.
#[inline]
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_round_trips() {
        for &k in EventKind::ALL {
            let c = Code::pack(k, LockClass::Folio as u8, LockMode::Shared as u8);
            let d = Code::unpack(c).unwrap();
            assert_eq!(d.kind, k);
            assert_eq!(d.class, LockClass::Folio as u8);
            assert_eq!(d.mode, LockMode::Shared as u8);
        }
        assert!(Code::unpack(0).is_none());
    }

    #[test]
    fn event_layout_is_stable() {
        // The eBPF programs mirror this layout; a change here breaks them.
        assert_eq!(std::mem::size_of::<Event>(), 64);
    }
}

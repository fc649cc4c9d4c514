//! The in-memory inode: models struct bch_inode_info (fs.h) with the locks
//! of the buffered IO path and its address space.

use crate::locks::rwsem::InodeLock;
use crate::locks::spinlock::ISize;
use crate::locks::two_state_lock::TwoStateLock;
use crate::pagecache::{CacheStats, Mapping};
use parking_lot::Mutex;
use std::sync::Arc;

pub struct Inode {
    pub(crate) ino: u64,
    /// inode->v.i_rwsem
    pub(crate) inode_lock: InodeLock,
    /// ei_pagecache_lock: add (writers, readers) vs block (truncate, fallocate)
    pub(crate) pagecache_lock: TwoStateLock,
    /// i_size and i_lock
    pub(crate) i_size: ISize,
    pub mapping: Mapping,
    /// Size last published to the disk inode. Writeback and truncate both
    /// update it, under this mutex, so a late writeback cannot resurrect a
    /// size a truncate has just cut (bcachefs orders this through the
    /// btree; the model needs an explicit serialisation point).
    pub(crate) disk_size: Mutex<u64>,
}

impl Inode {
    pub(crate) fn new(ino: u64, size: u64, stats: Arc<CacheStats>) -> Inode {
        Inode {
            ino,
            inode_lock: InodeLock::new(ino),
            pagecache_lock: TwoStateLock::new(ino),
            i_size: ISize::new(ino, size),
            mapping: Mapping::new(ino, stats),
            disk_size: Mutex::new(size),
        }
    }
}

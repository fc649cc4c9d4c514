//! The on-disk format: a lockline disk image or block device, with the
//! namespace, extents and allocator that bcachefs keeps in its btrees reduced
//! to one metadata blob committed copy-on-write (lockline's own design).
//!
//! `Disk` is shared as `Arc<Disk>`. One mutex guards the metadata; data IO is
//! done outside it with the mapping taken under it. Callers (the engine)
//! serialize IO to the same file block against truncate and punch, as the
//! kernel's folio locks do; the disk does not.

mod alloc;
mod commit;
mod data;
mod error;
mod extents;
mod fsck;
mod inuse;
mod io;
mod layout;
mod metadata;
mod mkfs;
mod namespace;
mod superblock;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;

pub use error::{DiskError, Result};
pub use fsck::{fsck, FsckProblem, FsckReport};
pub use mkfs::{mkfs, MkfsOptions, MkfsReport};

use alloc::Allocator;
use io::DevFile;
use layout::Layout;
use metadata::InodeRec;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use superblock::Superblock;

type Ino = u64;
pub const BLOCK_SIZE: u64 = 4096;
pub const ROOT_INO: Ino = 1;
/// Files end before block 2^40 (4 PiB): keeps block arithmetic overflow-free.
const MAX_FILE_BLOCKS: u64 = 1 << 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum FileKind {
    File,
    Dir,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct InodeAttr {
    pub ino: Ino,
    pub kind: FileKind,
    pub size: u64,
    /// Allocated blocks, written or unwritten.
    pub blocks: u64,
    pub nlink: u32,
    pub mtime_ns: u64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct DirEntry {
    pub name: String,
    pub ino: Ino,
    pub kind: FileKind,
}

#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Geometry {
    pub total_blocks: u64,
    pub data_start: u64,
    pub data_blocks: u64,
    /// Blocks an allocation can take now; blocks freed since the last commit
    /// come back when it is durable.
    pub free_blocks: u64,
    pub direct_io: bool,
}

/// Everything the metadata mutex guards.
struct State {
    next_ino: Ino,
    inodes: BTreeMap<Ino, InodeRec>,
    alloc: Allocator,
    /// Changed since the last commit.
    dirty: bool,
    /// Next-fit start for allocations with no neighbouring extent.
    cursor: u64,
}

pub struct Disk {
    dev: DevFile,
    layout: Layout,
    state: Mutex<State>,
    /// The superblock on disk; its mutex also serializes commits.
    committed: Mutex<Superblock>,
    unmounted: AtomicBool,
}

impl Disk {
    /// Opens a lockline disk for exclusive use; Busy if another open holds
    /// it. Marks it not-clean on disk until `unmount`.
    pub fn open(path: &Path) -> Result<Arc<Disk>> {
        let dev = DevFile::open(path, true, true)?;
        dev.lock(true)?;
        // A damaged image is bad input the user must be able to place.
        let named = |e: DiskError| e.in_image(path);
        let sb = commit::read_superblock(&dev).map_err(named)?.0;
        let img = commit::read_metadata(&dev, &sb).map_err(named)?;
        let fatal: Vec<_> = fsck::check(&img, &sb.layout)
            .into_iter()
            .filter(|p| !fsck::TOLERATED.contains(&p.kind.as_str()))
            .collect();
        if let Some(p) = fatal.first() {
            return Err(named(DiskError::Corrupt(format!(
                "{}: {} ({} problem(s); run lockline fsck)",
                p.kind,
                p.detail,
                fatal.len()
            ))));
        }
        let layout = sb.layout;
        let mut state = State {
            next_ino: img.next_ino,
            inodes: img.inodes,
            alloc: Allocator::new(layout.data_start(), img.bitmap),
            dirty: false,
            cursor: layout.data_start(),
        };
        let orphans = state.free_orphans();
        let disk = Disk {
            dev,
            layout,
            state: Mutex::new(state),
            committed: Mutex::new(sb),
            unmounted: AtomicBool::new(false),
        };
        disk.mark_clean(false)?;
        if orphans > 0 {
            disk.commit()?;
        }
        Ok(Arc::new(disk))
    }

    pub fn geometry(&self) -> Geometry {
        Geometry {
            total_blocks: self.layout.total_blocks,
            data_start: self.layout.data_start(),
            data_blocks: self.layout.data_blocks(),
            free_blocks: self.state.lock().alloc.free_blocks(),
            direct_io: self.dev.direct(),
        }
    }

    fn check_mounted(&self) -> Result<()> {
        if self.unmounted.load(Ordering::Acquire) {
            return Err(DiskError::Unmounted);
        }
        Ok(())
    }
}

impl State {
    fn inode(&self, ino: Ino) -> Result<&InodeRec> {
        self.inodes
            .get(&ino)
            .ok_or_else(|| DiskError::NotFound(format!("inode {ino}")))
    }

    fn inode_mut(&mut self, ino: Ino) -> Result<&mut InodeRec> {
        self.inodes
            .get_mut(&ino)
            .ok_or_else(|| DiskError::NotFound(format!("inode {ino}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Disk>();
    }
}

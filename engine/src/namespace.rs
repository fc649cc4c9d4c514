//! Models the VFS namespace entry points of fs.c by inode number, as a FUSE
//! front end calls them: bch2_lookup, bch2_create/bch2_mkdir,
//! bch2_unlink (unlink and rmdir both), bch2_rename2, bch2_setattr's times,
//! bch2_statfs.

use crate::disk::{DirEntry, FileKind};
use crate::error::Result;
use crate::fs::{result_code, Fs};
use crate::locks::two_state_lock::Side;
use crate::probe::points;
use crate::probe::OpKind;
use crate::truncate;

/// statfs(2)'s numbers in 4 KiB blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatFs {
    pub blocks: u64,
    pub free_blocks: u64,
    pub files: u64,
}

impl Fs {
    /// The inode `name` names in directory `parent`.
    pub fn lookup(&self, parent: u64, name: &str) -> Result<u64> {
        Ok(self.disk.lookup(parent, name)?)
    }

    /// Creates `name` in `parent` (a file or a directory); EEXIST if it is
    /// there.
    pub fn create_at(&self, parent: u64, name: &str, kind: FileKind) -> Result<u64> {
        let _op = self.begin_op();
        let ino = self.disk.create(parent, name, kind)?;
        if kind == FileKind::File {
            points::op_begin(OpKind::Create, ino, 0, 0);
            points::op_end(OpKind::Create, ino, 0, 0);
        }
        Ok(ino)
    }

    /// Entries of directory `dir`, without "." and "..".
    pub fn readdir_ino(&self, dir: u64) -> Result<Vec<DirEntry>> {
        Ok(self.disk.readdir(dir)?)
    }

    /// unlink() and rmdir(): a file's page cache goes with its inode. `dir`
    /// says which the caller asked for, so each refuses the other's kind.
    pub fn remove_at(&self, parent: u64, name: &str, dir: bool) -> Result<()> {
        let ino = self.disk.lookup(parent, name)?;
        let kind = self.disk.stat(ino)?.kind;
        match (dir, kind) {
            (true, FileKind::File) => return Err(crate::disk::DiskError::NotDir.into()),
            (false, FileKind::Dir) => return Err(crate::disk::DiskError::IsDir.into()),
            _ => {}
        }
        if dir {
            self.disk.unlink(parent, name)?;
            return Ok(());
        }
        self.unlink_at(parent, name)
    }

    /// unlink() of a file: its page cache dropped under the inode and
    /// pagecache block locks, then the disk inode and its blocks. A file
    /// still open loses only its name until [`release`](Fs::release).
    pub(crate) fn unlink_at(&self, parent: u64, name: &str) -> Result<()> {
        let g = self.begin_op();
        let ino = self.disk.lookup(parent, name)?;
        points::op_begin(OpKind::Unlink, ino, 0, 0);
        let opens = self.opens.lock();
        let r = if opens.get(&ino).is_some_and(|&n| n > 0) {
            self.disk
                .orphan(parent, name)
                .map(|_| ())
                .map_err(Into::into)
        } else {
            self.evict(ino).and_then(|_| {
                self.disk.unlink(parent, name)?;
                Ok(())
            })
        };
        drop(opens);
        points::op_end(OpKind::Unlink, ino, 0, result_code(&r));
        drop(g);
        r
    }

    /// open(): loads the inode and counts the handle.
    pub fn open_ino(&self, ino: u64) -> Result<()> {
        self.inode(ino)?;
        *self.opens.lock().entry(ino).or_default() += 1;
        Ok(())
    }

    /// The last close of a file unlinked while open frees it.
    pub fn release(&self, ino: u64) -> Result<()> {
        let mut opens = self.opens.lock();
        let Some(n) = opens.get_mut(&ino) else {
            return Ok(());
        };
        *n -= 1;
        if *n > 0 {
            return Ok(());
        }
        opens.remove(&ino);
        if self.disk.stat(ino).is_ok_and(|a| a.nlink == 0) {
            return self.release_orphan(ino);
        }
        Ok(())
    }

    /// Frees a file unlinked while open: page cache first, then the inode.
    pub(crate) fn release_orphan(&self, ino: u64) -> Result<()> {
        let _g = self.begin_op();
        points::op_begin(OpKind::Unlink, ino, 0, 0);
        let r = self
            .evict(ino)
            .and_then(|_| Ok(self.disk.free_orphan(ino)?));
        points::op_end(OpKind::Unlink, ino, 0, result_code(&r));
        r
    }

    /// rename(): a replaced file loses its page cache as an unlinked one
    /// does. `noreplace` is RENAME_NOREPLACE.
    pub fn rename_at(
        &self,
        parent: u64,
        name: &str,
        newparent: u64,
        newname: &str,
        noreplace: bool,
    ) -> Result<()> {
        // The replaced file's cache goes first, as unlink drops it before
        // the blocks are freed, so no writeback can reach freed blocks.
        // Only when the rename cannot then fail on kinds: file over file.
        if let Ok(target) = self.disk.lookup(newparent, newname) {
            let source = self.disk.lookup(parent, name)?;
            let is_file = |i| self.disk.stat(i).is_ok_and(|a| a.kind == FileKind::File);
            if !noreplace && source != target && is_file(source) && is_file(target) {
                self.evict(target)?;
            }
        }
        self.disk
            .rename(parent, name, newparent, newname, noreplace)?;
        Ok(())
    }

    /// Drops every cached folio of `ino` and forgets the in-memory inode.
    fn evict(&self, ino: u64) -> Result<()> {
        let Ok(inode) = self.inode(ino) else {
            return Ok(());
        };
        inode.inode_lock.lock();
        inode.pagecache_lock.lock(Side::Block);
        truncate::truncate_inode_pages_range(self, &inode, 0, u64::MAX);
        inode.pagecache_lock.unlock(Side::Block);
        inode.inode_lock.unlock();
        self.forget_inode(ino);
        Ok(())
    }

    /// utimensat(): the modification time, in ns since the epoch.
    pub fn set_mtime(&self, ino: u64, mtime_ns: u64) -> Result<()> {
        Ok(self.disk.set_mtime(ino, mtime_ns)?)
    }

    /// statfs(): blocks free now, less those dirty page-cache data holds
    /// (bch2_statfs counts disk reservations as used); freed blocks return
    /// at the next commit.
    pub fn statfs(&self) -> StatFs {
        let g = self.disk.geometry();
        let held = self
            .space
            .reserved()
            .div_ceil(crate::disk::BLOCK_SIZE / 512);
        StatFs {
            blocks: g.data_blocks,
            free_blocks: g.free_blocks.saturating_sub(held),
            files: self.disk.inode_count(),
        }
    }
}

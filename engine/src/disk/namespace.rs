//! Directories and inodes: lookup, create, unlink, readdir, stat (the VFS
//! side of bcachefs's inode and dirent btrees, without hard links or
//! renames).

use super::error::{DiskError, Result};
use super::metadata::{valid_name, InodeRec};
use super::{DirEntry, Disk, FileKind, Ino, InodeAttr, State, ROOT_INO};

pub(super) fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl State {
    fn dir(&self, ino: Ino) -> Result<&InodeRec> {
        let rec = self.inode(ino)?;
        if rec.kind != FileKind::Dir {
            return Err(DiskError::NotDir);
        }
        Ok(rec)
    }

    fn lookup(&self, parent: Ino, name: &str) -> Result<Ino> {
        self.dir(parent)?
            .entries
            .get(name)
            .copied()
            .ok_or_else(|| DiskError::NotFound(name.to_string()))
    }
}

impl Disk {
    pub fn lookup(&self, parent: Ino, name: &str) -> Result<Ino> {
        self.check_mounted()?;
        self.state.lock().lookup(parent, name)
    }

    /// "/a/b", "a/b" and "/" (ROOT_INO) all resolve from the root.
    pub fn resolve(&self, path: &str) -> Result<Ino> {
        self.check_mounted()?;
        let st = self.state.lock();
        let mut ino = ROOT_INO;
        for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
            if part == ".." {
                return Err(DiskError::InvalidName(part.to_string()));
            }
            ino = st.lookup(ino, part).map_err(|e| match e {
                DiskError::NotFound(_) => DiskError::NotFound(path.to_string()),
                e => e,
            })?;
        }
        Ok(ino)
    }

    pub fn create(&self, parent: Ino, name: &str, kind: FileKind) -> Result<Ino> {
        self.check_mounted()?;
        if !valid_name(name) {
            return Err(DiskError::InvalidName(name.to_string()));
        }
        let mut st = self.state.lock();
        if st.dir(parent)?.entries.contains_key(name) {
            return Err(DiskError::Exists(name.to_string()));
        }
        let ino = st.next_ino;
        st.next_ino += 1;
        st.inodes.insert(ino, InodeRec::new(kind, now_ns()));
        let dir = st.inode_mut(parent)?;
        dir.entries.insert(name.to_string(), ino);
        if kind == FileKind::Dir {
            dir.nlink += 1;
        }
        st.dirty = true;
        Ok(ino)
    }

    /// Removes `name`; a directory must be empty. The inode and its blocks
    /// are freed (the blocks become reusable after the next commit).
    pub fn unlink(&self, parent: Ino, name: &str) -> Result<Ino> {
        self.check_mounted()?;
        let mut st = self.state.lock();
        let ino = st.lookup(parent, name)?;
        let rec = st.inode(ino)?;
        let is_dir = rec.kind == FileKind::Dir;
        if is_dir && !rec.entries.is_empty() {
            return Err(DiskError::NotEmpty);
        }
        let dir = st.inode_mut(parent)?;
        dir.entries.remove(name);
        if is_dir {
            dir.nlink = dir.nlink.saturating_sub(1);
        }
        let rec = st.inodes.remove(&ino).expect("looked up above");
        for e in rec.extents.values() {
            st.alloc.free(e.disk, e.len);
        }
        st.dirty = true;
        Ok(ino)
    }

    /// Entries in name order, without "." and "..".
    pub fn readdir(&self, dir: Ino) -> Result<Vec<DirEntry>> {
        self.check_mounted()?;
        let st = self.state.lock();
        Ok(st
            .dir(dir)?
            .entries
            .iter()
            .map(|(name, &ino)| DirEntry {
                name: name.clone(),
                ino,
                kind: st.inodes.get(&ino).map_or(FileKind::File, |r| r.kind),
            })
            .collect())
    }

    pub fn stat(&self, ino: Ino) -> Result<InodeAttr> {
        self.check_mounted()?;
        let st = self.state.lock();
        let rec = st.inode(ino)?;
        Ok(InodeAttr {
            ino,
            kind: rec.kind,
            size: rec.size,
            blocks: rec.block_count(),
            nlink: rec.nlink,
            mtime_ns: rec.mtime_ns,
        })
    }

    pub fn set_mtime(&self, ino: Ino, mtime_ns: u64) -> Result<()> {
        self.check_mounted()?;
        let mut st = self.state.lock();
        st.inode_mut(ino)?.mtime_ns = mtime_ns;
        st.dirty = true;
        Ok(())
    }
}

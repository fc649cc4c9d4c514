//! Directories and inodes: lookup, create, unlink, readdir, stat (the VFS
//! side of bcachefs's inode and dirent btrees, without hard links).

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

    /// Whether `dir` is `ino` or lies below it.
    fn is_ancestor(&self, ino: Ino, mut dir: Ino) -> bool {
        loop {
            if dir == ino {
                return true;
            }
            if dir == ROOT_INO {
                return false;
            }
            let parent = self
                .inodes
                .iter()
                .find(|(_, r)| r.entries.values().any(|&e| e == dir))
                .map(|(&p, _)| p);
            match parent {
                Some(p) => dir = p,
                None => return false,
            }
        }
    }

    /// Frees the files left unlinked-while-open by the last mount (mount
    /// time's orphan cleanup); returns how many.
    pub(super) fn free_orphans(&mut self) -> usize {
        let orphans: Vec<Ino> = self
            .inodes
            .iter()
            .filter(|(_, r)| super::fsck::is_orphan(r))
            .map(|(&i, _)| i)
            .collect();
        for &ino in &orphans {
            self.free_inode(ino);
        }
        self.dirty |= !orphans.is_empty();
        orphans.len()
    }

    fn free_inode(&mut self, ino: Ino) {
        if let Some(rec) = self.inodes.remove(&ino) {
            for e in rec.extents.values() {
                self.alloc.free(e.disk, e.len);
            }
        }
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
        st.free_inode(ino);
        st.dirty = true;
        Ok(ino)
    }

    /// Moves `name` in `parent` to `newname` in `newparent`, replacing what
    /// is there (a file, or an empty directory when `name` is a directory)
    /// unless `noreplace`. Returns the replaced inode, whose blocks are
    /// freed as unlink frees them.
    pub(crate) fn rename(
        &self,
        parent: Ino,
        name: &str,
        newparent: Ino,
        newname: &str,
        noreplace: bool,
    ) -> Result<Option<Ino>> {
        self.check_mounted()?;
        if !valid_name(newname) {
            return Err(DiskError::InvalidName(newname.to_string()));
        }
        let mut st = self.state.lock();
        let ino = st.lookup(parent, name)?;
        let is_dir = st.inode(ino)?.kind == FileKind::Dir;
        st.dir(newparent)?;
        if is_dir && st.is_ancestor(ino, newparent) {
            return Err(DiskError::Invalid(
                "cannot move a directory into itself".into(),
            ));
        }
        let old = match st.lookup(newparent, newname) {
            Ok(o) if o == ino => return Ok(None),
            Ok(_) if noreplace => return Err(DiskError::Exists(newname.to_string())),
            Ok(o) => {
                let rec = st.inode(o)?;
                match (is_dir, rec.kind == FileKind::Dir) {
                    (false, true) => return Err(DiskError::IsDir),
                    (true, false) => return Err(DiskError::NotDir),
                    (true, true) if !rec.entries.is_empty() => return Err(DiskError::NotEmpty),
                    _ => Some(o),
                }
            }
            Err(DiskError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        if let Some(o) = old {
            st.free_inode(o);
            if is_dir {
                let d = st.inode_mut(newparent)?;
                d.nlink = d.nlink.saturating_sub(1);
            }
        }
        let from = st.inode_mut(parent)?;
        from.entries.remove(name);
        if is_dir {
            from.nlink = from.nlink.saturating_sub(1);
        }
        let to = st.inode_mut(newparent)?;
        to.entries.insert(newname.to_string(), ino);
        if is_dir {
            to.nlink += 1;
        }
        st.dirty = true;
        Ok(old)
    }

    /// unlink() of a file someone still has open: the name goes, the inode
    /// and its blocks stay (nlink 0) until [`free_orphan`](Disk::free_orphan)
    /// at the last close, or the next mount after a crash.
    pub(crate) fn orphan(&self, parent: Ino, name: &str) -> Result<Ino> {
        self.check_mounted()?;
        let mut st = self.state.lock();
        let ino = st.lookup(parent, name)?;
        if st.inode(ino)?.kind == FileKind::Dir {
            return Err(DiskError::IsDir);
        }
        st.inode_mut(parent)?.entries.remove(name);
        st.inode_mut(ino)?.nlink = 0;
        st.dirty = true;
        Ok(ino)
    }

    /// Files unlinked while open, not yet freed.
    pub(crate) fn orphans(&self) -> Vec<Ino> {
        let st = self.state.lock();
        st.inodes
            .iter()
            .filter(|(_, r)| super::fsck::is_orphan(r))
            .map(|(&i, _)| i)
            .collect()
    }

    /// Frees an orphan's inode and blocks (its last open closed).
    pub(crate) fn free_orphan(&self, ino: Ino) -> Result<()> {
        self.check_mounted()?;
        let mut st = self.state.lock();
        if st.inode(ino)?.nlink != 0 {
            return Err(DiskError::Invalid(format!("inode {ino} is not an orphan")));
        }
        st.free_inode(ino);
        st.dirty = true;
        Ok(())
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

    /// Inodes in use, the root included.
    pub(crate) fn inode_count(&self) -> u64 {
        self.state.lock().inodes.len() as u64
    }

    pub fn set_mtime(&self, ino: Ino, mtime_ns: u64) -> Result<()> {
        self.check_mounted()?;
        let mut st = self.state.lock();
        st.inode_mut(ino)?.mtime_ns = mtime_ns;
        st.dirty = true;
        Ok(())
    }
}

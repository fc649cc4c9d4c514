//! Engine paths to inodes: the path walk the kernel's namei does before
//! bch2_lookup, component by component from the root.

use lockline_engine::disk::{FileKind, ROOT_INO};
use lockline_engine::Fs;
use std::ffi::c_int;

/// The inode at `path` ("/a/b") and its kind.
pub fn walk(fs: &Fs, path: &str) -> Result<(u64, FileKind), c_int> {
    let mut ino = ROOT_INO;
    let mut kind = FileKind::Dir;
    for name in path.split('/').filter(|n| !n.is_empty()) {
        if kind != FileKind::Dir {
            return Err(libc::ENOTDIR);
        }
        ino = fs.lookup(ino, name).map_err(|e| e.errno())?;
        kind = fs.stat(ino).map_err(|e| e.errno())?.kind;
    }
    Ok((ino, kind))
}

/// The directory holding `path`, and its last name. The root has none
/// (EBUSY, as rename or rmdir of a mount's root says).
pub fn parent<'p>(fs: &Fs, path: &'p str) -> Result<(u64, &'p str), c_int> {
    let t = path.trim_end_matches('/');
    let (dir, name) = t.rsplit_once('/').ok_or(libc::EBUSY)?;
    if name.is_empty() {
        return Err(libc::EBUSY);
    }
    match walk(fs, dir)? {
        (ino, FileKind::Dir) => Ok((ino, name)),
        _ => Err(libc::ENOTDIR),
    }
}

//! The engine's inode attributes as FUSE reports them. The disk keeps no
//! modes, owners or access times: files show as root's 0644, directories
//! as 0755, and every time as the modification time.

use fuser::{FileAttr, FileType, INodeNo};
use lockline_engine::disk::{FileKind, InodeAttr, BLOCK_SIZE};
use std::time::{Duration, UNIX_EPOCH};

pub fn kind(k: FileKind) -> FileType {
    match k {
        FileKind::File => FileType::RegularFile,
        FileKind::Dir => FileType::Directory,
    }
}

pub fn file_attr(a: &InodeAttr) -> FileAttr {
    let t = UNIX_EPOCH + Duration::from_nanos(a.mtime_ns);
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.blocks * (BLOCK_SIZE / 512),
        atime: t,
        mtime: t,
        ctime: t,
        crtime: t,
        kind: kind(a.kind),
        perm: match a.kind {
            FileKind::File => 0o644,
            FileKind::Dir => 0o755,
        },
        nlink: a.nlink,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: BLOCK_SIZE as u32,
        flags: 0,
    }
}

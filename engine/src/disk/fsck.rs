//! Offline consistency check (bcachefs's fsck passes, for lockline's much
//! smaller format): superblocks, metadata checksum, then the namespace,
//! extents and allocator against each other.

use super::alloc::Bitmap;
use super::commit::{read_blob, read_superblock, verify_blob};
use super::error::Result;
use super::io::DevFile;
use super::layout::Layout;
use super::metadata::{valid_name, MetaImage};
use super::{FileKind, Ino, BLOCK_SIZE, MAX_FILE_BLOCKS, ROOT_INO};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, serde::Serialize)]
pub struct FsckReport {
    pub path: PathBuf,
    /// The superblock's clean-unmount flag.
    pub clean: bool,
    pub generation: u64,
    pub inodes: u64,
    pub dirs: u64,
    pub used_blocks: u64,
    pub free_blocks: u64,
    pub problems: Vec<FsckProblem>,
    /// Files unlinked while open (nlink 0, no name) when the disk was last
    /// committed: not problems; the next mount frees them, as ext4's
    /// orphan list does.
    pub orphans: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FsckProblem {
    /// Stable short slug, e.g. "extent-overlap".
    pub kind: String,
    /// Names the inode, block or entry.
    pub detail: String,
}

/// Problems a disk can be mounted with: they waste space or misreport a
/// count, but nothing the runtime relies on is broken.
pub(super) const TOLERATED: &[&str] = &[
    "leaked-block",
    "written-past-size",
    "nlink",
    "unreachable",
    "bad-blocks",
    "bad-size",
];

impl FsckReport {
    /// Whether mount takes this disk as it is: every problem tolerated, or
    /// a superblock slot that failed its checksum beside a good one (what a
    /// torn superblock write leaves: mount reads the good slot and its
    /// next commit rewrites the bad one).
    pub fn mountable(&self) -> bool {
        self.problems
            .iter()
            .all(|p| TOLERATED.contains(&p.kind.as_str()) || p.kind == SUPERBLOCK_SLOT)
    }
}

const SUPERBLOCK_SLOT: &str = "superblock-slot";

/// Most problems of one kind listed one by one; the rest are summarized.
const MAX_PER_KIND: usize = 50;

/// Checks the disk at `path`, read-only. Err only when there is no lockline
/// superblock to start from or IO fails; everything else is a problem.
/// A file unlinked while open: no name, nlink 0, its blocks still owned.
pub(super) fn is_orphan(rec: &super::metadata::InodeRec) -> bool {
    rec.kind == FileKind::File && rec.nlink == 0
}

pub fn fsck(path: &Path) -> Result<FsckReport> {
    let dev = DevFile::open(path, false, false)?;
    dev.lock(false)?;
    let (sb, slots) = read_superblock(&dev)?;
    let mut problems = Vec::new();
    for (i, s) in slots.iter().enumerate() {
        if let Err(e) = s {
            problems.push(problem(
                SUPERBLOCK_SLOT,
                format!("superblock slot {i}: {e} (the other slot is in use; the next commit rewrites it)"),
            ));
        }
    }
    let mut report = FsckReport {
        path: path.to_path_buf(),
        clean: sb.clean,
        generation: sb.generation,
        inodes: 0,
        dirs: 0,
        used_blocks: 0,
        free_blocks: 0,
        problems: Vec::new(),
        orphans: 0,
    };
    match verify_blob(&sb, &read_blob(&dev, &sb)?) {
        Err((kind, detail)) => problems.push(problem(kind, detail)),
        Ok(img) => {
            report.inodes = img.inodes.len() as u64;
            report.dirs = img
                .inodes
                .values()
                .filter(|r| r.kind == FileKind::Dir)
                .count() as u64;
            report.orphans = img.inodes.values().filter(|r| is_orphan(r)).count() as u64;
            report.used_blocks = img.bitmap.count_ones();
            report.free_blocks = sb.layout.data_blocks() - report.used_blocks;
            problems.extend(check(&img, &sb.layout));
        }
    }
    report.problems = problems;
    Ok(report)
}

fn problem(kind: &str, detail: String) -> FsckProblem {
    FsckProblem {
        kind: kind.to_string(),
        detail,
    }
}

/// Collects problems, capping each kind.
#[derive(Default)]
struct Problems {
    list: Vec<FsckProblem>,
    counts: BTreeMap<&'static str, usize>,
}

impl Problems {
    fn add(&mut self, kind: &'static str, detail: String) {
        let n = self.counts.entry(kind).or_default();
        *n += 1;
        if *n <= MAX_PER_KIND {
            self.list.push(problem(kind, detail));
        }
    }

    fn finish(mut self) -> Vec<FsckProblem> {
        for (kind, n) in self.counts {
            if n > MAX_PER_KIND {
                self.list.push(problem(
                    kind,
                    format!("... and {} more {kind} problems", n - MAX_PER_KIND),
                ));
            }
        }
        self.list
    }
}

/// The consistency checks on decoded metadata (also run by `Disk::open`).
pub(super) fn check(img: &MetaImage, layout: &Layout) -> Vec<FsckProblem> {
    let mut p = Problems::default();
    match img.inodes.get(&ROOT_INO) {
        None => p.add(
            "root-missing",
            format!("root inode {ROOT_INO} does not exist"),
        ),
        Some(r) if r.kind != FileKind::Dir => {
            p.add("root-not-dir", format!("root inode {ROOT_INO} is a file"))
        }
        _ => {}
    }
    if let Some((&max, _)) = img.inodes.last_key_value() {
        if img.next_ino <= max {
            p.add(
                "next-ino",
                format!("next inode number {} is not past inode {max}", img.next_ino),
            );
        }
    }
    check_inodes(img, layout, &mut p);
    check_blocks(img, layout, &mut p);
    check_namespace(img, &mut p);
    p.finish()
}

fn check_inodes(img: &MetaImage, layout: &Layout, p: &mut Problems) {
    for (&ino, rec) in &img.inodes {
        if ino == 0 {
            p.add("bad-inode", "inode number 0 is in use".into());
        }
        match rec.kind {
            FileKind::File if !rec.entries.is_empty() => p.add(
                "file-has-entries",
                format!(
                    "file inode {ino} has {} directory entries",
                    rec.entries.len()
                ),
            ),
            FileKind::Dir if !rec.extents.is_empty() => p.add(
                "dir-has-extents",
                format!("directory inode {ino} has {} extents", rec.extents.len()),
            ),
            FileKind::Dir if rec.size != 0 => p.add(
                "bad-size",
                format!("directory inode {ino} has size {}", rec.size),
            ),
            _ => {}
        }
        if rec.size > MAX_FILE_BLOCKS * BLOCK_SIZE {
            p.add(
                "bad-size",
                format!(
                    "inode {ino} size {} exceeds the maximum file size",
                    rec.size
                ),
            );
        }
        let sum: u64 = rec.extents.values().fold(0, |a, e| a.saturating_add(e.len));
        if rec.blocks != sum {
            p.add(
                "bad-blocks",
                format!(
                    "inode {ino} says {} blocks but its extents hold {sum}",
                    rec.blocks
                ),
            );
        }
        let size_blocks = rec.size.div_ceil(BLOCK_SIZE);
        let mut prev_end = 0u64;
        for (&fb, e) in &rec.extents {
            let what = format!(
                "inode {ino} extent at file block {fb} (disk {}+{})",
                e.disk, e.len
            );
            if e.len == 0
                || fb
                    .checked_add(e.len)
                    .is_none_or(|end| end > MAX_FILE_BLOCKS)
            {
                p.add(
                    "bad-extent",
                    format!("{what}: bad length or past the maximum file size"),
                );
                continue;
            }
            if !layout.is_data(e.disk, e.len) {
                p.add(
                    "extent-out-of-range",
                    format!(
                        "{what}: outside the data area {}..{}",
                        layout.data_start(),
                        layout.total_blocks
                    ),
                );
            }
            if fb < prev_end {
                p.add(
                    "extent-overlap",
                    format!("{what}: overlaps the previous extent in the file"),
                );
            }
            prev_end = prev_end.max(fb + e.len);
            if !e.unwritten && fb + e.len > size_blocks {
                p.add(
                    "written-past-size",
                    format!("{what}: written blocks past i_size {}", rec.size),
                );
            }
        }
    }
}

fn check_blocks(img: &MetaImage, layout: &Layout, p: &mut Problems) {
    let base = layout.data_start();
    // (disk start, len, ino, file block) of every in-range extent.
    let mut all: Vec<(u64, u64, Ino, u64)> = img
        .inodes
        .iter()
        .flat_map(|(&ino, r)| {
            r.extents
                .iter()
                .map(move |(&fb, e)| (e.disk, e.len, ino, fb))
        })
        .filter(|&(d, l, _, _)| layout.is_data(d, l))
        .collect();
    all.sort_unstable();
    let mut furthest: Option<(u64, Ino, u64)> = None; // (end, ino, file block)
    for &(d, l, ino, fb) in &all {
        if let Some((end, pino, pfb)) = furthest {
            if d < end {
                p.add(
                    "extent-overlap",
                    format!(
                        "disk block {d}: inode {ino} file block {fb} and inode {pino} file block {pfb} share it"
                    ),
                );
            }
        }
        if furthest.is_none_or(|f| d + l > f.0) {
            furthest = Some((d + l, ino, fb));
        }
    }
    let mut referenced = Bitmap::new(layout.data_blocks());
    for &(d, l, _, _) in &all {
        referenced.set_range(d - base, l);
    }
    if img.bitmap.bits() != referenced.bits() {
        return; // verify_blob reports this; nothing to compare bit by bit
    }
    let owner = |block: u64| {
        let i = all.partition_point(|e| e.0 <= block);
        all[..i]
            .iter()
            .rev()
            .find(|e| block < e.0 + e.1)
            .map_or(String::new(), |e| format!(" (inode {})", e.2))
    };
    let mut b = 0;
    while b < referenced.bits() {
        let (used, refd) = (img.bitmap.get(b), referenced.get(b));
        if used == refd {
            b += 1;
            continue;
        }
        let start = b;
        while b < referenced.bits() && img.bitmap.get(b) == used && referenced.get(b) == refd {
            b += 1;
        }
        let (s, e) = (base + start, base + b - 1);
        if used {
            p.add(
                "leaked-block",
                format!("disk blocks {s}..={e} are marked used but no extent references them"),
            );
        } else {
            p.add(
                "used-block-marked-free",
                format!(
                    "disk blocks {s}..={e}{} are referenced but marked free in the bitmap",
                    owner(s)
                ),
            );
        }
    }
}

fn check_namespace(img: &MetaImage, p: &mut Problems) {
    let mut refs: BTreeMap<Ino, u32> = BTreeMap::new();
    let mut parent: BTreeMap<Ino, Ino> = BTreeMap::new();
    for (&dir, rec) in &img.inodes {
        for (name, &child) in &rec.entries {
            if !valid_name(name) {
                p.add(
                    "bad-name",
                    format!("directory {dir} has an entry with invalid name {name:?}"),
                );
            }
            let Some(c) = img.inodes.get(&child) else {
                p.add(
                    "dangling-dirent",
                    format!("directory {dir} entry {name:?} points to missing inode {child}"),
                );
                continue;
            };
            *refs.entry(child).or_default() += 1;
            if c.kind == FileKind::Dir {
                parent.insert(child, dir);
            }
        }
    }
    for (&ino, rec) in &img.inodes {
        let n = refs.get(&ino).copied().unwrap_or(0);
        match rec.kind {
            FileKind::File => {
                if rec.nlink != n {
                    p.add(
                        "nlink",
                        format!(
                            "file inode {ino} has nlink {} but {n} directory entries",
                            rec.nlink
                        ),
                    );
                }
            }
            FileKind::Dir => {
                let want = if ino == ROOT_INO { 0 } else { 1 };
                if n != want {
                    p.add(
                        "dir-links",
                        format!("directory inode {ino} is named by {n} entries (should be {want})"),
                    );
                }
                let subdirs = rec
                    .entries
                    .values()
                    .filter(|c| img.inodes.get(c).is_some_and(|r| r.kind == FileKind::Dir))
                    .count() as u32;
                if rec.nlink != 2 + subdirs {
                    p.add(
                        "nlink",
                        format!("directory inode {ino} has nlink {} but {subdirs} subdirectories (want {})", rec.nlink, 2 + subdirs),
                    );
                }
            }
        }
    }
    // Reachability, breadth-first from the root.
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::new();
    if img.inodes.contains_key(&ROOT_INO) {
        seen.insert(ROOT_INO);
        queue.push_back(ROOT_INO);
    }
    while let Some(dir) = queue.pop_front() {
        for (name, &child) in &img.inodes[&dir].entries {
            let Some(c) = img.inodes.get(&child) else {
                continue;
            };
            if !seen.insert(child) {
                if c.kind == FileKind::Dir {
                    p.add(
                        "dir-cycle",
                        format!("directory {dir} entry {name:?} leads back to directory {child}"),
                    );
                }
                continue;
            }
            if c.kind == FileKind::Dir {
                queue.push_back(child);
            }
        }
    }
    for (&ino, rec) in &img.inodes {
        if !seen.contains(&ino) && !is_orphan(rec) {
            let kind = if rec.kind == FileKind::Dir {
                "directory"
            } else {
                "file"
            };
            p.add(
                "unreachable",
                format!("{kind} inode {ino} is not reachable from the root"),
            );
        }
    }
    // Cycles cut off from the root: follow parents until the root or a repeat.
    let mut reported = BTreeSet::new();
    for &start in parent.keys() {
        if seen.contains(&start) || reported.contains(&start) {
            continue;
        }
        let mut path = BTreeSet::new();
        let mut cur = start;
        while let Some(&up) = parent.get(&cur) {
            if !path.insert(cur) {
                if !reported.contains(&cur) {
                    p.add("dir-cycle", format!("directory {cur} is its own ancestor"));
                }
                reported.extend(path);
                break;
            }
            cur = up;
        }
    }
}

//! The three checks of a checked round, written once for every runner
//! (rounds, the explorer's schedules, the scenarios, the kernel runner):
//! the file read back after the run (what the page cache holds), after
//! fsync, and after unmount and mount (what the disk kept).

use super::provenance::check_tag;
use super::{check, CheckReport, AFTER_FSYNC, AFTER_REMOUNT, AFTER_RUN};
use crate::history::History;
use lockline_engine::fs::{CountersSnapshot, Fs, MountOptions};
use lockline_engine::probe::provenance::checking;
use std::path::Path;
use std::sync::Arc;

/// A file under check, on whatever mounted it.
pub trait Remountable {
    type Error;
    /// The whole file as a reader sees it now.
    fn read_whole(&mut self) -> Result<Vec<u8>, Self::Error>;
    fn fsync(&mut self) -> Result<(), Self::Error>;
    /// Unmounts and mounts again; the file is the same inode after.
    fn remount(&mut self) -> Result<(), Self::Error>;
}

/// What the three checks found.
pub struct Checked {
    /// After the run, after fsync, after remount, in that order, each of
    /// round `round`.
    pub checks: Vec<CheckReport>,
    /// The file as the disk kept it (read after remount).
    pub kept: Vec<u8>,
}

/// Checks inode `ino` of `file` against `history` three times; `seen` gets
/// each check as it is made (a live view shows the first two before the
/// remount). The caller annotates folios once it has the events.
pub fn check_round<F: Remountable>(
    file: &mut F,
    history: &History,
    ino: u64,
    round: u64,
    mut seen: impl FnMut(&CheckReport),
) -> Result<Checked, F::Error> {
    let mut checks = Vec::with_capacity(3);
    let mut checked = |label: &str, content: &[u8]| {
        let mut c = check(history, ino, content, label);
        c.round = round;
        seen(&c);
        checks.push(c);
    };
    // The read-backs record their digests as the check's (a recording
    // run's trace can be judged again by provenance::judge).
    let read = |file: &mut F, label: &str| checking(check_tag(label), || file.read_whole());
    checked(AFTER_RUN, &read(file, AFTER_RUN)?);
    file.fsync()?;
    checked(AFTER_FSYNC, &read(file, AFTER_FSYNC)?);
    file.remount()?;
    let kept = read(file, AFTER_REMOUNT)?;
    checked(AFTER_REMOUNT, &kept);
    Ok(Checked { checks, kept })
}

/// A file of an engine mount. `mounted` is false between a remount's
/// unmount and its mount, so a caller that gets an error knows whether
/// `fs` still needs unmounting.
pub struct EngineFile<'a> {
    pub fs: &'a mut Arc<Fs>,
    pub mounted: &'a mut bool,
    pub disk: &'a Path,
    pub opts: &'a MountOptions,
    pub ino: u64,
    /// The counters of the mount the remount retired.
    pub retired: Option<CountersSnapshot>,
}

impl Remountable for EngineFile<'_> {
    type Error = lockline_engine::Error;

    fn read_whole(&mut self) -> lockline_engine::Result<Vec<u8>> {
        read_whole(self.fs, self.ino)
    }

    fn fsync(&mut self) -> lockline_engine::Result<()> {
        self.fs.fsync(self.ino)
    }

    fn remount(&mut self) -> lockline_engine::Result<()> {
        self.retired = Some(self.fs.counters.snapshot());
        self.fs.unmount()?;
        *self.mounted = false;
        *self.fs = Fs::mount(self.disk, self.opts.clone())?;
        *self.mounted = true;
        Ok(())
    }
}

/// Inode `ino`'s whole content on an engine mount.
pub fn read_whole(fs: &Fs, ino: u64) -> lockline_engine::Result<Vec<u8>> {
    let mut buf = vec![0u8; fs.size(ino)? as usize];
    let n = fs.read(ino, 0, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

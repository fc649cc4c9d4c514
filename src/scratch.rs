//! Scratch disks of explore and replay: every schedule formats its image
//! afresh, in a scratch directory (/dev/shm when there is one) or at
//! `--disk`, which must not exist and is removed at the end.

use crate::exit::usage;
use anyhow::{Context, Result};
use lockline_harness::explore;
use std::path::{Path, PathBuf};

/// Removes the scratch image it names when dropped.
pub struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The scratch image: `--disk` if given (it must not exist: every schedule
/// formats it afresh, and it is removed at the end), else one in `scratch`.
pub fn scratch_image(
    disk: Option<&Path>,
    scratch: &tempfile::TempDir,
    name: &str,
) -> Result<(PathBuf, RemoveOnDrop)> {
    match disk {
        Some(d) if d.exists() || d.symlink_metadata().is_ok() => Err(usage(format!(
            "{} exists: schedules format their scratch disk afresh, give a path that does not exist",
            d.display()
        ))),
        Some(d) => Ok((d.to_path_buf(), RemoveOnDrop(Some(d.to_path_buf())))),
        None => Ok((scratch.path().join(name), RemoveOnDrop(None))),
    }
}

/// A scratch directory where explore's disks go by default
/// (`explore::scratch_parent`).
pub fn scratch_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("lockline-")
        .tempdir_in(explore::scratch_parent())
        .context("creating a scratch directory")
}

//! Where a client's program meets the engine: a FUSE mount in this
//! process (`--via mount`), or the engine preloaded into each program it
//! runs (`--via exec`, one program at a time, since each mounts the disk
//! itself). The client code is the same for both: paths, commands, a
//! remount between its checks, and its own reads of what it left.

use crate::exec_run::Exec;
use anyhow::{Context, Result};
use lockline_engine::disk;
use lockline_engine::probe::recorder::Recorder;
use lockline_engine::{Build, Fs, Knobs, MountOptions};
use lockline_fuse::{MountConfig, Mounted};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// How the client reaches the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// A FUSE mount: the kernel's VFS and FUSE client in between.
    Mount,
    /// liblockline_preload.so: the program's own threads are the engine's
    /// writers.
    Exec,
}

enum Front {
    Mount {
        mnt: PathBuf,
        threads: usize,
        recorder: Option<Arc<Recorder>>,
        live: Option<(Arc<Fs>, Mounted)>,
    },
    Exec(Box<Exec>),
}

/// The engine a client's programs use.
pub struct Session<'a> {
    disk: &'a Path,
    build: Build,
    knobs: Knobs,
    front: Front,
    pub writes: u64,
    pub write_bytes: u64,
    pub counters: lockline_engine::fs::CountersSnapshot,
}

impl<'a> Session<'a> {
    /// A FUSE mount at `mnt` (an empty directory), `threads` FUSE threads.
    pub fn mount(
        disk: &'a Path,
        mnt: PathBuf,
        build: Build,
        knobs: Knobs,
        threads: usize,
        recorder: Option<Arc<Recorder>>,
    ) -> Result<Session<'a>> {
        let mut s = Session {
            disk,
            build,
            knobs,
            front: Front::Mount {
                mnt,
                threads,
                recorder,
                live: None,
            },
            writes: 0,
            write_bytes: 0,
            counters: Default::default(),
        };
        s.up()?;
        Ok(s)
    }

    /// The routed directory `dir` (empty or new) of programs run with the
    /// library; `record` takes their events and digests.
    pub fn exec(
        disk: &'a Path,
        dir: PathBuf,
        build: Build,
        knobs: Knobs,
        record: bool,
    ) -> Result<Session<'a>> {
        let ex = Exec::new(&dir, disk, build, knobs.clone(), record, false)?;
        Ok(Session {
            disk,
            build,
            knobs,
            front: Front::Exec(Box::new(ex)),
            writes: 0,
            write_bytes: 0,
            counters: Default::default(),
        })
    }

    fn up(&mut self) -> Result<()> {
        let Front::Mount {
            mnt,
            threads,
            recorder,
            live,
        } = &mut self.front
        else {
            return Ok(());
        };
        let fs = Fs::mount(
            self.disk,
            MountOptions {
                build: self.build,
                knobs: self.knobs.clone(),
                recorder: recorder.clone(),
            },
        )?;
        let cfg = MountConfig {
            threads: *threads,
            source: format!("lockline:{}", self.disk.display()),
        };
        let m = lockline_fuse::mount(fs.clone(), mnt, &cfg)
            .with_context(|| format!("cannot mount {}", mnt.display()))?;
        *live = Some((fs, m));
        Ok(())
    }

    /// Mount: the FUSE side goes, then the engine writes back and commits.
    /// Exec: every program has exited, so each unmounted at its exit;
    /// their accounts are taken in.
    pub fn unmount(&mut self) -> Result<()> {
        match &mut self.front {
            Front::Mount { live, .. } => {
                let Some((fs, m)) = live.take() else {
                    return Ok(());
                };
                let served = m.served();
                let ld =
                    |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
                self.writes += ld(&served.writes);
                self.write_bytes += ld(&served.write_bytes);
                let r = m.unmount();
                self.counters += fs.counters.snapshot();
                fs.unmount()?;
                r.context("FUSE session")?;
            }
            Front::Exec(ex) => {
                for st in ex.collect()? {
                    self.writes += st.served.writes;
                    self.write_bytes += st.served.write_bytes;
                    self.counters += st.counters;
                    if let Some(e) = st.unmount_error {
                        anyhow::bail!("pid {}: the engine's unmount failed: {e}", st.pid);
                    }
                }
            }
        }
        Ok(())
    }

    /// Unmount, fsck, mount again: returns fsck's problem count.
    pub fn remount(&mut self) -> Result<usize> {
        self.unmount()?;
        let r = disk::fsck(self.disk)?;
        self.up()?;
        Ok(r.problems.len())
    }

    /// Where the client's file `name` is.
    pub fn path(&self, name: &str) -> PathBuf {
        match &self.front {
            Front::Mount { mnt, .. } => mnt.join(name),
            Front::Exec(ex) => ex.dir().join(name),
        }
    }

    /// `program`, set up to reach the engine.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        match &self.front {
            Front::Mount { .. } => Command::new(program),
            Front::Exec(ex) => ex.command(program),
        }
    }

    /// How many of the client's programs may run at once: one through
    /// exec, where each mounts the disk.
    pub fn parallel(&self, want: u32) -> u32 {
        match self.front {
            Front::Mount { .. } => want.max(1),
            Front::Exec(_) => 1,
        }
    }

    pub fn via(&self) -> Via {
        match self.front {
            Front::Mount { .. } => Via::Mount,
            Front::Exec(_) => Via::Exec,
        }
    }

    /// A directory for the client's programs (made in the engine).
    pub fn mkdir(&self, name: &str) -> Result<()> {
        match &self.front {
            Front::Mount { mnt, .. } => Ok(std::fs::create_dir(mnt.join(name))?),
            Front::Exec(ex) => ex.mkdir(name),
        }
    }

    /// The client's file `name` as the engine has it.
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        match &self.front {
            Front::Mount { mnt, .. } => Ok(std::fs::read(mnt.join(name))?),
            Front::Exec(ex) => ex.read(name),
        }
    }

    /// The exec front's runs, for its trace (None through the mount).
    pub fn into_exec(mut self) -> Result<Option<Exec>> {
        self.unmount()?;
        match std::mem::replace(
            &mut self.front,
            Front::Mount {
                mnt: PathBuf::new(),
                threads: 0,
                recorder: None,
                live: None,
            },
        ) {
            Front::Exec(ex) => Ok(Some(*ex)),
            Front::Mount { .. } => Ok(None),
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self.unmount();
    }
}

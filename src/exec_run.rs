//! The parent's side of `lockline exec` and `client --via exec`: finds
//! liblockline_preload.so, makes the routed directory show the disk's
//! names (placeholders), starts programs with the library preloaded, and
//! gathers what each left at its exit into one trace, judged against the
//! disk read back at the end.

use crate::exit::usage;
use anyhow::{Context, Result};
use lockline_engine::disk::FileKind;
use lockline_engine::probe::provenance::Extent;
use lockline_engine::probe::recorder::{Recorder, DEFAULT_CAPACITY};
use lockline_engine::probe::Event;
use lockline_engine::{Build, Fs, Knobs, MountOptions};
use lockline_exec::spill::{self, Shift};
use lockline_exec::{Config, Status};
use lockline_harness::check::provenance;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

const LIBRARY: &str = "liblockline_preload.so";

/// The library: $LOCKLINE_PRELOAD, or beside this executable (where
/// cargo builds it: `cargo build [--release] -p lockline-preload`).
pub fn find_library() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("LOCKLINE_PRELOAD") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(usage(format!(
                "LOCKLINE_PRELOAD={}: no such file",
                p.display()
            )))
        };
    }
    let exe = std::env::current_exe().context("finding this executable")?;
    let dir = exe.parent().context("the executable's directory")?;
    let p = dir.join(LIBRARY);
    if p.is_file() {
        return Ok(p);
    }
    let profile = if dir.ends_with("release") {
        " --release"
    } else {
        ""
    };
    Err(usage(format!(
        "{LIBRARY} is not beside {} (build it: cargo build{profile} -p lockline-preload)",
        exe.display()
    )))
}

/// One routed directory on one disk, for one or more programs in turn.
pub struct Exec {
    lib: PathBuf,
    cfg: Config,
    /// Holds the status and spill files; removed with this.
    _out: tempfile::TempDir,
    shift: Shift,
    events: Vec<Event>,
    extents: Vec<Extent>,
    pub statuses: Vec<Status>,
}

impl Exec {
    /// `dir` must be empty or absent (it is made); `disk` a lockline disk
    /// outside it.
    pub fn new(
        dir: &Path,
        disk: &Path,
        build: Build,
        knobs: Knobs,
        record: bool,
        strict: bool,
    ) -> Result<Exec> {
        let lib = find_library()?;
        if !dir.exists() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        } else if !dir.is_dir() {
            return Err(usage(format!("--dir {}: not a directory", dir.display())));
        } else if std::fs::read_dir(dir)?.next().is_some() {
            return Err(usage(format!(
                "--dir {}: not empty (the routed directory shows the disk's files; give an empty or new one)",
                dir.display()
            )));
        }
        let dir = std::fs::canonicalize(dir)?;
        let disk =
            std::fs::canonicalize(disk).map_err(|e| usage(format!("{}: {e}", disk.display())))?;
        if disk.starts_with(&dir) {
            return Err(usage(format!(
                "the disk {} lies inside the routed directory {}",
                disk.display(),
                dir.display()
            )));
        }
        placeholders(&disk, &dir, build, &knobs)?;
        let out = tempfile::Builder::new()
            .prefix("lockline-exec-")
            .tempdir()
            .context("creating a scratch directory")?;
        let cfg = Config {
            dir,
            disk,
            build,
            knobs,
            out: out.path().to_path_buf(),
            record,
            strict,
        };
        Ok(Exec {
            lib,
            cfg,
            _out: out,
            shift: Shift::default(),
            events: Vec::new(),
            extents: Vec::new(),
            statuses: Vec::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }

    /// `program` with the library preloaded, $TMPDIR in the routed
    /// directory (so temporary files such as QEMU's snapshot overlay are
    /// the engine's) and $LOCKLINE_DIR naming it.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        let mut preload = self.lib.as_os_str().to_os_string();
        if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|o| !o.is_empty()) {
            preload.push(":");
            preload.push(old);
        }
        c.env("LD_PRELOAD", preload)
            .env("TMPDIR", &self.cfg.dir)
            .env("LOCKLINE_DIR", &self.cfg.dir)
            .envs(self.cfg.to_env());
        c
    }

    /// The engine with no program in it, for the parent's own work
    /// between programs (nothing is recorded).
    fn engine(&self) -> Result<std::sync::Arc<Fs>> {
        Ok(Fs::mount(
            &self.cfg.disk,
            MountOptions {
                build: self.cfg.build,
                knobs: self.cfg.knobs.clone(),
                recorder: None,
            },
        )?)
    }

    /// mkdir of `name` in the engine, and its placeholder.
    pub fn mkdir(&self, name: &str) -> Result<()> {
        let fs = self.engine()?;
        let r = Fs::create_at(&fs, lockline_engine::disk::ROOT_INO, name, FileKind::Dir);
        fs.unmount()?;
        r?;
        std::fs::create_dir(self.cfg.dir.join(name))?;
        Ok(())
    }

    /// The engine's file `name` (in the routed directory's top), whole.
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        let fs = self.engine()?;
        let r = (|| -> lockline_engine::Result<Vec<u8>> {
            let ino = fs.open(&format!("/{name}"), false)?;
            let mut buf = vec![0u8; fs.size(ino)? as usize];
            let mut at = 0;
            while at < buf.len() {
                match fs.read(ino, at as u64, &mut buf[at..])? {
                    0 => break,
                    n => at += n,
                }
            }
            buf.truncate(at);
            Ok(buf)
        })();
        fs.unmount()?;
        Ok(r?)
    }

    /// Takes in what the programs that exited since the last call left:
    /// their statuses, and their events and digests moved past the
    /// numbers of those before.
    pub fn collect(&mut self) -> Result<Vec<Status>> {
        let out = &self.cfg.out;
        let new = Status::read_all(out).context("reading the programs' statuses")?;
        for st in &new {
            let p = spill::path(out, st.pid);
            if p.exists() {
                let (mut ev, mut ex) =
                    spill::read(&p).with_context(|| format!("reading {}", p.display()))?;
                self.shift.apply(&mut ev, &mut ex);
                self.events.append(&mut ev);
                self.extents.append(&mut ex);
                std::fs::remove_file(&p)?;
            }
            std::fs::remove_file(Status::path(out, st.pid))?;
        }
        self.statuses.extend(new.iter().cloned());
        Ok(new)
    }

    /// Regular files in the routed directory with bytes in them: written
    /// by a call the library did not see (a path reaching the directory
    /// through a symlink, glibc's own IO), so the engine never had them.
    pub fn bypassed(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut dirs = vec![self.cfg.dir.clone()];
        while let Some(d) = dirs.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let Ok(m) = e.metadata() else { continue };
                if m.is_dir() {
                    dirs.push(e.path());
                } else if m.len() > 0 {
                    out.push(format!("{} ({} bytes)", e.path().display(), m.len()));
                }
            }
        }
        out
    }

    /// The final check: every file read back from the disk (by this
    /// process, with digests), its records moved past the programs', and
    /// all of it as one trace. Call after the last program exited.
    pub fn trace(mut self, threads: u32, seconds: f64) -> Result<lockline_analysis::Trace> {
        let rec = Recorder::new(DEFAULT_CAPACITY);
        rec.record_digests(true);
        let opts = MountOptions {
            build: self.cfg.build,
            knobs: self.cfg.knobs.clone(),
            recorder: Some(rec.clone()),
        };
        provenance::read_back_at_unmount(&self.cfg.disk, &opts)?;
        let (mut ev, mut ex) = (rec.drain(), rec.drain_extents());
        self.shift.apply(&mut ev, &mut ex);
        self.events.append(&mut ev);
        self.extents.append(&mut ex);
        self.events.sort_by_key(|e| (e.ts_ns, e.tid));
        self.extents.sort_by_key(|e| (e.ts_ns, e.tid));
        let lost = self
            .statuses
            .iter()
            .filter_map(|s| s.recorder.map(|r| r.dropped))
            .sum();
        let clock = self
            .statuses
            .iter()
            .map(|s| s.clock.clone())
            .find(|c| !c.is_empty())
            .unwrap_or_else(|| rec.clock().name().to_string());
        let run = lockline_analysis::run_trace::ServedRun {
            workload: "exec",
            build: self.cfg.build.name(),
            knobs: &self.cfg.knobs,
            threads,
            clock: &clock,
            lost_events: lost,
            seconds,
        };
        let events = std::mem::take(&mut self.events);
        let extents = std::mem::take(&mut self.extents);
        Ok(lockline_analysis::run_trace::mount_trace(
            &run, events, extents,
        )?)
    }
}

/// Gives every file and directory on the disk its placeholder in `dir`,
/// so glibc's internal calls (realpath, opendir) find the names.
fn placeholders(disk: &Path, dir: &Path, build: Build, knobs: &Knobs) -> Result<()> {
    let fs = Fs::mount(
        disk,
        MountOptions {
            build,
            knobs: knobs.clone(),
            recorder: None,
        },
    )?;
    let mut todo = vec!["/".to_string()];
    let r: Result<()> = (|| {
        while let Some(d) = todo.pop() {
            for e in fs.readdir(&d)? {
                let path = format!("{}/{}", d.trim_end_matches('/'), e.name);
                let real = dir.join(path.trim_start_matches('/'));
                match e.kind {
                    FileKind::Dir => {
                        std::fs::create_dir_all(&real)?;
                        todo.push(path);
                    }
                    FileKind::File => {
                        std::fs::File::create(&real)?;
                    }
                }
            }
        }
        Ok(())
    })();
    fs.unmount()?;
    r
}

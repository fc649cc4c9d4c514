//! One checked kernel run: image, loop device, mkfs, mount, the workload
//! through syscalls with the in-process recorder, then the engine's three
//! checks (after the run, after fsync, after unmount and remount). The
//! guards undo the setup on every path, errors and Ctrl-C included.

use super::error::{KernelError, Result};
use super::file::KernelFile;
use super::loopdev::{Image, LoopDev, Mount, WorkDir};
use super::{tools, KernelFs};
use crate::check;
use crate::history::History;
use crate::perf::{run_counted, PerfReport, PerfSample};
use crate::session::RunSummary;
use crate::workload::{Progress, RunSpec, Stop, Target};
use lockline_engine::probe::recorder::{Recorder, DEFAULT_CAPACITY};
use lockline_engine::probe::{Event, ExternalTracer};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct KernelSpec {
    pub fs: KernelFs,
    pub run: RunSpec,
    /// Size of the sparse image the file system is made on.
    pub image_size: u64,
    /// Directory to create the run's work directory in (default: the
    /// system temp directory).
    pub workdir: Option<PathBuf>,
    pub record_capacity: u64,
    /// Count perf events per worker thread.
    pub perf: bool,
    /// Set (e.g. by a SIGINT handler) to end the workload early; the checks
    /// and the cleanup still run.
    pub cancel: Option<&'static AtomicBool>,
    /// Test-only: this mkfs program instead of the file system's own.
    pub mkfs_program: Option<PathBuf>,
    /// Take content digests of every write, read and check (the report's
    /// extents; `check::provenance` judges them as it judges the engine's).
    pub digests: bool,
}

impl KernelSpec {
    pub fn new(fs: KernelFs, run: RunSpec) -> KernelSpec {
        KernelSpec {
            fs,
            run,
            image_size: 1 << 30,
            workdir: None,
            record_capacity: DEFAULT_CAPACITY,
            perf: true,
            cancel: None,
            mkfs_program: None,
            digests: false,
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.run.validate()?;
        let min = self.fs.min_image();
        if self.image_size < min {
            return Err(KernelError::Invalid(format!(
                "--size {} MiB is below the {} MiB {} needs",
                self.image_size >> 20,
                min >> 20,
                self.fs
            )));
        }
        // Room for metadata, and for btrfs's copy-on-write of overwrites.
        if self.run.file_size > self.image_size / 2 {
            return Err(KernelError::Invalid(format!(
                "--file-size {} MiB needs an image of at least {} MiB (--size)",
                self.run.file_size >> 20,
                (self.run.file_size * 2) >> 20
            )));
        }
        Ok(())
    }
}

/// Where the run happened.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceInfo {
    pub loop_device: String,
    pub image: String,
    pub image_bytes: u64,
    pub mkfs: String,
    /// uname -r
    pub kernel: String,
}

/// The summary of a kernel run; the keys a `SessionReport` shares with it
/// have the same names and meanings.
#[derive(Clone, Debug, Serialize)]
pub struct KernelReport {
    /// `kernel-<fs>`, so kernel and engine runs sit in one build column.
    pub build: String,
    pub fs: KernelFs,
    #[serde(flatten)]
    pub summary: RunSummary,
    pub device: DeviceInfo,
    pub perf: PerfReport,
    /// The perf counters read every perf::PERIOD, for the trace's counter
    /// tracks (too many for the summary).
    #[serde(skip)]
    pub perf_samples: Vec<PerfSample>,
    /// The workload was cut short (Ctrl-C).
    pub interrupted: bool,
    /// What this run could not do or did differently.
    pub notes: Vec<String>,
    /// Content digests, when the spec asked for them.
    #[serde(skip)]
    pub extents: Vec<lockline_engine::probe::provenance::Extent>,
}

fn kernel_release() -> String {
    // SAFETY: zeroed utsname is a valid out-buffer.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: valid buffer.
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    // SAFETY: uname NUL-terminates release.
    unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// What a run needs before it creates anything: a valid spec, root, and
/// the mkfs and losetup programs. Front ends running several sessions
/// (`lockline compare`) ask before their first.
pub fn preflight(spec: &KernelSpec) -> Result<()> {
    preflight_tools(spec).map(|_| ())
}

/// [`preflight`], returning the mkfs and losetup programs.
fn preflight_tools(spec: &KernelSpec) -> Result<(PathBuf, PathBuf)> {
    spec.validate()?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(KernelError::NotRoot);
    }
    let mkfs = match &spec.mkfs_program {
        Some(p) if tools::is_executable(p) => p.clone(),
        Some(p) => {
            return Err(KernelError::MissingTool {
                tool: p.display().to_string(),
                package: spec.fs.package(),
            })
        }
        None => tools::find_program(spec.fs.mkfs_program(), spec.fs.package())?,
    };
    let losetup = tools::find_program("losetup", "mount")?;
    Ok((mkfs, losetup))
}

/// Runs the session with in-process op events only; returns the report and
/// every recorded event.
pub fn run_kernel_session(
    spec: &KernelSpec,
    progress: &Progress,
) -> Result<(KernelReport, Vec<Event>)> {
    run_kernel_session_with(spec, progress, None)
}

/// Runs the session; `tracer`, when given, adds the kernel's own events
/// (tracepoints narrowed to the workload's file) to the in-process op
/// events. Both stamp CLOCK_MONOTONIC, so the streams merge by time.
pub fn run_kernel_session_with(
    spec: &KernelSpec,
    progress: &Progress,
    mut tracer: Option<Box<dyn ExternalTracer>>,
) -> Result<(KernelReport, Vec<Event>)> {
    // Every tool is found before anything is created, so a missing one
    // leaves nothing behind.
    let (mkfs, losetup) = preflight_tools(spec)?;

    // Declared in setup order so they drop (undo) in reverse.
    let parent = spec.workdir.clone().unwrap_or_else(std::env::temp_dir);
    let work = WorkDir::create(&parent)?;
    Image::create(&work.image, spec.image_size)?;
    let dev = LoopDev::attach(&losetup, &work.image)?;
    let mut mkfs_args: Vec<&std::ffi::OsStr> =
        spec.fs.mkfs_args().iter().map(|a| a.as_ref()).collect();
    mkfs_args.push(dev.dev.as_os_str());
    tools::run(&mkfs, &mkfs_args)?;
    let mount = Mount::new(&dev.dev, &work.mnt, spec.fs.name())?;

    let rec = Recorder::new(spec.record_capacity);
    rec.record_digests(spec.digests);
    lockline_engine::probe::points::attach_thread(
        Some(&rec),
        lockline_engine::probe::ThreadRole::Main,
        0,
    );
    let path = work.mnt.join(format!("{}.dat", spec.run.workload.name()));
    let file = KernelFile::create(&path, Some(rec.clone()))?.with_cancel(spec.cancel);
    if let Some(t) = tracer.as_mut() {
        t.watch_file(&path)
            .map_err(|e| KernelError::Invalid(format!("{} trace: {e}", t.name())))?;
    }
    let take = |t: &mut Option<Box<dyn ExternalTracer>>| -> Result<Vec<Event>> {
        match t {
            Some(t) => t
                .take()
                .map_err(|e| KernelError::Invalid(format!("{} trace: {e}", t.name()))),
            None => Ok(Vec::new()),
        }
    };
    let (outcome, perf, perf_samples) = run_counted(&file, &spec.run, progress, spec.perf)?;
    let interrupted = spec.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let ino = outcome.ino;

    let mut events = rec.drain();
    let history = History::from_events(&events);
    let reads = check::check_reads(&history, ino, &outcome.reads, outcome.reads_not_kept);
    events.extend(take(&mut tracer)?);
    let mut remountable = KernelRemount {
        rec: rec.clone(),
        file: Some(file),
        mount: Some(mount),
        dev: &dev.dev,
        mnt: &work.mnt,
        fstype: spec.fs.name(),
        path: &path,
        ino,
        before_unmount: &mut || {
            events.extend(rec.drain());
            events.extend(take(&mut tracer)?);
            events.sort_by_key(|e| (e.ts_ns, e.tid));
            Ok(())
        },
    };
    let checks = check::check_round(&mut remountable, &history, ino, 0, |_| {})?.checks;
    let KernelRemount { file, mount, .. } = remountable;
    drop(file);
    // The read-back after the remount.
    events.extend(rec.drain());
    events.sort_by_key(|e| (e.ts_ns, e.tid));
    if let Some(m) = mount {
        m.unmount()?;
    }
    let device = DeviceInfo {
        loop_device: dev.dev.display().to_string(),
        image: work.image.display().to_string(),
        image_bytes: spec.image_size,
        mkfs: format!("{} {}", mkfs.display(), spec.fs.mkfs_args().join(" ")),
        kernel: kernel_release(),
    };
    dev.detach()?;
    drop(work);

    let mut notes = Vec::new();
    if tracer.is_none() {
        notes.push("in-process events are op_begin/op_end only: lock and folio events of a kernel file system need the eBPF source".to_string());
    }
    notes.extend(perf.notes.iter().cloned());
    if interrupted {
        notes.push(format!(
            "interrupted: the workload stopped after {} ops",
            outcome.ops
        ));
    }
    if let Stop::Ops(n) = spec.run.stop {
        if !interrupted && outcome.ops != n {
            notes.push(format!("ran {} of {n} ops", outcome.ops));
        }
    }
    let st = rec.stats();
    let mut summary = RunSummary::new(&spec.run, outcome, checks, events.len() as u64, st.dropped);
    summary.reads = reads;
    summary.clock = rec.clock().name().to_string();
    summary.clock_note = lockline_engine::probe::clock::choice_note();
    if let Some(t) = &tracer {
        summary.clock = format!("{}+ktime", summary.clock);
        summary.lost_events += t.lost();
        summary.probe_source = format!("inproc+{}", t.name());
        summary.probe_notes = t.notes();
    }
    let report = KernelReport {
        build: format!("kernel-{}", spec.fs),
        fs: spec.fs,
        summary,
        device,
        perf,
        perf_samples,
        interrupted,
        notes,
        extents: rec.drain_extents(),
    };
    Ok((report, events))
}

/// The kernel file system's side of `check::check_round`: the file on a
/// mount of the loop device, and a remount that closes it, lets the caller
/// take the events so far, unmounts, mounts again and reopens the file.
struct KernelRemount<'a> {
    rec: Arc<Recorder>,
    file: Option<KernelFile>,
    mount: Option<Mount>,
    dev: &'a Path,
    mnt: &'a Path,
    fstype: &'a str,
    path: &'a Path,
    ino: u64,
    before_unmount: &'a mut dyn FnMut() -> Result<()>,
}

impl KernelRemount<'_> {
    fn file(&self) -> Result<&KernelFile> {
        self.file
            .as_ref()
            .ok_or_else(|| KernelError::Invalid("the file is closed".into()))
    }
}

impl check::Remountable for KernelRemount<'_> {
    type Error = KernelError;

    fn read_whole(&mut self) -> Result<Vec<u8>> {
        self.file()?.read_all()
    }

    fn fsync(&mut self) -> Result<()> {
        self.file()?.fsync()
    }

    /// The page cache goes with the mount: what is read back after is on
    /// the disk.
    fn remount(&mut self) -> Result<()> {
        self.file = None;
        (self.before_unmount)()?;
        if let Some(m) = self.mount.take() {
            m.unmount()?;
        }
        self.mount = Some(Mount::new(self.dev, self.mnt, self.fstype)?);
        let file = KernelFile::open_existing(self.path, Some(self.rec.clone()))?;
        if file.ino() != self.ino {
            return Err(KernelError::Invalid(format!(
                "{}: inode changed across remount ({} -> {})",
                self.path.display(),
                self.ino,
                file.ino()
            )));
        }
        self.file = Some(file);
        Ok(())
    }
}

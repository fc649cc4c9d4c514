//! `lockline mount` and `lockline umount`: the engine behind FUSE, served
//! by a daemon (this process re-run with --foreground, detached) until the
//! mount goes away; then everything is written back and committed, and the
//! trace is written if one was asked for.

use crate::args::KnobArgs;
use crate::exit::{self, usage};
use crate::trace_out;
use anyhow::{Context, Result};
use lockline_analysis::run_trace;
use lockline_engine::probe::recorder::Recorder;
use lockline_engine::{Build, Fs, MountOptions};
use lockline_fuse::{is_fuse_mount, MountConfig};
use lockline_harness::check::provenance;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Lockline disk: image file or block device.
    pub disk: PathBuf,
    /// An existing empty directory.
    pub mountpoint: PathBuf,
    /// Write path: locked, lockless or lockless-min.
    #[arg(long, default_value = "locked", value_parser = |s: &str| s.parse::<Build>())]
    pub build: Build,
    /// Threads serving FUSE requests at once.
    #[arg(long, default_value_t = 8)]
    pub threads: usize,
    /// Record every probe event in process and write the trace here at
    /// unmount (a Parquet directory, or CSV for a .csv path).
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Stay in the foreground (the daemon itself); Ctrl-C unmounts.
    #[arg(long)]
    pub foreground: bool,
    /// Show the mount's lock timeline live (eBPF on the daemon, as
    /// `watch --pid`); quitting the UI unmounts.
    #[arg(long, conflicts_with = "foreground")]
    pub tui: bool,
    /// Seed of the engine's own randomness (mm victims, injected faults).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Test-only: hold the first client write inside the engine until a
    /// write from another serving thread begins (at most 5 s), so a test
    /// can see whether the kernel passes writes on in parallel without
    /// racing the clock.
    #[arg(long, hide = true)]
    pub hold_first_write: bool,
    #[command(flatten)]
    pub knobs: KnobArgs,
}

#[derive(clap::Args, Debug)]
pub struct UmountArgs {
    pub mountpoint: PathBuf,
    /// Seconds to wait for the daemon to write everything back.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

/// Where the daemon of a mount point keeps its pid and log.
fn state_paths(mountpoint: &Path) -> (PathBuf, PathBuf) {
    let key: String = mountpoint
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let dir = PathBuf::from("/run/lockline");
    (
        dir.join(format!("{key}.pid")),
        dir.join(format!("{key}.log")),
    )
}

fn check_mountpoint(p: &Path) -> Result<PathBuf> {
    let abs = std::fs::canonicalize(p).map_err(|e| usage(format!("{}: {e}", p.display())))?;
    if !abs.is_dir() {
        return Err(usage(format!("{}: not a directory", p.display())));
    }
    if is_fuse_mount(&abs) {
        return Err(usage(format!(
            "{}: a lockline mount is already there",
            p.display()
        )));
    }
    let mut entries = std::fs::read_dir(&abs).with_context(|| abs.display().to_string())?;
    if entries.next().is_some() {
        return Err(usage(format!("{}: not empty", p.display())));
    }
    Ok(abs)
}

pub fn run(a: Args) -> Result<u8> {
    if a.threads == 0 {
        return Err(usage("--threads must be at least 1"));
    }
    if let Some(t) = &a.trace {
        trace_out::check_trace_path(t)?;
    }
    let knobs = a.knobs.knobs(a.seed)?;
    let mnt = check_mountpoint(&a.mountpoint)?;
    if !a.disk.exists() {
        return Err(usage(format!(
            "{}: no such file or device",
            a.disk.display()
        )));
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(usage(
            "mounting needs root (fuser mounts without fusermount)",
        ));
    }
    if a.foreground {
        return serve(&a, knobs, &mnt);
    }
    if a.tui {
        // Before anything is mounted: a UI that cannot start is one line.
        crate::ui::check_terminal()?;
        lockline_ebpf::probe_available()
            .map_err(|e| usage(format!("--tui watches the daemon with eBPF: {e}")))?;
    }
    let pid = match daemonize(&a, &mnt)? {
        Ok(pid) => pid,
        Err(code) => return Ok(code),
    };
    if !a.tui {
        return Ok(exit::OK);
    }
    let watched = crate::watch_pid::watch_pid(pid as i32, None, None);
    let unmounted = umount(UmountArgs {
        mountpoint: mnt.clone(),
        timeout: 120,
    });
    watched?;
    unmounted
}

/// Starts the daemon detached and returns its pid once the mount is up, or
/// the exit code after printing the daemon's own error line.
fn daemonize(a: &Args, mnt: &Path) -> Result<std::result::Result<u32, u8>> {
    use std::os::unix::process::CommandExt;
    let (pidfile, logfile) = state_paths(mnt);
    std::fs::create_dir_all(pidfile.parent().expect("has a parent"))?;
    let log = std::fs::File::create(&logfile).with_context(|| logfile.display().to_string())?;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    // The UI stays with this process; the daemon only serves.
    cmd.args(std::env::args_os().skip(1).filter(|a| a != "--tui"))
        .arg("--foreground")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; the daemon leaves our session
    // so the terminal's Ctrl-C and hangup do not reach it.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("cannot start the mount daemon")?;
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait()? {
            let text = std::fs::read_to_string(&logfile).unwrap_or_default();
            let line = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("the mount daemon exited");
            eprintln!("{line}");
            return Ok(Err(st.code().map_or(exit::IO, |c| c as u8).max(1)));
        }
        if is_fuse_mount(mnt) {
            break;
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            anyhow::bail!(
                "the mount daemon did not mount within 30 s (log: {})",
                logfile.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "mounted {} at {} ({}, {} threads); daemon pid {}, log {}; `lockline umount {}` unmounts",
        a.disk.display(),
        mnt.display(),
        a.build.name(),
        a.threads,
        child.id(),
        logfile.display(),
        mnt.display()
    );
    Ok(Ok(child.id()))
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// The daemon: mounts, serves until unmounted (or SIGINT/SIGTERM, which
/// unmount), then writes back, commits and unmounts the engine.
/// Installs the probe hook of `--hold-first-write`: the first write's
/// op_begin waits until a write begins on another thread.
fn hold_first_write() {
    use lockline_engine::probe::points::set_hook;
    use lockline_engine::probe::{Event, EventKind, OpKind};
    use std::sync::{Arc, Condvar, Mutex};
    // (the first writer's tid, whether another write began)
    let state = Arc::new((Mutex::new((None::<u32>, false)), Condvar::new()));
    set_hook(Some(Arc::new(move |ev: &Event| {
        if ev.kind() != Some(EventKind::OpBegin) || ev.op_kind() != Some(OpKind::Write) {
            return;
        }
        let (m, cv) = &*state;
        let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
        match g.0 {
            None => {
                g.0 = Some(ev.tid);
                let _ = cv
                    .wait_timeout_while(g, Duration::from_secs(5), |s| !s.1)
                    .unwrap_or_else(|p| p.into_inner());
            }
            Some(first) if first != ev.tid && !g.1 => {
                g.1 = true;
                cv.notify_all();
            }
            _ => {}
        }
    })));
}

fn serve(a: &Args, knobs: lockline_engine::Knobs, mnt: &Path) -> Result<u8> {
    if a.hold_first_write {
        hold_first_write();
    }
    let recorder = a
        .trace
        .as_ref()
        .map(|_| Recorder::new(lockline_engine::probe::recorder::DEFAULT_CAPACITY));
    if let Some(r) = &recorder {
        // A mount's trace is judged by content provenance.
        r.record_digests(true);
    }
    let opts = MountOptions {
        build: a.build,
        knobs: knobs.clone(),
        recorder: recorder.clone(),
    };
    let fs = Fs::mount(&a.disk, opts.clone())?;
    let cfg = MountConfig {
        threads: a.threads,
        source: format!(
            "lockline:{}",
            std::fs::canonicalize(&a.disk)
                .unwrap_or(a.disk.clone())
                .display()
        ),
    };
    let mut mounted = match lockline_fuse::mount(fs.clone(), mnt, &cfg) {
        Ok(m) => m,
        Err(e) => {
            let _ = fs.unmount();
            return Err(anyhow::anyhow!("cannot mount {}: {e}", mnt.display()));
        }
    };
    let (pidfile, _) = state_paths(mnt);
    let _ = std::fs::create_dir_all(pidfile.parent().expect("has a parent"));
    let _ = std::fs::write(&pidfile, format!("{}\n", std::process::id()));
    let handler: extern "C" fn(libc::c_int) = on_stop;
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
    println!(
        "serving {} at {} ({}, {} threads, pid {})",
        a.disk.display(),
        mnt.display(),
        a.build.name(),
        a.threads,
        std::process::id()
    );
    let t0 = Instant::now();
    while !mounted.is_finished() {
        if STOP.swap(false, Ordering::Relaxed) {
            println!("signal: unmounting {}", mnt.display());
            if let Err(e) = mounted.unmounter().unmount() {
                eprintln!("lockline: unmount {}: {e}", mnt.display());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let served = mounted.served();
    let line = format!(
        "served {} writes ({} bytes), {} reads ({} bytes), {} fsyncs, {} errors in {:.1} s",
        served.writes.load(Ordering::Relaxed),
        served.write_bytes.load(Ordering::Relaxed),
        served.reads.load(Ordering::Relaxed),
        served.read_bytes.load(Ordering::Relaxed),
        served.fsyncs.load(Ordering::Relaxed),
        served.errors.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64()
    );
    let session = mounted.wait();
    let counters = fs.counters.snapshot();
    let unmounted = fs.unmount();
    drop(fs);
    let _ = std::fs::remove_file(&pidfile);
    println!("{line}");
    println!("engine: {}", serde_json::to_string(&counters)?);
    if let (Some(path), Some(rec)) = (&a.trace, &recorder) {
        if unmounted.is_ok() {
            provenance::read_back_at_unmount(&a.disk, &opts)?;
        }
        let stats = rec.stats();
        let events = rec.drain();
        let n = events.len();
        let run = run_trace::ServedRun {
            workload: "fuse-mount",
            build: a.build.name(),
            knobs: &knobs,
            threads: a.threads as u32,
            clock: rec.clock().name(),
            lost_events: stats.dropped,
            seconds: t0.elapsed().as_secs_f64(),
        };
        let trace = run_trace::mount_trace(&run, events, rec.drain_extents())?;
        println!("{}", crate::summary::unmount_check_line(&trace));
        trace_out::write(path, &trace)?;
        println!("trace: {} events to {}", n, path.display());
    }
    session.context("FUSE session")?;
    unmounted.context("engine unmount")?;
    println!("unmounted {}: written back and committed", mnt.display());
    Ok(exit::OK)
}

/// Unmounts a lockline mount and waits for its daemon to write back.
pub fn umount(a: UmountArgs) -> Result<u8> {
    // The daemon keys its pid file by the canonical path; a mount whose
    // daemon died cannot be canonicalised (ENOTCONN), so fall back.
    let mnt = std::fs::canonicalize(&a.mountpoint)
        .or_else(|_| std::path::absolute(&a.mountpoint))
        .unwrap_or(a.mountpoint.clone());
    let (pidfile, logfile) = state_paths(&mnt);
    let pid: Option<i32> = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let alive = |p: i32| {
        // Reap it when it is our own child (`mount --tui`): a zombie still
        // answers kill(0). Anyone else's pid gets ECHILD, harmlessly.
        // SAFETY: waitpid with WNOHANG and no status pointer.
        unsafe { libc::waitpid(p, std::ptr::null_mut(), libc::WNOHANG) };
        // SAFETY: signal 0 only checks that the process exists.
        let r = unsafe { libc::kill(p, 0) };
        r == 0
    };
    let c = std::ffi::CString::new(mnt.as_os_str().as_encoded_bytes())?;
    let daemon = pid.filter(|&p| alive(p));
    // A daemon that died (kill -9) leaves a mount whose every access fails
    // with ENOTCONN: detach it, there is nothing left to write back.
    let flags = if daemon.is_some() {
        0
    } else {
        libc::MNT_DETACH
    };
    // SAFETY: c is a valid NUL-terminated path.
    if unsafe { libc::umount2(c.as_ptr(), flags) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOENT) => {
                usage(format!("{}: not mounted", mnt.display()))
            }
            Some(libc::EBUSY) => usage(format!(
                "{}: busy (a process has a file open or its cwd there)",
                mnt.display()
            )),
            _ => anyhow::anyhow!("umount {}: {e}", mnt.display()),
        });
    }
    let Some(pid) = daemon else {
        let _ = std::fs::remove_file(&pidfile);
        println!("unmounted {} (no daemon was serving it)", mnt.display());
        return Ok(exit::OK);
    };
    let t0 = Instant::now();
    while alive(pid) {
        if t0.elapsed() > Duration::from_secs(a.timeout) {
            anyhow::bail!(
                "daemon {pid} still writing back after {} s (log: {})",
                a.timeout,
                logfile.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = std::fs::read_to_string(&logfile).unwrap_or_default();
    let ok = log.contains("written back and committed");
    for l in log.lines().filter(|l| {
        [
            "served",
            "trace:",
            "checked by provenance",
            "writes inside the engine",
        ]
        .iter()
        .any(|p| l.starts_with(p))
    }) {
        println!("{l}");
    }
    if ok {
        println!("unmounted {}: written back and committed", mnt.display());
        Ok(exit::OK)
    } else {
        let last = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        anyhow::bail!(
            "daemon {pid} ended without a clean unmount: {last} (log: {})",
            logfile.display()
        )
    }
}

//! The engine inside the program: read the configuration, mount on the
//! first routed call (with every signal blocked, so the engine's
//! background threads never run the program's handlers), attach each
//! program thread to the probes once, and at exit unmount and leave the
//! status and the spill for `lockline exec`.
//!
//! A forked child inherits the mount but not its threads, so the child
//! gets EIO on routed files, said on stderr; its exit unmounts nothing and
//! leaves no status (the parent's status cannot count the child's calls).

use crate::real::say;
use lockline_engine::probe::recorder::{Recorder, DEFAULT_CAPACITY};
use lockline_engine::probe::ThreadRole;
use lockline_engine::{Fs, MountOptions};
use lockline_exec::status::Served;
use lockline_exec::{spill, Config, Status};
use parking_lot::Mutex;
use std::cell::Cell;
use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

pub struct Engine {
    pub fs: Arc<Fs>,
    pub cfg: &'static Config,
    recorder: Option<Arc<Recorder>>,
    t0: Instant,
}

static CONFIG: OnceLock<Option<Config>> = OnceLock::new();
static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
/// Set in a forked child: it has the mount's memory but not its threads.
static FORKED: AtomicBool = AtomicBool::new(false);
static EXITED: AtomicBool = AtomicBool::new(false);
static NEXT_THREAD: AtomicU64 = AtomicU64::new(0);
static REFUSED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Calls served, for the status.
#[derive(Default)]
pub struct Counts {
    pub opens: AtomicU64,
    pub writes: AtomicU64,
    pub write_bytes: AtomicU64,
    pub reads: AtomicU64,
    pub read_bytes: AtomicU64,
    pub fsyncs: AtomicU64,
    pub truncates: AtomicU64,
    pub fallocates: AtomicU64,
    pub errors: AtomicU64,
}

pub static COUNTS: Counts = Counts {
    opens: AtomicU64::new(0),
    writes: AtomicU64::new(0),
    write_bytes: AtomicU64::new(0),
    reads: AtomicU64::new(0),
    read_bytes: AtomicU64::new(0),
    fsyncs: AtomicU64::new(0),
    truncates: AtomicU64::new(0),
    fallocates: AtomicU64::new(0),
    errors: AtomicU64::new(0),
};

pub fn count(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

thread_local! {
    static ATTACHED: Cell<bool> = const { Cell::new(false) };
}

/// The routing configuration; None when this process routes nothing.
pub fn config() -> Option<&'static Config> {
    CONFIG
        .get_or_init(|| {
            let get = |k: &str| std::env::var(k).ok();
            match Config::from_env(get) {
                Ok(c) => c,
                Err(e) => {
                    say(&format!("lockline exec: bad environment: {e}"));
                    std::process::abort();
                }
            }
        })
        .as_ref()
}

/// The mounted engine, with the calling thread attached to the probes;
/// the errno to return when there is none.
pub fn engine() -> Result<&'static Engine, c_int> {
    if FORKED.load(Ordering::Relaxed) {
        say("lockline exec: a forked child used a routed file; the engine lives in its parent");
        return Err(libc::EIO);
    }
    if EXITED.load(Ordering::Acquire) {
        return Err(libc::ESHUTDOWN);
    }
    let cfg = config().ok_or(libc::ENOSYS)?;
    let e = ENGINE
        .get_or_init(|| mount(cfg))
        .as_ref()
        .map_err(|_| libc::EIO)?;
    ATTACHED.with(|a| {
        if !a.get() {
            a.set(true);
            let i = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
            e.fs.attach_thread(ThreadRole::Worker, i);
        }
    });
    Ok(e)
}

/// The engine if it is mounted, without mounting it (close and release
/// need nothing more).
pub fn mounted() -> Option<&'static Engine> {
    if FORKED.load(Ordering::Relaxed) {
        return None;
    }
    ENGINE.get().and_then(|e| e.as_ref().ok())
}

fn mount(cfg: &'static Config) -> Result<Engine, String> {
    let recorder = cfg.record.then(|| {
        let r = Recorder::new(DEFAULT_CAPACITY);
        r.record_digests(true);
        r
    });
    let opts = MountOptions {
        build: cfg.build,
        knobs: cfg.knobs.clone(),
        recorder: recorder.clone(),
    };
    // The engine's threads inherit this mask: the program's signals stay
    // with the program's own threads.
    // SAFETY: plain sigset manipulation on local values.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
    }
    let fs = Fs::mount(&cfg.disk, opts);
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    let fs = fs.map_err(|e| {
        let m = format!("lockline exec: cannot mount {}: {e}", cfg.disk.display());
        say(&m);
        m
    })?;
    // SAFETY: registering plain extern "C" functions.
    unsafe {
        libc::atexit(at_exit);
        libc::pthread_atfork(None, None, Some(in_child));
    }
    Ok(Engine {
        fs,
        cfg,
        recorder,
        t0: Instant::now(),
    })
}

extern "C" fn in_child() {
    FORKED.store(true, Ordering::Relaxed);
}

/// Records a call on a routed file that the library does not serve (once
/// per kind); in strict mode it is said at once.
pub fn refuse(what: String, errno: c_int) -> c_int {
    let line = format!("{what} -> {}", errno_name(errno));
    let mut r = REFUSED.lock();
    if !r.contains(&line) {
        if config().is_some_and(|c| c.strict) {
            say(&format!("lockline exec: strict: not served: {line}"));
        }
        r.push(line);
    }
    crate::real::fail(errno)
}

fn errno_name(e: c_int) -> &'static str {
    match e {
        libc::ENOTTY => "ENOTTY",
        libc::ENODEV => "ENODEV",
        libc::EXDEV => "EXDEV",
        libc::EINVAL => "EINVAL",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EBADF => "EBADF",
        _ => "an error",
    }
}

/// At the program's exit (in the process that mounted): unmount, which
/// writes everything back and commits, then leave the spill and status.
extern "C" fn at_exit() {
    leave()
}

/// Unmounts and leaves the status and spill, once. On a thread of its
/// own: by the time exit() runs the atexit handlers it has destroyed the
/// calling thread's thread-locals, the probes' buffer among them. A bare
/// pthread, because std's spawn reads thread-locals of the caller too.
pub fn leave() {
    extern "C" fn run(_: *mut libc::c_void) -> *mut libc::c_void {
        leave_here();
        std::ptr::null_mut()
    }
    // SAFETY: a plain thread start and join; `run` takes no argument.
    unsafe {
        let mut t: libc::pthread_t = std::mem::zeroed();
        if libc::pthread_create(&mut t, std::ptr::null(), run, std::ptr::null_mut()) == 0 {
            libc::pthread_join(t, std::ptr::null_mut());
        } else {
            say("lockline exec: cannot start the unmount thread; the engine is not unmounted");
        }
    }
}

fn leave_here() {
    if FORKED.load(Ordering::Relaxed) || EXITED.swap(true, Ordering::AcqRel) {
        return;
    }
    let Some(e) = mounted() else { return };
    let unmount_error = e.fs.unmount().err().map(|x| x.to_string());
    let pid = std::process::id();
    let c = &COUNTS;
    let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut status = Status {
        pid,
        served: Served {
            opens: ld(&c.opens),
            writes: ld(&c.writes),
            write_bytes: ld(&c.write_bytes),
            reads: ld(&c.reads),
            read_bytes: ld(&c.read_bytes),
            fsyncs: ld(&c.fsyncs),
            truncates: ld(&c.truncates),
            fallocates: ld(&c.fallocates),
            errors: ld(&c.errors),
        },
        threads: ld(&NEXT_THREAD),
        refused: REFUSED.lock().clone(),
        unmount_error,
        counters: e.fs.counters.snapshot(),
        recorder: None,
        clock: String::new(),
        seconds: e.t0.elapsed().as_secs_f64(),
    };
    if let Some(r) = &e.recorder {
        status.recorder = Some(r.stats());
        status.clock = r.clock().name().to_string();
        let events = r.drain();
        let extents = r.drain_extents();
        let p = spill::path(&e.cfg.out, pid);
        if let Err(x) = spill::write(&p, &events, &extents) {
            say(&format!("lockline exec: cannot write {}: {x}", p.display()));
        }
    }
    let p = Status::path(&e.cfg.out, pid);
    if let Err(x) = std::fs::write(&p, status.to_json()) {
        say(&format!("lockline exec: cannot write {}: {x}", p.display()));
    }
}

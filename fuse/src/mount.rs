//! Mounting the engine: a fuser session served by several threads, each
//! with its own /dev/fuse fd (FUSE_DEV_IOC_CLONE), so the kernel hands
//! concurrent requests to concurrent engine calls.

use crate::filesystem::{EngineFs, Served};
use fuser::{Config, MountOption, Session, SessionUnmounter};
use lockline_engine::Fs;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

#[derive(Clone, Debug)]
pub struct MountConfig {
    /// Threads serving requests.
    pub threads: usize,
    /// What mount(8) and /proc/mounts show as the source.
    pub source: String,
}

/// A live mount: the serving threads run until the mount goes away, by
/// [`Mounted::unmount`] or by an umount from outside.
pub struct Mounted {
    unmounter: SessionUnmounter,
    session: JoinHandle<io::Result<()>>,
    engine: Arc<Fs>,
    served: Arc<Served>,
}

/// Mounts `fs` at `mountpoint` (root: fuser mounts without fusermount).
pub fn mount(fs: Arc<Fs>, mountpoint: &Path, cfg: &MountConfig) -> io::Result<Mounted> {
    let efs = EngineFs::new(fs.clone());
    let served = efs.served.clone();
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName(cfg.source.clone()),
        MountOption::Subtype("lockline".into()),
        MountOption::RW,
        MountOption::NoAtime,
    ];
    config.n_threads = Some(cfg.threads.max(1));
    config.clone_fd = true;
    let mut session = Session::new(efs, mountpoint, &config)?;
    let unmounter = session.unmount_callable();
    let session = std::thread::Builder::new()
        .name("lockline-fuse".into())
        .spawn(move || session.run())?;
    Ok(Mounted {
        unmounter,
        session,
        engine: fs,
        served,
    })
}

impl Mounted {
    pub fn engine(&self) -> &Arc<Fs> {
        &self.engine
    }

    pub fn served(&self) -> &Served {
        &self.served
    }

    /// Detaches the mount (lazily: clients with open files finish first)
    /// and waits for the serving threads to end.
    pub fn unmount(mut self) -> io::Result<()> {
        self.unmounter.unmount()?;
        self.wait()
    }

    /// A handle that detaches the mount from another thread (a signal).
    pub fn unmounter(&mut self) -> &mut SessionUnmounter {
        &mut self.unmounter
    }

    /// Waits until the mount is gone (umount from outside, or
    /// [`unmount`](Mounted::unmount)).
    pub fn wait(self) -> io::Result<()> {
        self.session
            .join()
            .map_err(|_| io::Error::other("FUSE session thread panicked"))?
    }

    pub fn is_finished(&self) -> bool {
        self.session.is_finished()
    }
}

/// Whether `path` is the mount point of a lockline FUSE mount, from
/// /proc/self/mountinfo (field 5 the mount point; after " - " the type,
/// fuse or fuse.lockline, and the source, which [`mount`] names
/// "lockline:...").
pub fn is_fuse_mount(path: &Path) -> bool {
    // absolute(), not canonicalize(): a mount whose daemon died fails
    // every stat with ENOTCONN and must still be recognised.
    let Ok(p) = std::path::absolute(path) else {
        return false;
    };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = p.to_string_lossy().replace(' ', "\\040");
    info.lines().any(|l| {
        let mut f = l.split(' ');
        let at = f.nth(4);
        let mut tail = l.split(" - ").nth(1).unwrap_or("").split(' ');
        let (fstype, source) = (tail.next().unwrap_or(""), tail.next().unwrap_or(""));
        at == Some(want.as_str())
            && (fstype == "fuse" || fstype == "fuse.lockline")
            && source.starts_with("lockline:")
    })
}

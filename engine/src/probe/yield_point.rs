//! Yield points: the places a controlled scheduler may take a thread over
//! (before a lock is tried, where a thread would sleep on a lock or on a
//! folio's writeback, migration's pause between passes). The model names
//! only this hook; a scheduler outside the engine (the harness's explorer)
//! installs itself here, as tracers do through `points::set_hook`.
//!
//! With nothing installed the lock fast path pays one relaxed load.

use super::{Event, EventKind, LockClass, NO_FOLIO};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// What a parked thread waits for: a lock (its class, with the two sides
/// of the pagecache lock as one, inode, folio index and identity) or the
/// end of a folio's writeback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitKey {
    class: u8,
    inode: u64,
    folio: u64,
    fid: u64,
}

/// The class byte of a writeback wait: past every lock class.
const WRITEBACK: u8 = 0xfe;

impl WaitKey {
    pub(crate) fn lock(class: LockClass, inode: u64, folio: u64, fid: u64) -> WaitKey {
        let class = match class {
            LockClass::PagecacheBlock => LockClass::PagecacheAdd,
            c => c,
        } as u8;
        WaitKey {
            class,
            inode,
            folio,
            fid,
        }
    }

    pub(crate) fn writeback(inode: u64, folio: u64, fid: u64) -> WaitKey {
        WaitKey {
            class: WRITEBACK,
            inode,
            folio,
            fid,
        }
    }

    /// "the folio lock of index 3", "the writeback of folio index 3".
    pub fn describe(&self) -> String {
        if self.class == WRITEBACK {
            return format!("the writeback of folio index {}", self.folio);
        }
        let class = LockClass::from_u8(self.class)
            .map(|c| c.to_string())
            .unwrap_or_default();
        if self.folio == NO_FOLIO {
            format!("the {class} lock")
        } else {
            format!("the {class} lock of index {}", self.folio)
        }
    }

    /// The key an event releases, if any: a lock release or the end of a
    /// folio's writeback.
    pub fn released_by(ev: &Event) -> Option<WaitKey> {
        match ev.kind()? {
            EventKind::LockReleased => {
                Some(WaitKey::lock(ev.lock_class()?, ev.inode, ev.folio, ev.fid))
            }
            EventKind::FolioWritebackEnd => Some(WaitKey::writeback(ev.inode, ev.folio, ev.fid)),
            _ => None,
        }
    }
}

/// A scheduler that runs the engine's threads one at a time. Each method
/// is about the calling thread; a thread the scheduler does not control
/// gets `false` and goes on as usual.
pub trait Scheduler: Sync {
    /// Is the calling thread under this scheduler?
    fn controlled(&self) -> bool;
    /// A lock of `class` is about to be tried: a decision point.
    fn before_lock(&self, class: LockClass);
    /// The thread would sleep until `key` is released: park it instead.
    /// False when not controlled (or control was given up): the caller
    /// sleeps in the OS.
    fn block(&self, key: WaitKey) -> bool;
    /// A pause between retries: a decision point. False when not
    /// controlled: the caller sleeps.
    fn pause(&self) -> bool;
}

static ACTIVE: AtomicBool = AtomicBool::new(false);
static SCHED: OnceLock<&'static dyn Scheduler> = OnceLock::new();

/// Hands the yield points to `s` until [`deactivate`]. The first
/// scheduler a process activates is the one it keeps (a process has one
/// explorer, and the hot path must not take a lock to find it); later
/// calls only turn it back on.
pub fn activate(s: &'static dyn Scheduler) {
    let _ = SCHED.set(s);
    ACTIVE.store(true, Ordering::Release);
}

/// The yield points go back to the OS: no thread is controlled.
pub fn deactivate() {
    ACTIVE.store(false, Ordering::Release);
}

#[inline(always)]
fn sched() -> Option<&'static dyn Scheduler> {
    if !ACTIVE.load(Ordering::Relaxed) {
        return None;
    }
    SCHED.get().copied()
}

/// Is the calling thread under a scheduler?
#[inline(always)]
pub(crate) fn controlled() -> bool {
    sched().is_some_and(|s| s.controlled())
}

#[inline(always)]
pub(crate) fn before_lock(class: LockClass) {
    if let Some(s) = sched() {
        s.before_lock(class);
    }
}

/// Parks the calling thread on `key`; false when it is not controlled.
pub(crate) fn block(key: WaitKey) -> bool {
    sched().is_some_and(|s| s.block(key))
}

/// A pause: a decision point when controlled, a sleep of `d` otherwise.
pub(crate) fn pause(d: Duration) {
    if !sched().is_some_and(|s| s.pause()) {
        std::thread::sleep(d);
    }
}

//! The ring-buffer reader thread: drains the event rings into memory until
//! stopped.

use aya::maps::{MapData, RingBuf};
use lockline_engine::probe::Event;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Pause between drains when the ring is empty. The programs submit without
/// waking us (a wakeup per event costs the traced thread microseconds), so
/// the reader polls: 16 MiB holds ~260 k events, >100 ms at 2 M events/s.
const IDLE: Duration = Duration::from_millis(1);

pub(crate) struct Reader {
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
    sync: Arc<SyncState>,
    handle: JoinHandle<Vec<Event>>,
}

/// Lets a caller wait until every event submitted before its request has
/// been drained: the programs submit synchronously in the probed thread,
/// so one full drain begun after the request sees them all.
#[derive(Default)]
struct SyncState {
    wanted: AtomicU64,
    done: AtomicU64,
    kept: Mutex<Vec<Event>>,
}

impl Reader {
    /// Starts draining `ring`; with `keep` false only counts (benchmarks
    /// that would otherwise hold hundreds of MB of events).
    pub(crate) fn spawn(mut rings: Vec<RingBuf<MapData>>, keep: bool) -> std::io::Result<Reader> {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let sync = Arc::new(SyncState::default());
        let (s, c, y) = (stop.clone(), count.clone(), sync.clone());
        let handle = std::thread::Builder::new()
            .name("lockline-ebpf-ring".into())
            .spawn(move || {
                let mut out = Vec::new();
                loop {
                    // Read the flags before draining so nothing submitted
                    // before stop() or sync() is left behind.
                    let stopping = s.load(Ordering::Acquire);
                    let wanted = y.wanted.load(Ordering::Acquire);
                    let n: u64 = rings.iter_mut().map(|r| drain(r, keep, &mut out)).sum();
                    c.fetch_add(n, Ordering::Relaxed);
                    if stopping {
                        let mut kept =
                            std::mem::take(&mut *y.kept.lock().unwrap_or_else(|p| p.into_inner()));
                        kept.append(&mut out);
                        return kept;
                    }
                    if wanted != y.done.load(Ordering::Relaxed) {
                        y.kept
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .append(&mut out);
                        y.done.store(wanted, Ordering::Release);
                    }
                    if n == 0 {
                        std::thread::sleep(IDLE);
                    }
                }
            })?;
        Ok(Reader {
            stop,
            count,
            sync,
            handle,
        })
    }

    /// Every kept event submitted before this call and not taken yet;
    /// tracing goes on. None when the reader did not answer within
    /// `timeout` (it died, or the ring is being flooded).
    pub(crate) fn take(&self, timeout: Duration) -> Option<Vec<Event>> {
        let want = self.sync.wanted.fetch_add(1, Ordering::AcqRel) + 1;
        let deadline = Instant::now() + timeout;
        while self.sync.done.load(Ordering::Acquire) < want {
            if Instant::now() > deadline || self.handle.is_finished() {
                return None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Some(std::mem::take(
            &mut *self.sync.kept.lock().unwrap_or_else(|p| p.into_inner()),
        ))
    }

    /// Events drained so far.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Drains what is left and returns every kept event, in ring order.
    pub(crate) fn finish(self) -> Vec<Event> {
        self.stop.store(true, Ordering::Release);
        self.handle.join().unwrap_or_default()
    }
}

fn drain(ring: &mut RingBuf<MapData>, keep: bool, out: &mut Vec<Event>) -> u64 {
    let mut n = 0;
    while let Some(item) = ring.next() {
        if item.len() >= std::mem::size_of::<Event>() {
            n += 1;
            if keep {
                // SAFETY: the item holds at least one Event's bytes, written by
                // the BPF program in Event's repr(C) layout; unaligned read.
                out.push(unsafe { std::ptr::read_unaligned(item.as_ptr() as *const Event) });
            }
        }
    }
    n
}

//! The ring-buffer reader thread: drains EVENTS into memory until stopped.

use aya::maps::{MapData, RingBuf};
use lockline_engine::probe::Event;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Pause between drains when the ring is empty. The programs submit without
/// waking us (a wakeup per event costs the traced thread microseconds), so
/// the reader polls: 16 MiB holds ~260 k events, >100 ms at 2 M events/s.
const IDLE: Duration = Duration::from_millis(1);

pub(crate) struct Reader {
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
    handle: JoinHandle<Vec<Event>>,
}

impl Reader {
    /// Starts draining `ring`; with `keep` false only counts (benchmarks
    /// that would otherwise hold hundreds of MB of events).
    pub(crate) fn spawn(mut ring: RingBuf<MapData>, keep: bool) -> std::io::Result<Reader> {
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let (s, c) = (stop.clone(), count.clone());
        let handle = std::thread::Builder::new()
            .name("lockline-ebpf-ring".into())
            .spawn(move || {
                let mut out = Vec::new();
                loop {
                    // Read the flag before draining so nothing submitted
                    // before stop() is left behind.
                    let stopping = s.load(Ordering::Acquire);
                    let n = drain(&mut ring, keep, &mut out);
                    c.fetch_add(n, Ordering::Relaxed);
                    if stopping {
                        return out;
                    }
                    if n == 0 {
                        std::thread::sleep(IDLE);
                    }
                }
            })?;
        Ok(Reader {
            stop,
            count,
            handle,
        })
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

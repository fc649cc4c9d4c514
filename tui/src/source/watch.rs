//! Another process's engine watched live: its probe symbols' events, taken
//! from an eBPF reader as often as checked rounds take theirs
//! (`rounds::PUMP_PERIOD`), shown until the UI quits or the process exits,
//! and kept for a trace when asked.

use super::Feed;
use crate::Msg;
use lockline_engine::probe::Event;
use lockline_harness::rounds::PUMP_PERIOD;
use std::sync::atomic::{AtomicBool, Ordering};

/// The watched process's event reader.
pub trait Reader {
    /// Events since the last take.
    fn take(&mut self) -> Result<Vec<Event>, String>;
    /// Events the reader lost so far (ring full).
    fn lost(&self) -> u64;
}

/// Pumps `reader` into `feed` until `stop` is set, the UI goes, or
/// `alive` says the process has exited; events stamped before `armed` are
/// dropped (the probes were not all attached yet: the trace would see
/// acquires without their releases). Returns the feed, with what it kept.
pub fn pump(
    reader: &mut dyn Reader,
    mut feed: Feed,
    stop: &AtomicBool,
    armed: u64,
    alive: impl Fn() -> bool,
    pid: i32,
) -> Feed {
    let mut lost = 0;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(PUMP_PERIOD);
        let mut ev = match reader.take() {
            Ok(ev) => ev,
            Err(e) => {
                feed.say(Msg::Done(format!("eBPF reader: {e}")));
                break;
            }
        };
        ev.retain(|e| e.ts_ns >= armed);
        if !feed.push(ev) {
            break;
        }
        let now = reader.lost();
        if now > lost {
            lost = now;
            feed.say(Msg::Status(format!("{lost} events lost (ring full)")));
        }
        if !alive() {
            feed.flush();
            feed.say(Msg::Done(format!("pid {pid} exited")));
            break;
        }
    }
    feed
}

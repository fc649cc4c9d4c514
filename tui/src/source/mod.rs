//! Where the UI's messages come from, each source in a file of its own:
//! a finished trace replayed (`replay`), checked rounds run live
//! (`rounds`), another process's engine watched through eBPF (`watch`).
//! The live ones hand their events to the UI through one pump, [`Feed`]:
//! batches put back in time order, sent, and kept when asked.

pub mod replay;
pub mod rounds;
pub mod watch;

pub use replay::{done_message, replay_messages, spawn_replay};

use crate::event::Msg;
use lockline_engine::probe::Event;
use std::sync::mpsc::Sender;

/// Events per batch.
pub const BATCH: usize = 65_536;

/// How far behind the newest event a live source holds events back:
/// per-CPU rings (eBPF) and per-thread buffers (the recorder) hand events
/// over out of order, and a release ingested before its acquire would
/// leave a lock held forever.
pub const REORDER_NS: u64 = 200_000_000;

/// Puts live batches back in time order: events are released once the
/// newest seen is REORDER_NS past them.
#[derive(Debug, Default)]
pub struct Reorder {
    pending: Vec<Event>,
    newest: u64,
}

impl Reorder {
    /// Takes a batch; returns the events now safe to ingest, sorted.
    pub fn push(&mut self, batch: Vec<Event>) -> Vec<Event> {
        if batch.is_empty() {
            return Vec::new();
        }
        self.newest = self
            .newest
            .max(batch.iter().map(|e| e.ts_ns).max().unwrap_or(0));
        self.pending.extend(batch);
        self.pending.sort_by_key(|e| (e.ts_ns, e.tid));
        let cut = self.newest.saturating_sub(REORDER_NS);
        let n = self.pending.partition_point(|e| e.ts_ns < cut);
        let rest = self.pending.split_off(n);
        std::mem::replace(&mut self.pending, rest)
    }

    /// Everything still held back (the source has ended).
    pub fn flush(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.pending)
    }
}

/// The pump from a live source to the UI: each batch taken from the
/// source goes through [`Reorder`] and on to the UI; with `keep`, what was
/// sent is also kept for the trace written at the end.
pub struct Feed {
    tx: Sender<Msg>,
    order: Reorder,
    kept: Option<Vec<Event>>,
}

impl Feed {
    pub fn new(tx: Sender<Msg>, keep: bool) -> Feed {
        Feed {
            tx,
            order: Reorder::default(),
            kept: keep.then(Vec::new),
        }
    }

    /// Takes a batch and sends the events now safe to show; false when
    /// the UI has gone.
    pub fn push(&mut self, batch: Vec<Event>) -> bool {
        let ready = self.order.push(batch);
        self.send(ready)
    }

    /// Sends everything held back: the source has ended, or a round's
    /// workload has (its events are all in, and its checks' ops must be
    /// ingested before their verdicts). False when the UI has gone.
    pub fn flush(&mut self) -> bool {
        let rest = self.order.flush();
        self.send(rest)
    }

    /// A message of the source's own (a check, a status line).
    pub fn say(&self, m: Msg) -> bool {
        self.tx.send(m).is_ok()
    }

    /// What was sent, when kept.
    /// What was sent when kept, and what was still held back.
    pub fn into_kept(mut self) -> Vec<Event> {
        match self.kept.take() {
            Some(mut kept) => {
                kept.extend(self.order.flush());
                kept
            }
            None => Vec::new(),
        }
    }

    fn send(&mut self, ev: Vec<Event>) -> bool {
        if ev.is_empty() {
            return true;
        }
        if let Some(k) = &mut self.kept {
            k.extend_from_slice(&ev);
        }
        self.tx.send(Msg::Events(ev.into())).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ts: u64) -> Event {
        Event {
            ts_ns: ts,
            ..Event::default()
        }
    }

    #[test]
    fn reorder_releases_in_time_order_once_safe() {
        let mut r = Reorder::default();
        let s = REORDER_NS;
        assert!(r.push(vec![at(s + 10), at(s + 5)]).is_empty());
        // A late event older than ones already pending goes before them.
        let out = r.push(vec![at(s + 1), at(3 * s)]);
        let ts: Vec<u64> = out.iter().map(|e| e.ts_ns).collect();
        assert_eq!(ts, vec![s + 1, s + 5, s + 10]);
        assert_eq!(r.flush().len(), 1);
    }
}

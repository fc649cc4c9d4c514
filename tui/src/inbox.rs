//! Where the loop takes its messages from: the user's input (keys, clicks,
//! resizes, signals) before anything a source has queued. A live source
//! can run ahead of the UI on a loaded machine; with one FIFO channel a `q`
//! waited behind the whole backlog of event batches.

use crate::event::Msg;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

/// The input side: what the terminal's input and clock threads send on.
#[derive(Clone)]
pub struct InputTx {
    input: Sender<Msg>,
    /// Wakes a loop blocked on the source channel; it goes behind any
    /// backlog, but a loop with a backlog is not blocked.
    wake: Sender<Msg>,
}

impl InputTx {
    /// False once the loop is gone.
    pub fn send(&self, m: Msg) -> bool {
        self.input.send(m).is_ok() && self.wake.send(Msg::Tick).is_ok()
    }
}

pub struct Inbox {
    input: Receiver<Msg>,
    source: Receiver<Msg>,
}

pub enum Next {
    Msg(Msg),
    Timeout,
    /// Every source sender is gone.
    Closed,
}

impl Inbox {
    /// The inbox over a source channel, and the sender for input threads.
    /// `source_tx` is a sender of the same source channel.
    pub fn new(source: Receiver<Msg>, source_tx: Sender<Msg>) -> (Inbox, InputTx) {
        let (tx, input) = mpsc::channel();
        let tx = InputTx {
            input: tx,
            wake: source_tx,
        };
        (Inbox { input, source }, tx)
    }

    /// Input if there is any, else the next source message, waiting at
    /// most `wait` for one.
    pub fn next(&self, wait: Duration) -> Next {
        if let Ok(m) = self.input.try_recv() {
            return Next::Msg(m);
        }
        match self.source.recv_timeout(wait) {
            Ok(m) => Next::Msg(m),
            Err(RecvTimeoutError::Timeout) => Next::Timeout,
            Err(RecvTimeoutError::Disconnected) => Next::Closed,
        }
    }

    /// Input if there is any, else a source message already queued.
    pub fn try_next(&self) -> Option<Msg> {
        self.input
            .try_recv()
            .ok()
            .or_else(|| self.source.try_recv().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Key;

    #[test]
    fn a_key_goes_before_a_sources_backlog() {
        let (tx, rx) = mpsc::channel();
        let (inbox, input) = Inbox::new(rx, tx.clone());
        for i in 0..10_000 {
            tx.send(Msg::Status(format!("batch {i}"))).unwrap();
        }
        assert!(matches!(inbox.try_next(), Some(Msg::Status(_))));
        assert!(input.send(Msg::Key(Key::Char('q'))));
        assert!(matches!(inbox.try_next(), Some(Msg::Key(Key::Char('q')))));
        // Then the backlog, in order, and the wake-up behind it.
        assert!(matches!(inbox.try_next(), Some(Msg::Status(s)) if s == "batch 1"));
    }

    #[test]
    fn input_wakes_an_idle_loop() {
        let (tx, rx) = mpsc::channel();
        let (inbox, input) = Inbox::new(rx, tx);
        assert!(matches!(
            inbox.next(Duration::from_millis(1)),
            Next::Timeout
        ));
        let t = std::thread::spawn(move || input.send(Msg::Key(Key::Char('q'))));
        let mut got = Vec::new();
        while got.len() < 2 {
            match inbox.next(Duration::from_secs(5)) {
                Next::Msg(m) => got.push(m),
                _ => panic!("the loop was not woken"),
            }
        }
        assert!(t.join().unwrap());
        // The wake-up may come first; the key is the next message.
        assert!(got.iter().any(|m| matches!(m, Msg::Key(Key::Char('q')))));
    }
}

//! The one message type every part of the UI speaks: keys and mouse from
//! the terminal, batches and verdicts from the data source, ticks from the
//! clock. Sources and tests build these without a terminal.

use lockline_analysis::report::Analysis;
use lockline_analysis::{TraceMeta, ViolationRow};
use lockline_engine::probe::Event;
use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};

/// Keys the UI acts on, apart from any terminal library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Up,
    Down,
    Left,
    Right,
    ShiftLeft,
    ShiftRight,
    Home,
    End,
    PageUp,
    PageDown,
    Backspace,
    CtrlC,
}

#[derive(Debug)]
pub enum Msg {
    Key(Key),
    /// A click at a terminal cell.
    Click {
        col: u16,
        row: u16,
    },
    /// Mouse wheel at a cell: up zooms in.
    Scroll {
        up: bool,
        col: u16,
        row: u16,
    },
    Resize(u16, u16),
    /// What the trace is (build, workload, seed, knobs, probe source).
    Meta(Box<TraceMeta>),
    /// Events, each batch sorted by time.
    Events(Batch),
    /// A check finished: its violations (possibly none) and its label.
    Check {
        label: String,
        round: Option<u64>,
        violations: Vec<ViolationRow>,
    },
    /// A round ended.
    Round {
        round: u64,
        violations: u64,
    },
    /// The analysis of the whole trace: culprits, lints, trust.
    Analysis(Box<Analysis>),
    /// Thread names for lanes that did not announce themselves.
    Names(BTreeMap<u32, String>),
    /// perf counter totals (name, value), shown in the stats pane.
    Perf(Vec<(String, f64)>),
    /// One line for the status bar.
    Status(String),
    /// A live run ended: what follows is its whole trace, replayed at full
    /// resolution into fresh state (the view, focus and selection stay).
    Reset,
    /// The source has nothing more to send (the line says why).
    Done(String),
    Tick,
}

/// A batch of events. A replay's batches each carry a [`Credit`] that goes
/// back to the replay when the UI drops the batch (it has ingested it), so
/// a large trace is never copied into the channel all at once.
#[derive(Debug)]
pub struct Batch {
    pub events: Vec<Event>,
    _credit: Option<Credit>,
}

impl Batch {
    pub fn paced(events: Vec<Event>, credit: Credit) -> Batch {
        Batch {
            events,
            _credit: Some(credit),
        }
    }
}

impl From<Vec<Event>> for Batch {
    fn from(events: Vec<Event>) -> Batch {
        Batch {
            events,
            _credit: None,
        }
    }
}

impl std::ops::Deref for Batch {
    type Target = [Event];
    fn deref(&self) -> &[Event] {
        &self.events
    }
}

/// Batches a sender may have in flight at once.
#[derive(Clone, Debug)]
pub struct Credits {
    limit: usize,
    out: Arc<(Mutex<usize>, Condvar)>,
}

/// One batch's place in flight; dropping it gives the place back.
#[derive(Debug)]
pub struct Credit(Arc<(Mutex<usize>, Condvar)>);

impl Credits {
    pub fn new(limit: usize) -> Credits {
        Credits {
            limit: limit.max(1),
            out: Arc::new((Mutex::new(0), Condvar::new())),
        }
    }

    /// Waits until fewer than `limit` batches are in flight and takes a
    /// place. A receiver that has gone drops what it held, so this never
    /// waits on nobody.
    pub fn take(&self) -> Credit {
        let (n, freed) = &*self.out;
        let mut n = n.lock().unwrap_or_else(|p| p.into_inner());
        while *n >= self.limit {
            n = freed.wait(n).unwrap_or_else(|p| p.into_inner());
        }
        *n += 1;
        Credit(self.out.clone())
    }
}

impl Drop for Credit {
    fn drop(&mut self) {
        let (n, freed) = &*self.0;
        *n.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        freed.notify_one();
    }
}

//! The one message type every part of the UI speaks: keys and mouse from
//! the terminal, batches and verdicts from the data source, ticks from the
//! clock. Sources and tests build these without a terminal.

use lockline_analysis::report::Analysis;
use lockline_analysis::{TraceMeta, ViolationRow};
use lockline_engine::probe::Event;
use std::collections::BTreeMap;

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
    Events(Vec<Event>),
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

//! Terminal front ends over lockline traces: a live and replayed lock
//! timeline that leads from each lost write to the locks behind it.
//!
//! `state/` is what is shown (no terminal in it, tested with plain
//! values), `view/` how it is drawn (ratatui), `layout.rs` where each
//! region of the screen is for a terminal size (the state and the view
//! compute it alike), `event.rs` the one message type, `inbox.rs` the
//! user's input ahead of a source's backlog, `source.rs` where messages
//! come from, `term.rs` the terminal and the loop. `timeline.rs`
//! is the plain-text timeline `run --timeline` prints.

pub mod event;
pub mod inbox;
pub mod layout;
pub mod source;
pub mod state;
pub mod term;
pub mod timeline;
pub mod view;

pub use event::{Key, Msg};
pub use state::App;

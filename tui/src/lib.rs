//! Terminal front ends over lockline traces. State (what to show) is kept
//! apart from views (how it is drawn), as tokio-console does; the first view
//! is a plain-text lock timeline that the live ratatui UI will reuse.

pub mod timeline;

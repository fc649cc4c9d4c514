//! The contract between `lockline exec` (the parent, in the main binary)
//! and liblockline_preload.so (the engine inside the program it runs): how
//! the parent configures the library through the environment, what the
//! library leaves behind at exit (a status and a spill of its probe
//! events and digests), and how the parent reads them back.

pub mod config;
pub mod route;
pub mod spill;
pub mod status;

pub use config::Config;
pub use status::Status;

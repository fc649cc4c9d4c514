//! lockline-engine: a userspace model of the bcachefs buffered IO path
//! (fs-io-buffered.c, fs-io-pagecache.c, two_state_shared_lock.h) running on a
//! real disk, with a probe point at every lock hand-off and folio change.
//!
//! Dependency rule: this crate stays light (no polars, no aya) so the engine
//! builds and tests fast; everything else in the workspace depends on it.

pub mod buffered_read;
pub mod buffered_write;
pub mod config;
pub mod crc32c;
pub mod disk;
pub mod error;
pub mod fallocate;
pub mod fault;
pub mod folio;
pub mod fs;
pub mod inode;
pub mod locks;
pub mod mm;
pub mod namespace;
pub mod page_fault;
pub mod pagecache;
pub mod probe;
pub mod space;
pub mod truncate;
pub mod usercopy;
pub mod writeback;

pub use config::{Build, Knobs};
pub use error::{Error, Result};
pub use fs::{Fs, MountOptions};

//! lockline-engine: a userspace model of the bcachefs buffered IO path
//! (fs-io-buffered.c, fs-io-pagecache.c, fs-io.c, two_state_shared_lock.h)
//! running on a real disk, with a probe point at every lock hand-off and
//! folio change.
//!
//! Dependency rule: this crate stays light (no polars, no aya) so the engine
//! builds and tests fast; everything else in the workspace depends on it.
//! lockline-harness drives and judges it; the engine names nothing of the
//! harness (the explorer reaches it through [`probe::yield_point`]).

pub(crate) mod buffered_read;
pub(crate) mod buffered_write;
pub mod config;
pub mod crc32c;
pub mod disk;
pub mod error;
pub(crate) mod fallocate;
pub mod fault;
pub mod folio;
pub mod fs;
pub(crate) mod inode;
pub mod locks;
pub mod mm;
pub mod named;
pub(crate) mod namespace;
pub(crate) mod page_fault;
pub(crate) mod pagecache;
pub mod probe;
pub(crate) mod space;
pub mod truncate;
pub mod usercopy;
pub mod writeback;

pub use config::{Build, Knobs};
pub use error::{Error, Result};
pub use fs::{Fs, MountOptions};

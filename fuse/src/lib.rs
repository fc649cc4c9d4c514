//! The engine behind a FUSE mount (fuser): every request a client's
//! syscall becomes is served by the engine's entry points, so unmodified
//! programs (qemu-img, qemu-io, fio, fsx) drive the modelled buffered IO
//! path concurrently, with the same probes as lockline's own workloads.

mod attr;
mod filesystem;
mod mount;

pub use filesystem::EngineFs;
pub use mount::{is_fuse_mount, mount, MountConfig, Mounted};

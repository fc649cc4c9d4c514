//! liblockline_preload.so: `lockline exec`'s library. Preloaded into a
//! program, it serves the program's calls on regular files under one
//! directory (`LOCKLINE_EXEC_DIR`) from an engine mounted in the program
//! itself, so the program's own threads are the engine's writers and no
//! kernel VFS, inode lock or FUSE request sits between them: the calls
//! reach the engine's models of bch2_write_iter, bch2_read_iter,
//! bch2_truncate, bch2_fallocate_dispatch and bch2_fsync as the kernel's
//! syscall layer would pass them on.
//!
//! The layout: `real` finds libc's own functions; `session` mounts the
//! engine on the first routed call and unmounts it at exit; `table` maps
//! the program's file descriptors to open files of the engine; `hooks`
//! holds the interposed functions, one file per family of calls.
//!
//! What stays real: every routed open also opens a placeholder (an empty
//! file of the same name in the real directory) with O_PATH, so the
//! program's descriptor numbers are the kernel's, glibc's internal calls
//! (realpath, opendir, access) see the names, and any call the library
//! does not interpose (io_uring, sendfile, glibc's internal IO) fails with
//! EBADF instead of reaching the placeholder.

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
compile_error!(
    "lockline-preload reads the variadic arguments of open, fcntl and ioctl as plain \
     register arguments: x86_64 Linux only"
);

mod hooks;
mod real;
mod resolve;
mod route;
mod session;
mod table;

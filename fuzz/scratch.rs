//! Where a fuzz target keeps the files it writes on every run: tmpfs when
//! there is one, one directory per process named lockline-fuzz-PID, which
//! `scripts/fuzz.sh` removes once that process is gone (so targets can run
//! side by side). Included by path by the targets that need files.

use std::path::PathBuf;

/// This process's scratch directory, created.
pub fn dir() -> PathBuf {
    let tmpfs = std::path::Path::new("/dev/shm");
    let base = if tmpfs.is_dir() {
        tmpfs.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let d = base.join(format!("lockline-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("the fuzz scratch directory");
    d
}

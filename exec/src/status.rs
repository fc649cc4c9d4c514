//! What the library reports when the program exits: the calls it served,
//! the ones it refused, and how the engine's unmount went.

use lockline_engine::fs::CountersSnapshot;
use lockline_engine::probe::recorder::RecorderStats;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Calls served on routed files, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    pub opens: u64,
    pub writes: u64,
    pub write_bytes: u64,
    pub reads: u64,
    pub read_bytes: u64,
    pub fsyncs: u64,
    pub truncates: u64,
    pub fallocates: u64,
    /// Calls that returned an error from the engine (ENOSPC, EIO, ...).
    pub errors: u64,
}

/// One process's account, written at its exit as `<pid>.status.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub pid: u32,
    pub served: Served,
    /// Program threads that made routed calls (the trace's workers).
    #[serde(default)]
    pub threads: u64,
    /// Calls on routed files the library does not serve, each with the
    /// error the program got ("ioctl(0x801c581f) -> ENOTTY"), once each.
    pub refused: Vec<String>,
    /// The engine's unmount error, if any (the disk is then as at the last
    /// commit).
    pub unmount_error: Option<String>,
    pub counters: CountersSnapshot,
    pub recorder: Option<RecorderStats>,
    /// The recorder's clock, as traces name it.
    pub clock: String,
    /// Seconds from the engine's mount to the program's exit.
    pub seconds: f64,
}

impl Status {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a status serialises")
    }

    pub fn path(out: &Path, pid: u32) -> PathBuf {
        out.join(format!("{pid}.status.json"))
    }

    /// Every status left in `out`, in pid order.
    pub fn read_all(out: &Path) -> std::io::Result<Vec<Status>> {
        let mut all = Vec::new();
        for e in std::fs::read_dir(out)? {
            let p = e?.path();
            if p.to_string_lossy().ends_with(".status.json") {
                let s = std::fs::read(&p)?;
                let st: Status = serde_json::from_slice(&s).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {e}", p.display()),
                    )
                })?;
                all.push(st);
            }
        }
        all.sort_by_key(|s| s.pid);
        Ok(all)
    }
}

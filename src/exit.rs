//! Exit codes and the one-line error rendering.

use lockline_engine::disk::DiskError;
use std::sync::atomic::{AtomicBool, Ordering};

pub const OK: u8 = 0;
/// fsck found problems; a check ran but the verdict is negative.
pub const PROBLEMS: u8 = 1;
/// Bad arguments or input the user can fix.
pub const USAGE: u8 = 2;
/// IO errors: the disk or file system failed under us.
pub const IO: u8 = 3;
/// Stopped by Ctrl-C after cleaning up (the shell's 128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// Set by SIGINT once [`install_sigint`] ran: long runs stop their
/// workload, finish their checks and cleanup, and exit [`INTERRUPTED`].
pub static SIGINT_SEEN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    SIGINT_SEEN.store(true, Ordering::Relaxed);
}

/// Routes Ctrl-C to [`SIGINT_SEEN`] instead of killing the process.
pub fn install_sigint() {
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe { libc::signal(libc::SIGINT, handler as libc::sighandler_t) };
}

/// Marks an error as the user's input rather than the system's.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

pub fn code_for(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<UsageError>().is_some() {
        return USAGE;
    }
    let disk = e.downcast_ref::<DiskError>().or_else(|| {
        e.downcast_ref::<lockline_engine::Error>()
            .and_then(|e| match e {
                lockline_engine::Error::Disk(d) => Some(d),
                _ => None,
            })
    });
    match disk {
        Some(d) if d.is_user_error() => USAGE,
        Some(_) => IO,
        None => match e.downcast_ref::<lockline_engine::Error>() {
            Some(lockline_engine::Error::Invalid(_)) => USAGE,
            _ => IO,
        },
    }
}

/// The whole context chain on one line; a cause an outer message already
/// quotes (as `DiskError::Io` quotes its io::Error) is not repeated.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for part in e.chain().map(|c| c.to_string()) {
        if line.contains(&part) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&part);
    }
    line.replace('\n', " ")
}

/// Parses sizes like 4096, 64K, 512M, 1G, 2T (binary units).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let unit = t[i..].to_ascii_uppercase();
            let m: u64 = match unit.trim_end_matches("IB").trim_end_matches('B') {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                _ => return Err(format!("unknown size unit in '{s}' (use K, M, G or T)")),
            };
            (&t[..i], m)
        }
        None => (t, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 4096, 64M, 1G)"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size '{s}' is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_does_not_repeat_a_quoted_cause() {
        let io = std::io::Error::from_raw_os_error(libc::ENOENT);
        let e = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::ENOENT))
            .context(format!("x.img: open: {io}"));
        assert_eq!(one_line(&e), format!("x.img: open: {io}"));
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(one_line(&e), "outer: inner");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}

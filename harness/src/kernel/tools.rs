//! Finding and running the external programs a kernel run needs (losetup,
//! mkfs.*), without installing anything.

use super::error::{KernelError, Result};
use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `name` on PATH or in the sbin directories (a non-root PATH often lacks
/// them); `package` is named in the error when it is nowhere.
pub fn find_program(name: &str, package: &'static str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(
        ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .map(PathBuf::from),
    );
    for d in dirs {
        let p = d.join(name);
        if is_executable(&p) {
            return Ok(p);
        }
    }
    Err(KernelError::MissingTool {
        tool: name.to_string(),
        package,
    })
}

pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Runs `prog args..` and returns its stdout. The child gets its own
/// process group so a Ctrl-C at the terminal reaches only lockline, which
/// then cleans up (a killed `losetup -d` would leave the loop device).
pub fn run<S: AsRef<OsStr>>(prog: &Path, args: &[S]) -> Result<String> {
    let name = prog
        .file_name()
        .unwrap_or(prog.as_os_str())
        .to_string_lossy()
        .into_owned();
    let mut line = name.clone();
    for a in args {
        line.push(' ');
        line.push_str(&a.as_ref().to_string_lossy());
    }
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .process_group(0)
        .output()
        .map_err(|e| KernelError::io(format!("running {line}"), e))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        return Err(KernelError::Command {
            cmd: line,
            status: out.status.to_string(),
            stderr: stderr.join("; "),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

//! fio as the client: psync random writes from N jobs on disjoint 8 MiB
//! segments of one file (`offset_increment`), each 4 KiB block carrying a
//! crc32c verify header; verified while writing (`verify_backlog`), after
//! the run, and after a remount (`verify_only`).

use super::Session;
use anyhow::{Context, Result};
use lockline_harness::client_output::fio::{bad_blocks, verdict, BLOCK, SEGMENT};
use lockline_harness::client_output::Verdict;

/// fio's combined output; an error when fio failed without naming a bad
/// block.
fn fio(s: &Session, jobs: u32, extra: &[&str]) -> Result<String> {
    let file = s.path("fio.dat");
    let o = s
        .command("fio")
        .args([
            "--name=segments",
            &format!("--filename={}", file.display()),
            "--rw=randwrite",
            &format!("--bs={BLOCK}"),
            &format!("--size={SEGMENT}"),
            &format!("--numjobs={jobs}"),
            &format!("--offset_increment={SEGMENT}"),
            "--ioengine=psync",
            "--thread",
            "--verify=crc32c",
            "--verify_fatal=0",
            // No verify state files left in the caller's directory.
            "--verify_state_save=0",
            "--group_reporting",
        ])
        .args(extra)
        .output()
        .context("cannot run fio")?;
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    if !o.status.success() && bad_blocks(&text) == 0 {
        anyhow::bail!(
            "fio failed: {}",
            text.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
        );
    }
    Ok(text)
}

pub fn run(s: &mut Session, jobs: u32) -> Result<(Vec<Verdict>, usize)> {
    let text = fio(s, jobs, &["--verify_backlog=64"])?;
    let mut out = vec![verdict("after-run", jobs, &text)];
    let fsck = s.remount()?;
    let text = fio(s, jobs, &["--verify_only=1"])?;
    out.push(verdict("after-remount", jobs, &text));
    Ok((out, fsck))
}

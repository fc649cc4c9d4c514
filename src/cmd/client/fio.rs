//! fio as the client: psync random writes from N jobs on disjoint 8 MiB
//! segments of one file (`offset_increment`), each 4 KiB block carrying a
//! crc32c verify header; verified while writing (`verify_backlog`), after
//! the run, and after a remount (`verify_only`).

use super::{Session, Verdict};
use anyhow::{Context, Result};

const SEGMENT: u64 = 8 << 20;
const BLOCK: u64 = 4096;

/// fio's combined output and how many blocks it reported bad.
fn fio(s: &Session, jobs: u32, extra: &[&str]) -> Result<(String, u64)> {
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
    let bad = bad_blocks(&text);
    if !o.status.success() && bad == 0 {
        anyhow::bail!(
            "fio failed: {}",
            text.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
        );
    }
    Ok((text, bad))
}

/// Lines where fio reports a block that failed verification.
fn is_bad(l: &str) -> bool {
    l.contains("verify: bad") || l.contains("verify failed")
}

fn bad_blocks(text: &str) -> u64 {
    text.lines().filter(|l| is_bad(l)).count() as u64
}

fn verdict(check: &str, jobs: u32, text: &str, bad: u64) -> Verdict {
    Verdict {
        check: check.into(),
        what: "4 KiB blocks (crc32c)".into(),
        checked: jobs as u64 * SEGMENT / BLOCK,
        failed: bad,
        first_failure: text
            .lines()
            .find(|l| is_bad(l))
            .map(|l| l.trim().to_string()),
    }
}

pub fn run(s: &mut Session, jobs: u32) -> Result<(Vec<Verdict>, usize)> {
    let (text, bad) = fio(s, jobs, &["--verify_backlog=64"])?;
    let mut out = vec![verdict("after-run", jobs, &text, bad)];
    let fsck = s.remount()?;
    let (text, bad) = fio(s, jobs, &["--verify_only=1"])?;
    out.push(verdict("after-remount", jobs, &text, bad));
    Ok((out, fsck))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_blocks_are_counted_from_fios_words() {
        let text = "fio: verify type mismatch\n\
            crc32c: verify failed at file /m/fio.dat offset 8192, length 4096 (requested block: offset=8192, length=4096)\n\
            verify: bad magic header 0, wanted acca at file /m/fio.dat offset 12288, length 4096\n\
            segments: (groupid=0, jobs=4): err= 0\n";
        assert_eq!(bad_blocks(text), 2);
        let v = verdict("after-remount", 2, text, bad_blocks(text));
        assert_eq!((v.checked, v.failed), (2 * SEGMENT / BLOCK, 2));
        assert!(v.first_failure.unwrap().contains("offset 8192"));
        assert_eq!(bad_blocks("segments: err= 0"), 0);
    }
}

//! QEMU as the client: a qcow2 base created on the mount, then
//! - qemu-io in snapshot mode (`-s`: the temporary overlay in $TMPDIR on
//!   the mount), many concurrent `aio_write -P` into disjoint 1 MiB
//!   regions and a `read -P` of each;
//! - the same writes into a preallocated overlay (rewrites inside EOF, which
//!   the kernel passes on in parallel), read back now and after a remount;
//! - `qemu-img bench -w -i threads` on a sparse overlay, then `qemu-img
//!   check`, now and after the remount.

use super::Session;
use anyhow::{Context, Result};
use lockline_harness::client_output::qemu::{check_verdict, regions_verdict, REGION as MIB};
use lockline_harness::client_output::Verdict;
use std::path::Path;

fn output(o: std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn qemu_img(s: &Session, args: &[&str]) -> Result<String> {
    let o = s
        .command("qemu-img")
        .args(args)
        .output()
        .context("cannot run qemu-img")?;
    let ok = o.status.success();
    let text = output(o);
    if !ok && args.first().is_none_or(|a| *a != "check") {
        anyhow::bail!(
            "qemu-img {}: {}",
            args.join(" "),
            text.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
        );
    }
    Ok(text)
}

/// qemu-io with `cmds`; returns its output. A pattern mismatch is data,
/// not an error; an image that cannot be opened is.
fn qemu_io(
    s: &Session,
    tmpdir: &Path,
    snapshot: bool,
    cmds: &[String],
    image: &Path,
) -> Result<String> {
    let mut c = s.command("qemu-io");
    c.env("TMPDIR", tmpdir);
    if snapshot {
        c.arg("-s");
    }
    for cmd in cmds {
        c.args(["-c", cmd]);
    }
    let text = output(c.arg(image).output().context("cannot run qemu-io")?);
    if text.contains("can't open") {
        anyhow::bail!("qemu-io: {}", text.lines().next().unwrap_or(""));
    }
    Ok(text)
}

/// `qemu-img create` of a qcow2 overlay of `base` (a backing file and
/// preallocation need extended L2 entries).
fn overlay(
    s: &Session,
    base: &Path,
    path: &Path,
    size: &str,
    opts: Option<&str>,
) -> Result<String> {
    let (b, p) = (base.display().to_string(), path.display().to_string());
    let mut args = vec!["create", "-f", "qcow2", "-b", &b, "-F", "qcow2"];
    if let Some(o) = opts {
        args.extend(["-o", o]);
    }
    args.extend([p.as_str(), size]);
    qemu_img(s, &args)
}

fn pattern(r: u64) -> u64 {
    0x40 + r % 0xb0
}

fn writes(regions: u64) -> Vec<String> {
    let mut v: Vec<String> = (0..regions)
        .map(|r| format!("aio_write -P {} {} {}", pattern(r), r * 2 * MIB, MIB))
        .collect();
    v.push("aio_flush".into());
    v
}

fn reads(regions: u64) -> Vec<String> {
    (0..regions)
        .map(|r| format!("read -P {} {} {}", pattern(r), r * 2 * MIB, MIB))
        .collect()
}

pub fn run(s: &mut Session, threads: u32) -> Result<(Vec<Verdict>, usize)> {
    let regions = threads as u64 * 4;
    let size = format!("{}M", regions * 2 + 2);
    let tmp = s.path("tmp");
    s.mkdir("tmp")?;
    let base = s.path("base.qcow2");
    let full = s.path("full.qcow2");
    let sparse = s.path("sparse.qcow2");
    let p = |p: &Path| p.display().to_string();
    qemu_img(s, &["create", "-f", "qcow2", &p(&base), &size])?;
    let mut out = Vec::new();
    let mut cmds = writes(regions);
    cmds.extend(reads(regions));
    let text = qemu_io(s, &tmp, true, &cmds, &base)?;
    out.push(regions_verdict(
        "after-run",
        "1 MiB regions (qemu-io -s)",
        regions,
        &text,
    ));
    overlay(
        s,
        &base,
        &full,
        &size,
        Some("preallocation=full,extended_l2=on"),
    )?;
    let text = qemu_io(s, &tmp, false, &cmds, &full)?;
    out.push(regions_verdict(
        "after-run",
        "1 MiB regions (preallocated overlay)",
        regions,
        &text,
    ));
    overlay(s, &base, &sparse, &size, None)?;
    let depth = (threads * 4).to_string();
    qemu_img(
        s,
        &[
            "bench",
            "-w",
            "-t",
            "none",
            "-i",
            "threads",
            "-c",
            "2000",
            "-d",
            &depth,
            "-s",
            "64k",
            &p(&sparse),
        ],
    )?;
    out.push(check_verdict(
        "after-run",
        &qemu_img(s, &["check", &p(&sparse)])?,
    ));
    let fsck = s.remount()?;
    let text = qemu_io(s, &tmp, false, &reads(regions), &full)?;
    out.push(regions_verdict(
        "after-remount",
        "1 MiB regions (preallocated overlay)",
        regions,
        &text,
    ));
    for img in [&full, &sparse] {
        out.push(check_verdict(
            "after-remount",
            &qemu_img(s, &["check", &p(img)])?,
        ));
    }
    // The snapshot overlay must be gone: qemu-io removed it at exit.
    let left = std::fs::read_dir(&tmp)?.count();
    if left > 0 {
        anyhow::bail!("{left} temporary overlay(s) left in {}", tmp.display());
    }
    Ok((out, fsck))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_disjoint_and_patterns_valid_bytes() {
        let w = writes(100);
        assert_eq!(w.last().unwrap(), "aio_flush");
        assert!((0..100).all(|r| pattern(r) <= 0xff && pattern(r) >= 0x40));
        assert_eq!(
            reads(2)[1],
            format!("read -P {} {} {}", pattern(1), 2 * MIB, MIB)
        );
    }
}

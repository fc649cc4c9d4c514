//! Is this device or image in use? mkfs's safety checks: mounted (directly,
//! through a loop device, or a partition of it) or carrying a known file
//! system signature.

use super::superblock::MAGIC;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The signature of a known file system in the first bytes of a device, if
/// any. `head` is the first 68 KiB or less.
pub(crate) fn signature(head: &[u8]) -> Option<&'static str> {
    let at = |off: usize, sig: &[u8]| head.get(off..off + sig.len()) == Some(sig);
    if at(0, &MAGIC) || at(4096, &MAGIC) {
        Some("a lockline file system")
    } else if at(1080, &[0x53, 0xef]) {
        Some("an ext2/3/4 file system")
    } else if at(0, b"XFSB") {
        Some("an XFS file system")
    } else if at(65600, b"_BHRfS_M") {
        Some("a btrfs file system")
    } else {
        None
    }
}

/// Bytes `signature` wants to see.
pub(crate) const SIGNATURE_SPAN: usize = 65600 + 8;

/// (major, minor, mount point) of every mount, from mountinfo.
fn parse_mountinfo(text: &str) -> Vec<(u32, u32, String)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let dev = f.nth(2)?;
            let (ma, mi) = dev.split_once(':')?;
            let point = f.nth(1)?.to_string();
            Some((ma.parse().ok()?, mi.parse().ok()?, point))
        })
        .collect()
}

fn split_dev(rdev: u64) -> (u32, u32) {
    (libc::major(rdev), libc::minor(rdev))
}

/// "7:3" from /sys/.../dev.
fn read_dev_file(p: &Path) -> Option<(u32, u32)> {
    let s = std::fs::read_to_string(p).ok()?;
    let (a, b) = s.trim().split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The whole-disk device a partition belongs to, if it is a partition.
fn parent_disk(dev: (u32, u32)) -> Option<(u32, u32)> {
    let sys = PathBuf::from(format!("/sys/dev/block/{}:{}", dev.0, dev.1));
    if !sys.join("partition").exists() {
        return None;
    }
    let real = std::fs::canonicalize(&sys).ok()?;
    read_dev_file(&real.parent()?.join("dev"))
}

/// Loop devices whose backing file is `file`.
fn loops_backed_by(file: &Path) -> Vec<(String, (u32, u32))> {
    let Ok(file) = std::fs::canonicalize(file) else {
        return Vec::new();
    };
    let Ok(dir) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    dir.flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("loop"))
        .filter_map(|e| {
            let backing = std::fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            let backing = backing.trim_end().trim_end_matches(" (deleted)");
            (Path::new(backing) == file).then_some(())?;
            let dev = read_dev_file(&e.path().join("dev"))?;
            Some((format!("/dev/{}", e.file_name().to_string_lossy()), dev))
        })
        .collect()
}

/// Why `path` counts as mounted, if it does.
pub(crate) fn mounted(path: &Path, meta: &std::fs::Metadata) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mounts = parse_mountinfo(&text);
    let mut devices: Vec<(String, (u32, u32))> = Vec::new();
    use std::os::unix::fs::FileTypeExt;
    if meta.file_type().is_block_device() {
        devices.push((path.display().to_string(), split_dev(meta.rdev())));
    } else {
        devices.extend(loops_backed_by(path));
    }
    for (name, dev) in devices {
        for (ma, mi, point) in &mounts {
            let m = (*ma, *mi);
            if m == dev {
                return Some(format!("{name} is mounted on {point}"));
            }
            if parent_disk(m) == Some(dev) {
                return Some(format!(
                    "a partition of {name} ({ma}:{mi}) is mounted on {point}"
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_fields() {
        let t = "22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
                 36 22 7:0 / /mnt/x\\040y rw - xfs /dev/loop0 rw\n";
        assert_eq!(
            parse_mountinfo(t),
            vec![
                (252, 1, "/".to_string()),
                (7, 0, "/mnt/x\\040y".to_string())
            ]
        );
    }

    #[test]
    fn signatures() {
        let mut b = vec![0u8; SIGNATURE_SPAN];
        assert_eq!(signature(&b), None);
        b[1080] = 0x53;
        b[1081] = 0xef;
        assert!(signature(&b).unwrap().contains("ext"));
        let mut b = vec![0u8; SIGNATURE_SPAN];
        b[65600..65608].copy_from_slice(b"_BHRfS_M");
        assert!(signature(&b).unwrap().contains("btrfs"));
        assert!(signature(b"XFSB").unwrap().contains("XFS"));
        assert_eq!(signature(&[0u8; 10]), None);
    }
}

//! mkfs: image creation, size rules, refusals, --force, loop devices.

use lockline_engine::disk::{
    fsck, mkfs, Disk, DiskError, FileKind, MkfsOptions, BLOCK_SIZE, ROOT_INO,
};
use std::path::{Path, PathBuf};
use std::process::Command;

fn opts(size: Option<u64>, force: bool) -> MkfsOptions {
    MkfsOptions { size, force }
}

fn in_use(r: lockline_engine::disk::Result<lockline_engine::disk::MkfsReport>, what: &str) {
    match r {
        Err(e @ DiskError::InUse(_)) => {
            let m = e.to_string();
            assert!(m.contains(what) && m.contains("--force"), "{m}");
        }
        other => panic!("expected InUse({what}), got {other:?}"),
    }
}

#[test]
fn new_image_is_sparse_with_default_size() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("new.img");
    let r = mkfs(&p, &MkfsOptions::default()).unwrap();
    assert!(r.created_image);
    assert_eq!((r.size, r.block_size), (1 << 30, 4096));
    let meta = std::fs::metadata(&p).unwrap();
    assert_eq!(meta.len(), 1 << 30);
    use std::os::unix::fs::MetadataExt;
    assert!(
        meta.blocks() * 512 < 64 << 20,
        "sparse: {} bytes allocated",
        meta.blocks() * 512
    );
    let f = fsck(&p).unwrap();
    assert!(f.problems.is_empty() && f.clean && f.inodes == 1);
    assert_eq!(f.free_blocks, r.data_blocks);
}

#[test]
fn existing_file_keeps_its_size_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img");
    std::fs::File::create(&p).unwrap().set_len(8 << 20).unwrap();
    let r = mkfs(&p, &opts(None, false)).unwrap();
    assert!(!r.created_image);
    assert_eq!(r.size, 8 << 20);
    let r = mkfs(&p, &opts(Some(16 << 20), true)).unwrap();
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 16 << 20);
    assert_eq!(
        Disk::open(&p).unwrap().geometry().data_blocks,
        r.data_blocks
    );
}

#[test]
fn too_small_names_the_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tiny.img");
    match mkfs(&p, &opts(Some(100 * BLOCK_SIZE), false)) {
        Err(e @ DiskError::TooSmall { min, .. }) => {
            assert_eq!(min, 194 * BLOCK_SIZE);
            assert!(e.to_string().contains(&min.to_string()), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!p.exists(), "a refused new image is not left behind");
    mkfs(&p, &opts(Some(194 * BLOCK_SIZE), false)).unwrap();
}

#[test]
fn refuses_lockline_xfs_btrfs_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img");
    mkfs(&p, &opts(Some(4 << 20), false)).unwrap();
    in_use(mkfs(&p, &opts(None, false)), "lockline");
    mkfs(&p, &opts(None, true)).unwrap();
    for (off, sig, name) in [
        (0u64, &b"XFSB"[..], "XFS"),
        (65600, &b"_BHRfS_M"[..], "btrfs"),
    ] {
        let img = dir.path().join(name);
        let mut bytes = vec![0u8; 1 << 20];
        bytes[off as usize..off as usize + sig.len()].copy_from_slice(sig);
        std::fs::write(&img, &bytes).unwrap();
        in_use(mkfs(&img, &opts(None, false)), name);
        mkfs(&img, &opts(None, true)).unwrap();
        // mkfs wiped the foreign signature along the way.
        std::fs::remove_file(&img).ok();
    }
}

#[test]
fn refuses_ext4_without_force() {
    let tool = ["/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4"]
        .into_iter()
        .find(|t| Path::new(t).exists());
    let Some(tool) = tool else {
        println!("note: mkfs.ext4 not installed; skipping");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ext4.img");
    std::fs::File::create(&p).unwrap().set_len(8 << 20).unwrap();
    assert!(Command::new(tool)
        .args(["-q", "-F"])
        .arg(&p)
        .status()
        .unwrap()
        .success());
    in_use(mkfs(&p, &opts(None, false)), "ext2/3/4");
    let r = mkfs(&p, &opts(None, true)).unwrap();
    assert_eq!(r.size, 8 << 20);
    let d = Disk::open(&p).unwrap();
    d.create(ROOT_INO, "x", FileKind::File).unwrap();
    d.unmount().unwrap();
}

/// Detaches the loop device even when the test fails.
struct Loop(String);

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn attach(img: &Path) -> Option<Loop> {
    let out = Command::new("losetup")
        .args(["-f", "--show"])
        .arg(img)
        .output()
        .ok()?;
    if !out.status.success() {
        println!(
            "note: losetup failed ({}); skipping",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    Some(Loop(String::from_utf8(out.stdout).ok()?.trim().to_string()))
}

#[test]
fn loop_device_mkfs_open_and_mounted_refusal() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("note: not root; skipping the loop device test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("backing.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    let Some(lo) = attach(&img) else { return };
    let dev = Path::new(&lo.0);
    let r = mkfs(dev, &opts(None, false)).unwrap();
    assert_eq!((r.size, r.created_image), (32 << 20, false));
    assert!(matches!(
        mkfs(dev, &opts(Some(64 << 20), true)),
        Err(DiskError::Invalid(_))
    ));
    {
        let d = Disk::open(dev).unwrap();
        assert_eq!(d.geometry().total_blocks, 8192);
        let f = d.create(ROOT_INO, "f", FileKind::File).unwrap();
        d.write(f, 0, &vec![3u8; 8192]).unwrap();
        d.set_size(f, 8192).unwrap();
        d.unmount().unwrap();
    }
    assert!(fsck(dev).unwrap().problems.is_empty());
    // The image file behind the loop device has the same superblock.
    assert!(fsck(&img).unwrap().problems.is_empty());
    in_use(mkfs(dev, &opts(None, false)), "lockline");

    // Mounted (as ext4): refused through the device and through its image.
    let tool = ["/sbin/mkfs.ext4", "/usr/sbin/mkfs.ext4"]
        .into_iter()
        .find(|t| Path::new(t).exists());
    let Some(tool) = tool else { return };
    assert!(Command::new(tool)
        .args(["-q", "-F"])
        .arg(dev)
        .status()
        .unwrap()
        .success());
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    if !Command::new("mount")
        .arg(dev)
        .arg(&mnt)
        .status()
        .unwrap()
        .success()
    {
        println!("note: mount failed; skipping the mounted refusal");
        return;
    }
    let _m = Mounted(mnt);
    in_use(mkfs(dev, &opts(None, false)), "is mounted on");
    in_use(mkfs(&img, &opts(None, false)), "is mounted on");
}

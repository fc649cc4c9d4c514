//! A damaged disk image: a small image with files on it (made once), with
//! bytes changed where the input says. fsck must return a report or an
//! error and never write; when fsck finds it damaged, mount must refuse
//! it or leave it untouched; neither may panic (a hang is libFuzzer's
//! -timeout). Not damage: what a disk mounts with by design
//! (`FsckReport::mountable`: tolerated problems, a torn superblock slot).

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[path = "../scratch.rs"]
mod scratch;
use lockline_engine::disk::{fsck, mkfs, MkfsOptions};
use lockline_engine::fs::{Fs, MountOptions};
use lockline_engine::Knobs;
use std::path::PathBuf;
use std::sync::OnceLock;

const SIZE: u64 = 1 << 20;


#[derive(Arbitrary, Debug)]
struct Damage {
    /// (offset, xor mask) pairs; offsets wrap at the image's size.
    edits: Vec<(u32, u8)>,
}

struct Template {
    dir: PathBuf,
    bytes: Vec<u8>,
}

/// The undamaged image: two files, a directory, some data written back.
fn template() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(|| {
        // The target writes and reads an image per run.
        let dir = scratch::dir();
        let img = dir.join("template.img");
        mkfs(
            &img,
            &MkfsOptions {
                size: Some(SIZE),
                force: true,
            },
        )
        .expect("mkfs");
        let opts = MountOptions {
            knobs: Knobs::quiet(),
            ..MountOptions::default()
        };
        let fs = Fs::mount(&img, opts).expect("mount the new image");
        let a = fs.open("/a", true).expect("create /a");
        fs.write(a, 0, &[0x5a; 20_000]).expect("write /a");
        let b = fs.open("/b", true).expect("create /b");
        fs.write(b, 8192, &[0xa5; 5000]).expect("write /b");
        fs.truncate(a, 9000).expect("truncate /a");
        fs.unmount().expect("unmount");
        let bytes = std::fs::read(&img).expect("read the template");
        Template { dir, bytes }
    })
}

fuzz_target!(|d: Damage| {
    let t = template();
    let mut bytes = t.bytes.clone();
    for (off, mask) in &d.edits {
        let i = *off as usize % bytes.len();
        bytes[i] ^= mask;
    }
    let img = t.dir.join("damaged.img");
    std::fs::write(&img, &bytes).expect("write the damaged image");
    let report = fsck(&img);
    let after = std::fs::read(&img).expect("read back");
    assert!(after == bytes, "fsck wrote to the image");
    let damaged = !matches!(&report, Ok(r) if r.mountable());
    let opts = MountOptions {
        knobs: Knobs::quiet(),
        ..MountOptions::default()
    };
    if let Ok(fs) = Fs::mount(&img, opts) {
        // Whatever mounts can be read.
        for name in ["/a", "/b"] {
            if let Ok(ino) = fs.open(name, false) {
                let mut buf = vec![0u8; 32 << 10];
                let _ = fs.read(ino, 0, &mut buf);
            }
        }
        let _ = fs.readdir("/");
        let _ = fs.unmount();
    }
    if damaged {
        let after = std::fs::read(&img).expect("read back");
        assert!(after == bytes, "mount wrote to an image fsck found damaged");
    }
});

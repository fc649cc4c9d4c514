//! Crash safety: deferred frees, and kill -9 of a process in the middle of
//! writing and committing.

mod common;

use common::{block_pattern as pattern, image};
use lockline_engine::disk::{fsck, Disk, FileKind, BLOCK_SIZE, ROOT_INO};
use std::io::BufRead;
use std::path::Path;

const B: usize = BLOCK_SIZE as usize;
const CHILD_ENV: &str = "LOCKLINE_DISK_CRASH_CHILD";

fn contents(d: &Disk, ino: u64) -> Vec<u8> {
    let size = d.stat(ino).unwrap().size;
    let mut v = vec![0u8; size.div_ceil(BLOCK_SIZE) as usize * B];
    d.read(ino, 0, &mut v).unwrap();
    v.truncate(size as usize);
    v
}

/// Without deferred frees, B would get A's blocks, and the crash (a drop
/// without commit) would leave the committed A pointing at B's data.
#[test]
fn freed_blocks_are_not_reused_before_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), 194 * BLOCK_SIZE); // 64 data blocks: reuse is forced
    let a_data = pattern(1, 40);
    {
        let d = Disk::open(&p).unwrap();
        let a = d.create(ROOT_INO, "a", FileKind::File).unwrap();
        d.write(a, 0, &a_data).unwrap();
        d.set_size(a, a_data.len() as u64).unwrap();
        d.commit().unwrap();
        d.unlink(ROOT_INO, "a").unwrap();
        let b = d.create(ROOT_INO, "b", FileKind::File).unwrap();
        d.write(b, 0, &pattern(2, 24)).unwrap();
        // All free blocks are taken; the 40 freed ones are pinned.
        assert_eq!(d.geometry().free_blocks, 0);
        // Crash: no commit, no unmount.
    }
    assert!(fsck(&p).unwrap().problems.is_empty());
    let d = Disk::open(&p).unwrap();
    let a = d.resolve("/a").unwrap();
    assert_eq!(contents(&d, a), a_data);
    assert!(d.resolve("/b").is_err());
}

/// A failing parent must not leave the child looping.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn child(path: &Path) {
    let d = Disk::open(path).unwrap();
    let base = d.create(ROOT_INO, "base", FileKind::File).unwrap();
    d.write(base, 0, &pattern(1000, 30)).unwrap();
    d.set_size(base, 30 * BLOCK_SIZE - 7).unwrap();
    d.commit().unwrap();
    println!("COMMITTED base");
    let dir = d.create(ROOT_INO, "loop", FileKind::Dir).unwrap();
    for i in 0u64.. {
        // Uncommitted frees of files whose blocks the next writes want.
        if i >= 2 {
            d.unlink(dir, &format!("f{}", i - 2)).unwrap();
        }
        let f = d.create(dir, &format!("f{i}"), FileKind::File).unwrap();
        let blocks = 8 + (i % 5) as usize;
        d.write(f, 0, &pattern(i, blocks)).unwrap();
        d.set_size(f, (blocks * B) as u64).unwrap();
        d.write(base, 30 + i % 4, &pattern(5000 + i, 1)).unwrap(); // past size: never committed as data
        d.set_size(base, 30 * BLOCK_SIZE - 7).unwrap();
        d.punch(base, 30, 4).unwrap();
        d.commit().unwrap();
        println!("COMMITTED {i}");
    }
}

#[test]
fn kill_9_keeps_every_commit_and_a_clean_namespace() {
    if let Ok(p) = std::env::var(CHILD_ENV) {
        child(Path::new(&p));
        return;
    }
    for round in 0..6u64 {
        let dir = tempfile::tempdir().unwrap();
        let p = image(dir.path(), 2 << 20);
        let mut c = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "kill_9_keeps_every_commit_and_a_clean_namespace",
                "--exact",
                "--nocapture",
            ])
            .env(CHILD_ENV, &p)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = c.stdout.take().unwrap();
        let mut c = KillOnDrop(c);
        let mut lines = std::io::BufReader::new(out).lines();
        let mut last: Option<u64> = None;
        let target = 3 + round * 7;
        for l in lines.by_ref() {
            let l = l.unwrap();
            if let Some(n) = l.strip_prefix("COMMITTED ") {
                if let Ok(n) = n.parse() {
                    last = Some(n);
                    if n >= target {
                        break;
                    }
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_micros(round * 700));
        c.0.kill().unwrap();
        c.0.wait().unwrap();
        for l in lines.map_while(Result::ok) {
            if let Some(n) = l.strip_prefix("COMMITTED ").and_then(|n| n.parse().ok()) {
                last = Some(n);
            }
        }
        let last = last.expect("child committed nothing");
        let r = fsck(&p).unwrap();
        assert!(r.problems.is_empty(), "round {round}: {:?}", r.problems);
        assert!(!r.clean);
        let d = Disk::open(&p).unwrap();
        let base = d.resolve("/base").unwrap();
        let mut want = pattern(1000, 30);
        want.truncate(30 * B - 7);
        assert_eq!(contents(&d, base), want, "round {round}");
        let names: Vec<String> = d
            .readdir(d.resolve("/loop").unwrap())
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(
            names.contains(&format!("f{last}")),
            "round {round}: f{last} committed but missing: {names:?}"
        );
        for e in d.readdir(d.resolve("/loop").unwrap()).unwrap() {
            let i: u64 = e.name[1..].parse().unwrap();
            assert!(
                i + 1 >= last && i <= last + 1,
                "round {round}: stray {}",
                e.name
            );
            let got = contents(&d, e.ino);
            if !got.is_empty() {
                assert_eq!(
                    got,
                    pattern(i, 8 + (i % 5) as usize),
                    "round {round}: {}",
                    e.name
                );
            }
        }
    }
}

//! The engine against an exact model: arbitrary single-threaded sequences
//! of writes, appends, stores through a mapping, reads, truncates, punches,
//! allocations, fsyncs, remounts, background steps (a flusher pass, a
//! folio migration, a compaction, a reclaim pass) and failed allocations
//! and reads inside writes and reads, on three files of one mount, on
//! each build, with the knobs that change the write path's shape (large
//! folios and their maximum order, short copies, iovec segments). With one
//! thread there is nothing to race, so every build must be exact: every
//! read returns what the model holds, and at the end, after an unmount and
//! a remount, every file's size and bytes are the model's. Any difference
//! is a bug of the engine or of this model.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[path = "../scratch.rs"]
mod scratch;
use lockline_engine::disk::{mkfs, MkfsOptions};
use lockline_engine::error::Error;
use lockline_engine::fault;
use lockline_engine::fs::{Fs, MountOptions};
use lockline_engine::mm::compaction::compact_one_inode;
use lockline_engine::mm::migrate::migrate_random_folio;
use lockline_engine::mm::reclaim::shrink_to;
use lockline_engine::writeback::{flush_all, SyncMode};
use lockline_engine::{Build, Knobs};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

const FILES: usize = 3;
/// Offsets and lengths stay under this, so three files never fill the
/// disk: an error is always the engine's, never ENOSPC.
const SPAN: u64 = 256 << 10;
const DISK: u64 = 16 << 20;

#[derive(Arbitrary, Debug)]
enum Op {
    Write {
        file: u8,
        off: u32,
        len: u16,
        byte: u8,
    },
    Append {
        file: u8,
        len: u16,
        byte: u8,
    },
    /// A store through a shared mapping: inside the file only (past EOF a
    /// store is SIGBUS).
    MapWrite {
        file: u8,
        off: u32,
        len: u16,
        byte: u8,
    },
    Read {
        file: u8,
        off: u32,
        len: u16,
    },
    Truncate {
        file: u8,
        size: u32,
    },
    Punch {
        file: u8,
        off: u32,
        len: u32,
    },
    Allocate {
        file: u8,
        off: u32,
        len: u32,
        keep_size: bool,
    },
    Fsync {
        file: u8,
    },
    Flush,
    Migrate {
        seed: u16,
    },
    Remount,
    /// One pass of page reclaim down to `keep` pages of page cache: what a
    /// later read or partial write needs comes back from the disk.
    Reclaim {
        keep: u8,
    },
    /// A compaction step: every movable folio of one inode migrated.
    Compact {
        seed: u16,
    },
    /// A write whose first folio allocation, or first read of a partial
    /// folio, fails: a short write or the error, never other bytes.
    FaultyWrite {
        file: u8,
        off: u32,
        len: u16,
        byte: u8,
        read_fails: bool,
    },
    /// A read whose first folio allocation fails: a short read or ENOMEM.
    FaultyRead {
        file: u8,
        off: u32,
        len: u16,
    },
}

#[derive(Arbitrary, Debug)]
struct Case {
    build: u8,
    large_folios: bool,
    max_folio_order: u8,
    short_copies: bool,
    iov_segments: u8,
    ops: Vec<Op>,
}

fn dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(scratch::dir)
}

fn at(x: u32) -> u64 {
    x as u64 % SPAN
}

struct Under {
    fs: Arc<Fs>,
    inos: [u64; FILES],
}

fn mount(img: &std::path::Path, opts: &MountOptions, create: bool) -> Under {
    let fs = Fs::mount(img, opts.clone()).expect("mount");
    let mut inos = [0; FILES];
    for (i, ino) in inos.iter_mut().enumerate() {
        *ino = fs.open(&format!("/f{i}"), create).expect("open");
    }
    Under { fs, inos }
}

/// pwrite on the model: a write past EOF extends it with zeros first.
fn model_write(m: &mut Vec<u8>, off: u64, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let end = off as usize + bytes.len();
    if m.len() < end {
        m.resize(end, 0);
    }
    m[off as usize..end].copy_from_slice(bytes);
}

/// The model's bytes a read of `len` at `off` must return.
fn wanted(model: &[u8], off: u64, len: usize) -> &[u8] {
    if off as usize >= model.len() {
        &[]
    } else {
        &model[off as usize..model.len().min(off as usize + len)]
    }
}

fn check_read(fs: &Fs, ino: u64, model: &[u8], off: u64, len: usize, what: &str) {
    let mut buf = vec![0xeeu8; len];
    let n = fs.read(ino, off, &mut buf).expect("read");
    let want = wanted(model, off, len);
    assert_eq!(
        n,
        want.len(),
        "{what}: read of {len} at {off} returned {n} bytes"
    );
    check_bytes(&buf[..n], model, off, len, what);
}

/// What a read of `len` at `off` returned (all of it, or a short read's
/// first bytes) against the model's bytes there.
fn check_bytes(got: &[u8], model: &[u8], off: u64, len: usize, what: &str) {
    let want = &wanted(model, off, len)[..got.len()];
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!(
            "{what}: byte {} is {:#x}, the model has {:#x} (read of {len} at {off}, size {})",
            off as usize + i,
            got[i],
            want[i],
            model.len()
        );
    }
}

fuzz_target!(|c: Case| {
    let build = Build::ALL[c.build as usize % Build::ALL.len()];
    let knobs = Knobs {
        large_folios: c.large_folios,
        max_folio_order: c.max_folio_order % 5,
        short_copy_rate: if c.short_copies { 0.2 } else { 0.0 },
        iov_segments: (c.iov_segments % 4) as u32 + 1,
        ..Knobs::quiet()
    };
    let opts = MountOptions {
        build,
        knobs,
        ..MountOptions::default()
    };
    let img = dir().join("engine.img");
    mkfs(
        &img,
        &MkfsOptions {
            size: Some(DISK),
            force: true,
        },
    )
    .expect("mkfs");
    let mut u = mount(&img, &opts, true);
    let mut model: [Vec<u8>; FILES] = Default::default();
    let mut rng = 0x5eed_u64;
    for (n, op) in c.ops.iter().take(64).enumerate() {
        let what = format!("op {n} {op:?} on {build}");
        match *op {
            Op::Write {
                file,
                off,
                len,
                byte,
            } => {
                let (f, off) = (file as usize % FILES, at(off));
                let buf = vec![byte; len as usize % 8192];
                let w = u.fs.write(u.inos[f], off, &buf).expect(&what);
                assert_eq!(w, buf.len(), "{what}: short write");
                model_write(&mut model[f], off, &buf);
            }
            Op::Append { file, len, byte } => {
                let f = file as usize % FILES;
                if model[f].len() as u64 >= SPAN {
                    continue;
                }
                let mut buf = vec![byte; len as usize % 8192];
                let g = u.fs.begin_op();
                let (pos, w) =
                    u.fs.append_in(&g, u.inos[f], &mut buf, &mut |_, _| {})
                        .expect(&what);
                drop(g);
                assert_eq!(
                    pos,
                    model[f].len() as u64,
                    "{what}: appended at the wrong place"
                );
                assert_eq!(w, buf.len(), "{what}: short append");
                model[f].extend_from_slice(&buf);
            }
            Op::MapWrite {
                file,
                off,
                len,
                byte,
            } => {
                let f = file as usize % FILES;
                let size = model[f].len() as u64;
                if size == 0 {
                    continue;
                }
                let off = at(off) % size;
                let len = (len as u64 % 8192).min(size - off) as usize;
                let buf = vec![byte; len];
                let g = u.fs.begin_op();
                let w = u.fs.map_write_in(&g, u.inos[f], off, &buf).expect(&what);
                drop(g);
                assert_eq!(w, len, "{what}: short store");
                model[f][off as usize..off as usize + len].copy_from_slice(&buf);
            }
            Op::Read { file, off, len } => {
                let f = file as usize % FILES;
                check_read(
                    &u.fs,
                    u.inos[f],
                    &model[f],
                    at(off),
                    len as usize % 16384,
                    &what,
                );
            }
            Op::Truncate { file, size } => {
                let (f, size) = (file as usize % FILES, at(size));
                u.fs.truncate(u.inos[f], size).expect(&what);
                model[f].resize(size as usize, 0);
            }
            Op::Punch { file, off, len } => {
                let (f, off) = (file as usize % FILES, at(off));
                let len = at(len).max(1);
                u.fs.punch_hole(u.inos[f], off, len).expect(&what);
                let m = &mut model[f];
                let end = (off + len).min(m.len() as u64) as usize;
                if (off as usize) < end {
                    m[off as usize..end].fill(0);
                }
            }
            Op::Allocate {
                file,
                off,
                len,
                keep_size,
            } => {
                let (f, off) = (file as usize % FILES, at(off));
                let len = at(len).max(1);
                u.fs.fallocate(u.inos[f], off, len, keep_size).expect(&what);
                let m = &mut model[f];
                if !keep_size && m.len() < (off + len) as usize {
                    m.resize((off + len) as usize, 0);
                }
            }
            Op::Fsync { file } => u.fs.fsync(u.inos[file as usize % FILES]).expect(&what),
            Op::Flush => flush_all(&u.fs, SyncMode::None),
            Op::Migrate { seed } => {
                rng ^= seed as u64;
                migrate_random_folio(&u.fs, &mut rng);
            }
            Op::Reclaim { keep } => shrink_to(&u.fs, keep as u64 * 4096),
            Op::Compact { seed } => {
                rng ^= seed as u64;
                compact_one_inode(&u.fs, &mut rng);
            }
            Op::FaultyWrite {
                file,
                off,
                len,
                byte,
                read_fails,
            } => {
                let (f, off) = (file as usize % FILES, at(off));
                let buf = vec![byte; len as usize % 8192];
                if read_fails {
                    fault::fail_next_read();
                } else {
                    fault::fail_next_alloc();
                }
                let r = u.fs.write(u.inos[f], off, &buf);
                fault::cancel_pending();
                let w = match r {
                    Ok(w) => w,
                    Err(Error::ReadError) if read_fails => 0,
                    Err(Error::NoMemory) if !read_fails => 0,
                    Err(e) => panic!("{what}: {e}"),
                };
                assert!(w <= buf.len(), "{what}: wrote {w} bytes");
                if r.is_ok() {
                    assert!(w > 0 || buf.is_empty(), "{what}: wrote 0 bytes, no error");
                }
                model_write(&mut model[f], off, &buf[..w]);
            }
            Op::FaultyRead { file, off, len } => {
                let (f, off, len) = (file as usize % FILES, at(off), len as usize % 16384);
                let mut buf = vec![0xeeu8; len];
                fault::fail_next_alloc();
                let r = u.fs.read(u.inos[f], off, &mut buf);
                fault::cancel_pending();
                let want = wanted(&model[f], off, len);
                match r {
                    Ok(n) => {
                        assert!(n <= want.len(), "{what}: read {n} bytes");
                        assert!(n > 0 || want.is_empty(), "{what}: read 0 bytes, no error");
                        check_bytes(&buf[..n], &model[f], off, len, &what);
                    }
                    Err(Error::NoMemory) => {}
                    Err(e) => panic!("{what}: {e}"),
                }
            }
            Op::Remount => {
                u.fs.unmount().expect(&what);
                drop(u);
                u = mount(&img, &opts, false);
            }
        }
        for (f, m) in model.iter().enumerate() {
            assert_eq!(
                u.fs.size(u.inos[f]).expect("size"),
                m.len() as u64,
                "{what}: file {f}'s size"
            );
        }
    }
    u.fs.unmount().expect("unmount");
    drop(u);
    let u = mount(&img, &opts, false);
    for (f, m) in model.iter().enumerate() {
        assert_eq!(
            u.fs.size(u.inos[f]).expect("size"),
            m.len() as u64,
            "after remount: file {f}'s size"
        );
        check_read(
            &u.fs,
            u.inos[f],
            m,
            0,
            m.len() + 1,
            &format!("after remount: file {f}"),
        );
    }
    u.fs.unmount().expect("unmount");
});

//! Random single-threaded op sequences against the engine and a plain
//! in-memory file, for every build; every read must agree.

mod common;

use common::*;
use lockline_engine::{Build, Knobs};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Write { off: u64, len: usize, tag: u8 },
    Read { off: u64, len: usize },
    Truncate { size: u64 },
    Punch { off: u64, len: u64 },
    Fsync,
    Remount,
}

const SPAN: u64 = 1 << 20;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..SPAN, 1usize..200_000, any::<u8>()).prop_map(|(off, len, tag)| Op::Write { off, len, tag }),
        3 => (0..SPAN + 4096, 1usize..300_000).prop_map(|(off, len)| Op::Read { off, len }),
        1 => (0..SPAN).prop_map(|size| Op::Truncate { size }),
        1 => (0..SPAN, 1..200_000u64).prop_map(|(off, len)| Op::Punch { off, len }),
        1 => Just(Op::Fsync),
        1 => Just(Op::Remount),
    ]
}

fn check(build: Build, order: u8, ops: &[Op]) -> Result<(), TestCaseError> {
    let d = disk(64 << 20);
    let knobs = Knobs {
        max_folio_order: order,
        ..Knobs::quiet()
    };
    let mut fs = mount(&d, build, knobs.clone());
    let mut ino = fs.open("/p", true).unwrap();
    let mut model: Vec<u8> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match *op {
            Op::Write { off, len, tag } => {
                let data = pattern(tag, off, len);
                prop_assert_eq!(fs.write(ino, off, &data).unwrap(), len);
                let end = off as usize + len;
                if model.len() < end {
                    model.resize(end, 0);
                }
                model[off as usize..end].copy_from_slice(&data);
            }
            Op::Read { off, len } => {
                let mut buf = vec![0xaau8; len];
                let n = fs.read(ino, off, &mut buf).unwrap();
                let want: &[u8] = if (off as usize) < model.len() {
                    &model[off as usize..(off as usize + len).min(model.len())]
                } else {
                    &[]
                };
                prop_assert_eq!(n, want.len(), "op {} {:?}: read length", i, op);
                prop_assert!(&buf[..n] == want, "op {} {:?}: read content differs", i, op);
            }
            Op::Truncate { size } => {
                fs.truncate(ino, size).unwrap();
                model.resize(size as usize, 0);
            }
            Op::Punch { off, len } => {
                fs.punch_hole(ino, off, len).unwrap();
                let s = (off as usize).min(model.len());
                let e = ((off + len) as usize).min(model.len());
                model[s..e].fill(0);
            }
            Op::Fsync => fs.fsync(ino).unwrap(),
            Op::Remount => {
                fs.unmount().unwrap();
                drop(fs);
                fs = mount(&d, build, knobs.clone());
                ino = fs.open("/p", false).unwrap();
            }
        }
        prop_assert_eq!(
            fs.size(ino).unwrap(),
            model.len() as u64,
            "op {} {:?}: size",
            i,
            op
        );
    }
    prop_assert!(read_all(&fs, ino) == model, "final content differs");
    fs.unmount().unwrap();
    let r = lockline_engine::disk::fsck(&d.path).unwrap();
    prop_assert!(r.problems.is_empty(), "fsck: {:?}", r.problems);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn locked_matches_model(ops in prop::collection::vec(op(), 1..40), order in 0u8..5) {
        check(Build::Locked, order, &ops)?;
    }

    #[test]
    fn lockless_matches_model(ops in prop::collection::vec(op(), 1..40), order in 0u8..5) {
        check(Build::Lockless, order, &ops)?;
    }

    #[test]
    fn lockless_min_matches_model(ops in prop::collection::vec(op(), 1..40), order in 0u8..5) {
        check(Build::LocklessMin, order, &ops)?;
    }
}

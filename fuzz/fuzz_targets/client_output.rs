//! What `lockline client` reads from real programs (fio, qemu-io,
//! qemu-img, fsx): any text gives a verdict that never counts more
//! failures than it checked, names a first failure exactly when something
//! failed, and names it in one line; fsx's failure line is one line; the
//! first difference of two files is where they really first differ.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use lockline_harness::client_output::{fio, fsx, qemu, Verdict};

#[derive(Arbitrary, Debug)]
struct Input {
    text: String,
    jobs: u8,
    regions: u16,
    exited_ok: bool,
    a: Vec<u8>,
    b: Vec<u8>,
}

fn promises(v: &Verdict) {
    assert!(v.failed <= v.checked, "{} failed of {} checked", v.failed, v.checked);
    assert_eq!(v.first_failure.is_some(), v.failed > 0, "first failure vs failed: {v:?}");
    if let Some(f) = &v.first_failure {
        assert!(!f.is_empty() && !f.contains('\n'), "first failure not one line: {f:?}");
    }
}

fuzz_target!(|i: Input| {
    promises(&fio::verdict("after-run", u32::from(i.jobs), &i.text));
    promises(&qemu::regions_verdict("after-run", "regions", u64::from(i.regions), &i.text));
    promises(&qemu::check_verdict("after-run", &i.text));
    let run = fsx::FsxRun::judge(i.exited_ok, i.text.clone());
    assert_eq!(run.failure.is_some(), !run.ok);
    if let Some(f) = &run.failure {
        assert!(!f.is_empty() && !f.contains('\n'), "fsx failure not one line: {f:?}");
    }
    match fsx::first_difference(&i.a, &i.b) {
        None => assert_eq!(i.a, i.b),
        Some(at) => {
            let at = at as usize;
            assert!(at <= i.a.len().min(i.b.len()));
            assert_eq!(i.a[..at], i.b[..at]);
            assert!(at == i.a.len().min(i.b.len()) || i.a[at] != i.b[at]);
            assert!(i.a != i.b);
        }
    }
});

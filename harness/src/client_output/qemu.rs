//! qemu-io's and qemu-img's words: `read -P` pattern checks of regions,
//! and `qemu-img check`.

use super::{first_words, Verdict};

/// Each region qemu-io writes and reads back is this long.
pub const REGION: u64 = 1 << 20;

/// The verdict on `regions` regions read back with `read -P`: a region
/// fails when qemu-io says its pattern did not match, or when its read
/// did not complete (a read that failed outright verified nothing).
pub fn regions_verdict(check: &str, what: &str, regions: u64, text: &str) -> Verdict {
    let fails: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Pattern verification failed"))
        .collect();
    let done = text.matches(&format!("read {REGION}/{REGION}")).count() as u64;
    // qemu-io says a region's pattern failed once per read: more such
    // lines than regions is not one pass over these regions.
    let failed = (fails.len() as u64)
        .max(regions.saturating_sub(done))
        .min(regions);
    let first_failure = (failed > 0).then(|| {
        fails
            .first()
            .map(|l| l.trim())
            .or_else(|| {
                text.lines()
                    .map(str::trim)
                    .find(|l| l.contains("failed") || l.contains("error"))
            })
            .unwrap_or("a read did not complete")
            .to_string()
    });
    Verdict {
        check: check.into(),
        what: what.into(),
        checked: regions,
        failed,
        first_failure,
    }
}

/// The verdict of `qemu-img check` on one image.
pub fn check_verdict(check: &str, text: &str) -> Verdict {
    let clean = text.contains("No errors were found");
    Verdict {
        check: check.into(),
        what: "qcow2 images (qemu-img check)".into(),
        checked: 1,
        failed: u64::from(!clean),
        first_failure: (!clean).then(|| {
            first_words(text)
                .unwrap_or("qemu-img check said nothing")
                .to_string()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_verdicts_count_mismatches_and_missing_reads() {
        let ok = "read 1048576/1048576 bytes at offset 0\nread 1048576/1048576 bytes at offset 2097152\n";
        let v = regions_verdict("after-run", "r", 2, ok);
        assert_eq!((v.checked, v.failed), (2, 0));
        assert!(v.first_failure.is_none());
        let bad = "Pattern verification failed at offset 2097152, 1048576 bytes\n\
                   read 1048576/1048576 bytes at offset 0\n\
                   read 1048576/1048576 bytes at offset 2097152\n";
        let v = regions_verdict("after-run", "r", 2, bad);
        assert_eq!(v.failed, 1);
        assert!(v.first_failure.unwrap().contains("offset 2097152"));
        // A read that errored out verified nothing.
        let short = "read failed: Input/output error\nread 1048576/1048576 bytes at offset 0\n";
        let v = regions_verdict("after-run", "r", 2, short);
        assert_eq!(v.failed, 1);
        assert!(v.first_failure.unwrap().contains("Input/output"));
        // Found by fuzz/fuzz_targets/client_output.rs: mismatch lines
        // beyond the regions read counted more failures than regions.
        let v = regions_verdict("after-run", "r", 0, "Pattern verification failed\n");
        assert_eq!((v.checked, v.failed, v.first_failure), (0, 0, None));
    }

    #[test]
    fn check_verdict_needs_no_errors_found() {
        assert_eq!(
            check_verdict("c", "No errors were found on the image.").failed,
            0
        );
        let v = check_verdict(
            "c",
            "ERROR cluster 5 refcount=0 reference=1\n1 errors were found",
        );
        assert_eq!(v.failed, 1);
        assert!(v.first_failure.unwrap().contains("refcount"));
        // Found by fuzz/fuzz_targets/client_output.rs: a check that printed
        // only blank lines failed with an empty first failure.
        let v = check_verdict("c", "\n  \n");
        assert_eq!(
            v.first_failure.as_deref(),
            Some("qemu-img check said nothing")
        );
    }
}

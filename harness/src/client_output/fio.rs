//! fio's verify output (`--verify=crc32c`): the lines naming a block that
//! failed verification.

use super::Verdict;

/// Each fio job writes and verifies its own segment of this size...
pub const SEGMENT: u64 = 8 << 20;
/// ...in blocks of this size, each with a verify header.
pub const BLOCK: u64 = 4096;

/// Lines where fio reports a block that failed verification.
fn is_bad(l: &str) -> bool {
    l.contains("verify: bad") || l.contains("verify failed")
}

/// How many lines of fio's output report a bad block.
pub fn bad_blocks(text: &str) -> u64 {
    text.lines().filter(|l| is_bad(l)).count() as u64
}

/// The verdict on `jobs` segments from fio's output. fio reports a bad
/// block once per pass, so more bad lines than blocks means the text is
/// not one pass of fio's: the count stops at the blocks checked.
pub fn verdict(check: &str, jobs: u32, text: &str) -> Verdict {
    let checked = u64::from(jobs) * SEGMENT / BLOCK;
    let failed = bad_blocks(text).min(checked);
    Verdict {
        check: check.into(),
        what: "4 KiB blocks (crc32c)".into(),
        checked,
        failed,
        first_failure: (failed > 0)
            .then(|| {
                text.lines()
                    .find(|l| is_bad(l))
                    .map(|l| l.trim().to_string())
            })
            .flatten(),
    }
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
        let v = verdict("after-remount", 2, text);
        assert_eq!((v.checked, v.failed), (2 * SEGMENT / BLOCK, 2));
        assert!(v.first_failure.unwrap().contains("offset 8192"));
        assert_eq!(bad_blocks("segments: err= 0"), 0);
    }

    /// Found by fuzz/fuzz_targets/client_output.rs: more bad lines than
    /// blocks counted more failures than blocks checked.
    #[test]
    fn failures_never_outnumber_the_blocks_checked() {
        let v = verdict("after-run", 0, "verify failed\n");
        assert_eq!((v.checked, v.failed, v.first_failure), (0, 0, None));
        let v = verdict("after-run", 1, &"verify failed\n".repeat(3000));
        assert_eq!((v.checked, v.failed), (2048, 2048));
    }
}

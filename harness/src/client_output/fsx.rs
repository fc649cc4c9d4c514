//! fsx's words (fsx-rs): whether a run completed, and the line naming
//! its miscompare or error when it did not.

/// What one fsx run said.
#[derive(Clone, Debug)]
pub struct FsxRun {
    pub ok: bool,
    /// The line naming the miscompare or the error, when it failed.
    pub failure: Option<String>,
    pub output: String,
}

impl FsxRun {
    /// fsx's combined output and whether it exited 0: a run is good only
    /// with both its exit status and its own completion line.
    pub fn judge(exited_ok: bool, output: String) -> FsxRun {
        let ok = exited_ok && output.contains("All operations completed A-OK");
        FsxRun {
            ok,
            failure: (!ok).then(|| first_failure(&output)),
            output,
        }
    }
}

/// fsx's own words for what went wrong: its first error line, else the
/// last line it printed.
pub fn first_failure(output: &str) -> String {
    let lines = || output.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find(|l| {
            l.contains("BAD DATA")
                || l.contains("ERROR")
                || l.contains("error")
                || l.contains("panicked")
                || l.contains("Size error")
        })
        .or_else(|| lines().next_back())
        .unwrap_or("fsx failed without output")
        .to_string()
}

/// The first byte where two files' bytes differ, or where one ends.
pub fn first_difference(x: &[u8], y: &[u8]) -> Option<u64> {
    let at = x.iter().zip(y).position(|(p, q)| p != q);
    match at {
        Some(i) => Some(i as u64),
        None if x.len() != y.len() => Some(x.len().min(y.len()) as u64),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsx_failures_are_read_from_its_words() {
        let out = "Using seed 7\n\
            READ BAD DATA: offset = 0x1c000, size = 0x9e56, fname = /m/fsx.7\n\
            OFFSET  GOOD    BAD     RANGE\n";
        assert!(first_failure(out).starts_with("READ BAD DATA: offset = 0x1c000"));
        assert_eq!(first_failure("something\nlast words\n"), "last words");
        assert_eq!(first_failure(""), "fsx failed without output");
        let run = FsxRun::judge(true, "All operations completed A-OK!\n".into());
        assert!(run.ok && run.failure.is_none());
        assert!(!FsxRun::judge(false, "All operations completed A-OK!\n".into()).ok);
    }

    #[test]
    fn files_are_compared_to_the_byte() {
        let a = [1, 2, 3, 4];
        assert_eq!(first_difference(&a, &[1, 2, 3, 4]), None);
        assert_eq!(first_difference(&a, &[1, 2, 9, 4]), Some(2));
        assert_eq!(first_difference(&a, &[1, 2, 3]), Some(3));
    }
}

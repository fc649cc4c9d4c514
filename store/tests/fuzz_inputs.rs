//! The trace reader's fuzz target (fuzz/trace/) replayed on its kept
//! inputs (fuzz/seeds/trace_reader: valid tables; fuzz/regressions/
//! trace_reader: inputs that once found a bug) with the same check, on the
//! stable toolchain: what CI runs of that target, whose own build brings
//! polars under the sanitizer (scripts/fuzz.sh trace_reader SECONDS).

#[path = "../../fuzz/trace/damaged_trace.rs"]
mod damaged_trace;

use arbitrary::{Arbitrary, Unstructured};

#[test]
fn the_kept_inputs_of_the_trace_reader_target_still_pass() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut n = 0;
    for dir in ["seeds/trace_reader", "regressions/trace_reader"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            // As libFuzzer's glue decodes them (fuzz_target! with a type).
            let d = damaged_trace::Damage::arbitrary_take_rest(Unstructured::new(&bytes))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let read = damaged_trace::check(d);
            // A seed is a whole valid table of a real run: it must read.
            assert!(
                read || !dir.starts_with("seeds"),
                "{} did not read",
                path.display()
            );
            n += 1;
        }
    }
    assert!(n > 0, "no kept inputs under {}", root.display());
}

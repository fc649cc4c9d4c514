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

/// polars trusts a data page's count of values: a meta table whose page
/// claims -2 made a release build reserve 2^61 bytes for validity and abort
/// (exit 134) in about one read in three, as its columns decode in
/// parallel. The header check refuses it before polars decodes anything,
/// so the error names the page, in every build.
#[test]
fn a_page_claiming_negative_values_is_refused_before_polars_decodes_it() {
    let input = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions/trace_reader/validity-claims-2-61-bytes");
    let bytes = std::fs::read(&input).unwrap();
    // The target's encoding: table 6 (meta), no cut, no edits, then the
    // whole table.
    assert_eq!(&bytes[..3], &[6, 0, 0]);
    let dir = tempfile::tempdir().unwrap();
    let trace = lockline_analysis::synth::generate(200, 2, 1);
    lockline_store::write(dir.path(), &trace).unwrap();
    std::fs::write(dir.path().join("meta.parquet"), &bytes[3..]).unwrap();
    let e = lockline_store::read(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("column build: a data page claims -2 values"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
}

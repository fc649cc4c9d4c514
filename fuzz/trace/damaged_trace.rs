//! A damaged trace directory: a small valid trace (written once), one of
//! its Parquet tables with bytes changed, cut short or replaced where the
//! input says. Reading it must give the trace or an error of one line,
//! never a panic the reader does not contain (polars' own panics are
//! contained and reported as a corrupt file: `store::files::read_columns`);
//! a trace that reads must also analyse and export without a panic, since
//! that is what `lockline analyze` and `export` do next.
//!
//! Shared by the fuzz target (`fuzz_targets/trace_reader.rs`) and the
//! store's test that replays the kept inputs on stable
//! (`store/tests/fuzz_inputs.rs`), which is what CI runs: this target's
//! build brings polars under the sanitizer (15 minutes on 2 cores).

use arbitrary::{Arbitrary, Unstructured};

#[path = "../scratch.rs"]
mod scratch;
use lockline_analysis::chrome::ChromeOptions;
use lockline_analysis::report::{analyze, AnalyzeOptions};
use lockline_store::TABLES;
use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Debug)]
pub struct Damage {
    /// Which table (index into `TABLES`, wrapping).
    table: u8,
    /// Cut the file to this many bytes (wrapping at its length) first.
    cut: Option<u32>,
    /// (offset, xor mask) pairs; offsets wrap at the file's length.
    edits: Vec<(u32, u8)>,
    /// Replaces the file outright when not empty: the rest of the input,
    /// as is (a seed holds a whole table this way, for libFuzzer to mutate
    /// as Parquet rather than as arbitrary's encoding of a byte list).
    whole: Vec<u8>,
}

impl<'a> Arbitrary<'a> for Damage {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Damage {
            table: u.arbitrary()?,
            cut: u.arbitrary()?,
            edits: u.arbitrary()?,
            whole: u.bytes(u.len())?.to_vec(),
        })
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> arbitrary::Result<Self> {
        Self::arbitrary(&mut u)
    }
}

struct Template {
    dir: PathBuf,
    /// Each table's valid bytes, in `TABLES` order.
    tables: Vec<Vec<u8>>,
}

fn template() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(|| {
        let dir = scratch::dir();
        let valid = dir.join("valid");
        // Violations and counters too, so each table has rows to damage.
        let trace = lockline_analysis::synth::generate(400, 3, 7);
        lockline_store::write(&valid, &trace).expect("write the template trace");
        let tables = TABLES
            .iter()
            .map(|t| std::fs::read(valid.join(format!("{t}.parquet"))).expect("read a table"))
            .collect();
        let trace_dir = dir.join("damaged");
        lockline_store::write(&trace_dir, &trace).expect("write the working trace");
        Template {
            dir: trace_dir,
            tables,
        }
    })
}

/// Reads the trace with `d`'s damage; panics when a promise is broken.
/// Whether the trace read.
pub fn check(d: Damage) -> bool {
    let t = template();
    let i = d.table as usize % TABLES.len();
    let mut bytes = if d.whole.is_empty() {
        t.tables[i].clone()
    } else {
        d.whole
    };
    if let Some(cut) = d.cut {
        bytes.truncate(cut as usize % (bytes.len() + 1));
    }
    if !bytes.is_empty() {
        for (off, mask) in &d.edits {
            let at = *off as usize % bytes.len();
            bytes[at] ^= mask;
        }
    }
    let path = t.dir.join(format!("{}.parquet", TABLES[i]));
    std::fs::write(&path, &bytes).expect("write the damaged table");
    let read = lockline_store::read(&t.dir);
    std::fs::write(&path, &t.tables[i]).expect("restore the table");
    match read {
        Err(e) => {
            let line = e.to_string();
            assert!(
                !line.contains('\n'),
                "a read error of more than one line: {line:?}"
            );
            false
        }
        Ok(trace) => {
            let a = analyze(&trace, &AnalyzeOptions::default());
            let _ = a.text();
            let opts = ChromeOptions::default();
            lockline_analysis::perfetto::write(&trace, std::io::sink(), &opts)
                .expect("perfetto to a sink");
            lockline_analysis::chrome::write(&trace, std::io::sink(), &opts)
                .expect("chrome to a sink");
            true
        }
    }
}

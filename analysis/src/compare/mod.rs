//! `lockline compare`'s pure parts: the statistics, a repetition reduced
//! from its trace, the comparison of columns against a baseline, and its
//! table. The command (src/cmd/compare.rs) runs the repetitions.

pub mod model;
pub mod sample;
pub mod stats;
pub mod table;

pub use model::{Column, Comparison, Kind, Setup};
pub use sample::{RepBuilder, RepSample, RunFacts};

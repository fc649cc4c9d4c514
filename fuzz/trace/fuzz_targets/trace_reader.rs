//! A damaged trace directory read, analysed and exported: see
//! `../damaged_trace.rs`.

#![no_main]

#[path = "../damaged_trace.rs"]
mod damaged_trace;

libfuzzer_sys::fuzz_target!(|d: damaged_trace::Damage| {
    damaged_trace::check(d);
});

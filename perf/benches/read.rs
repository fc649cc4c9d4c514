//! What one sample costs: reading a thread's counter groups (one read(2)
//! per group) against the anchor of an empty syscall (getppid).

use lockline_perf::ThreadCounters;
use std::collections::BTreeSet;
use std::time::Instant;

fn per_call_ns(n: u32, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / n as f64);
    }
    best
}

fn main() {
    let mut notes = BTreeSet::new();
    let mut c = ThreadCounters::open(&mut notes);
    if !c.has_software() {
        println!("perf counters unavailable here: {notes:?}");
        return;
    }
    let n = 200_000;
    // SAFETY: getppid has no preconditions.
    let empty = per_call_ns(n, || unsafe {
        std::hint::black_box(libc::getppid());
    });
    let read = per_call_ns(n, || {
        std::hint::black_box(c.read());
    });
    println!("empty syscall (getppid)      {empty:8.0} ns");
    println!(
        "ThreadCounters::read         {read:8.0} ns  ({:.1}x)",
        read / empty
    );
    println!("notes: {notes:?}");
}

//! Models the kernel's fault injection for the buffered write path:
//! fail_page_alloc (a folio allocation that fails, or a large one that
//! falls back to smaller orders, as __filemap_get_folio does under
//! fragmentation) and fail_make_request (a read that returns -EIO to
//! bch2_read_single_folio).
//!
//! Every choice is drawn from the calling thread's stream, seeded per write
//! from (seed, position, length), so a seeded run makes the same choices
//! again. A test can also ask for exactly one failure on its own thread
//! (`fail_next_alloc`, `fail_next_read`) to drive a schedule.

use std::cell::Cell;

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
    static FAIL_ALLOC: Cell<bool> = const { Cell::new(false) };
    static FAIL_READ: Cell<bool> = const { Cell::new(false) };
}

/// splitmix64: small, good enough, and deterministic from a seed.
pub fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e3779b97f4a7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

/// Seeds this thread's injection stream for one write.
pub(crate) fn seed_for_write(seed: u64, pos: u64, len: u64) {
    let mut s = seed ^ pos.rotate_left(17) ^ len.rotate_left(41);
    let v = splitmix64(&mut s);
    RNG.with(|r| r.set(v));
}

/// The next number of this thread's stream.
pub(crate) fn next_random() -> u64 {
    RNG.with(|r| {
        let mut s = r.get();
        let v = splitmix64(&mut s);
        r.set(s);
        v
    })
}

/// True with probability `rate` (never for 0, without drawing).
pub(crate) fn chance(rate: f64) -> bool {
    rate > 0.0 && (next_random() >> 11) as f64 / (1u64 << 53) as f64 <= rate
}

/// The next folio allocation on this thread fails, whatever the rates.
pub fn fail_next_alloc() {
    FAIL_ALLOC.with(|f| f.set(true));
}

/// The next single-folio read on this thread returns -EIO.
pub fn fail_next_read() {
    FAIL_READ.with(|f| f.set(true));
}

/// Forgets this thread's one-shot failures that nothing took (an op that
/// found its folios cached never allocated or read), so they cannot fail
/// a later, unrelated op.
pub fn cancel_pending() {
    FAIL_ALLOC.with(|f| f.set(false));
    FAIL_READ.with(|f| f.set(false));
}

/// Does this allocation fail? (fail_page_alloc)
pub(crate) fn alloc_fails(rate: f64) -> bool {
    FAIL_ALLOC.with(|f| f.replace(false)) || chance(rate)
}

/// Does this read fail? (fail_make_request on the read)
pub(crate) fn read_fails(rate: f64) -> bool {
    FAIL_READ.with(|f| f.replace(false)) || chance(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_streams_repeat() {
        seed_for_write(3, 4096, 8192);
        let a: Vec<u64> = (0..4).map(|_| next_random()).collect();
        seed_for_write(3, 4096, 8192);
        let b: Vec<u64> = (0..4).map(|_| next_random()).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn rates_and_one_shot_failures() {
        seed_for_write(1, 0, 1);
        assert!(!(0..1000).any(|_| alloc_fails(0.0)));
        let n = (0..10_000).filter(|_| alloc_fails(0.1)).count();
        assert!((800..1200).contains(&n), "{n}");
        fail_next_alloc();
        assert!(alloc_fails(0.0));
        assert!(!alloc_fails(0.0));
        fail_next_read();
        assert!(read_fails(0.0));
        assert!(!read_fails(0.0));
    }
}

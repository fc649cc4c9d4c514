//! The copy from the caller's buffer: models copy_folio_from_iter_atomic()
//! with page faults disabled, where a copy may stop short at a user page
//! that is not resident.
//!
//! Userspace has no "fault disabled" copy, so shortness is injected: with
//! probability `short_copy_rate` the copy stops at a page boundary of the
//! source buffer, the way a non-resident user page stops the kernel's copy.
//! The choice is a pure function of (seed, position, length, attempt), so a
//! seeded run makes the same choices again.

use crate::config::PAGE_SIZE;
use crate::folio::Folio;
use crate::probe::points;
use std::cell::Cell;

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
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
pub fn seed_for_write(seed: u64, pos: u64, len: u64) {
    let mut s = seed ^ pos.rotate_left(17) ^ len.rotate_left(41);
    let v = splitmix64(&mut s);
    RNG.with(|r| r.set(v));
}

fn next_random() -> u64 {
    RNG.with(|r| {
        let mut s = r.get();
        let v = splitmix64(&mut s);
        r.set(s);
        v
    })
}

/// Copies up to `src.len()` bytes into `folio` at `offset`; returns how many
/// were copied, possibly fewer (a short copy) when injection says so.
pub fn copy_folio_from_iter_atomic(folio: &Folio, offset: usize, src: &[u8], rate: f64) -> usize {
    let mut n = src.len();
    if rate > 0.0 && n > 0 && (next_random() >> 11) as f64 / (1u64 << 53) as f64 <= rate {
        // Page boundaries of the source buffer inside (0, n): the copy can
        // only stop where the next user page begins; 0 is always possible.
        let first = (PAGE_SIZE as usize - (src.as_ptr() as usize % PAGE_SIZE as usize))
            % PAGE_SIZE as usize;
        let nr = if first == 0 || first >= n {
            0
        } else {
            (n - first - 1) / PAGE_SIZE as usize + 1
        };
        let pick = next_random() as usize % (nr + 1);
        let stop = if pick == 0 {
            0
        } else {
            first + (pick - 1) * PAGE_SIZE as usize
        };
        points::short_copy(folio.ino, folio.index, folio.id, n as u64, stop as u64);
        n = stop;
    }
    folio.copy_in(offset, &src[..n]);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_injection_copies_everything() {
        let f = Folio::new(1, 0, 1);
        f.lock();
        let src = vec![9u8; 5000];
        assert_eq!(copy_folio_from_iter_atomic(&f, 100, &src, 0.0), 5000);
        f.unlock();
    }

    #[test]
    fn short_copies_stop_at_source_page_boundaries() {
        let f = Folio::new(1, 0, 4);
        f.lock();
        let buf = vec![1u8; 70000];
        let src = &buf[123..60000];
        let mut shorts = 0;
        for i in 0..200 {
            seed_for_write(7, i, 1);
            let n = copy_folio_from_iter_atomic(&f, 0, src, 1.0);
            assert!(n < src.len());
            if n > 0 {
                assert_eq!((src.as_ptr() as usize + n) % 4096, 0, "stopped mid-page");
                shorts += 1;
            }
        }
        assert!(shorts > 100, "most short copies copy something");
        // Same seed, same choice.
        seed_for_write(7, 3, 1);
        let a = copy_folio_from_iter_atomic(&f, 0, src, 1.0);
        seed_for_write(7, 3, 1);
        assert_eq!(copy_folio_from_iter_atomic(&f, 0, src, 1.0), a);
        f.unlock();
    }
}

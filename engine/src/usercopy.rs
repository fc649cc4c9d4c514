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

use crate::fault::{chance, next_random};
pub use crate::fault::{seed_for_write, splitmix64};

/// Copies up to `src.len()` bytes into `folio` at `offset`; returns how many
/// were copied, possibly fewer (a short copy) when injection says so.
pub fn copy_folio_from_iter_atomic(folio: &Folio, offset: usize, src: &[u8], rate: f64) -> usize {
    let mut n = src.len();
    if n > 0 && chance(rate) {
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

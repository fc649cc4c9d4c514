//! The pagecache add/block lock: models two_state_shared_lock.h and
//! bch2_pagecache_add_get/put, bch2_pagecache_block_get/put (fs.h).
//!
//! One signed counter: positive while "add" holders (buffered write, read,
//! fault) hold it, negative while "block" holders (truncate, fallocate,
//! direct IO) hold it. Each side shares with itself and excludes the other.
//! There is no fairness: a steady stream of adders can starve a blocker, as
//! in the kernel.

use super::acquire_traced;
use crate::probe::points;
use crate::probe::{LockClass, LockMode, NO_FID, NO_FOLIO};
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Add,
    Block,
}

impl Side {
    fn class(self) -> LockClass {
        match self {
            Side::Add => LockClass::PagecacheAdd,
            Side::Block => LockClass::PagecacheBlock,
        }
    }
    fn step(self) -> i64 {
        match self {
            Side::Add => 1,
            Side::Block => -1,
        }
    }
}

pub(crate) struct TwoStateLock {
    v: AtomicI64,
    waiters: AtomicU32,
    m: Mutex<()>,
    cv: Condvar,
    ino: u64,
}

impl TwoStateLock {
    pub(crate) fn new(ino: u64) -> Self {
        TwoStateLock {
            v: AtomicI64::new(0),
            waiters: AtomicU32::new(0),
            m: Mutex::new(()),
            cv: Condvar::new(),
            ino,
        }
    }

    /// bch2_two_state_trylock()
    fn try_lock(&self, side: Side) -> bool {
        let step = side.step();
        let mut cur = self.v.load(Ordering::Relaxed);
        loop {
            // Held by the other side.
            if cur != 0 && cur.signum() != step {
                return false;
            }
            match self
                .v
                .compare_exchange_weak(cur, cur + step, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(v) => cur = v,
            }
        }
    }

    fn lock_slow(&self, side: Side) {
        let mut g = self.m.lock();
        loop {
            // Register as a waiter before retrying so a releaser that drops
            // the count to zero after our failed try is sure to see us.
            self.waiters.fetch_add(1, Ordering::SeqCst);
            if self.try_lock(side) {
                self.waiters.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            self.cv.wait(&mut g);
            self.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// bch2_two_state_lock(): bch2_pagecache_add_get / bch2_pagecache_block_get
    pub(crate) fn lock(&self, side: Side) {
        let mode = LockMode::Shared;
        acquire_traced(
            side.class(),
            mode,
            self.ino,
            NO_FOLIO,
            NO_FID,
            || self.try_lock(side),
            || self.lock_slow(side),
        );
    }

    /// bch2_two_state_unlock(): bch2_pagecache_add_put / bch2_pagecache_block_put
    pub(crate) fn unlock(&self, side: Side) {
        points::lock_released(side.class(), LockMode::Shared, self.ino, NO_FOLIO, NO_FID);
        let prev = self.v.fetch_sub(side.step(), Ordering::SeqCst);
        debug_assert!(
            prev != 0 && prev.signum() == side.step(),
            "unlock of {side:?} not held"
        );
        if prev == side.step() && self.waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.m.lock();
            self.cv.notify_all();
        }
    }

    /// Current holders: positive = add holders, negative = block holders.
    #[cfg(test)]
    fn state(&self) -> i64 {
        self.v.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn same_side_shares_other_side_excludes() {
        let l = TwoStateLock::new(1);
        l.lock(Side::Add);
        l.lock(Side::Add);
        assert_eq!(l.state(), 2);
        assert!(!l.try_lock(Side::Block));
        l.unlock(Side::Add);
        assert!(!l.try_lock(Side::Block));
        l.unlock(Side::Add);
        assert!(l.try_lock(Side::Block));
        assert!(l.try_lock(Side::Block));
        assert_eq!(l.state(), -2);
        assert!(!l.try_lock(Side::Add));
        l.unlock(Side::Block);
        l.unlock(Side::Block);
        assert_eq!(l.state(), 0);
    }

    #[test]
    fn blocker_waits_for_all_adders_then_wakes() {
        let l = Arc::new(TwoStateLock::new(1));
        l.lock(Side::Add);
        l.lock(Side::Add);
        let got = Arc::new(AtomicBool::new(false));
        let h = {
            let (l, got) = (l.clone(), got.clone());
            std::thread::spawn(move || {
                l.lock(Side::Block);
                got.store(true, Ordering::SeqCst);
                l.unlock(Side::Block);
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!got.load(Ordering::SeqCst));
        l.unlock(Side::Add);
        std::thread::sleep(Duration::from_millis(50));
        assert!(!got.load(Ordering::SeqCst), "one adder still holds it");
        l.unlock(Side::Add);
        h.join().unwrap();
        assert!(got.load(Ordering::SeqCst));
        assert_eq!(l.state(), 0);
    }

    #[test]
    fn many_waiters_of_both_sides_all_make_progress() {
        let l = Arc::new(TwoStateLock::new(1));
        let inside = Arc::new(AtomicI64::new(0));
        let hs: Vec<_> = (0..8)
            .map(|t| {
                let (l, inside) = (l.clone(), inside.clone());
                std::thread::spawn(move || {
                    let side = if t % 2 == 0 { Side::Add } else { Side::Block };
                    for _ in 0..2000 {
                        l.lock(side);
                        let v = inside.fetch_add(side.step(), Ordering::SeqCst) + side.step();
                        assert!(v.signum() == side.step(), "both sides inside at once");
                        inside.fetch_sub(side.step(), Ordering::SeqCst);
                        l.unlock(side);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(l.state(), 0);
    }
}

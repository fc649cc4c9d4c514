//! i_size and the i_lock spinlock around its updates: models i_size_read,
//! i_size_write and spin_lock(&inode->v.i_lock).
//!
//! Readers never take i_lock (i_size_read is a plain load on 64-bit), which
//! is exactly why the lockless write path can read a stale i_size.

use super::acquire_traced;
use crate::probe::points;
use crate::probe::{LockClass, LockMode, NO_FID, NO_FOLIO};
use parking_lot::lock_api::RawMutex as _;
use parking_lot::RawMutex;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) struct ISize {
    i_lock: RawMutex,
    size: AtomicU64,
    ino: u64,
}

/// Holding i_lock; dropping releases it.
pub(crate) struct ILockGuard<'a> {
    s: &'a ISize,
}

impl ISize {
    pub(crate) fn new(ino: u64, size: u64) -> Self {
        ISize {
            i_lock: RawMutex::INIT,
            size: AtomicU64::new(size),
            ino,
        }
    }

    /// i_size_read()
    #[inline]
    pub(crate) fn read(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// spin_lock(&inode->v.i_lock)
    pub(crate) fn lock(&self) -> ILockGuard<'_> {
        acquire_traced(
            LockClass::ILock,
            LockMode::Exclusive,
            self.ino,
            NO_FOLIO,
            NO_FID,
            || self.i_lock.try_lock(),
            || self.i_lock.lock(),
        );
        ILockGuard { s: self }
    }
}

impl ILockGuard<'_> {
    /// i_size_write(): only under i_lock.
    pub(crate) fn write(&self, new: u64) {
        let old = self.s.size.swap(new, Ordering::Release);
        if old != new {
            points::isize_changed(self.s.ino, old, new);
        }
    }

    pub(crate) fn read(&self) -> u64 {
        self.s.read()
    }
}

impl Drop for ILockGuard<'_> {
    fn drop(&mut self) {
        points::lock_released(
            LockClass::ILock,
            LockMode::Exclusive,
            self.s.ino,
            NO_FOLIO,
            NO_FID,
        );
        // SAFETY: the guard exists only while i_lock is held.
        unsafe { self.s.i_lock.unlock() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_under_lock_is_seen_by_readers() {
        let s = ISize::new(3, 10);
        {
            let g = s.lock();
            assert_eq!(g.read(), 10);
            g.write(4096);
        }
        assert_eq!(s.read(), 4096);
        assert!(s.i_lock.try_lock());
        unsafe { s.i_lock.unlock() };
    }
}

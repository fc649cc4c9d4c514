//! The inode lock: models inode_lock()/inode_unlock() on i_rwsem.
//!
//! Guard-less on purpose: the write path takes the inode lock in one place
//! and drops it in another (the lockless path's get_inode_lock restart), as
//! the kernel does.

use super::acquire_traced;
use crate::probe::points;
use crate::probe::{LockClass, LockMode, NO_FID, NO_FOLIO};
use parking_lot::lock_api::RawRwLock as _;
use parking_lot::RawRwLock;

pub struct InodeLock {
    raw: RawRwLock,
    ino: u64,
}

impl InodeLock {
    pub fn new(ino: u64) -> Self {
        InodeLock {
            raw: RawRwLock::INIT,
            ino,
        }
    }

    /// inode_lock()
    pub fn lock(&self) {
        acquire_traced(
            LockClass::Inode,
            LockMode::Exclusive,
            self.ino,
            NO_FOLIO,
            NO_FID,
            || self.raw.try_lock_exclusive(),
            || self.raw.lock_exclusive(),
        );
    }

    /// inode_unlock(); the caller must hold the lock exclusively.
    pub fn unlock(&self) {
        points::lock_released(
            LockClass::Inode,
            LockMode::Exclusive,
            self.ino,
            NO_FOLIO,
            NO_FID,
        );
        // SAFETY: callers pair this with lock(), as inode_unlock requires.
        unsafe { self.raw.unlock_exclusive() };
    }

    /// inode_lock_shared()
    #[cfg(test)]
    fn lock_shared(&self) {
        acquire_traced(
            LockClass::Inode,
            LockMode::Shared,
            self.ino,
            NO_FOLIO,
            NO_FID,
            || self.raw.try_lock_shared(),
            || self.raw.lock_shared(),
        );
    }

    #[cfg(test)]
    fn unlock_shared(&self) {
        points::lock_released(
            LockClass::Inode,
            LockMode::Shared,
            self.ino,
            NO_FOLIO,
            NO_FID,
        );
        // SAFETY: paired with lock_shared().
        unsafe { self.raw.unlock_shared() };
    }

    #[cfg(test)]
    fn is_locked_exclusive(&self) -> bool {
        self.raw.is_locked_exclusive()
    }

    /// Exclusive hold for the duration of a scope.
    pub(crate) fn guard(&self) -> InodeLockGuard<'_> {
        self.lock();
        InodeLockGuard(self)
    }
}

pub(crate) struct InodeLockGuard<'a>(&'a InodeLock);

impl Drop for InodeLockGuard<'_> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn exclusive_excludes_shared() {
        let l = Arc::new(InodeLock::new(1));
        l.lock();
        assert!(!l.raw.try_lock_shared());
        l.unlock();
        l.lock_shared();
        l.lock_shared();
        assert!(!l.raw.try_lock_exclusive());
        l.unlock_shared();
        l.unlock_shared();
        let _g = l.guard();
        assert!(l.is_locked_exclusive());
    }
}

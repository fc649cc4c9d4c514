//! The scenarios' one mechanism: a thread held at an event of its own
//! until another thread reaches an event of its own (or 5 s pass), through
//! the probe hook. The caller starts the second thread once the first is
//! held, so the interleaving is the one the scenario names every time.

use lockline_engine::probe::points::{set_hook, Hook};
use lockline_engine::probe::Event;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long either side waits for the other before the scenario goes on
/// without its schedule (`reached` says so).
const PATIENCE: Duration = Duration::from_secs(5);

pub(crate) struct Hold {
    /// The thread held (its kernel tid, once it has one).
    pub held_tid: AtomicU32,
    /// The thread whose event releases it.
    pub other_tid: AtomicU32,
    held_at: fn(&Event) -> bool,
    until: fn(&Event) -> bool,
    /// (the held thread is held, the other reached its event)
    state: Mutex<(bool, bool)>,
    cv: Condvar,
    reached: Mutex<bool>,
}

impl Hold {
    /// Holds the thread `held_tid` at an event `held_at` matches until the
    /// thread `other_tid` emits one `until` matches (a later match of
    /// `held_at` passes at once). Installs itself as the process's probe
    /// hook until [`Hold::release`].
    pub fn install(held_at: fn(&Event) -> bool, until: fn(&Event) -> bool) -> Arc<Hold> {
        let h = Arc::new(Hold {
            held_tid: AtomicU32::new(0),
            other_tid: AtomicU32::new(0),
            held_at,
            until,
            state: Mutex::new((false, false)),
            cv: Condvar::new(),
            reached: Mutex::new(false),
        });
        let hook: Hook = {
            let h = h.clone();
            Arc::new(move |ev| h.on_event(ev))
        };
        set_hook(Some(hook));
        h
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (bool, bool)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn on_event(&self, ev: &Event) {
        if ev.tid == self.held_tid.load(Ordering::SeqCst) && (self.held_at)(ev) {
            let mut g = self.lock();
            g.0 = true;
            self.cv.notify_all();
            let (g, to) = self
                .cv
                .wait_timeout_while(g, PATIENCE, |s| !s.1)
                .unwrap_or_else(|p| p.into_inner());
            *self.reached.lock().unwrap_or_else(|p| p.into_inner()) = !to.timed_out() && g.1;
        }
        if ev.tid == self.other_tid.load(Ordering::SeqCst) && (self.until)(ev) {
            self.lock().1 = true;
            self.cv.notify_all();
        }
    }

    /// Waits until the held thread is held (at most 5 s).
    pub fn wait_held(&self) {
        let g = self.lock();
        let _ = self.cv.wait_timeout_while(g, PATIENCE, |s| !s.0);
    }

    /// Removes the hook; returns whether the schedule happened: the held
    /// thread was held until the other thread's event.
    pub fn release(&self) -> bool {
        set_hook(None);
        *self.reached.lock().unwrap_or_else(|p| p.into_inner())
    }
}

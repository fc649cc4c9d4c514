//! The controlled scheduler: the engine's threads of one schedule run one
//! at a time, and the thread that runs next is chosen only at a probe point
//! (every lock wait/acquire, folio change, i_size change, op boundary) or
//! where a thread would sleep (a lock held by another, a folio under
//! writeback, migration's pass pause). CHESS and loom do the same to whole
//! programs; here the probe points are the yield points.
//!
//! A thread that would sleep on a lock is parked here instead, on the
//! lock's key, and becomes runnable again when an event releases that key;
//! it then retries the lock, so no controlled thread ever sleeps in the OS
//! while holding the right to run. A release event fires before the OS
//! unlock, so the releasing thread never yields there.
//!
//! The order of events is then a function of the strategy's choices alone:
//! the hook sees every event on the running thread, in order, and keeps it.

use super::strategy::Strategy;
use lockline_engine::probe::yield_point::{self, Scheduler, WaitKey};
use lockline_engine::probe::{Event, EventKind, LockClass, MmAction};
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The unwind payload of a thread whose schedule was abandoned.
pub struct Aborted;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Why {
    Event,
    BeforeLock(LockClass),
    Pause,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Run {
    Runnable,
    Blocked(WaitKey),
    Done,
}

/// Why a thread is at a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// A probe point, a lock about to be tried, or a pause: it could go on.
    Yield(Why),
    /// It would sleep until the key is released.
    Block(WaitKey),
    /// It finished.
    Exit,
}

/// One decision where the thread chosen differs from the default policy
/// (go on while you can; when you cannot, the next runnable thread in
/// index order): the whole schedule, given the default. A switch is
/// anchored to the thread at the decision and that thread's own count of
/// decision points, not to the global step, so it still means the same
/// place when a minimizer removes other threads' work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Switch {
    /// The thread at the decision (None: the first decision, nobody ran).
    pub from: Option<usize>,
    /// The round op it is in (by its place in the round), if any.
    pub op: Option<u32>,
    /// Its decision points in that op (or before its first) before this one.
    pub point: u64,
    pub to: usize,
}

/// What a strategy is told at a decision.
pub struct Decision {
    /// Decisions with a choice so far (the strategies' clock).
    pub step: u64,
    pub me: Option<usize>,
    /// The round op `me` is in, and its decision points in it before this.
    pub op: Option<u32>,
    pub point: u64,
    /// `me`, if it could go on.
    pub cur: Option<usize>,
    /// What the default policy runs.
    pub default: usize,
}

/// A switch as a developer reads it: who stopped where, who went on.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SwitchAt {
    pub step: u64,
    /// Whether the strategy chose this (else the thread blocked or ended).
    pub preempted: bool,
    /// The thread that stopped, where it stopped, and the round op it was
    /// in.
    pub from: Option<usize>,
    pub at: String,
    pub op: Option<u32>,
    pub to: usize,
}

struct State {
    threads: Vec<Run>,
    running: Option<usize>,
    strategy: Box<dyn Strategy>,
    step: u64,
    switches: Vec<Switch>,
    readable: Vec<SwitchAt>,
    events: Vec<Event>,
    /// The last event each thread emitted, for readable switches.
    last: Vec<Option<Event>>,
    /// Folio locks each thread holds.
    folios_held: Vec<i64>,
    /// The round op each thread is in, and its decision points in it.
    in_op: Vec<Option<u32>>,
    points: Vec<u64>,
    /// Events seen when every thread was last found blocked and all were
    /// let retry: no event since then means a deadlock.
    forced_at: Option<usize>,
    /// Control was given up (a thread sleeping where the scheduler cannot
    /// see): threads run free from then on.
    free: Option<String>,
    /// The schedule is abandoned (a deadlock): every thread unwinds from
    /// its next wait with [`Aborted`].
    abort: Option<String>,
    started: bool,
    progress_at: Instant,
}

pub struct Sched {
    st: Mutex<State>,
    turn: Vec<Condvar>,
    done: Condvar,
}

thread_local! {
    static CTL: RefCell<Option<(Arc<Sched>, usize)>> = const { RefCell::new(None) };
}

/// The explorer as the model's yield-point hook: each call is about the
/// calling thread, found through `CTL`.
struct Hook;

static HOOK: Hook = Hook;

impl Scheduler for Hook {
    fn controlled(&self) -> bool {
        CTL.with(|c| c.borrow().is_some())
    }

    /// A decision point before a lock is tried: where a preemption lets
    /// another thread take the lock first. For folio locks only the first
    /// of a batch is a point (the thread holds no folio lock yet): a pass
    /// takes the rest in index order right after it, and a point at each
    /// would multiply the decisions by the folios of a large write without
    /// a new way to interleave. A contended folio lock still parks its
    /// thread.
    fn before_lock(&self, class: LockClass) {
        let Some((s, me)) = current() else { return };
        if class == LockClass::Folio && s.st.lock().folios_held[me] > 0 {
            return;
        }
        s.decide_and_wait(me, At::Yield(Why::BeforeLock(class)));
    }

    /// Parks the calling thread until an event releases `key` and the
    /// strategy picks it.
    fn block(&self, key: WaitKey) -> bool {
        let Some((s, me)) = current() else {
            return false;
        };
        s.decide_and_wait(me, At::Block(key))
    }

    /// Migration's wait between passes, as a decision point.
    fn pause(&self) -> bool {
        let Some((s, me)) = current() else {
            return false;
        };
        s.decide_and_wait(me, At::Yield(Why::Pause));
        true
    }
}

/// The events after which another thread may run: what a thread did that
/// others can see without taking a lock it holds (i_size, writeback, a
/// short copy, a restart, an mm action, an op starting). Lock events are
/// not: a thread is preempted before it tries a lock instead
/// (`before_lock`), or parks when it waits.
fn is_point(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::IsizeChanged
            | EventKind::FolioWritebackStart
            | EventKind::FolioWritebackIo
            | EventKind::ShortCopy
            | EventKind::WriteRestart
            | EventKind::MmAction
            | EventKind::OpBegin
    )
}

fn current() -> Option<(Arc<Sched>, usize)> {
    CTL.with(|c| c.borrow().clone())
}

/// The calling thread starts op `i` of the round: its decision points are
/// counted from here, so a switch inside the op keeps its place when a
/// minimizer drops other ops.
pub fn round_op(i: u32) {
    if let Some((s, me)) = current() {
        let mut g = s.st.lock();
        g.in_op[me] = Some(i);
        g.points[me] = 0;
    }
}

impl Sched {
    pub fn new(actors: usize, strategy: Box<dyn Strategy>) -> Arc<Sched> {
        yield_point::activate(&HOOK);
        Arc::new(Sched {
            st: Mutex::new(State {
                threads: vec![Run::Runnable; actors],
                running: None,
                strategy,
                step: 0,
                switches: Vec::new(),
                readable: Vec::new(),
                events: Vec::new(),
                last: vec![None; actors],
                folios_held: vec![0; actors],
                in_op: vec![None; actors],
                points: vec![0; actors],
                forced_at: None,
                free: None,
                abort: None,
                started: false,
                progress_at: Instant::now(),
            }),
            turn: (0..actors).map(|_| Condvar::new()).collect(),
            done: Condvar::new(),
        })
    }

    /// Called by the probe hook for every event on every thread.
    pub fn on_event(self: &Arc<Self>, ev: &Event) {
        let me = CTL.with(|c| c.borrow().as_ref().map(|(_, i)| *i));
        let mut g = self.st.lock();
        g.events.push(*ev);
        g.progress_at = Instant::now();
        if let Some(k) = WaitKey::released_by(ev) {
            for t in g.threads.iter_mut() {
                if *t == Run::Blocked(k) {
                    *t = Run::Runnable;
                }
            }
        }
        let Some(me) = me else { return };
        g.last[me] = Some(*ev);
        if ev.lock_class() == Some(LockClass::Folio) {
            match ev.kind() {
                Some(EventKind::LockAcquired) => g.folios_held[me] += 1,
                Some(EventKind::LockReleased) => g.folios_held[me] -= 1,
                _ => {}
            }
        }
        // Lock releases are never points: the OS unlock comes after the
        // event, and another thread run now would find the lock held.
        if g.free.is_some() || !ev.kind().is_some_and(is_point) {
            return;
        }
        self.decide(&mut g, me, At::Yield(Why::Event));
        self.wait_turn(&mut g, me);
    }

    /// Registers the calling thread as actor `me` and waits for its turn.
    pub fn enter(self: &Arc<Self>, me: usize) {
        CTL.with(|c| *c.borrow_mut() = Some((self.clone(), me)));
        let mut g = self.st.lock();
        self.wait_turn(&mut g, me);
    }

    /// Actor `me` is finished: someone else runs.
    pub fn exit(self: &Arc<Self>, me: usize) {
        CTL.with(|c| *c.borrow_mut() = None);
        let mut g = self.st.lock();
        g.threads[me] = Run::Done;
        if g.free.is_none() && g.abort.is_none() && g.running == Some(me) {
            self.decide(&mut g, me, At::Exit);
        }
        if g.threads.iter().all(|t| *t == Run::Done) {
            self.done.notify_all();
        }
    }

    /// Lets the first thread run; returns once every actor has exited.
    /// A thread that runs for `stall` without an event or a decision is
    /// asleep where the scheduler cannot see: control is given up then, and
    /// the schedule says so.
    pub fn run(self: &Arc<Self>, stall: Duration) {
        let mut g = self.st.lock();
        g.started = true;
        g.progress_at = Instant::now();
        if g.threads.is_empty() {
            return;
        }
        self.decide(&mut g, usize::MAX, At::Exit);
        while !g.threads.iter().all(|t| *t == Run::Done) {
            let to = self.done.wait_for(&mut g, stall / 4);
            if to.timed_out()
                && g.free.is_none()
                && g.abort.is_none()
                && g.progress_at.elapsed() >= stall
            {
                let who = g.running.map(|r| r.to_string()).unwrap_or("none".into());
                let after = g
                    .running
                    .and_then(|r| g.last[r])
                    .map(describe)
                    .unwrap_or_default();
                self.give_up(
                    &mut g,
                    format!(
                        "thread {who} ran {stall:?} without reaching a probe point (after {after})"
                    ),
                );
            }
        }
    }

    fn give_up(&self, g: &mut State, why: String) {
        g.free = Some(why);
        for cv in &self.turn {
            cv.notify_all();
        }
    }

    fn wait_turn(&self, g: &mut MutexGuard<'_, State>, me: usize) {
        while g.free.is_none() && g.abort.is_none() && !(g.started && g.running == Some(me)) {
            self.turn[me].wait(g);
        }
        if g.abort.is_some() {
            // Not a panic: no message, and the actor's catch_unwind knows it.
            std::panic::resume_unwind(Box::new(Aborted));
        }
    }

    /// Blocks or yields actor `me` and waits until it may run again.
    /// False when control has been given up.
    fn decide_and_wait(self: &Arc<Self>, me: usize, at: At) -> bool {
        let mut g = self.st.lock();
        if g.free.is_some() {
            return false;
        }
        self.decide(&mut g, me, at);
        self.wait_turn(&mut g, me);
        g.free.is_none()
    }

    /// Picks who runs after actor `me` (usize::MAX: nobody ran yet).
    fn decide(&self, g: &mut State, me: usize, at: At) {
        if let At::Block(k) = at {
            g.threads[me] = Run::Blocked(k);
        }
        let mut runnable: Vec<usize> = runnable(g);
        if runnable.is_empty() {
            if !g.threads.iter().any(|t| matches!(t, Run::Blocked(_))) {
                g.running = None;
                return;
            }
            // Everyone waits: a wake-up was an event before the state it
            // announces changed (a writeback end seen before the flag
            // cleared). Let all retry once; nothing new since the last
            // time means a real deadlock.
            if g.forced_at == Some(g.events.len()) {
                let held: Vec<String> = g
                    .threads
                    .iter()
                    .enumerate()
                    .filter_map(|(i, t)| match t {
                        Run::Blocked(k) => Some(format!("thread {i} waits for {}", k.describe())),
                        _ => None,
                    })
                    .collect();
                // Freed, they would sleep in the OS for ever: unwind them.
                g.abort = Some(format!("deadlock: {}", held.join(", ")));
                for cv in &self.turn {
                    cv.notify_all();
                }
                return;
            }
            g.forced_at = Some(g.events.len());
            for t in g.threads.iter_mut() {
                if matches!(t, Run::Blocked(_)) {
                    *t = Run::Runnable;
                }
            }
            runnable = self::runnable(g);
        }
        let cur = matches!(at, At::Yield(_)).then_some(me);
        let default = cur.unwrap_or_else(|| {
            *runnable
                .iter()
                .find(|&&t| me != usize::MAX && t > me)
                .unwrap_or(&runnable[0])
        });
        let from = (me != usize::MAX).then_some(me);
        let (op, point) = match from {
            Some(m) => {
                g.points[m] += 1;
                (g.in_op[m], g.points[m] - 1)
            }
            None => (None, 0),
        };
        // Only real choices are decisions a strategy sees: its horizon
        // counts those.
        let chosen = if runnable.len() == 1 {
            default
        } else {
            let d = Decision {
                step: g.step,
                me: from,
                op,
                point,
                cur,
                default,
            };
            g.step += 1;
            match g.strategy.pick(&d, &runnable) {
                c if runnable.contains(&c) => c,
                _ => default,
            }
        };
        if chosen != default {
            g.switches.push(Switch {
                from,
                op,
                point,
                to: chosen,
            });
        }
        if cur != Some(chosen) {
            g.readable.push(SwitchAt {
                step: g.step,
                preempted: chosen != default,
                from,
                at: from.map(|m| where_(at, g.last[m])).unwrap_or_default(),
                op,
                to: chosen,
            });
        }
        g.progress_at = Instant::now();
        g.running = Some(chosen);
        self.turn[chosen].notify_one();
    }

    /// Every event so far, in the order they happened.
    pub fn events_so_far(&self) -> Vec<Event> {
        self.st.lock().events.clone()
    }

    /// Why the schedule was abandoned, if it was.
    pub fn aborted(&self) -> Option<String> {
        self.st.lock().abort.clone()
    }

    /// What the schedule did.
    pub fn finish(&self) -> Outcome {
        let mut g = self.st.lock();
        yield_point::deactivate();
        Outcome {
            steps: g.step,
            switches: std::mem::take(&mut g.switches),
            readable: std::mem::take(&mut g.readable),
            events: std::mem::take(&mut g.events),
            lost_control: g.free.take(),
        }
    }
}

fn runnable(g: &State) -> Vec<usize> {
    g.threads
        .iter()
        .enumerate()
        .filter(|(_, t)| **t == Run::Runnable)
        .map(|(i, _)| i)
        .collect()
}

/// Where a thread stopped, for a readable schedule.
fn where_(at: At, last: Option<Event>) -> String {
    let after = || last.map(describe).map(|d| format!("after {d}"));
    match at {
        At::Yield(Why::Event) => after().unwrap_or_default(),
        At::Yield(Why::BeforeLock(c)) => format!("before taking the {c} lock"),
        At::Yield(Why::Pause) => "between migration passes".to_string(),
        At::Block(k) => format!("waiting for {}", k.describe()),
        At::Exit => "at its end".to_string(),
    }
}

/// One event as a step of a readable schedule: `lock_wait folio 3`.
pub fn describe(ev: Event) -> String {
    let Some(kind) = ev.kind() else {
        return format!("event code {}", ev.code);
    };
    let mut s = kind.to_string();
    match kind {
        EventKind::LockWait | EventKind::LockAcquired | EventKind::LockReleased => {
            if let Some(c) = ev.lock_class() {
                s.push(' ');
                s.push_str(&c.to_string());
            }
        }
        EventKind::MmAction => {
            if let Some(a) = ev.decode().and_then(|c| MmAction::from_u8(c.class)) {
                s = format!("{s} {a}");
            }
        }
        EventKind::OpBegin | EventKind::OpEnd => {
            if let Some(k) = ev.op_kind() {
                s = format!("{s} {k}");
            }
            return s;
        }
        _ => {}
    }
    if ev.folio != lockline_engine::probe::NO_FOLIO {
        s = format!("{s} index {}", ev.folio);
    }
    s
}

/// A finished schedule, as the scheduler saw it.
pub struct Outcome {
    pub steps: u64,
    pub switches: Vec<Switch>,
    pub readable: Vec<SwitchAt>,
    pub events: Vec<Event>,
    pub lost_control: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::strategy::Explicit;
    use lockline_engine::locks::rwsem::InodeLock;

    /// Two threads take two locks in opposite orders, switched between
    /// their first and second: the scheduler must see the deadlock and
    /// unwind both instead of leaving them asleep for ever.
    #[test]
    fn a_deadlock_unwinds_every_thread() {
        let (a, b) = (InodeLock::new(1), InodeLock::new(2));
        // Thread 0's second decision point is before its second lock.
        let switch = Switch {
            from: Some(0),
            op: None,
            point: 1,
            to: 1,
        };
        let s = Sched::new(2, Box::new(Explicit::new(vec![switch])));
        let outcomes = std::thread::scope(|sc| {
            let hs: Vec<_> = [(&a, &b), (&b, &a)]
                .into_iter()
                .enumerate()
                .map(|(i, (first, second))| {
                    let s = s.clone();
                    sc.spawn(move || {
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            s.enter(i);
                            first.lock();
                            second.lock();
                            second.unlock();
                            first.unlock();
                        }));
                        s.exit(i);
                        r.err().map(|p| p.is::<Aborted>())
                    })
                })
                .collect();
            s.run(Duration::from_secs(5));
            hs.into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        assert_eq!(outcomes, vec![Some(true), Some(true)]);
        let why = s.aborted().expect("aborted");
        assert!(why.contains("deadlock"), "{why}");
        s.finish();
    }
}

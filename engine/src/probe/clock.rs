//! The recorder's timestamps: the CPU's time-stamp counter, read on the
//! hot path and mapped to CLOCK_MONOTONIC nanoseconds when events are
//! drained. clock_gettime costs ~28 ns here, a TSC read a few; the mapping is
//! exact at both ends of the run because it interpolates between two
//! (TSC, CLOCK_MONOTONIC) pairs, one taken when the recorder starts and one
//! at each drain, which is how the kernel itself derives CLOCK_MONOTONIC
//! when its clocksource is the TSC.
//!
//! The read must be ordered: a plain `rdtsc` may execute before the locked
//! instruction that took a lock has completed, so a `lock_acquired` stamp
//! could precede the previous holder's `lock_released` stamp and two holds
//! of a mutex would overlap in the trace. `rdtscp` waits for every earlier
//! instruction (the kernel's rdtsc_ordered uses `lfence; rdtsc` for the
//! same reason). The TSC is used only when the kernel's clocksource is the
//! TSC and a ping-pong between CPUs sees no TSC going backwards; otherwise
//! the recorder reads CLOCK_MONOTONIC, which the kernel keeps ordered
//! across CPUs. A trace's meta names the clock it used.

use super::schema::{now_ns, Event};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// How the TSC is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TscRead {
    /// `rdtscp`: waits for earlier instructions; what traces use.
    Rdtscp,
    /// `lfence; rdtsc`: the kernel's rdtsc_ordered (benchmarks compare it).
    Lfence,
    /// Plain `rdtsc`: unordered; only for benchmarks and tests that show
    /// what the order costs.
    Unordered,
}

/// How a recorder stamps events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// clock_gettime(CLOCK_MONOTONIC) per event.
    Monotonic,
    /// A TSC read per event; `anchor` pairs it with CLOCK_MONOTONIC.
    Tsc { anchor: Pair, read: TscRead },
}

/// One TSC reading and the CLOCK_MONOTONIC time it corresponds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    pub tsc: u64,
    pub ns: u64,
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The TSC read after every earlier instruction has executed.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rdtscp() -> u64 {
    let mut aux = 0u32;
    // SAFETY: rdtscp has no preconditions on x86_64 CPUs that have it;
    // `best()` only picks the TSC where /proc/cpuinfo lists rdtscp.
    unsafe { core::arch::x86_64::__rdtscp(&mut aux) }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lfence_rdtsc() -> u64 {
    // SAFETY: lfence and rdtsc have no preconditions on x86_64.
    unsafe {
        core::arch::x86_64::_mm_lfence();
        core::arch::x86_64::_rdtsc()
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn rdtsc() -> u64 {
    now_ns()
}
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn rdtscp() -> u64 {
    now_ns()
}
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn lfence_rdtsc() -> u64 {
    now_ns()
}

/// Whether the kernel's clocksource is the TSC (then it keeps the TSC in
/// step across CPUs, or it would not have chosen it) and the CPU has rdtscp.
fn tsc_is_clocksource() -> bool {
    static IS: OnceLock<bool> = OnceLock::new();
    *IS.get_or_init(|| {
        cfg!(target_arch = "x86_64")
            && std::fs::read_to_string(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            )
            .is_ok_and(|s| s.trim() == "tsc")
            && std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|s| {
                s.lines()
                    .find(|l| l.starts_with("flags"))
                    .is_some_and(|l| l.split_whitespace().any(|f| f == "rdtscp"))
            })
    })
}

/// Why the recorder uses the clock it does, for a trace's meta.
pub fn choice_note() -> String {
    match std::env::var("LOCKLINE_CLOCK") {
        Ok(c) if Clock::forced().is_some() => format!("forced by LOCKLINE_CLOCK={c}"),
        Ok(c) => format!(
            "{} (LOCKLINE_CLOCK={c} ignored: not tsc-rdtscp, tsc-lfence, tsc-unordered or monotonic)",
            choice().1
        ),
        Err(_) => choice().1.clone(),
    }
}

fn choice() -> &'static (bool, String) {
    static CHOICE: OnceLock<(bool, String)> = OnceLock::new();
    CHOICE.get_or_init(|| {
        if !tsc_is_clocksource() {
            return (
                false,
                "CLOCK_MONOTONIC: the clocksource is not the TSC (or no rdtscp)".into(),
            );
        }
        match skew::max_backwards() {
            Ok(0) => (
                true,
                "TSC via rdtscp: clocksource tsc, no CPU saw another's TSC go backwards".into(),
            ),
            Ok(t) => (
                false,
                format!("CLOCK_MONOTONIC: TSC went {t} ticks backwards between CPUs"),
            ),
            Err(e) => (
                true,
                format!("TSC via rdtscp: clocksource tsc ({e}: CPUs not cross-checked)"),
            ),
        }
    })
}

/// The cross-CPU TSC check: two threads pinned to different CPUs pass a
/// token back and forth; each stamps the TSC just before handing it over
/// and just after receiving it. A receive stamp below the hand-over stamp
/// means the receiver's TSC is behind: stamps from the two CPUs would
/// misorder events by up to that much.
mod skew {
    use super::{rdtscp, AtomicU64, Ordering};
    use std::sync::Arc;

    /// Round trips per CPU pair, within a time budget: on a loaded machine
    /// each hand-off may wait for the peer to be scheduled.
    const ROUNDS: u64 = 2000;
    const BUDGET: std::time::Duration = std::time::Duration::from_millis(40);

    fn pin(cpu: usize) -> bool {
        // SAFETY: a zeroed cpu_set_t is a valid empty set; the calls only
        // read and write the set we own.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
        }
    }

    fn allowed_cpus() -> Vec<usize> {
        // SAFETY: as in pin().
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return Vec::new();
            }
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect()
        }
    }

    /// Token ping-pong between `a` and `b`; the largest backwards step seen.
    fn pair(a: usize, b: usize) -> Result<u64, String> {
        // slot: round number (odd = a sent, even = b sent) and the sender's TSC.
        let turn = Arc::new(AtomicU64::new(0));
        let stamp = Arc::new(AtomicU64::new(0));
        let worst = Arc::new(AtomicU64::new(0));
        let start = std::time::Instant::now();
        let side = |cpu: usize, odd: bool| {
            let (turn, stamp, worst) = (turn.clone(), stamp.clone(), worst.clone());
            std::thread::spawn(move || -> Result<(), String> {
                if !pin(cpu) {
                    // Let the peer stop waiting.
                    turn.store(u64::MAX, Ordering::Release);
                    return Err(format!("cannot pin to CPU {cpu}"));
                }
                for r in 0..ROUNDS {
                    let mine = 2 * r + u64::from(odd);
                    loop {
                        let t = turn.load(Ordering::Acquire);
                        if t == mine {
                            break;
                        }
                        if t == u64::MAX {
                            return Ok(());
                        }
                        if start.elapsed() > BUDGET {
                            turn.store(u64::MAX, Ordering::Release);
                            return Ok(());
                        }
                        std::hint::spin_loop();
                    }
                    let now = rdtscp();
                    let sent = stamp.load(Ordering::Acquire);
                    if mine > 0 && now < sent {
                        worst.fetch_max(sent - now, Ordering::Relaxed);
                    }
                    stamp.store(rdtscp(), Ordering::Release);
                    turn.store(mine + 1, Ordering::Release);
                }
                Ok(())
            })
        };
        let ha = side(a, false);
        let hb = side(b, true);
        let ra = ha
            .join()
            .map_err(|_| "ping-pong thread panicked".to_string())?;
        let rb = hb
            .join()
            .map_err(|_| "ping-pong thread panicked".to_string())?;
        ra.and(rb)?;
        Ok(worst.load(Ordering::Relaxed))
    }

    /// The largest backwards TSC step between CPU 0 and every other CPU
    /// this process may run on (a few ms per CPU).
    pub(crate) fn max_backwards() -> Result<u64, String> {
        let cpus = allowed_cpus();
        let Some(&first) = cpus.first() else {
            return Err("no CPU affinity".into());
        };
        let mut worst = 0;
        for &c in &cpus[1..] {
            worst = worst.max(pair(first, c)?);
        }
        Ok(worst)
    }
}

/// A TSC reading taken as close as possible to a CLOCK_MONOTONIC reading:
/// the tightest of a few brackets, its midpoint.
pub(crate) fn pair() -> Pair {
    let mut best = (u64::MAX, Pair { tsc: 0, ns: 0 });
    for _ in 0..8 {
        let t0 = rdtscp();
        let ns = now_ns();
        let t1 = rdtscp();
        let width = t1.wrapping_sub(t0);
        if width < best.0 {
            best = (
                width,
                Pair {
                    tsc: t0 + width / 2,
                    ns,
                },
            );
        }
    }
    best.1
}

impl Clock {
    /// The fastest clock that keeps cross-thread order and maps to
    /// CLOCK_MONOTONIC exactly here (see [`choice_note`]).
    pub fn best() -> Clock {
        if let Some(forced) = Clock::forced() {
            return forced;
        }
        if choice().0 {
            Clock::tsc(TscRead::Rdtscp)
        } else {
            Clock::Monotonic
        }
    }

    /// `LOCKLINE_CLOCK=tsc-rdtscp|tsc-lfence|tsc-unordered|monotonic`
    /// forces a clock: to compare them on one workload (the consistency
    /// check in `analyze` shows what an unordered read does to a trace).
    fn forced() -> Option<Clock> {
        let name = std::env::var("LOCKLINE_CLOCK").ok()?;
        match name.as_str() {
            "monotonic" => Some(Clock::Monotonic),
            "tsc-rdtscp" => Some(Clock::tsc(TscRead::Rdtscp)),
            "tsc-lfence" => Some(Clock::tsc(TscRead::Lfence)),
            "tsc-unordered" => Some(Clock::tsc(TscRead::Unordered)),
            _ => None,
        }
    }

    /// A TSC clock read the given way, anchored now.
    pub fn tsc(read: TscRead) -> Clock {
        Clock::Tsc {
            anchor: pair(),
            read,
        }
    }

    /// The clock's name in a trace's meta.
    pub fn name(&self) -> &'static str {
        match self {
            Clock::Monotonic => "monotonic",
            Clock::Tsc {
                read: TscRead::Rdtscp,
                ..
            } => "tsc-rdtscp",
            Clock::Tsc {
                read: TscRead::Lfence,
                ..
            } => "tsc-lfence",
            Clock::Tsc {
                read: TscRead::Unordered,
                ..
            } => "tsc-unordered",
        }
    }

    #[inline(always)]
    pub(crate) fn read(&self) -> u64 {
        match self {
            Clock::Monotonic => now_ns(),
            Clock::Tsc { read, .. } => match read {
                TscRead::Rdtscp => rdtscp(),
                TscRead::Lfence => lfence_rdtsc(),
                TscRead::Unordered => rdtsc(),
            },
        }
    }

    /// Maps a raw reading to CLOCK_MONOTONIC ns by interpolating between
    /// the anchor and `now`.
    #[inline]
    fn raw_to_ns(&self, raw: u64, now: Pair) -> u64 {
        let Clock::Tsc { anchor, .. } = self else {
            return raw;
        };
        let dt = now.tsc.saturating_sub(anchor.tsc).max(1) as i128;
        let dn = now.ns.saturating_sub(anchor.ns) as i128;
        let d = raw as i128 - anchor.tsc as i128;
        (anchor.ns as i128 + d * dn / dt).max(0) as u64
    }

    /// The anchor pair of a TSC clock (None for CLOCK_MONOTONIC).
    pub(crate) fn anchor(&self) -> Option<Pair> {
        match self {
            Clock::Monotonic => None,
            Clock::Tsc { anchor, .. } => Some(*anchor),
        }
    }

    /// Restamps recorded events (raw readings in ts_ns) in nanoseconds
    /// through `pairs` (sorted by TSC, the anchor first): linear between
    /// neighbouring pairs, the outer segments extended beyond the ends. A
    /// recorder that hands events over in batches adds a pair at each
    /// batch, so a raw reading maps to the same nanoseconds whichever batch
    /// it comes in and the map stays exact at every pair.
    pub(crate) fn to_ns_through(self, events: &mut [Event], pairs: &[Pair]) {
        if !matches!(self, Clock::Tsc { .. }) || pairs.is_empty() {
            return;
        }
        if pairs.len() == 1 {
            return self.to_ns(events, pairs[0]);
        }
        for e in events {
            let raw = e.ts_ns;
            let i = pairs
                .partition_point(|p| p.tsc <= raw)
                .clamp(1, pairs.len() - 1);
            let (a, b) = (pairs[i - 1], pairs[i]);
            let dt = b.tsc.saturating_sub(a.tsc).max(1) as i128;
            let dn = b.ns.saturating_sub(a.ns) as i128;
            let d = raw as i128 - a.tsc as i128;
            e.ts_ns = (a.ns as i128 + d * dn / dt).max(0) as u64;
        }
    }

    /// Restamps recorded events (raw readings in ts_ns) in nanoseconds.
    fn to_ns(self, events: &mut [Event], now: Pair) {
        if let Clock::Tsc { .. } = self {
            for e in events {
                e.ts_ns = self.raw_to_ns(e.ts_ns, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsc_maps_onto_monotonic() {
        let c = Clock::best();
        let mut raw = Vec::new();
        let mut truth = Vec::new();
        for _ in 0..5 {
            raw.push(c.read());
            truth.push(now_ns());
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let end = pair();
        let raw: Vec<u64> = raw.iter().map(|&r| c.raw_to_ns(r, end)).collect();
        for (r, t) in raw.iter().zip(&truth) {
            // Read one after the other: within a few µs of each other.
            assert!(r.abs_diff(*t) < 20_000, "{r} vs {t} ({c:?})");
        }
        assert!(raw.windows(2).all(|w| w[0] < w[1]));
    }
}

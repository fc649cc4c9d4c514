//! The recorder's timestamps: the CPU's time-stamp counter, read raw on the
//! hot path and mapped to CLOCK_MONOTONIC nanoseconds when events are
//! drained. clock_gettime costs ~28 ns here, rdtsc a few; the mapping is
//! exact at both ends of the run because it interpolates between two
//! (TSC, CLOCK_MONOTONIC) pairs, one taken when the recorder starts and one
//! at each drain, which is how the kernel itself derives CLOCK_MONOTONIC
//! when its clocksource is the TSC. On any other clocksource the TSC may not
//! be synchronised across CPUs, so the recorder reads CLOCK_MONOTONIC.

use super::schema::{now_ns, Event};
use std::sync::OnceLock;

/// How a recorder stamps events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// clock_gettime(CLOCK_MONOTONIC) per event.
    Monotonic,
    /// Raw TSC per event; `anchor` pairs it with CLOCK_MONOTONIC.
    Tsc { anchor: Pair },
}

/// One TSC reading and the CLOCK_MONOTONIC time it corresponds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    pub tsc: u64,
    pub ns: u64,
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub fn rdtsc() -> u64 {
    now_ns()
}

/// Whether the kernel's clocksource is the TSC (then it keeps the TSC in
/// step across CPUs, or it would not have chosen it).
fn tsc_is_clocksource() -> bool {
    static IS: OnceLock<bool> = OnceLock::new();
    *IS.get_or_init(|| {
        cfg!(target_arch = "x86_64")
            && std::fs::read_to_string(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            )
            .is_ok_and(|s| s.trim() == "tsc")
    })
}

/// A TSC reading taken as close as possible to a CLOCK_MONOTONIC reading:
/// the tightest of a few brackets, its midpoint.
pub fn pair() -> Pair {
    let mut best = (u64::MAX, Pair { tsc: 0, ns: 0 });
    for _ in 0..8 {
        let t0 = rdtsc();
        let ns = now_ns();
        let t1 = rdtsc();
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
    /// The fastest clock that maps to CLOCK_MONOTONIC exactly here.
    pub fn best() -> Clock {
        if tsc_is_clocksource() {
            Clock::Tsc { anchor: pair() }
        } else {
            Clock::Monotonic
        }
    }

    #[inline(always)]
    pub fn read(&self) -> u64 {
        match self {
            Clock::Monotonic => now_ns(),
            Clock::Tsc { .. } => rdtsc(),
        }
    }

    /// Maps a raw reading to CLOCK_MONOTONIC ns by interpolating between
    /// the anchor and `now`.
    #[inline]
    pub fn raw_to_ns(&self, raw: u64, now: Pair) -> u64 {
        let Clock::Tsc { anchor } = self else {
            return raw;
        };
        let dt = now.tsc.saturating_sub(anchor.tsc).max(1) as i128;
        let dn = now.ns.saturating_sub(anchor.ns) as i128;
        let d = raw as i128 - anchor.tsc as i128;
        (anchor.ns as i128 + d * dn / dt).max(0) as u64
    }

    /// Restamps recorded events (raw readings in ts_ns) in nanoseconds.
    pub fn to_ns(&self, events: &mut [Event], now: Pair) {
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

//! Hold and wait time distributions that fit in a fixed size however long
//! a live run goes: log-linear buckets (16 per power of two, so a
//! percentile is within about 4% of the true value), exact count, total
//! and max.

const SUB: usize = 16;
const BUCKETS: usize = 64 * SUB;

#[derive(Clone, Debug)]
pub struct Hist {
    buckets: Box<[u64]>,
    pub count: u64,
    pub total: u64,
    pub max: u64,
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            buckets: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            total: 0,
            max: 0,
        }
    }
}

fn bucket(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros() as usize; // >= 4
    let sub = ((v >> (exp - 4)) & (SUB as u64 - 1)) as usize;
    (exp - 3) * SUB + sub
}

/// Smallest value of a bucket.
fn low(b: usize) -> u64 {
    if b < SUB {
        return b as u64;
    }
    let exp = b / SUB + 3;
    let sub = (b % SUB) as u64;
    (1u64 << exp) | (sub << (exp - 4))
}

impl Hist {
    pub fn add(&mut self, v: u64) {
        self.buckets[bucket(v)] += 1;
        self.count += 1;
        self.total += v;
        self.max = self.max.max(v);
    }

    /// Nearest-rank percentile (p in 0..=1), as the bucket's lower bound
    /// (the max for the last rank).
    pub fn percentile(&self, p: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((p * self.count as f64).ceil() as u64).clamp(1, self.count);
        if rank == self.count {
            return self.max;
        }
        let mut seen = 0;
        for (b, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return low(b).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut prev = 0;
        for v in [0u64, 1, 15, 16, 17, 31, 32, 1000, 123_456, u64::MAX / 2] {
            let b = bucket(v);
            assert!(b >= prev, "{v}");
            prev = b;
            assert!(low(b) <= v, "{v}: low {}", low(b));
            assert!(v - low(b) <= v / 16 + 1, "{v}: low {}", low(b));
        }
    }

    #[test]
    fn percentiles_within_bucket_error() {
        let mut h = Hist::default();
        for v in 1..=1000u64 {
            h.add(v * 100);
        }
        assert_eq!(h.count, 1000);
        assert_eq!(h.max, 100_000);
        let p50 = h.percentile(0.5) as f64;
        assert!((p50 - 50_000.0).abs() / 50_000.0 < 0.07, "{p50}");
        let p99 = h.percentile(0.99) as f64;
        assert!((p99 - 99_000.0).abs() / 99_000.0 < 0.07, "{p99}");
        assert_eq!(h.percentile(1.0), 100_000);
        assert_eq!(Hist::default().percentile(0.5), 0);
    }
}

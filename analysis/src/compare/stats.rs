//! The statistics `lockline compare` reports over a handful of repetitions:
//! median and spread, and the Mann-Whitney U test between two builds.
//!
//! A 2-core VM is noisy and repetitions are few, so nothing here assumes a
//! distribution: quantiles are of the values themselves and the test is
//! on ranks. The p-value is exact (the permutation distribution of the rank
//! sum, ties included) while the samples are small enough to count every
//! split, and the normal approximation with the ties correction after.

use serde::Serialize;

/// Largest n1 + n2 with an exact p; C(30, 15) ≈ 1.6e8 splits are counted
/// by rank sum, not listed, so this is cheap.
pub const EXACT_MAX_N: usize = 30;

/// The significance level below which a difference is reported as one.
pub const ALPHA: f64 = 0.05;

/// Median and spread of a few values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spread {
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// First and third quartiles (linear interpolation between order
    /// statistics, numpy's default): IQR = q3 - q1.
    pub q1: f64,
    pub q3: f64,
}

impl Spread {
    /// None for no values; NaNs are left out.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(Spread {
            n: v.len(),
            median: quantile(&v, 0.5),
            min: v[0],
            max: v[v.len() - 1],
            q1: quantile(&v, 0.25),
            q3: quantile(&v, 0.75),
        })
    }

    pub fn iqr(&self) -> f64 {
        self.q3 - self.q1
    }
}

/// The `p` quantile of sorted `v` (not empty), interpolating linearly.
pub fn quantile(v: &[f64], p: f64) -> f64 {
    let h = (v.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (h - lo as f64)
}

/// The median of `values` (NaN when there are none).
pub fn median(values: &[f64]) -> f64 {
    Spread::of(values).map_or(f64::NAN, |s| s.median)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The permutation distribution of the rank sum, counted.
    Exact,
    /// Normal approximation, ties-corrected variance, continuity correction.
    Normal,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Exact => "exact",
            Method::Normal => "normal approximation",
        }
    }
}

/// A two-sided Mann-Whitney U test of `x` against `y`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MannWhitney {
    pub n1: usize,
    pub n2: usize,
    /// U of `x`: the pairs (x, y) with x > y, ties counting one half.
    pub u: f64,
    /// Two-sided p-value.
    pub p: f64,
    pub method: Method,
    /// With the exact method, the smallest p these sample sizes can give
    /// at all (2 / C(n1 + n2, n1), the two complete separations): when it
    /// is not below ALPHA, no difference could have been called
    /// significant, however large.
    pub min_p: Option<f64>,
}

impl MannWhitney {
    pub fn significant(&self) -> bool {
        self.p < ALPHA
    }
}

/// Ranks 1..=N of `v`, ties sharing their mean rank; doubled so they stay
/// integers.
fn doubled_ranks(v: &[f64]) -> Vec<u64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0u64; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j < idx.len() && v[idx[j]] == v[idx[i]] {
            j += 1;
        }
        // Positions i..j hold ranks i+1..=j; their mean doubled is i+1+j.
        for &k in &idx[i..j] {
            r[k] = (i + 1 + j) as u64;
        }
        i = j;
    }
    r
}

/// Tests whether `x` and `y` come from the same distribution. None when
/// either is empty or holds a NaN.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    if x.is_empty() || y.is_empty() || x.iter().chain(y).any(|v| v.is_nan()) {
        return None;
    }
    let (n1, n2) = (x.len(), y.len());
    let n = n1 + n2;
    let all: Vec<f64> = x.iter().chain(y).copied().collect();
    let r2 = doubled_ranks(&all);
    let w2: u64 = r2[..n1].iter().sum();
    // U = W - n1(n1+1)/2, from the doubled rank sum.
    let u = (w2 as f64 - (n1 * (n1 + 1)) as f64) / 2.0;
    if n <= EXACT_MAX_N {
        let splits = binomial(n, n1);
        return Some(MannWhitney {
            n1,
            n2,
            u,
            p: exact_p(&r2, n1, w2),
            method: Method::Exact,
            min_p: Some((2.0 / splits).min(1.0)),
        });
    }
    let mu = (n1 * n2) as f64 / 2.0;
    let mut ties = 0.0;
    let mut sorted = all.clone();
    sorted.sort_by(f64::total_cmp);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && sorted[j] == sorted[i] {
            j += 1;
        }
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    let nf = n as f64;
    let var = (n1 * n2) as f64 / 12.0 * ((nf + 1.0) - ties / (nf * (nf - 1.0)));
    let p = if var <= 0.0 {
        1.0
    } else {
        let z = ((u - mu).abs() - 0.5).max(0.0) / var.sqrt();
        erfc(z / std::f64::consts::SQRT_2).min(1.0)
    };
    Some(MannWhitney {
        n1,
        n2,
        u,
        p,
        method: Method::Normal,
        min_p: None,
    })
}

/// C(n, k) as a float (exact while below 2^53).
fn binomial(n: usize, k: usize) -> f64 {
    (0..k.min(n - k)).fold(1.0, |c, i| c * (n - i) as f64 / (i + 1) as f64)
}

/// The two-sided exact p of the doubled rank sum `w2` of the first `n1` of
/// `r2`: every split of the N ranks into n1 and n2 is equally likely under
/// the null, so count the splits by their rank sum (a subset-sum table,
/// not a listing).
fn exact_p(r2: &[u64], n1: usize, w2: u64) -> f64 {
    let max: u64 = r2.iter().sum();
    let width = max as usize + 1;
    // ways[k * width + s]: subsets of size k of the ranks seen so far
    // whose doubled sum is s.
    let mut ways = vec![0f64; (n1 + 1) * width];
    ways[0] = 1.0;
    for (i, &r) in r2.iter().enumerate() {
        let r = r as usize;
        for k in (1..=n1.min(i + 1)).rev() {
            for s in (r..width).rev() {
                let add = ways[(k - 1) * width + s - r];
                if add != 0.0 {
                    ways[k * width + s] += add;
                }
            }
        }
    }
    let n = r2.len() as f64;
    // E[W2] = n1 (N + 1); deviations are compared in doubled units, exactly.
    let mean2 = n1 as f64 * (n + 1.0);
    let dev = |s: usize| (s as f64 - mean2).abs();
    let observed = dev(w2 as usize);
    let row = &ways[n1 * width..];
    let total: f64 = row.iter().sum();
    let at_least = |d: f64| -> f64 {
        row.iter()
            .enumerate()
            .filter(|(s, c)| **c != 0.0 && dev(*s) >= d)
            .map(|(_, c)| c)
            .sum::<f64>()
            / total
    };
    at_least(observed).min(1.0)
}

/// The complementary error function (Numerical Recipes' erfcc: fractional
/// error below 1.2e-7 everywhere), for the normal approximation's tail.
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn spread_of_a_few_values() {
        let s = Spread::of(&[3.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.n, s.min, s.max), (4, 1.0, 10.0));
        assert_eq!(s.median, 2.5);
        // numpy.percentile([1, 2, 3, 10], [25, 75]) = [1.75, 4.75]
        assert_eq!((s.q1, s.q3), (1.75, 4.75));
        assert_eq!(s.iqr(), 3.0);
        let one = Spread::of(&[7.0]).unwrap();
        assert_eq!((one.median, one.q1, one.q3), (7.0, 7.0, 7.0));
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(Spread::of(&[f64::NAN]), None);
        assert!(median(&[]).is_nan());
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
    }

    #[test]
    fn ranks_share_ties() {
        // Ranks 1, 2.5, 2.5, 4 doubled.
        assert_eq!(doubled_ranks(&[1.0, 2.0, 2.0, 5.0]), vec![2, 5, 5, 8]);
        assert_eq!(doubled_ranks(&[3.0, 3.0, 3.0]), vec![4, 4, 4]);
    }

    // Reference values from a brute-force listing of every split
    // (itertools.combinations) and scipy's formulas, computed apart.
    #[test]
    fn exact_p_values_by_hand() {
        let t = mann_whitney(&[1.0, 3.0, 5.0], &[2.0, 4.0, 6.0]).unwrap();
        assert_eq!((t.u, t.method), (3.0, Method::Exact));
        assert!(close(t.p, 0.7, 1e-12), "{t:?}");
        // Complete separation: 2 of C(n1+n2, n1) splits are as extreme.
        for (n, p) in [(3usize, 2.0 / 20.0), (4, 2.0 / 70.0), (5, 2.0 / 252.0)] {
            let x: Vec<f64> = (0..n).map(|i| 100.0 + i as f64).collect();
            let y: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let t = mann_whitney(&x, &y).unwrap();
            assert_eq!(t.u, (n * n) as f64);
            assert!(close(t.p, p, 1e-12), "{n}: {t:?}");
            assert!(close(t.min_p.unwrap(), p, 1e-12));
            assert_eq!(t.significant(), p < ALPHA);
            // Swapping the samples mirrors U and keeps p.
            let s = mann_whitney(&y, &x).unwrap();
            assert_eq!(s.u, 0.0);
            assert!(close(s.p, p, 1e-12));
        }
    }

    #[test]
    fn exact_p_with_ties() {
        let t = mann_whitney(&[1.0, 2.0, 2.0], &[2.0, 3.0, 4.0]).unwrap();
        assert_eq!(t.u, 1.0);
        assert!(close(t.p, 0.3, 1e-12), "{t:?}");
        let t = mann_whitney(&[1.0, 2.0, 2.0, 5.0], &[2.0, 3.0, 3.0, 4.0, 7.0]).unwrap();
        assert_eq!(t.u, 5.0);
        assert!(close(t.p, 0.261_904_761_904_761_9, 1e-12), "{t:?}");
        // All equal: nothing to tell apart.
        let t = mann_whitney(&[1.0, 1.0], &[1.0, 1.0, 1.0]).unwrap();
        assert_eq!((t.u, t.p), (3.0, 1.0));
        // The sample sizes' floor, whatever the values: 2 / C(5, 2).
        assert!(close(t.min_p.unwrap(), 0.2, 1e-12));
        assert_eq!(binomial(30, 15), 155_117_520.0);
    }

    /// The counted distribution against a listing of every split.
    #[test]
    fn exact_agrees_with_listing_every_split() {
        fn listed(x: &[f64], y: &[f64]) -> f64 {
            let all: Vec<f64> = x.iter().chain(y).copied().collect();
            let r = doubled_ranks(&all);
            let (n1, n) = (x.len(), all.len());
            let mean2 = (n1 * (n + 1)) as i64;
            let obs = (r[..n1].iter().sum::<u64>() as i64 - mean2).abs();
            let (mut hit, mut total) = (0u64, 0u64);
            for mask in 0u32..(1 << n) {
                if mask.count_ones() as usize != n1 {
                    continue;
                }
                total += 1;
                let s: u64 = (0..n).filter(|i| mask >> i & 1 == 1).map(|i| r[i]).sum();
                if (s as i64 - mean2).abs() >= obs {
                    hit += 1;
                }
            }
            hit as f64 / total as f64
        }
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % 6) as f64
        };
        for (n1, n2) in [(2, 3), (3, 3), (4, 5), (6, 6), (3, 8)] {
            for _ in 0..10 {
                let x: Vec<f64> = (0..n1).map(|_| next()).collect();
                let y: Vec<f64> = (0..n2).map(|_| next() + 1.0).collect();
                let t = mann_whitney(&x, &y).unwrap();
                assert!(close(t.p, listed(&x, &y), 1e-9), "{x:?} {y:?}: {t:?}");
            }
        }
    }

    #[test]
    fn normal_approximation_for_larger_samples() {
        let x: Vec<f64> = (0..20).map(f64::from).collect();
        let y: Vec<f64> = (20..40).map(f64::from).collect();
        let t = mann_whitney(&x, &y).unwrap();
        assert_eq!((t.u, t.method, t.min_p), (0.0, Method::Normal, None));
        // z = 199.5 / sqrt(400/12 * 41) = 5.3965; p = erfc(z / sqrt 2).
        assert!(close(t.p, 6.795_615_128_173_387e-8, 1e-5), "{t:?}");
        let x = [
            1., 2., 2., 3., 3., 3., 4., 5., 6., 7., 8., 9., 9., 10., 11., 12., 13., 14., 15., 15.,
        ];
        let y = [
            3., 5., 6., 6., 7., 8., 9., 10., 11., 12., 13., 14., 15., 16., 17., 18., 19., 20., 21.,
            22.,
        ];
        let t = mann_whitney(&x, &y).unwrap();
        assert_eq!(t.u, 102.5);
        // Ties-corrected: z = 2.62768, p = 0.0085969.
        assert!(close(t.p, 0.008_596_880_017_787_908, 1e-5), "{t:?}");
    }

    #[test]
    fn erfc_matches_known_values() {
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_1),
            (2.0, 0.004_677_734_981_047_266),
            (-1.0, 1.842_700_792_949_715),
        ] {
            assert!(close(erfc(x), want, 2e-7), "erfc({x}) = {}", erfc(x));
        }
    }

    #[test]
    fn empty_or_nan_samples_have_no_test() {
        assert_eq!(mann_whitney(&[], &[1.0]), None);
        assert_eq!(mann_whitney(&[f64::NAN], &[1.0]), None);
    }
}

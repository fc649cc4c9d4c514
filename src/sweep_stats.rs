//! The statistics of a knob sweep: a per-round violation probability with
//! its Wilson score interval, and which knobs move it — the config
//! bisection done by flipping one knob at a time and asking whether the
//! rate leaves the other setting's interval.

use serde::Serialize;

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A proportion k/n with its 95% Wilson score interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rate {
    pub k: u64,
    pub n: u64,
    pub p: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Rate {
    /// Wilson's interval stays inside [0, 1] and is honest at k = 0 or
    /// k = n, where the normal approximation collapses to a point.
    pub fn wilson(k: u64, n: u64) -> Rate {
        if n == 0 {
            return Rate {
                k,
                n,
                p: 0.0,
                lo: 0.0,
                hi: 1.0,
            };
        }
        let (kf, nf, z2) = (k as f64, n as f64, Z95 * Z95);
        let p = kf / nf;
        let denom = 1.0 + z2 / nf;
        let centre = (p + z2 / (2.0 * nf)) / denom;
        let half = Z95 * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
        Rate {
            k,
            n,
            p,
            lo: (centre - half).max(0.0),
            hi: (centre + half).min(1.0),
        }
    }

    pub fn contains(&self, p: f64) -> bool {
        p >= self.lo - 1e-12 && p <= self.hi + 1e-12
    }
}

/// One knob flipped alone: the combinations before and after, and
/// whether the rate left the other's interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Flip {
    /// Index of the combination with the knob's earlier value.
    pub from: usize,
    pub to: usize,
    pub moved: bool,
    /// to's rate minus from's.
    pub delta: f64,
}

/// What flipping one knob did across every context of the others.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KnobEffect {
    pub knob: String,
    pub flips: Vec<Flip>,
    /// Flips whose rates left each other's intervals.
    pub moved: usize,
    /// The largest |delta| over its flips.
    pub largest: f64,
}

impl KnobEffect {
    pub fn matters(&self) -> bool {
        self.moved > 0
    }
}

/// For each knob: every pair of combinations that differ in that knob
/// alone (`values[c][i]` is combination c's value index for knob i), and
/// whether the rate moved outside the interval.
pub fn effects(knobs: &[String], values: &[Vec<usize>], rates: &[Rate]) -> Vec<KnobEffect> {
    knobs
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut flips = Vec::new();
            for a in 0..values.len() {
                for b in a + 1..values.len() {
                    let differ: Vec<usize> = (0..knobs.len())
                        .filter(|&j| values[a][j] != values[b][j])
                        .collect();
                    if differ != [i] {
                        continue;
                    }
                    let (ra, rb) = (rates[a], rates[b]);
                    // Outside *both* intervals: each setting's estimate is
                    // implausible under the other's.
                    let moved = !ra.contains(rb.p) && !rb.contains(ra.p);
                    flips.push(Flip {
                        from: a,
                        to: b,
                        moved,
                        delta: rb.p - ra.p,
                    });
                }
            }
            KnobEffect {
                knob: name.clone(),
                moved: flips.iter().filter(|f| f.moved).count(),
                largest: flips.iter().map(|f| f.delta.abs()).fold(0.0, f64::max),
                flips,
            }
        })
        .collect()
}

/// Every combination of `sizes[i]` values per knob, the last knob varying
/// fastest.
pub fn combinations(sizes: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for &n in sizes {
        out = out
            .into_iter()
            .flat_map(|c| {
                (0..n).map(move |v| {
                    let mut c = c.clone();
                    c.push(v);
                    c
                })
            })
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-4
    }

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), table I: 81/263 -> 0.2553..0.3662.
        let r = Rate::wilson(81, 263);
        assert!(close(r.lo, 0.2553) && close(r.hi, 0.3662), "{r:?}");
        // 0/10: lower bound 0, upper 0.2775.
        let r = Rate::wilson(0, 10);
        assert_eq!(r.lo, 0.0);
        assert!(close(r.hi, 0.2775), "{r:?}");
        // 10/10 mirrors it.
        let r = Rate::wilson(10, 10);
        assert!(close(r.lo, 0.7225) && close(r.hi, 1.0), "{r:?}");
        assert_eq!(Rate::wilson(0, 0).hi, 1.0);
    }

    #[test]
    fn combinations_enumerate_the_product() {
        let c = combinations(&[2, 3]);
        assert_eq!(c.len(), 6);
        assert_eq!(c[0], vec![0, 0]);
        assert_eq!(c[1], vec![0, 1]);
        assert_eq!(c[5], vec![1, 2]);
        assert_eq!(combinations(&[]), vec![Vec::<usize>::new()]);
    }

    #[test]
    fn a_knob_matters_when_flipping_it_alone_leaves_the_interval() {
        let knobs = vec!["short-copy-rate".to_string(), "large-folios".to_string()];
        let values = combinations(&[2, 2]);
        // short-copy-rate 0 -> 0/40 whatever large-folios; 0.5 -> 20/40.
        let rates = [
            Rate::wilson(0, 40),
            Rate::wilson(1, 40),
            Rate::wilson(20, 40),
            Rate::wilson(18, 40),
        ];
        let e = effects(&knobs, &values, &rates);
        assert_eq!(e[0].flips.len(), 2);
        assert!(e[0].matters() && e[0].moved == 2);
        assert!(close(e[0].largest, 0.5));
        assert_eq!(e[1].flips.len(), 2);
        assert!(!e[1].matters(), "{:?}", e[1]);
    }
}

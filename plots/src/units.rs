//! Axis units and tick numbers: a time unit picked from a span so ticks
//! read "250" rather than "0.00025", and numbers without a useless ".0".

/// A unit of time and how many nanoseconds it holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeUnit {
    pub name: &'static str,
    pub ns: f64,
}

const UNITS: [TimeUnit; 4] = [
    TimeUnit {
        name: "ns",
        ns: 1.0,
    },
    TimeUnit {
        name: "µs",
        ns: 1e3,
    },
    TimeUnit {
        name: "ms",
        ns: 1e6,
    },
    TimeUnit { name: "s", ns: 1e9 },
];

impl TimeUnit {
    pub const NS: TimeUnit = UNITS[0];
    pub const US: TimeUnit = UNITS[1];

    /// The largest unit in which `span_ns` is still at least 2: a 0.12 ms
    /// run is drawn in µs, a 7 s one in s.
    pub fn for_span(span_ns: f64) -> TimeUnit {
        UNITS
            .iter()
            .rev()
            .find(|u| span_ns >= 2.0 * u.ns)
            .copied()
            .unwrap_or(UNITS[0])
    }

    /// The unit of a plot of durations: ns only when every one is shorter
    /// than a microsecond; µs otherwise, which reads well from 0.1 to
    /// 10 000.
    pub fn for_longest<'a>(ns: impl IntoIterator<Item = &'a u64>) -> TimeUnit {
        if ns.into_iter().copied().max().unwrap_or(0) < 1000 {
            TimeUnit::NS
        } else {
            TimeUnit::US
        }
    }

    pub fn of(self, ns: f64) -> f64 {
        ns / self.ns
    }

    /// Each of the durations `ns` in this unit.
    pub fn all_of(self, ns: Vec<u64>) -> Vec<f64> {
        ns.into_iter().map(|t| self.of(t as f64)).collect()
    }

    /// "0.78 ms", "12 µs": a duration in the unit that suits it.
    pub fn pretty(ns: f64) -> String {
        let u = TimeUnit::for_span(ns);
        format!("{} {}", number(u.of(ns)), u.name)
    }
}

/// A tick label: at most three significant decimals, no trailing zeros,
/// thousands grouped with a thin space so wide labels stay legible.
pub fn number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    let a = v.abs();
    let decimals = if a >= 100.0 {
        0
    } else if a >= 1.0 {
        2
    } else {
        // Three significant digits below one.
        (2 - a.log10().floor() as i32).clamp(0, 9) as usize
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    group(&s)
}

fn group(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest
        .split_once('.')
        .map_or((rest, None), |(i, f)| (i, Some(f)));
    if int.len() <= 4 {
        return s.to_string();
    }
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_the_span() {
        assert_eq!(TimeUnit::for_span(120_000.0).name, "µs");
        assert_eq!(TimeUnit::for_span(78e6).name, "ms");
        assert_eq!(TimeUnit::for_span(1.0).name, "ns");
        assert_eq!(TimeUnit::for_span(7e9).name, "s");
        assert_eq!(TimeUnit::pretty(780_000.0), "780 µs");
    }

    #[test]
    fn numbers_lose_trailing_zeros() {
        assert_eq!(number(1000.0), "1000");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(0.02), "0.02");
        assert_eq!(number(0.001234), "0.00123");
        assert_eq!(number(350000.0), "350\u{2009}000");
        assert_eq!(number(0.0), "0");
    }
}

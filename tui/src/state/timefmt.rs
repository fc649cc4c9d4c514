//! Durations as people type and read them: "1.5ms", "300us", "2s".

/// Parses "<number><unit>" (ns, us/µs, ms, s; no unit: ns).
pub fn parse(s: &str) -> Option<u64> {
    let s = s.trim().trim_start_matches('+');
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let mul = match unit.trim() {
        "" | "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    };
    let ns = v * mul;
    (0.0..1e19).contains(&ns).then_some(ns as u64)
}

/// A duration with three significant digits and the largest fitting unit.
pub fn dur(ns: u64) -> String {
    let v = ns as f64;
    let (x, u) = if v >= 1e9 {
        (v / 1e9, "s")
    } else if v >= 1e6 {
        (v / 1e6, "ms")
    } else if v >= 1e3 {
        (v / 1e3, "µs")
    } else {
        return format!("{ns} ns");
    };
    if x >= 100.0 {
        format!("{x:.0} {u}")
    } else if x >= 10.0 {
        format!("{x:.1} {u}")
    } else {
        format!("{x:.2} {u}")
    }
}

/// An offset from the trace's start for axis labels, precise to `step`.
pub fn offset(ns: u64, step: u64) -> String {
    // The unit a tenth of whose value the step reaches: +1.5ms, not +1500µs.
    let (div, u) = if step >= 100_000_000 {
        (1e9, "s")
    } else if step >= 100_000 {
        (1e6, "ms")
    } else if step >= 100 {
        (1e3, "µs")
    } else {
        (1.0, "ns")
    };
    let x = ns as f64 / div;
    // Digits enough to tell neighbouring ticks apart.
    let step_units = step as f64 / div;
    let decimals = if step_units >= 1.0 {
        0
    } else {
        (-step_units.log10()).ceil() as usize
    };
    format!("{x:.decimals$}{u}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("1.5ms"), Some(1_500_000));
        assert_eq!(parse("300us"), Some(300_000));
        assert_eq!(parse("300 µs"), Some(300_000));
        assert_eq!(parse("+2s"), Some(2_000_000_000));
        assert_eq!(parse("42"), Some(42));
        assert_eq!(parse("1h"), None);
        assert_eq!(parse("ms"), None);
    }

    #[test]
    fn formats() {
        assert_eq!(dur(999), "999 ns");
        assert_eq!(dur(1_234), "1.23 µs");
        assert_eq!(dur(12_345_678), "12.3 ms");
        assert_eq!(dur(2_000_000_000), "2.00 s");
        assert_eq!(offset(1_500_000, 500_000), "1.5ms");
        assert_eq!(offset(2_000_000, 1_000_000), "2ms");
        assert_eq!(offset(250, 50), "250ns");
        assert_eq!(offset(1_550_000, 50_000), "1550µs");
        assert_eq!(offset(1_500, 100), "1.5µs");
    }
}

//! The comparison as one side-by-side table: rows of measures, a column
//! per build (and kernel file system), rendered as aligned text or as
//! markdown, with the verdicts and how to read the statistics below it.

use super::model::{p_text, times, ColumnSummary, Comparison, Ratio};
use super::stats::{Spread, ALPHA};
use std::fmt::Write as _;

/// Rows under a heading.
struct Section {
    title: String,
    rows: Vec<(String, Vec<String>)>,
}

/// A number with three significant digits and no useless zeros.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    let s = if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn scaled(s: &Option<Spread>, div: f64) -> String {
    s.map_or("-".into(), |s| num(s.median / div))
}

fn vs_cell(r: Option<&Ratio>) -> String {
    match r {
        None => "baseline".into(),
        Some(r) if r.within_noise => format!("{} (noise)", times(r.ratio)),
        Some(r) => format!("{} ({})", times(r.ratio), r.note),
    }
}

fn sections(c: &Comparison) -> Vec<Section> {
    let cols: Vec<&ColumnSummary> = c.ordered().collect();
    let row = |label: &str, f: &dyn Fn(&ColumnSummary) -> String| {
        (label.to_string(), cols.iter().map(|c| f(c)).collect())
    };
    let base = &c.baseline;
    let mut out = Vec::new();

    out.push(Section {
        title: "throughput, MiB/s (per repetition)".into(),
        rows: vec![
            row("median", &|s| scaled(&s.throughput_mib_s, 1.0)),
            row("min-max", &|s| {
                s.throughput_mib_s
                    .map_or("-".into(), |t| format!("{}-{}", num(t.min), num(t.max)))
            }),
            row("IQR", &|s| {
                s.throughput_mib_s.map_or("-".into(), |t| num(t.iqr()))
            }),
            row(&format!("vs {base}"), &|s| {
                vs_cell(s.vs_baseline.as_ref().map(|v| &v.throughput))
            }),
        ],
    });

    let mut kinds: Vec<&'static str> = cols
        .iter()
        .flat_map(|c| c.latency.keys().copied())
        .collect();
    kinds.sort_by_key(|k| (*k != "write", *k));
    kinds.dedup();
    let mut rows = Vec::new();
    for k in kinds {
        let lat = |s: &ColumnSummary, f: &dyn Fn(&super::model::Latency) -> String| {
            s.latency.get(k).map_or("-".into(), f)
        };
        rows.push(row(&format!("{k} p50"), &|s| {
            lat(s, &|l| scaled(&l.p50_ns, 1e3))
        }));
        rows.push(row(&format!("{k} p99"), &|s| {
            lat(s, &|l| scaled(&l.p99_ns, 1e3))
        }));
        rows.push(row(&format!("{k} max"), &|s| {
            lat(s, &|l| num(l.max_ns as f64 / 1e3))
        }));
        rows.push(row(&format!("{k} ops"), &|s| {
            lat(s, &|l| l.ops.to_string())
        }));
        if k == "write" {
            rows.push(row(&format!("write p50 vs {base}"), &|s| {
                vs_cell(s.vs_baseline.as_ref().map(|v| &v.write_p50))
            }));
            rows.push(row(&format!("write p99 vs {base}"), &|s| {
                vs_cell(s.vs_baseline.as_ref().map(|v| &v.write_p99))
            }));
        }
    }
    out.push(Section {
        title: "op latency, µs (workload ops and writeback; each repetition's percentile, \
                median over repetitions; max of all)"
            .into(),
        rows,
    });

    let mut classes: Vec<_> = cols
        .iter()
        .flat_map(|c| c.locks.iter().map(|l| l.class))
        .collect();
    classes.sort();
    classes.dedup();
    let mut rows = Vec::new();
    for class in classes {
        let name = class.name();
        let get = |s: &ColumnSummary, f: &dyn Fn(&super::model::ClassLocks) -> String| {
            s.locks
                .iter()
                .find(|l| l.class == class)
                .map_or("-".into(), f)
        };
        let pair = |a: &Option<Spread>, b: &Option<Spread>| {
            format!("{} / {}", scaled(a, 1e3), scaled(b, 1e3))
        };
        rows.push(row(&format!("{name} hold p50 / p99"), &|s| {
            get(s, &|l| pair(&l.hold_p50_ns, &l.hold_p99_ns))
        }));
        rows.push(row(&format!("{name} hold total, ms"), &|s| {
            get(s, &|l| scaled(&l.hold_total_ns, 1e6))
        }));
        rows.push(row(&format!("{name} wait p50 / p99"), &|s| {
            get(s, &|l| pair(&l.wait_p50_ns, &l.wait_p99_ns))
        }));
        rows.push(row(&format!("{name} wait total, ms (contention)"), &|s| {
            get(s, &|l| {
                let share = l
                    .contention_ratio
                    .map_or("-".into(), |c| format!("{}%", num(c.median * 100.0)));
                format!("{} ({share})", scaled(&l.wait_total_ns, 1e6))
            })
        }));
    }
    rows.push(row("wait per op (all classes)", &|s| {
        scaled(&s.wait_us_per_op, 1.0)
    }));
    rows.push(row(&format!("wait per op vs {base}"), &|s| {
        vs_cell(s.vs_baseline.as_ref().map(|v| &v.wait_per_op))
    }));
    out.push(Section {
        title: "locks, µs (median over repetitions)".into(),
        rows,
    });

    out.push(Section {
        title: "perf counters, workload threads (per repetition, median)".into(),
        rows: vec![
            row("context switches", &|s| {
                scaled(&s.perf.context_switches, 1.0)
            }),
            row("cpu migrations", &|s| scaled(&s.perf.cpu_migrations, 1.0)),
            row("page faults", &|s| scaled(&s.perf.page_faults, 1.0)),
            row("task clock, ms", &|s| scaled(&s.perf.task_clock_ns, 1e6)),
        ],
    });

    let opt = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
    out.push(Section {
        title: "write path (all repetitions)".into(),
        rows: vec![
            row("restarts under the inode lock", &|s| opt(s.restarts)),
            row("need-inode-lock fallbacks", &|s| opt(s.need_inode_lock)),
            row("op errors", &|s| s.op_errors.to_string()),
        ],
    });

    out.push(Section {
        title: "violations after remount (all repetitions)".into(),
        rows: vec![
            row("dropped sectors", &|s| s.violations.dropped.to_string()),
            row("stale sectors", &|s| s.violations.stale.to_string()),
            row("torn sectors", &|s| s.violations.torn.to_string()),
            row("rounds with violations", &|s| {
                format!("{}/{}", s.rounds_with_violations, s.rounds)
            }),
            row("  with dropped / stale / torn", &|s| {
                format!(
                    "{} / {} / {}",
                    s.rounds_with.dropped, s.rounds_with.stale, s.rounds_with.torn
                )
            }),
            row("repetitions with one", &|s| {
                format!("{}/{}", s.first_violation.repetitions, s.repetitions)
            }),
            row("first violation: round", &|s| {
                s.first_violation
                    .round
                    .map_or("-".into(), |r| num(r.median))
            }),
            row("first violation: after, s", &|s| {
                s.first_violation
                    .seconds
                    .map_or("-".into(), |r| num(r.median))
            }),
        ],
    });

    let mut lints: Vec<&'static str> = cols.iter().flat_map(|c| c.lints.keys().copied()).collect();
    lints.sort();
    lints.dedup();
    out.push(Section {
        title: "lint findings (all repetitions)".into(),
        rows: lints
            .iter()
            .map(|l| {
                row(l, &|s| {
                    s.lints.get(l).map_or("n/a".into(), |n| n.to_string())
                })
            })
            .collect(),
    });

    out.push(Section {
        title: "trace".into(),
        rows: vec![
            row("events (all repetitions)", &|s| s.events.to_string()),
            row("lost events", &|s| s.lost_events.to_string()),
        ],
    });
    out.retain(|s| !s.rows.is_empty());
    out
}

/// The lines under the table: how the statistics were done and what they
/// could not say.
fn footnotes(c: &Comparison) -> Vec<String> {
    let mut notes = vec![format!("statistics: {}.", c.method)];
    let tests: Vec<&Ratio> = c
        .ordered()
        .filter_map(|s| s.vs_baseline.as_ref())
        .flat_map(|v| [&v.throughput, &v.write_p50, &v.write_p99, &v.wait_per_op])
        .collect();
    if let Some(m) = tests
        .iter()
        .filter_map(|r| r.test.and_then(|t| t.min_p.map(|m| (m, t.n1, t.n2))))
        .find(|(m, _, _)| *m >= ALPHA)
    {
        notes.push(format!(
            "with {}+{} repetitions the smallest possible p is {}: no difference can be called; \
             use --repeat 4 or more.",
            m.1,
            m.2,
            p_text(m.0)
        ));
    }
    if tests
        .iter()
        .any(|r| r.test.is_some_and(|t| t.n1.min(t.n2) < 3))
        || c.ordered().any(|s| s.repetitions < 3)
    {
        notes.push("fewer than 3 repetitions: no test is run, every ratio is within noise.".into());
    }
    notes.push(
        "(noise): p >= 0.05 or too few repetitions; ratios are medians over the baseline's.".into(),
    );
    notes
}

fn header(c: &Comparison) -> String {
    let s = &c.setup;
    format!(
        "compare: {} on {}, {} threads, {}, seed {}, {} repetition{} each, interleaved{}",
        s.workload,
        c.order.join(", "),
        s.threads,
        s.plan,
        s.seed,
        s.repeat,
        if s.repeat == 1 { "" } else { "s" },
        if c.interrupted { " (interrupted)" } else { "" }
    )
}

impl Comparison {
    /// Aligned text for a terminal.
    pub fn text(&self) -> String {
        let secs = sections(self);
        let names: Vec<String> = self.ordered().map(|s| s.name.clone()).collect();
        let label_w = secs
            .iter()
            .flat_map(|s| s.rows.iter().map(|r| r.0.chars().count() + 2))
            .max()
            .unwrap_or(0)
            .max(20);
        let widths: Vec<usize> = (0..names.len())
            .map(|i| {
                secs.iter()
                    .flat_map(|s| s.rows.iter().map(|r| r.1[i].chars().count()))
                    .chain([names[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let pad =
            |s: &str, w: usize| format!("{}{s}", " ".repeat(w.saturating_sub(s.chars().count())));
        let mut out = String::new();
        let _ = writeln!(out, "{}", header(self));
        let mut line = " ".repeat(label_w);
        for (n, w) in names.iter().zip(&widths) {
            line.push_str("  ");
            line.push_str(&pad(n, *w));
        }
        let _ = writeln!(out, "{}", line.trim_end());
        for s in &secs {
            let _ = writeln!(out, "{}", s.title);
            for (label, cells) in &s.rows {
                let mut line = format!("  {label}");
                line.push_str(&" ".repeat(label_w.saturating_sub(label.chars().count() + 2)));
                for (c, w) in cells.iter().zip(&widths) {
                    line.push_str("  ");
                    line.push_str(&pad(c, *w));
                }
                let _ = writeln!(out, "{line}");
            }
        }
        let _ = writeln!(out);
        for v in &self.verdicts {
            let _ = writeln!(out, "{v}");
        }
        let _ = writeln!(out);
        for n in footnotes(self).iter().chain(&self.notes) {
            let _ = writeln!(out, "{n}");
        }
        out
    }

    /// The same table as GitHub markdown.
    pub fn markdown(&self) -> String {
        let secs = sections(self);
        let names: Vec<String> = self.ordered().map(|s| s.name.clone()).collect();
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        let _ = writeln!(out, "# lockline {}\n", header(self));
        let _ = writeln!(out, "| | {} |", names.join(" | "));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(names.len()));
        for s in &secs {
            let _ = writeln!(out, "| **{}** |{}", esc(&s.title), " |".repeat(names.len()));
            for (label, cells) in &s.rows {
                let cells: Vec<String> = cells.iter().map(|c| esc(c)).collect();
                let _ = writeln!(out, "| {} | {} |", esc(label.trim()), cells.join(" | "));
            }
        }
        let _ = writeln!(out, "\n## Verdicts\n");
        for v in &self.verdicts {
            let _ = writeln!(out, "- {}", esc(v));
        }
        let _ = writeln!(out, "\n## Notes\n");
        for n in footnotes(self).iter().chain(&self.notes) {
            let _ = writeln!(out, "- {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_three_digits() {
        assert_eq!(num(1234.4), "1234");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.5), "1.5");
        assert_eq!(num(0.1234), "0.123");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "-");
    }
}

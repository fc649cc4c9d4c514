//! `lockline sweep`: one build and workload under every combination of the
//! given knob values, each as checked rounds on a fresh disk; a matrix of
//! per-round violation rates with Wilson intervals, and the knobs that
//! move the rate when flipped alone — the kernel-config bisection done on
//! the model.

use crate::args::KnobArgs;
use crate::exit::{self, parse_size, usage};
use crate::sweep_stats::{combinations, effects, KnobEffect, Rate};
use anyhow::{Context, Result};
use lockline_engine::Build;
use lockline_harness::check::Counts;
use lockline_harness::rounds::{run_rounds, RoundsSpec, DEFAULT_ROUND_OPS};
use lockline_harness::session::SessionSpec;
use lockline_harness::workload::{Progress, RunSpec, Stop, WorkloadKind};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

#[derive(clap::Args)]
pub struct Args {
    /// locked, lockless or lockless-min.
    #[arg(long, value_parser = |s: &str| s.parse::<Build>())]
    build: Build,
    /// overlap, qemu-snapshot, append-mix, claim-mix, truncate-mix, disjoint
    /// or fsx-mix.
    #[arg(long, value_parser = |s: &str| s.parse::<WorkloadKind>())]
    workload: WorkloadKind,
    /// A knob and the values to try, as `name=v1,v2,...` with the names
    /// `run` takes them by (large-folios=on,off, migration-us=0,50,
    /// reclaim=0,4M, short-copy-rate=0,0.05, ...). Repeatable; every
    /// combination runs.
    #[arg(long = "knob", value_name = "NAME=V1,V2", required = true)]
    knobs: Vec<String>,
    /// Checked rounds per combination.
    #[arg(long, default_value_t = 40)]
    rounds: u64,
    /// Ops per round.
    #[arg(long, default_value_t = DEFAULT_ROUND_OPS)]
    round_ops: u64,
    #[arg(long, default_value_t = 4)]
    threads: u32,
    /// The same seeds (seed, seed + 1, ... per round) for every combination.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value = "16M", value_parser = parse_size)]
    file_size: u64,
    /// Disk for the runs (formatted afresh for each combination; needs
    /// --force if it holds a file system). Default: an image in $TMPDIR.
    #[arg(long)]
    disk: Option<PathBuf>,
    #[arg(long, requires = "disk")]
    force: bool,
    /// Also write sweep.md and sweep.json here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// The other knobs (held fixed), as `run` takes them.
    #[command(flatten)]
    base: KnobArgs,
}

/// `name=v1,v2` split and checked.
fn parse_knob(s: &str) -> Result<(String, Vec<String>), String> {
    let (name, vals) = s
        .split_once('=')
        .ok_or_else(|| format!("--knob {s}: expected NAME=V1,V2,..."))?;
    let vals: Vec<String> = vals
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if vals.is_empty() {
        return Err(format!("--knob {name}: no values"));
    }
    Ok((name.trim().to_string(), vals))
}

/// One combination's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    /// The swept knobs' values, in --knob order.
    pub values: Vec<String>,
    pub rate: Rate,
    pub violations: Counts,
    /// Seconds from the start of the combination's run to the end of the
    /// first round with a violation.
    pub first_violation_s: Option<f64>,
    pub first_violation_round: Option<u64>,
    /// Rounds left out of the rate because their source lost events.
    pub suspect_rounds: u64,
    pub ops: u64,
    pub seconds: f64,
    pub lost_events: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Sweep {
    pub build: String,
    pub workload: String,
    pub seed: u64,
    pub rounds_per_combination: u64,
    pub round_ops: u64,
    pub knobs: Vec<String>,
    pub cells: Vec<Cell>,
    pub effects: Vec<KnobEffect>,
    /// Combinations not run (Ctrl-C).
    pub skipped: usize,
}

pub fn run(a: Args) -> Result<u8> {
    let mut names = Vec::new();
    let mut values: Vec<Vec<String>> = Vec::new();
    for s in &a.knobs {
        let (name, vals) = parse_knob(s).map_err(usage)?;
        if names.contains(&name) {
            return Err(usage(format!("--knob {name} given twice")));
        }
        names.push(name);
        values.push(vals);
    }
    if a.rounds == 0 || a.round_ops == 0 {
        return Err(usage("--rounds and --round-ops must be at least 1"));
    }
    if let Some(o) = &a.out {
        // As compare does: created when its parent exists.
        if o.exists() && !o.is_dir() {
            return Err(usage(format!("--out {} is not a directory", o.display())));
        }
        if !o.exists() {
            std::fs::create_dir(o)
                .map_err(|e| usage(format!("--out {}: cannot create it: {e}", o.display())))?;
        }
    }
    // Every combination's knobs, checked before the first mkfs.
    let combos = combinations(&values.iter().map(Vec::len).collect::<Vec<_>>());
    let mut knobs = Vec::new();
    for c in &combos {
        let mut k = a.base.clone();
        for (i, &v) in c.iter().enumerate() {
            k.set(&names[i], &values[i][v]).map_err(usage)?;
        }
        knobs.push(k.knobs(a.seed)?);
    }
    let run = RunSpec {
        workload: a.workload,
        threads: a.threads,
        stop: Stop::Ops(a.round_ops),
        seed: a.seed,
        file: format!("/{}.dat", a.workload.name()),
        file_size: a.file_size,
        write_size: 64 << 10,
        readers: 0,
    };
    run.validate().map_err(|e| usage(e.to_string()))?;
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let disk = a
        .disk
        .clone()
        .unwrap_or_else(|| scratch.path().join("sweep.img"));
    let rounds = RoundsSpec {
        rounds: Some(a.rounds),
        seconds: None,
        round_ops: a.round_ops,
    };
    exit::install_sigint();
    let show = !a.json;
    let mut cells = Vec::new();
    for (i, (c, k)) in combos.iter().zip(&knobs).enumerate() {
        if exit::SIGINT_SEEN.load(Ordering::Relaxed) {
            break;
        }
        let vals: Vec<String> = c
            .iter()
            .enumerate()
            .map(|(j, &v)| values[j][v].clone())
            .collect();
        let label = label(&names, &vals);
        let mut spec = SessionSpec::new(disk.clone(), a.build, k.clone(), run.clone());
        spec.mkfs = Some(256 << 20);
        // Each combination formats the disk it ran on before: only the
        // first needs the user's --force for a disk found in use.
        spec.mkfs_force = a.force || i > 0;
        // Only verdicts are wanted: each round's events go once checked,
        // so no round runs out of recorder budget.
        spec.keep_events = false;
        let bar = show.then(|| {
            let b = indicatif::ProgressBar::new(a.rounds);
            b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            b.set_message(format!("[{}/{}] {label}", i + 1, combos.len()));
            b
        });
        let live = |l: lockline_harness::rounds::Live| {
            if let (Some(b), lockline_harness::rounds::Live::RoundDone { .. }) = (&bar, l) {
                b.inc(1);
            }
        };
        let (report, _events) = run_rounds(
            &spec,
            &rounds,
            &Progress::default(),
            None,
            Some(&live),
            &exit::SIGINT_SEEN,
        )?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        // A round that lost events may report ops missing from its
        // history as lost writes: it does not count.
        let trusted: Vec<_> = report
            .per_round
            .iter()
            .filter(|r| r.lost_events == 0)
            .collect();
        let bad = trusted.iter().filter(|r| r.violations.total() > 0).count() as u64;
        let cell = Cell {
            values: vals,
            rate: Rate::wilson(bad, trusted.len() as u64),
            suspect_rounds: report.per_round.len() as u64 - trusted.len() as u64,
            violations: report.session.summary.violations,
            first_violation_s: report.first_violation_s,
            first_violation_round: report.first_violation_round,
            ops: report.session.summary.ops,
            seconds: report.wall_seconds,
            lost_events: report.session.summary.lost_events,
        };
        if show {
            let w = label_width(&names, std::slice::from_ref(&cell));
            println!("{}", cell_line(&names, &cell, w));
        }
        cells.push(cell);
    }
    let done: Vec<Vec<usize>> = combos[..cells.len()].to_vec();
    let rates: Vec<Rate> = cells.iter().map(|c| c.rate).collect();
    let sweep = Sweep {
        build: a.build.name().to_string(),
        workload: a.workload.name().to_string(),
        seed: a.seed,
        rounds_per_combination: a.rounds,
        round_ops: a.round_ops,
        effects: effects(&names, &done, &rates),
        knobs: names,
        skipped: combos.len() - cells.len(),
        cells,
    };
    let text = render(&sweep);
    if a.json {
        println!("{}", serde_json::to_string(&sweep)?);
    } else {
        println!();
        print!("{text}");
    }
    if let Some(o) = &a.out {
        let md = o.join("sweep.md");
        std::fs::write(&md, format!("```\n{text}```\n"))
            .with_context(|| format!("writing {}", md.display()))?;
        let js = o.join("sweep.json");
        std::fs::write(&js, serde_json::to_string_pretty(&sweep)?)
            .with_context(|| format!("writing {}", js.display()))?;
        if !a.json {
            println!("written: {} {}", md.display(), js.display());
        }
    }
    Ok(if sweep.skipped > 0 {
        exit::INTERRUPTED
    } else {
        exit::OK
    })
}

fn pct(p: f64) -> String {
    format!("{:.1}%", p * 100.0)
}

fn classes(c: &Counts) -> String {
    let mut v = Vec::new();
    for (n, name) in [(c.dropped, "dropped"), (c.stale, "stale"), (c.torn, "torn")] {
        if n > 0 {
            v.push(format!("{name} {n}"));
        }
    }
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

fn label(names: &[String], values: &[String]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Width of the combination column: every label fits.
fn label_width(names: &[String], cells: &[Cell]) -> usize {
    cells
        .iter()
        .map(|c| label(names, &c.values).len())
        .max()
        .unwrap_or(0)
        .max(11)
}

fn cell_line(names: &[String], c: &Cell, w: usize) -> String {
    format!(
        "{:<w$} {:>7} {:>6} [{:>6}, {:>6}]  first {:>8}  {}{}",
        label(names, &c.values),
        format!("{}/{}", c.rate.k, c.rate.n),
        pct(c.rate.p),
        pct(c.rate.lo),
        pct(c.rate.hi),
        c.first_violation_s
            .map_or_else(|| "-".to_string(), |s| format!("{s:.2} s")),
        classes(&c.violations),
        if c.suspect_rounds > 0 {
            format!(
                "  ({} rounds lost events and are left out)",
                c.suspect_rounds
            )
        } else {
            String::new()
        }
    )
}

/// The matrix and the knobs that matter, as printed (and in sweep.md).
pub fn render(s: &Sweep) -> String {
    let mut out = format!(
        "sweep: {} on {}, {} rounds of {} ops per combination, seeds {}..{}\n",
        s.workload,
        s.build,
        s.rounds_per_combination,
        s.round_ops,
        s.seed,
        s.seed + s.rounds_per_combination - 1
    );
    let w = label_width(&s.knobs, &s.cells);
    out += &format!(
        "{:<w$} {:>7} {:>6} {:>18}  {:>14}  {}\n",
        "combination", "rounds", "rate", "95% Wilson", "first", "sectors"
    );
    for c in &s.cells {
        out += &cell_line(&s.knobs, c, w);
        out.push('\n');
    }
    if s.skipped > 0 {
        out += &format!("({} combinations not run: interrupted)\n", s.skipped);
    }
    out +=
        "knobs that matter (the rate, flipping the knob alone, leaves both settings' intervals):\n";
    for e in &s.effects {
        let verdict = if e.flips.is_empty() {
            "not tested (no pair differing in it alone ran)".to_string()
        } else if e.matters() {
            format!(
                "MATTERS in {}/{} flips (largest change {:+.1} points)",
                e.moved,
                e.flips.len(),
                e.largest * 100.0
            )
        } else {
            format!(
                "within the intervals in all {} flips (largest change {:.1} points)",
                e.flips.len(),
                e.largest * 100.0
            )
        };
        out += &format!("  {:<18} {verdict}\n", e.knob);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knob_lists_parse() {
        assert!(parse_knob("reclaim=").is_err());
        assert!(parse_knob("reclaim").is_err());
        assert_eq!(
            parse_knob("reclaim=0, 4M").unwrap(),
            (
                "reclaim".to_string(),
                vec!["0".to_string(), "4M".to_string()]
            )
        );
    }
}

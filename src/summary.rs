//! The text summaries of checked runs, written once for every command that
//! prints one (run, demo, kernel, compare's columns): the run line, the
//! rounds, the three checks and their violations, perf and event counts,
//! and the lock timeline around the first violation.

use lockline_engine::probe::Event;
use lockline_harness::check::{self, CheckReport};
use lockline_harness::kernel::KernelReport;
use lockline_harness::perf::Counts;
use lockline_harness::rounds::RoundsReport;
use lockline_harness::session::RunSummary;

/// "round 7 (seed 7): 2 torn sectors: <first explanation>".
pub fn round_line(round: u64, seed: u64, check: Option<&CheckReport>) -> String {
    let mut line = format!("round {round} (seed {seed})");
    if let Some(c) = check {
        line.push_str(&format!(": {}", counts_phrase(&c.counts)));
        if let Some(v) = c.violations.first() {
            line.push_str(&format!(": {}", v.explanation));
        }
    }
    line
}

/// "3 dropped, 2 torn sectors".
fn counts_phrase(c: &check::Counts) -> String {
    let parts: Vec<String> = [("dropped", c.dropped), ("stale", c.stale), ("torn", c.torn)]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    if parts.is_empty() {
        "no violations".to_string()
    } else {
        format!("{} sectors", parts.join(", "))
    }
}

pub fn print_summary(r: &RoundsReport, trace: Option<&std::path::Path>) {
    println!(
        "{} on {}: {} ops, {} MiB in {:.2} s = {:.1} MiB/s, {} threads, seed {}",
        r.session.summary.workload,
        r.session.build,
        r.session.summary.ops,
        r.session.summary.bytes >> 20,
        r.session.summary.seconds,
        r.session.summary.throughput_mib_s,
        r.session.summary.threads,
        r.session.summary.seed
    );
    if !r.session.injected.is_empty() {
        println!("injected bugs: {}", r.session.injected.join(", "));
    }
    println!("{}", rounds_line(r));
    print_outcome_of(&r.session.summary, r.shown_check());
    let e = &r.session.engine;
    println!(
        "engine: {} short copies, {} restarts, {} post-EOF truncates, {} folios written, {} reclaimed, {} migrated",
        e.short_copies, e.restarts, e.post_eof_truncates, e.folios_written, e.reclaimed_folios, e.migrated_folios
    );
    if !r.session.perf.per_thread.is_empty() {
        println!(
            "perf ({} worker threads): {}",
            r.session.perf.per_thread.len(),
            perf_line(&r.session.perf.total)
        );
    }
    print_events_line(&r.session.summary);
    if let Some(t) = trace {
        println!("trace: {}", t.display());
    }
}

/// "N rounds of K ops (seeds a..b), M with violations, first in round R
/// after X s".
fn rounds_line(r: &RoundsReport) -> String {
    let seeds = match r.per_round.as_slice() {
        [] => String::new(),
        [one] => format!(" (seed {})", one.seed),
        [first, .., last] => format!(" (seeds {}..{})", first.seed, last.seed),
    };
    let of = r
        .round_ops
        .map_or(String::new(), |k| format!(" of {k} ops"));
    let mut line = format!(
        "{} round{}{of}{seeds}, ",
        r.rounds,
        if r.rounds == 1 { "" } else { "s" }
    );
    match (r.first_violation_round, r.first_violation_s) {
        (Some(f), Some(s)) => line.push_str(&format!(
            "{} with violations, first in round {f} after {s:.2} s",
            r.rounds_with_violations
        )),
        _ => line.push_str("none with violations"),
    }
    if r.interrupted {
        line.push_str(" (interrupted)");
    }
    line
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// One line of perf counts; "-" for a counter that could not be opened.
pub fn perf_line(c: &Counts) -> String {
    format!(
        "{} ctx switches, {} migrations, {} page faults, task clock {} ms, {} cycles, {} instructions",
        opt(c.context_switches),
        opt(c.cpu_migrations),
        opt(c.page_faults),
        opt(c.task_clock_ns.map(|n| n / 1_000_000)),
        opt(c.cycles),
        opt(c.instructions)
    )
}

/// How many events, from where, how many lost, and what the source
/// skipped; lost events make the checker's verdict suspect, so say so.
pub fn print_events_line(s: &RunSummary) {
    if !s.probe_reason.is_empty() {
        println!("{}", s.probe_reason);
    }
    println!(
        "events: {} recorded ({}), {} lost",
        s.events, s.probe_source, s.lost_events
    );
    if s.lost_events > 0 {
        println!("warning: events were lost: ops missing from the history may show up as false violations");
    }
    for n in &s.probe_notes {
        println!("note: {n}");
    }
}

/// Op errors, the three checks and the final check's violations: the part
/// of a summary every checked run (engine or kernel) shares.
pub fn print_outcome(s: &RunSummary) {
    print_outcome_of(s, s.final_check());
}

/// `print_outcome` with the violations of `shown`. Checks of several
/// rounds are summed per label ("after-run, 12 rounds: ...").
pub fn print_outcome_of(s: &RunSummary, shown: Option<&CheckReport>) {
    if s.op_errors > 0 {
        println!(
            "op errors: {} (first: {})",
            s.op_errors,
            s.first_error.as_deref().unwrap_or("?")
        );
    }
    let r = &s.reads;
    if r.reads > 0 {
        println!(
            "  {:<14} {} reads, {} sectors: {} with violations, {} dropped, {} stale sectors{}",
            lockline_harness::check::DURING_RUN,
            r.reads,
            r.sectors,
            r.bad_reads,
            r.counts.dropped,
            r.counts.stale,
            if r.reads_not_kept > 0 {
                format!(" ({} more reads not kept)", r.reads_not_kept)
            } else {
                String::new()
            }
        );
        for v in r.violations.iter().take(3) {
            println!("  {}", v.explanation);
        }
    }
    // Per label, in the order the checks ran: (label, rounds, sectors, ok, counts).
    let mut sums: Vec<(&str, u64, u64, u64, check::Counts)> = Vec::new();
    for c in &s.checks {
        let i = match sums.iter().position(|x| x.0 == c.label) {
            Some(i) => i,
            None => {
                sums.push((&c.label, 0, 0, 0, check::Counts::default()));
                sums.len() - 1
            }
        };
        let x = &mut sums[i];
        x.1 += 1;
        x.2 += c.sectors_checked;
        x.3 += c.ok;
        x.4 += c.counts;
    }
    for (label, n, sectors, ok, counts) in &sums {
        let rounds = if *n > 1 {
            format!("{n} rounds, ")
        } else {
            String::new()
        };
        println!(
            "  {label:<14} {rounds}{sectors} sectors: {ok} ok, {} dropped, {} stale, {} torn",
            counts.dropped, counts.stale, counts.torn
        );
    }
    if let Some(c) = shown.filter(|c| !c.violations.is_empty()) {
        if c.round > 0 && sums.iter().any(|x| x.1 > 1) {
            println!("  round {}, {}:", c.round, c.label);
        }
        for v in c.violations.iter().take(10) {
            match v.folio {
                Some((index, order)) => {
                    println!("  [folio {index}, order {order}] {}", v.explanation)
                }
                None => println!("  {}", v.explanation),
            }
        }
        if c.violations.len() > 10 {
            println!(
                "  ... {} more (use --json for all)",
                c.violations.len() - 10
            );
        }
    }
}

/// The lock timeline around the first violation of `check` (the final
/// check of the first round with one): every hold on that inode from the
/// first op involved beginning to the last one ending, one lane per thread.
pub fn print_violation_timeline(check: Option<&CheckReport>, events: &[Event]) {
    let Some(v) = check.and_then(|c| c.violations.first()) else {
        println!("timeline: no violation to show");
        return;
    };
    let t0 = v.ops.iter().map(|o| o.begin_ns).min().unwrap_or(0);
    let t1 = v
        .ops
        .iter()
        .map(|o| o.end_ns)
        .filter(|e| *e != u64::MAX)
        .max()
        .unwrap_or(t0 + 1);
    let on_inode: Vec<_> = events
        .iter()
        .filter(|e| e.inode == v.ino || e.inode == 0)
        .copied()
        .collect();
    let holds = lockline_analysis::holds_from_events(&on_inode);
    println!(
        "lock timeline of the first violation ({}, sectors {}..{}): {:.3} ms from the first op's begin to the last op's end",
        format!("{:?}", v.class).to_lowercase(),
        v.first_sector,
        v.first_sector + v.nr_sectors,
        (t1 - t0) as f64 / 1e6,
    );
    println!("{}", lockline_tui::timeline::LEGEND);
    for lane in lockline_tui::timeline::render(&holds, t0, t1.max(t0 + 1), 100) {
        println!("{lane}");
    }
}

pub fn print_kernel_summary(r: &KernelReport, trace: Option<&std::path::Path>) {
    println!(
        "{} on {}: {} ops, {} MiB in {:.2} s = {:.1} MiB/s, {} threads, seed {}{}",
        r.summary.workload,
        r.build,
        r.summary.ops,
        r.summary.bytes >> 20,
        r.summary.seconds,
        r.summary.throughput_mib_s,
        r.summary.threads,
        r.summary.seed,
        if r.interrupted { " (interrupted)" } else { "" }
    );
    println!(
        "device: {} ({} MiB image), kernel {}",
        r.device.loop_device,
        r.device.image_bytes >> 20,
        r.device.kernel
    );
    print_outcome(&r.summary);
    for t in &r.perf.per_thread {
        println!(
            "  perf thread {} (tid {}): {}",
            t.thread,
            t.tid,
            perf_line(&t.counts)
        );
    }
    println!("perf total: {}", perf_line(&r.perf.total));
    print_events_line(&r.summary);
    for n in &r.notes {
        println!("note: {n}");
    }
    if let Some(t) = trace {
        println!("trace: {}", t.display());
    }
}

/// Two lines for a mount or exec trace: how often an extending write ran
/// beside another write inside the engine, and the trace's own checks (the
/// files the disk kept, read back at unmount, and the clients' reads, both
/// judged by content provenance).
pub fn unmount_check_line(trace: &lockline_analysis::Trace) -> String {
    use lockline_harness::check::{provenance::AT_UNMOUNT, DURING_RUN};
    let count = |label: &str, class: &str| -> u64 {
        trace
            .violations
            .iter()
            .filter(|v| v.check == label && v.class == class)
            .map(|v| v.nr_sectors)
            .sum()
    };
    let v: serde_json::Value = serde_json::from_str(&trace.meta.summary_json).unwrap_or_default();
    let overlap: lockline_analysis::overlap::WriteOverlap =
        serde_json::from_value(v["write_overlap"].clone()).unwrap_or_default();
    format!(
        "{}\nchecked by provenance: {} files at unmount ({} dropped, {} stale, {} torn sectors); {} client reads ({} dropped, {} stale sectors)",
        overlap.line(),
        v["files_checked"],
        count(AT_UNMOUNT, "dropped"),
        count(AT_UNMOUNT, "stale"),
        count(AT_UNMOUNT, "torn"),
        v["reads"]["reads"],
        count(DURING_RUN, "dropped"),
        count(DURING_RUN, "stale"),
    )
}

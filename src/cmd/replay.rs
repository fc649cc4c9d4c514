//! `lockline replay`: one schedule id run again, checked to give the same
//! events and verdict (as a second run, or as the trace `explore` wrote),
//! and with `--minimize` shrunk to the fewest switches and ops that still
//! lose data, printed as steps a developer can write a test from.

use crate::exit::{self, usage};
use crate::scratch::{scratch_dir, scratch_image};
use crate::trace_out;
use anyhow::Result;
use lockline_analysis::run_trace;
use lockline_engine::probe::Event;
use lockline_harness::explore::id::ScheduleId;
use lockline_harness::explore::minimize::minimize;
use lockline_harness::explore::round::{canonical, run_schedule, Actor, ScheduleRun};
use lockline_harness::explore::saved::ScheduleSummary;
use lockline_harness::workload::Op;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The schedule id `explore` printed (v1/BUILD/WORKLOAD/...).
    pub schedule: String,
    /// The trace `explore` wrote for this schedule: the replay must match
    /// its events and verdict (default: a second run must match the first).
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Shrink the schedule (fewer switches, fewer ops) while it still loses
    /// data the same way, and print it as steps.
    #[arg(long)]
    pub minimize: bool,
    /// Write the trace of the replayed (or minimized) schedule here.
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Scratch disk image (default: as explore's).
    #[arg(long)]
    pub disk: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct Report {
    schedule: String,
    explicit: String,
    /// Compared against: "second run" or the trace's path.
    against: String,
    identical: bool,
    /// The first differing event, if any.
    difference: Option<String>,
    events: usize,
    verdict: Vec<(String, u64, u64, u64)>,
    violating: bool,
    minimized: Option<Minimal>,
}

#[derive(serde::Serialize)]
struct Minimal {
    schedule: String,
    tries: u64,
    ops: Vec<String>,
    steps: Vec<String>,
    verdict: Vec<(String, u64, u64, u64)>,
}

fn first_difference(a: &[Event], b: &[Event]) -> Option<String> {
    let (ca, cb) = (canonical(a), canonical(b));
    let i = ca.iter().zip(&cb).position(|(x, y)| x != y);
    match i {
        Some(i) => Some(format!(
            "event {i}: {} vs {}",
            describe(&a[i]),
            describe(&b[i])
        )),
        None if ca.len() != cb.len() => Some(format!(
            "{} events vs {} (the first {} agree)",
            ca.len(),
            cb.len(),
            ca.len().min(cb.len())
        )),
        None => None,
    }
}

fn describe(e: &Event) -> String {
    format!(
        "{} inode {} folio {} op {} a {} b {}",
        lockline_harness::explore::sched::describe(*e),
        e.inode,
        e.folio,
        e.op,
        e.a,
        e.b
    )
}

pub fn run(a: Args) -> Result<u8> {
    let id: ScheduleId = a.schedule.parse().map_err(usage)?;
    if let Some(p) = &a.save {
        trace_out::check_trace_path(p)?;
    }
    let expected = match &a.trace {
        Some(p) => Some(load_expected(p, &id)?),
        None => None,
    };
    let scratch = scratch_dir()?;
    let (image, _gone) = scratch_image(a.disk.as_deref(), &scratch, "replay.img")?;
    let run = run_schedule(&id, &image)?;
    if let Some(why) = &run.lost_control {
        eprintln!("lockline: note: the scheduler lost control ({why}): this run is not exact");
    }
    let (against, difference) = match &expected {
        Some((path, events, verdict)) => {
            let mut d = first_difference(events, &run.events);
            if d.is_none() && *verdict != run.verdict() {
                d = Some(format!("verdict {:?} vs {:?}", verdict, run.verdict()));
            }
            (path.display().to_string(), d)
        }
        None => {
            let again = run_schedule(&id, &image)?;
            let mut d = first_difference(&run.events, &again.events);
            if d.is_none() && run.verdict() != again.verdict() {
                d = Some(format!(
                    "verdict {:?} vs {:?}",
                    run.verdict(),
                    again.verdict()
                ));
            }
            ("second run".to_string(), d)
        }
    };
    let minimized = if a.minimize {
        let live = !a.json && std::io::stderr().is_terminal();
        let mut on_try = |n: u64| {
            if live && n.is_multiple_of(10) {
                eprint!("\rminimizing: {n} schedules tried");
            }
        };
        let m = minimize(&run, &image, &mut on_try)?;
        if live {
            eprint!("\r\x1b[K");
        }
        Some(m)
    } else {
        None
    };
    let shown: &ScheduleRun = minimized.as_ref().map(|m| &m.run).unwrap_or(&run);
    if let Some(p) = &a.save {
        trace_out::write(p, &run_trace::schedule_trace(shown)?)?;
    }
    let report = Report {
        schedule: id.to_string(),
        explicit: run.explicit_id().to_string(),
        against,
        identical: difference.is_none(),
        difference,
        events: run.events.len(),
        verdict: run.verdict(),
        violating: run.violating(),
        minimized: minimized.as_ref().map(|m| Minimal {
            schedule: m.run.explicit_id().to_string(),
            tries: m.tries,
            ops: ops_lines(&m.run),
            steps: step_lines(&m.run),
            verdict: m.run.verdict(),
        }),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report, &run, minimized.as_ref().map(|m| &m.run));
    }
    Ok(if !report.identical || report.violating {
        exit::PROBLEMS
    } else {
        exit::OK
    })
}

type Expected = (PathBuf, Vec<Event>, Vec<(String, u64, u64, u64)>);

/// The trace explore wrote for `id`: its events and verdict. A trace of
/// another schedule, build or workload is the user's mistake.
fn load_expected(p: &std::path::Path, id: &ScheduleId) -> Result<Expected> {
    let t = trace_out::load(p)?;
    let s: ScheduleSummary = serde_json::from_str(&t.meta.summary_json).map_err(|_| {
        usage(format!(
            "{} is not the trace of an explored schedule (lockline explore writes those)",
            p.display()
        ))
    })?;
    let theirs: ScheduleId = s.schedule.parse().map_err(usage)?;
    if (theirs.build, theirs.workload) != (id.build, id.workload) {
        return Err(usage(format!(
            "schedule is {} on {}, but {} holds a schedule of {} on {}",
            id.workload,
            id.build,
            p.display(),
            theirs.workload,
            theirs.build
        )));
    }
    let ours = id.to_string();
    if ours != s.schedule && ours != s.explicit {
        return Err(usage(format!(
            "{} holds schedule {}, not {ours}",
            p.display(),
            s.schedule
        )));
    }
    Ok((p.to_path_buf(), t.events, s.verdict))
}

fn op_line(i: usize, op: &Op) -> String {
    match *op {
        Op::Write { offset, len } => format!("op {i}: write {len} bytes at {offset}"),
        Op::Append { len } => format!("op {i}: O_APPEND write of {len} bytes"),
        Op::Truncate { size } => format!("op {i}: truncate to {size}"),
        Op::Punch { offset, len } => format!("op {i}: punch {len} bytes at {offset}"),
        Op::MapWrite { offset, len } => {
            format!("op {i}: store {len} bytes at {offset} through a mapping")
        }
        Op::Read { offset, len } => format!("op {i}: read {len} bytes at {offset}"),
        Op::Allocate {
            offset,
            len,
            keep_size,
        } => format!(
            "op {i}: allocate {len} bytes at {offset}{}",
            if keep_size { " (keep size)" } else { "" }
        ),
    }
}

fn ops_lines(run: &ScheduleRun) -> Vec<String> {
    run.actors
        .iter()
        .map(|a| match a {
            Actor::Worker { ops, .. } => {
                let ops: Vec<String> = ops.iter().map(|(i, o)| op_line(*i, o)).collect();
                format!(
                    "{}: {}",
                    a.name(),
                    if ops.is_empty() {
                        "nothing".to_string()
                    } else {
                        ops.join("; ")
                    }
                )
            }
            Actor::Flusher => "flusher: one writeback pass (WB_SYNC_NONE)".to_string(),
            Actor::Migrate => "migrate: one folio migration (sync-light)".to_string(),
        })
        .collect()
}

fn step_lines(run: &ScheduleRun) -> Vec<String> {
    let name = |i: usize| {
        run.actors
            .get(i)
            .map(|a| a.name())
            .unwrap_or_else(|| format!("thread {i}"))
    };
    run.readable
        .iter()
        .map(|s| match s.from {
            None => format!("{} starts", name(s.to)),
            Some(f) => {
                let how = if s.preempted { "preempted" } else { "stops" };
                format!(
                    "{}{} {how} {} -> {} runs",
                    name(f),
                    s.op.map(|o| format!(" in op {o}")).unwrap_or_default(),
                    s.at,
                    name(s.to)
                )
            }
        })
        .collect()
}

fn verdict_line(v: &[(String, u64, u64, u64)]) -> String {
    v.iter()
        .map(|(l, d, s, t)| {
            if d + s + t == 0 {
                format!("{l} clean")
            } else {
                format!("{l} dropped {d} stale {s} torn {t}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn print(r: &Report, run: &ScheduleRun, min: Option<&ScheduleRun>) {
    println!("schedule {}", r.schedule);
    println!(
        "  {} decisions, {} switches, {} events; {}",
        run.steps,
        run.switches.len(),
        r.events,
        verdict_line(&r.verdict)
    );
    match &r.difference {
        None => println!("  identical to the {}: events and verdict", r.against),
        Some(d) => println!("  DIFFERS from the {}: {d}", r.against),
    }
    for c in run
        .checks
        .iter()
        .filter(|c| !c.violations.is_empty())
        .take(1)
    {
        for line in c.to_string().lines() {
            println!("  {line}");
        }
    }
    if let (Some(m), Some(mm)) = (&r.minimized, min) {
        println!(
            "minimal schedule ({} tried): {} switches, {} ops",
            m.tries,
            mm.switches.len(),
            (0..mm.id.ops as usize).filter(|&i| mm.id.kept(i)).count()
        );
        println!("  {}", m.schedule);
        println!("  {}", verdict_line(&m.verdict));
        println!("threads:");
        for o in &m.ops {
            println!("  {o}");
        }
        println!("steps:");
        for (i, s) in m.steps.iter().enumerate() {
            println!("  {:>2}. {s}", i + 1);
        }
    }
}

//! Checked rounds shown live (`run --tui`, `demo --tui`). The rounds run
//! on their own thread and hand events, checks and round ends to the UI as
//! they happen; when the run ends its trace is analysed (culprits, lints)
//! and replayed into the UI at full resolution, which stays open on the
//! whole of it until `q`. Quitting early stops the run after the current
//! round's checks.

use super::replay::IN_FLIGHT;
use super::{replay_messages, Feed};
use crate::event::Credits;
use crate::state::data::Retention;
use crate::state::App;
use crate::term::{self, Exporter};
use crate::Msg;
use lockline_analysis::report::{analyze, AnalyzeOptions};
use lockline_analysis::run_trace;
use lockline_analysis::{Trace, TraceMeta, ViolationRow};
use lockline_engine::probe::ExternalTracer;
use lockline_harness::rounds::{run_rounds, Live, RoundsReport, RoundsSpec};
use lockline_harness::session::SessionSpec;
use lockline_harness::workload::Progress;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// What a live run leaves: its report and its trace (events, ops,
/// violations, perf tracks).
pub type Outcome = (RoundsReport, Trace);

fn meta(spec: &SessionSpec, source: &str) -> TraceMeta {
    TraceMeta {
        build: spec.build.name().to_string(),
        workload: spec.run.workload.name().to_string(),
        seed: spec.run.seed,
        threads: spec.run.threads,
        knobs_json: serde_json::to_string(&spec.knobs).unwrap_or_default(),
        probe_source: source.to_string(),
        clock: if source == "inproc" {
            lockline_engine::probe::clock::Clock::best()
                .name()
                .to_string()
        } else {
            "ktime".to_string()
        },
        ..TraceMeta::default()
    }
}

/// Forwards what the rounds hand out to the UI, in time order.
fn forward(feed: &Mutex<Feed>, l: Live) {
    let mut feed = feed.lock().unwrap_or_else(|e| e.into_inner());
    match l {
        Live::Events(b) => {
            feed.push(b);
        }
        Live::Check { round, check } => {
            feed.flush();
            feed.say(Msg::Check {
                label: check.label.clone(),
                round: Some(round),
                violations: ViolationRow::from_checks(std::slice::from_ref(&check)),
            });
        }
        Live::RoundDone {
            round, violations, ..
        } => {
            feed.say(Msg::Round {
                round,
                violations: violations.total(),
            });
        }
    }
}

/// Runs the rounds with the UI on this thread; returns when the user
/// quits. `title` goes to the status bar at the start (the demo says which
/// build this is); `exporter` is what `e` calls. Errors are one line.
pub fn run(
    spec: &SessionSpec,
    rounds: &RoundsSpec,
    tracer: Option<Box<dyn ExternalTracer>>,
    title: &str,
    exporter: Option<Exporter>,
) -> Result<Outcome, String> {
    term::check_terminal()?;
    let source = if tracer.is_some() { "ebpf" } else { "inproc" };
    let (tx, rx) = std::sync::mpsc::channel();
    let _ = tx.send(Msg::Meta(Box::new(meta(spec, source))));
    let _ = tx.send(Msg::Status(title.to_string()));
    let stop = AtomicBool::new(false);
    let feed = Mutex::new(Feed::new(tx.clone(), false));
    std::thread::scope(|s| {
        let runner = {
            let (tx, stop, feed) = (tx.clone(), &stop, &feed);
            s.spawn(move || -> Result<Outcome, String> {
                let progress = Progress::default();
                let cb = |l: Live| forward(feed, l);
                let r = run_rounds(spec, rounds, &progress, tracer, Some(&cb), stop);
                let (report, events) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        let _ = tx.send(Msg::Done(format!("run failed: {e}")));
                        return Err(e.to_string());
                    }
                };
                feed.lock().unwrap_or_else(|e| e.into_inner()).flush();
                let trace = run_trace::rounds_trace(&report, events).map_err(|e| e.to_string())?;
                let done = format!(
                    "run finished: {} rounds, {} with violations{}; q quits",
                    report.rounds,
                    report.rounds_with_violations,
                    if report.interrupted {
                        " (stopped early)"
                    } else {
                        ""
                    }
                );
                if stop.load(Ordering::Relaxed) {
                    // The user has quit: nobody is looking.
                    return Ok((report, trace));
                }
                let _ = tx.send(Msg::Status(
                    "run finished; analysing (culprits, lints)...".into(),
                ));
                let a = analyze(&trace, &AnalyzeOptions::default());
                // The live view kept a window; the UI now gets all of it.
                let _ = tx.send(Msg::Reset);
                let credits = Credits::new(IN_FLIGHT);
                if replay_messages(&trace, Some(&credits), |m| tx.send(m).is_ok()) {
                    let _ = tx.send(Msg::Analysis(Box::new(a)));
                    let _ = tx.send(Msg::Done(done));
                }
                Ok((report, trace))
            })
        };
        let app = App::new(true, Some(Retention::default()));
        let ui = term::run(app, rx, tx, exporter);
        stop.store(true, Ordering::Relaxed);
        let out = runner.join().map_err(|_| "the run panicked".to_string())?;
        ui.map_err(|e| format!("terminal: {e}"))?;
        out
    })
}

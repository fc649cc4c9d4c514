//! A finished trace replayed as the same messages a live run sends, on a
//! thread of its own so the screen is up while a large trace loads and its
//! analysis runs.

use super::BATCH;
use crate::event::Msg;
use lockline_analysis::report::{analyze, Analysis, AnalyzeOptions};
use lockline_analysis::{threads, Trace};
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::Sender;

/// perf counter tracks summed over threads: each thread's track is
/// cumulative, so its last sample is its total.
pub fn perf_totals(trace: &Trace) -> Vec<(String, f64)> {
    let mut last: HashMap<(&str, u32), f64> = HashMap::new();
    for c in &trace.counters {
        if let Some(name) = c.track.strip_prefix("perf.") {
            let v = last.entry((name, c.tid)).or_insert(0.0);
            *v = v.max(c.value);
        }
    }
    let mut sum: BTreeMap<String, f64> = BTreeMap::new();
    for ((name, _), v) in last {
        *sum.entry(name.to_string()).or_default() += v;
    }
    sum.into_iter().collect()
}

/// The checks of a trace, in order, each with its violations.
fn checks(trace: &Trace) -> Vec<Msg> {
    let mut out: Vec<Msg> = Vec::new();
    let mut labels: Vec<&str> = Vec::new();
    for v in &trace.violations {
        if !labels.contains(&v.check.as_str()) {
            labels.push(&v.check);
        }
    }
    for l in labels {
        out.push(Msg::Check {
            label: l.to_string(),
            round: None,
            violations: trace
                .violations
                .iter()
                .filter(|v| v.check == l)
                .cloned()
                .collect(),
        });
    }
    out
}

/// Everything a replay sends, in order; `analysis` last (None: not run).
pub fn replay_messages(trace: &Trace, analysis: Option<Analysis>) -> Vec<Msg> {
    let mut out = vec![Msg::Meta(Box::new(trace.meta.clone()))];
    for c in trace.events.chunks(BATCH) {
        out.push(Msg::Events(c.to_vec()));
    }
    out.push(Msg::Names(threads::names(&trace.events)));
    out.extend(checks(trace));
    out.push(Msg::Perf(perf_totals(trace)));
    if let Some(a) = analysis {
        out.push(Msg::Analysis(Box::new(a)));
    }
    out.push(Msg::Done(format!(
        "replay: {} events, {} ops, {} violations",
        trace.events.len(),
        trace.ops.len(),
        trace.violations.len()
    )));
    out
}

/// Loads a trace with `load` on a new thread and sends it as messages:
/// the events first (the screen fills), then the analysis.
pub fn spawn_replay(
    load: impl FnOnce() -> Result<Trace, String> + Send + 'static,
    tx: Sender<Msg>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let _ = tx.send(Msg::Status("loading trace...".into()));
        let trace = match load() {
            Ok(t) => t,
            Err(e) => {
                let _ = tx.send(Msg::Done(format!("error: {e}")));
                return;
            }
        };
        let mut msgs = replay_messages(&trace, None);
        let done = msgs.pop();
        for m in msgs {
            if tx.send(m).is_err() {
                return;
            }
        }
        let _ = tx.send(Msg::Status("analysing (culprits, lints)...".into()));
        let a = analyze(&trace, &AnalyzeOptions::default());
        let _ = tx.send(Msg::Analysis(Box::new(a)));
        if let Some(d) = done {
            let _ = tx.send(d);
        }
    })
}

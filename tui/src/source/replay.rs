//! A finished trace replayed as the same messages a live run sends, on a
//! thread of its own so the screen is up while a large trace loads and its
//! analysis runs.

use super::BATCH;
use crate::event::{Batch, Credits, Msg};
use lockline_analysis::report::{analyze, AnalyzeOptions};
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

/// Batches a paced replay keeps in flight: enough that the UI never
/// waits for the next, few enough that the copies are a few MB.
pub(crate) const IN_FLIGHT: usize = 4;

/// Everything a replay sends before the analysis, in order, each message
/// handed to `send` as it is made (false: stop, nobody is listening). With
/// `credits`, each batch of events waits for a place in flight, so at most
/// a few batches are ever copied out of the trace at once.
pub fn replay_messages(
    trace: &Trace,
    credits: Option<&Credits>,
    mut send: impl FnMut(Msg) -> bool,
) -> bool {
    if !send(Msg::Meta(Box::new(trace.meta.clone()))) {
        return false;
    }
    for c in trace.events.chunks(BATCH) {
        let batch = match credits {
            Some(cr) => Batch::paced(c.to_vec(), cr.take()),
            None => c.to_vec().into(),
        };
        if !send(Msg::Events(batch)) {
            return false;
        }
    }
    std::iter::once(Msg::Names(threads::names(&trace.events)))
        .chain(checks(trace))
        .chain([Msg::Perf(perf_totals(trace))])
        .all(send)
}

/// The replay's last message.
pub fn done_message(trace: &Trace) -> Msg {
    Msg::Done(format!(
        "replay: {} events, {} ops, {} violations",
        trace.events.len(),
        trace.ops.len(),
        trace.violations.len()
    ))
}

/// Loads a trace with `load` on a new thread and sends it as messages:
/// the events first (the screen fills), then the analysis. The trace is
/// dropped before the last message, so once a replay is done the UI's own
/// state is all it holds.
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
        // The analysis before the replay, not beside the UI's growing
        // state: its pairing and maps are the largest temporaries, and the
        // UI's state the largest lasting part (a 10 M-event replay peaked
        // at +932 MiB over the loaded trace analysed last, +680 first:
        // `cargo bench -p lockline-tui --bench frame -- --peak`). The UI
        // gets it after the checks it annotates.
        let _ = tx.send(Msg::Status("analysing (culprits, lints)...".into()));
        let a = analyze(&trace, &AnalyzeOptions::default());
        let credits = Credits::new(IN_FLIGHT);
        if !replay_messages(&trace, Some(&credits), |m| tx.send(m).is_ok()) {
            return;
        }
        let _ = tx.send(Msg::Analysis(Box::new(a)));
        let done = done_message(&trace);
        drop(trace);
        let _ = tx.send(done);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{channel, RecvTimeoutError};
    use std::time::Duration;

    /// A paced replay stops copying batches while the UI holds
    /// IN_FLIGHT of them, and goes on when it lets one go.
    #[test]
    fn a_replay_keeps_at_most_its_batches_in_flight() {
        let trace = lockline_analysis::synth::generate(BATCH * (IN_FLIGHT + 3), 4, 1);
        let (tx, rx) = channel();
        let t = trace.clone();
        let h = spawn_replay(move || Ok(t), tx);
        let mut held = Vec::new();
        while held.len() < IN_FLIGHT {
            if let Msg::Events(b) = rx.recv().unwrap() {
                held.push(b);
            }
        }
        // The replay is blocked: nothing comes while all are held.
        assert!(matches!(
            rx.recv_timeout(Duration::from_millis(300)),
            Err(RecvTimeoutError::Timeout)
        ));
        held.remove(0);
        let next = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert!(matches!(next, Msg::Events(_)));
        // Letting go of everything runs the replay to its end.
        drop(held);
        drop(next);
        let mut events = (IN_FLIGHT + 1) * BATCH;
        for m in rx.iter() {
            match m {
                Msg::Events(b) => events += b.len(),
                Msg::Done(why) => {
                    assert!(why.starts_with("replay:"), "{why}");
                    break;
                }
                _ => {}
            }
        }
        assert_eq!(events, trace.events.len());
        h.join().unwrap();
    }
}

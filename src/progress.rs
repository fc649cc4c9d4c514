//! Progress on stderr while a run goes on: a spinner with ops and MiB
//! written, and for checked rounds a line on stdout for each round that
//! lost data as it ends.

use crate::summary::round_line;
use anyhow::Result;
use lockline_engine::probe::{Event, ExternalTracer};
use lockline_harness::check::CheckReport;
use lockline_harness::rounds::{run_rounds, Live, RoundsReport, RoundsSpec};
use lockline_harness::session::SessionSpec;
use lockline_harness::workload::Progress;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Runs checked rounds; with `show`, a one-line progress display on stderr
/// and, on stdout, a line for each round that lost data as it ends.
pub fn run_rounds_with_progress(
    spec: &SessionSpec,
    rounds: &RoundsSpec,
    show: bool,
    tracer: Option<Box<dyn ExternalTracer>>,
    stop: &AtomicBool,
) -> Result<(RoundsReport, Vec<Event>)> {
    let source = if tracer.is_some() { "ebpf" } else { "inproc" };
    let label = format!("{} on {} [{source}]", spec.run.workload, spec.build);
    Ok(with_progress_bar(label, show, |p, bar| {
        // The final check of the round now ending, for its line.
        let last = std::sync::Mutex::new(None::<CheckReport>);
        let with_violations = std::sync::atomic::AtomicU64::new(0);
        let live = |l: Live| match l {
            Live::Check { check, .. } => {
                *last.lock().unwrap_or_else(|e| e.into_inner()) = Some(check)
            }
            Live::RoundDone {
                round, violations, ..
            } => {
                let bad = if violations.total() > 0 {
                    with_violations.fetch_add(1, Ordering::Relaxed) + 1
                } else {
                    with_violations.load(Ordering::Relaxed)
                };
                if let Some(bar) = bar {
                    bar.set_prefix(format!("round {round}, {bad} with violations; "));
                }
                if violations.total() > 0 {
                    let line = round_line(
                        round,
                        spec.run.seed + round - 1,
                        last.lock().unwrap_or_else(|e| e.into_inner()).as_ref(),
                    );
                    match bar {
                        Some(bar) => bar.suspend(|| println!("{line}")),
                        None => println!("{line}"),
                    }
                }
            }
            Live::Events(_) => {}
        };
        let live: Option<&(dyn Fn(Live) + Sync)> = if show { Some(&live) } else { None };
        run_rounds(spec, rounds, p, tracer, live, stop)
    })?)
}

/// Runs `f` with a fresh `Progress`, showing "label: N ops, M MiB written"
/// on stderr while it runs when `show` is set.
pub fn with_progress<T>(label: String, show: bool, f: impl FnOnce(&Progress) -> T) -> T {
    with_progress_bar(label, show, |p, _| f(p))
}

/// `with_progress`, handing `f` the bar (when shown) so it can set the
/// bar's prefix or print lines without tearing it.
pub fn with_progress_bar<T>(
    label: String,
    show: bool,
    f: impl FnOnce(&Progress, Option<&indicatif::ProgressBar>) -> T,
) -> T {
    let progress = Arc::new(Progress::default());
    let done = Arc::new(AtomicBool::new(false));
    let bar = show.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) =
            indicatif::ProgressStyle::default_spinner().template("{spinner} {prefix}{msg}")
        {
            bar.set_style(style);
        }
        bar
    });
    let ticker = bar.clone().map(|bar| {
        let (progress, done) = (progress.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let ops = progress.ops.load(Ordering::Relaxed);
                let mib = progress.bytes.load(Ordering::Relaxed) >> 20;
                bar.set_message(format!("{label}: {ops} ops, {mib} MiB written"));
                bar.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        })
    });
    let r = f(&progress, bar.as_ref());
    done.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        let _ = t.join();
    }
    r
}

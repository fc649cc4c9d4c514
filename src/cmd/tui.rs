//! `lockline tui TRACE`: a trace replayed in the terminal UI.

use crate::exit;
use crate::trace_out;
use crate::ui::{check_terminal, export_dir, exporter};
use anyhow::{Context, Result};
use lockline_tui::state::App;
use lockline_tui::term;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A trace directory written by `run --trace`, `kernel --trace` or `demo`.
    trace: PathBuf,
    /// Where `e` writes the exported window (default: a new directory
    /// under $TMPDIR).
    #[arg(long)]
    export_dir: Option<PathBuf>,
}

impl Args {
    /// Replay of `trace`, as `lockline tui TRACE` would.
    pub fn new(trace: PathBuf) -> Args {
        Args {
            trace,
            export_dir: None,
        }
    }
}

pub fn run(a: Args) -> Result<u8> {
    check_terminal()?;
    // Loaded before the terminal is taken so a missing or damaged trace
    // is one line on the shell, not a flash of a screen.
    eprintln!("loading {}...", a.trace.display());
    let trace = trace_out::load(&a.trace)?;
    let (tx, rx) = std::sync::mpsc::channel();
    lockline_tui::source::spawn_replay(move || Ok(trace), tx.clone());
    let app = App::new(false, None);
    let export = export_dir(a.export_dir)?;
    term::run(app, rx, tx, Some(exporter(export))).context("terminal")?;
    Ok(exit::OK)
}

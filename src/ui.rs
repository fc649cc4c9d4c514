//! What every `--tui` shares before and around the terminal UI: the check
//! that there is a terminal, and the exporter `e` calls (the window on
//! screen as Chrome JSON and a PNG).

use crate::exit::{self, usage};
use anyhow::{Context, Result};
use lockline_analysis::chrome::{self, ChromeOptions};
use lockline_tui::state::App;
use lockline_tui::term::{self, Exporter};
use std::path::{Path, PathBuf};

/// Fails with one line (exit 2) when the UI cannot run here.
pub fn check_terminal() -> Result<()> {
    term::check_terminal().map_err(usage)
}

/// `--export-dir` or a fresh directory under $TMPDIR (created on first use).
pub fn export_dir(dir: Option<PathBuf>) -> Result<PathBuf> {
    match dir {
        Some(d) => {
            if d.exists() && !d.is_dir() {
                return Err(usage(format!("{} is not a directory", d.display())));
            }
            Ok(d)
        }
        None => Ok(std::env::temp_dir().join(format!("lockline-export-{}", std::process::id()))),
    }
}

/// Writes the window on screen as Chrome JSON (Perfetto) and, when a
/// violation's window is in it, that violation's timeline PNG; else the
/// window's hold-time CDF.
pub fn exporter(dir: PathBuf) -> Exporter {
    let mut n = 0u32;
    Box::new(move |app: &App, t0: u64, t1: u64| {
        n += 1;
        export_window(app, t0, t1, &dir, n).map_err(|e| exit::one_line(&e))
    })
}

fn export_window(app: &App, t0: u64, t1: u64, dir: &Path, n: u32) -> Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let trace = app.window_trace(t0, t1);
    if trace.events.is_empty() {
        return Ok("nothing to export: no events kept in this window".into());
    }
    let json = dir.join(format!("window-{n}.json"));
    let f = std::fs::File::create(&json).with_context(|| format!("creating {}", json.display()))?;
    chrome::write(
        &trace,
        std::io::BufWriter::new(f),
        &ChromeOptions::default(),
    )
    .with_context(|| format!("writing {}", json.display()))?;
    let png_dir = dir.join(format!("window-{n}"));
    std::fs::create_dir_all(&png_dir)?;
    let selected = app
        .violations
        .current()
        .filter(|v| trace.violations.iter().any(|r| r.id == v.row.id))
        .map(|v| v.row.id);
    let pngs = match selected {
        Some(id) => lockline_plots::violation_timeline(&trace, id, &png_dir),
        None => lockline_plots::hold_cdf(&trace, &png_dir),
    };
    let png = match pngs {
        Ok(files) => files
            .into_iter()
            .find(|p| p.extension().is_some_and(|e| e == "png"))
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        Err(e) => format!("(no PNG: {e})"),
    };
    Ok(format!(
        "exported {} events: {} {}",
        trace.events.len(),
        json.display(),
        png
    ))
}

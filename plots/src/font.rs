//! The labels' font: DejaVu Sans from the system, loaded once and handed to
//! plotters' ab_glyph renderer (no fontconfig, no font-kit).

use crate::error::PlotError;
use plotters::style::FontStyle;
use std::sync::OnceLock;

const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// The family name plots ask for.
pub const FAMILY: &str = "sans-serif";

/// Registers the font on first use; LOCKLINE_FONT names another .ttf.
pub fn ensure() -> Result<(), PlotError> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let env = std::env::var("LOCKLINE_FONT").ok();
        let paths: Vec<&str> = env.iter().map(String::as_str).chain(CANDIDATES.iter().copied()).collect();
        let Some((path, bytes)) = paths
            .iter()
            .find_map(|p| std::fs::read(p).ok().map(|b| (*p, b)))
        else {
            return Err(format!(
                "none of {} exists (apt-get install fonts-dejavu-core, or set LOCKLINE_FONT to a .ttf)",
                CANDIDATES.join(", ")
            ));
        };
        // Fonts are registered for the life of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
            .map_err(|_| format!("{path} is not a font plotters can read"))
    })
    .clone()
    .map_err(PlotError::Font)
}

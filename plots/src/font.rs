//! The labels' font: DejaVu Sans from the system (Debian's
//! fonts-dejavu-core), loaded once and handed to plotters' ab_glyph
//! renderer, so no fontconfig or font-kit is involved.

use crate::error::PlotError;
use plotters::style::FontStyle;
use std::sync::OnceLock;

const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// Names another .ttf to use instead; then only that one is tried.
pub const ENV: &str = "LOCKLINE_FONT";

/// The family name plots ask for.
pub const FAMILY: &str = "sans-serif";

/// Registers the font on first use; the outcome holds for the process.
pub fn ensure() -> Result<(), PlotError> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let env = std::env::var(ENV).ok().filter(|p| !p.is_empty());
        let paths: Vec<&str> = match &env {
            Some(p) => vec![p.as_str()],
            None => CANDIDATES.to_vec(),
        };
        let (path, bytes) = load(&paths)?;
        // plotters keeps registered fonts for the life of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
            .map_err(|_| format!("{path} is not a TrueType font ({ENV} or fonts-dejavu-core)"))
    })
    .clone()
    .map_err(PlotError::Font)
}

/// The first readable file of `paths`, or one line saying what to install.
fn load<'a>(paths: &[&'a str]) -> Result<(&'a str, Vec<u8>), String> {
    paths
        .iter()
        .find_map(|p| std::fs::read(p).ok().map(|b| (*p, b)))
        .ok_or_else(|| {
            format!(
                "none of {} is readable (apt-get install fonts-dejavu-core, or set {ENV} to a .ttf)",
                paths.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_font_is_one_line_naming_the_package() {
        let e = load(&["/nonexistent/DejaVuSans.ttf"]).unwrap_err();
        assert!(e.contains("/nonexistent/DejaVuSans.ttf"), "{e}");
        assert!(e.contains("fonts-dejavu-core"), "{e}");
        assert_eq!(e.lines().count(), 1);
    }
}

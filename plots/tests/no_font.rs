//! With no usable font a plot is a one-line error naming the font, not a
//! panic. Alone in its own test binary: the font is chosen once a process.

use lockline_analysis::synth;
use lockline_plots::{hold_cdf, PlotError};

#[test]
fn a_missing_font_is_an_error() {
    std::env::set_var("LOCKLINE_FONT", "/nonexistent/font.ttf");
    let dir = tempfile::tempdir().unwrap();
    let e = hold_cdf(&synth::generate(1000, 2, 1), dir.path()).unwrap_err();
    assert!(matches!(e, PlotError::Font(_)), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("/nonexistent/font.ttf"), "{msg}");
    assert_eq!(msg.lines().count(), 1);
}

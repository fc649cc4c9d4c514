//! One drawing, two files: the same draw function runs on the bitmap
//! backend (PNG) and the SVG backend.

use crate::error::PlotError;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

pub const SIZE: (u32, u32) = (1600, 900);

/// A draw function for any backend; errors as text.
pub trait Draw {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// The area under a plot's title, the same for every plot.
pub fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    area.margin(8, 0, 0, 0)
        .titled(title, (crate::font::FAMILY, 28))
        .map_err(err)
}

pub fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Writes `<dir>/<name>.png` and `<dir>/<name>.svg`.
pub fn both(dir: &Path, name: &str, d: &impl Draw) -> Result<Vec<PathBuf>, PlotError> {
    crate::font::ensure()?;
    std::fs::create_dir_all(dir).map_err(|e| PlotError::Draw {
        path: dir.display().to_string(),
        detail: e.to_string(),
    })?;
    let png = dir.join(format!("{name}.png"));
    let svg = dir.join(format!("{name}.svg"));
    let fail = |p: &Path, detail: String| PlotError::Draw {
        path: p.display().to_string(),
        detail,
    };
    {
        let area = BitMapBackend::new(&png, SIZE).into_drawing_area();
        area.fill(&WHITE).map_err(|e| fail(&png, err(e)))?;
        d.draw(&area).map_err(|e| fail(&png, e))?;
        area.present().map_err(|e| fail(&png, err(e)))?;
    }
    {
        let area = SVGBackend::new(&svg, SIZE).into_drawing_area();
        area.fill(&WHITE).map_err(|e| fail(&svg, err(e)))?;
        d.draw(&area).map_err(|e| fail(&svg, e))?;
        area.present().map_err(|e| fail(&svg, err(e)))?;
    }
    Ok(vec![png, svg])
}

/// The note a chart with nothing to draw carries in its middle, so an
/// empty plot is told apart from a broken one.
pub fn empty_style() -> TextStyle<'static> {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    (crate::font::FAMILY, 28)
        .into_font()
        .color(&RGBColor(120, 120, 120))
        .pos(Pos::new(HPos::Center, VPos::Center))
}

/// What a title says the trace is: "qemu-snapshot on lockless, seed 3",
/// or less when the metadata is missing.
pub fn about(meta: &lockline_analysis::TraceMeta) -> String {
    let what = match (meta.workload.as_str(), meta.build.as_str()) {
        ("", "") => "unnamed trace".to_string(),
        (w, "") => w.to_string(),
        ("", b) => b.to_string(),
        (w, b) => format!("{w} on {b}"),
    };
    format!("{what}, seed {}", meta.seed)
}

/// One colour per lock class, the same in every plot.
pub fn class_color(class: lockline_engine::probe::LockClass) -> RGBColor {
    use lockline_engine::probe::LockClass::*;
    match class {
        Inode => RGBColor(214, 39, 40),
        PagecacheAdd => RGBColor(31, 119, 180),
        PagecacheBlock => RGBColor(148, 103, 189),
        Folio => RGBColor(44, 160, 44),
        ILock => RGBColor(255, 127, 14),
        Kernel => RGBColor(127, 127, 127),
    }
}

/// Draws the mesh of a chart with numbers on both axes: described, tick
/// labels as [`number`](crate::units::number)s, in the plots' font sizes.
pub fn number_mesh<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    x_desc: &str,
    y_desc: &str,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    use crate::units::number;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x: &f64| number(*x))
        .y_label_formatter(&|y: &f64| number(*y))
        .label_style((crate::font::FAMILY, 20))
        .axis_desc_style((crate::font::FAMILY, 24))
        .draw()
        .map_err(err)
}

/// Writes `note` at `at` in the [`empty_style`], for a chart with nothing
/// to draw.
pub fn empty_note<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    note: &str,
    at: (f64, f64),
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .draw_series([Text::new(note.to_string(), at, empty_style())])
        .map_err(err)?;
    Ok(())
}

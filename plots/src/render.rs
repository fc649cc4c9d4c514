//! One drawing, two files: the same draw function runs on the bitmap
//! backend (PNG) and the SVG backend.

use crate::error::PlotError;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

pub const SIZE: (u32, u32) = (1600, 900);

/// A draw function for any backend; errors as text.
pub trait Draw {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String>;
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

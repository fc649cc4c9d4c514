//! Write throughput over time: bytes of completed writes per time bucket.

use crate::error::PlotError;
use crate::font::FAMILY;
use crate::render::{both, err, Draw};
use lockline_analysis::Trace;
use lockline_engine::probe::OpKind;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

const BUCKETS: usize = 100;

struct Throughput {
    title: String,
    /// (bucket start ms, MiB/s)
    points: Vec<(f64, f64)>,
    span_ms: f64,
}

impl Draw for Throughput {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let top = self.points.iter().map(|p| p.1).fold(0.0, f64::max).max(1.0) * 1.1;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FAMILY, 30))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..self.span_ms.max(1e-3), 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("time since the first write began (ms)")
            .y_desc("write throughput (MiB/s)")
            .label_style((FAMILY, 20))
            .axis_desc_style((FAMILY, 24))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                self.points.iter().copied(),
                BLUE.stroke_width(3),
            ))
            .map_err(err)?;
        Ok(())
    }
}

/// `throughput.png` / `.svg`.
pub fn throughput(trace: &Trace, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let writes: Vec<_> = trace
        .ops
        .iter()
        .filter(|o| o.kind == OpKind::Write && o.finished() && o.result > 0)
        .collect();
    let t0 = writes.iter().map(|o| o.begin_ns).min().unwrap_or(0);
    let t1 = writes
        .iter()
        .map(|o| o.end_ns)
        .max()
        .unwrap_or(t0 + 1)
        .max(t0 + 1);
    let width = (t1 - t0).div_ceil(BUCKETS as u64).max(1);
    let mut bytes = vec![0u64; BUCKETS];
    for o in &writes {
        let b = (((o.end_ns - t0) / width) as usize).min(BUCKETS - 1);
        bytes[b] += o.result as u64;
    }
    let secs = width as f64 / 1e9;
    let points = bytes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            (
                (i as u64 * width) as f64 / 1e6,
                *b as f64 / (1 << 20) as f64 / secs,
            )
        })
        .collect();
    let title = format!(
        "Write throughput — {} on {}, {} writes, buckets of {:.2} ms",
        trace.meta.workload,
        trace.meta.build,
        writes.len(),
        width as f64 / 1e6
    );
    both(
        dir,
        "throughput",
        &Throughput {
            title,
            points,
            span_ms: (t1 - t0) as f64 / 1e6,
        },
    )
}

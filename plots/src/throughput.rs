//! Write throughput over time: bytes of completed writes per time bucket.

use crate::error::PlotError;
use crate::legend::{self, Entry, Swatch};
use crate::render::{about, both, empty_note, err, number_mesh, titled, Draw};
use crate::units::{number, TimeUnit};
use lockline_analysis::Trace;
use lockline_engine::probe::OpKind;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

const BUCKETS: usize = 100;
const BAR: RGBColor = RGBColor(31, 119, 180);
const MEAN: RGBColor = RGBColor(214, 39, 40);

struct Throughput {
    title: String,
    time: TimeUnit,
    /// "MiB/s" or "GiB/s".
    rate: &'static str,
    /// Bucket width in `time` units.
    width: f64,
    /// Per bucket, in `rate` units.
    rates: Vec<f64>,
    mean: f64,
}

impl Draw for Throughput {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let body = titled(area, &self.title)?;
        let entries = [
            Entry {
                swatch: Swatch::Filled(BAR),
                label: format!("writes completed per bucket ({})", self.rate),
            },
            Entry {
                swatch: Swatch::HLine(MEAN),
                label: format!("mean over the run: {} {}", number(self.mean), self.rate),
            },
        ];
        let chart_area = legend::above(&body, &entries)?;
        let top = self.rates.iter().copied().fold(self.mean, f64::max) * 1.1;
        let top = if top > 0.0 { top } else { 1.0 };
        let span = (self.width * self.rates.len() as f64).max(f64::MIN_POSITIVE);
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(10)
            .margin_right(30)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(0.0..span, 0.0..top)
            .map_err(err)?;
        number_mesh(
            &mut chart,
            &format!("time since the first write began ({})", self.time.name),
            &format!("write throughput ({})", self.rate),
        )?;
        if self.rates.iter().all(|r| *r == 0.0) {
            empty_note(
                &mut chart,
                "no completed writes in this trace",
                (span / 2.0, top / 2.0),
            )?;
        }
        chart
            .draw_series(self.rates.iter().enumerate().map(|(i, r)| {
                let x = i as f64 * self.width;
                Rectangle::new([(x, 0.0), (x + self.width, *r)], BAR.mix(0.85).filled())
            }))
            .map_err(err)?;
        chart
            .draw_series([PathElement::new(
                vec![(0.0, self.mean), (span, self.mean)],
                MEAN.stroke_width(2),
            )])
            .map_err(err)?;
        Ok(())
    }
}

/// `throughput.png` / `.svg`. A write counts in the bucket where it
/// returned, with the bytes it reported; failed and unfinished writes do
/// not count.
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
    let width_ns = (t1 - t0).div_ceil(BUCKETS as u64).max(1);
    let mut bytes = vec![0u64; BUCKETS];
    for o in &writes {
        let b = (((o.end_ns - t0) / width_ns) as usize).min(BUCKETS - 1);
        bytes[b] += o.result as u64;
    }
    let mib_s = |b: u64, ns: u64| b as f64 / (1u64 << 20) as f64 / (ns as f64 / 1e9);
    let mut rates: Vec<f64> = bytes.iter().map(|b| mib_s(*b, width_ns)).collect();
    let total: u64 = bytes.iter().sum();
    let mut mean = mib_s(total, t1 - t0);
    // Past 10 GiB/s, MiB/s labels grow too wide to read.
    let rate = if rates.iter().any(|r| *r >= 10240.0) {
        rates.iter_mut().for_each(|r| *r /= 1024.0);
        mean /= 1024.0;
        "GiB/s"
    } else {
        "MiB/s"
    };
    let time = TimeUnit::for_span((t1 - t0) as f64);
    let title = format!(
        "Write throughput — {}, {} writes, buckets of {}",
        about(&trace.meta),
        writes.len(),
        TimeUnit::pretty(width_ns as f64)
    );
    both(
        dir,
        "throughput",
        &Throughput {
            title,
            time,
            rate,
            width: time.of(width_ns as f64),
            rates,
            mean,
        },
    )
}

//! The chart: per backend, service next to baseline for each scenario (throughput at c=16, p99 at
//! c=1, both on log scales) and the ingest rate. Text needs a TrueType font: the first found of a
//! few usual paths, or `BENCH_FONT`.

use std::path::Path;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::report::{BackendResults, Results};

const SERVICE: RGBColor = RGBColor(31, 119, 180);
const BASELINE: RGBColor = RGBColor(190, 190, 190);

const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

fn register_font() -> anyhow::Result<()> {
    let candidates = std::env::var("BENCH_FONT").ok().into_iter().chain(FONTS.iter().map(|s| (*s).to_owned()));
    for path in candidates {
        if let Ok(bytes) = std::fs::read(&path) {
            // plotters keeps fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return Ok(());
            }
        }
    }
    anyhow::bail!("no TrueType font found (set BENCH_FONT=/path/to/font.ttf)")
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// `12000` as `12k`, `0.5` as `0.5`.
fn compact(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", round_sig(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", round_sig(v / 1e3))
    } else {
        round_sig(v)
    }
}

fn round_sig(v: f64) -> String {
    let s = if v >= 10.0 { format!("{v:.0}") } else { format!("{v:.1}") };
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// One panel: a pair of bars per label, on a log scale (or a linear one from zero).
fn bars(area: &Area<'_>, title: &str, unit: &str, items: &[(String, f64, f64)], log: bool) -> anyhow::Result<()> {
    if log {
        let positive = items.iter().flat_map(|(_, a, b)| [*a, *b]).filter(|v| *v > 0.0 && v.is_finite());
        let (lo, hi) = positive.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        // Room below the smallest bar (so it stays visible) and above the largest (the legend).
        let (lo, hi) = if lo > hi {
            (0.1, 10.0)
        } else {
            (10f64.powf((lo.log10() - 0.3).floor()), 10f64.powf((hi.log10() + 0.6).ceil()))
        };
        let (lo, hi) = if hi <= lo { (lo, lo * 10.0) } else { (lo, hi) };
        bars_on(area, title, unit, items, (lo..hi).log_scale(), lo)
    } else {
        let hi = items.iter().flat_map(|(_, a, b)| [*a, *b]).filter(|v| v.is_finite()).fold(1.0, f64::max) * 1.5;
        bars_on(area, title, unit, items, 0.0..hi, 0.0)
    }
}

fn bars_on<Y>(
    area: &Area<'_>,
    title: &str,
    unit: &str,
    items: &[(String, f64, f64)],
    y: Y,
    lo: f64,
) -> anyhow::Result<()>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let n = items.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), y)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let labels: Vec<String> = items.iter().map(|(l, _, _)| l.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n + 1)
        .x_label_formatter(&|v| {
            let i = v.round();
            if (v - i).abs() < 0.01 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| compact(*v))
        .y_desc(unit)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let clamp = |v: f64| if v > 0.0 && v.is_finite() { v } else { lo };
    chart
        .draw_series(items.iter().enumerate().map(|(i, (_, s, _))| {
            let x = i as f64;
            Rectangle::new([(x - 0.38, lo), (x - 0.02, clamp(*s))], SERVICE.filled())
        }))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .label("service")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], SERVICE.filled()));
    chart
        .draw_series(items.iter().enumerate().map(|(i, (_, _, b))| {
            let x = i as f64;
            Rectangle::new([(x + 0.02, lo), (x + 0.38, clamp(*b))], BASELINE.filled())
        }))
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .label("baseline (database alone)")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], BASELINE.filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

fn backend_row(row: &Area<'_>, b: &BackendResults) -> anyhow::Result<()> {
    let (left, right) = row.split_horizontally(row.dim_in_pixel().0 * 42 / 100);
    let (middle, right) = right.split_horizontally(right.dim_in_pixel().0 * 68 / 100);
    let panels = [left, middle, right];
    let at = |c: usize, f: &dyn Fn(&crate::report::Run) -> (f64, f64)| -> Vec<(String, f64, f64)> {
        b.scenarios
            .iter()
            .filter_map(|s| {
                s.at(c).filter(|r| r.baseline.requests > 0).map(|r| (s.key.replace("Q6p", "Q6-"), f(r).0, f(r).1))
            })
            .collect()
    };
    let thr = at(16, &|r| (r.service.throughput, r.baseline.throughput));
    let p99 = at(1, &|r| (r.service.p99_ms, r.baseline.p99_ms));
    bars(&panels[0], &format!("{}: throughput at c=16 (higher is better)", b.backend), "requests/s", &thr, true)?;
    bars(&panels[1], &format!("{}: p99 latency at c=1 (lower is better)", b.backend), "ms", &p99, true)?;
    let ingest: Vec<(String, f64, f64)> =
        b.ingest.iter().map(|i| ("I1".to_owned(), i.service.rate, i.baseline.rate)).collect();
    bars(&panels[2], &format!("{}: I1 ingest", b.backend), "sign-ins/s (higher is better)", &ingest, false)?;
    Ok(())
}

/// Draws `results.png`.
pub fn draw(r: &Results, path: &Path) -> anyhow::Result<()> {
    register_font()?;
    let rows = r.backends.len().max(1);
    let height = u32::try_from(420 * rows).unwrap_or(840);
    let root = BitMapBackend::new(path, (1800, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let areas = root.split_evenly((rows, 1));
    for (area, b) in areas.iter().zip(&r.backends) {
        backend_row(area, b).with_context(|| format!("the {} row", b.backend))?;
    }
    root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

//! The delay plot: the distribution of each wait (and span) as a box on a
//! log time axis, with the G20 one-hour and one-day lines.
//!
//! Drawn from the raw observations (`ExportDurations`), so the boxes are
//! the data's own quartiles, not the server's rounded figures. SVG or PNG by
//! the file's extension; text is set in a font compiled into the binary
//! (plotters' `ab_glyph` feature), so no system font library is needed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};
use repat_proto::v1 as pb;

use crate::wire::{STEP_KINDS, micros};

/// DejaVu Sans, cut down to the characters a plot uses (assets/FONT-LICENSE).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");
const FAMILY: &str = "sans-serif";

const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;

/// The spans, after the steps, in the order a journey reaches them.
const SPANS: &[&str] = &[
    "INITIATION_TO_FUNDS_AVAILABLE",
    "INVOICE_TO_REALIZATION",
    "REALIZATION_TO_CLAIM_FILED",
    "CLAIM_FILED_TO_DISBURSED",
];

/// The five figures a box shows, in microseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub measure: String,
    pub count: usize,
    pub min: i64,
    pub p10: i64,
    pub p25: i64,
    pub p50: i64,
    pub p75: i64,
    pub p90: i64,
    pub max: i64,
}

/// Nearest rank, as the server defines its percentiles: the value at rank
/// ⌈p·n/100⌉ of the sorted values.
fn nearest_rank(sorted: &[i64], p: usize) -> i64 {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// One summary per measure, steps in journey order, then spans.
pub fn summarize(records: &[pb::DurationRecord]) -> Vec<Summary> {
    let mut by_measure: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for r in records {
        if let Some(d) = &r.duration {
            by_measure
                .entry(r.measure.as_str())
                .or_default()
                .push(micros(d));
        }
    }
    let order = |m: &str| {
        STEP_KINDS
            .iter()
            .chain(SPANS)
            .position(|k| *k == m)
            .unwrap_or(usize::MAX)
    };
    let mut out: Vec<Summary> = by_measure
        .into_iter()
        .map(|(measure, mut v)| {
            v.sort_unstable();
            Summary {
                measure: measure.to_string(),
                count: v.len(),
                min: v[0],
                p10: nearest_rank(&v, 10),
                p25: nearest_rank(&v, 25),
                p50: nearest_rank(&v, 50),
                p75: nearest_rank(&v, 75),
                p90: nearest_rank(&v, 90),
                max: v[v.len() - 1],
            }
        })
        .collect();
    out.sort_by_key(|s| (order(&s.measure), s.measure.clone()));
    out
}

pub fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    let bad = || {
        anyhow::anyhow!(
            "--plot-size is WIDTHxHEIGHT in pixels, e.g. 1000x600, between 200 and 8000 each"
        )
    };
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (
        w.trim().parse().map_err(|_| bad())?,
        h.trim().parse().map_err(|_| bad())?,
    );
    if !(200..=8000).contains(&w) || !(200..=8000).contains(&h) {
        return Err(bad());
    }
    Ok((w, h))
}

/// Draws the plot to `path` (`.svg` or `.png`).
pub fn draw(
    path: &Path,
    size: (u32, u32),
    summaries: &[Summary],
    title: &str,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        !summaries.is_empty(),
        "no observations to plot (no journey has two steps in the months and measure asked for)"
    );
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        // The font is compiled in; it cannot fail to parse.
        let _ = register_font(FAMILY, FontStyle::Normal, FONT);
    });
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            render(&root, summaries, title)?;
            root.present()
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        }
        Some("png") => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            render(&root, summaries, title)?;
            root.present()
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        }
        _ => anyhow::bail!("--plot: {} should end in .svg or .png", path.display()),
    }
    Ok(())
}

/// Ticks a person reads on a time axis: 1s, 1m, 10m, 1h, 6h, 1d, 1w, 30d...
const TICKS: &[f64] = &[
    1.0,
    10.0,
    60.0,
    600.0,
    HOUR,
    6.0 * HOUR,
    DAY,
    7.0 * DAY,
    30.0 * DAY,
    120.0 * DAY,
    365.0 * DAY,
];

/// A tick in the largest whole unit: 10s, 1m, 6h, 30d.
fn tick_label(secs: f64) -> String {
    let s = secs.round() as i64;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn render<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    summaries: &[Summary],
    title: &str,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("drawing the plot: {e}");
    root.fill(&WHITE).map_err(err)?;
    let secs = |us: i64| (us.max(1) as f64) / 1e6;
    // The axis spans the data and both G20 lines, on whole decades.
    let lo = summaries
        .iter()
        .map(|s| secs(s.min))
        .fold(HOUR, f64::min)
        .max(1e-3);
    let hi = summaries.iter().map(|s| secs(s.max)).fold(DAY, f64::max);
    let (lo, hi) = (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil()),
    );
    let n = summaries.len();
    // A strip at the bottom for the legend, below the axis and its title.
    let (w, h) = root.dim_in_pixel();
    let (area, footer) = root.split_vertically(h.saturating_sub(22));
    // Room on the left for the longest label, up to half the width.
    let label = |s: &Summary| format!("{} (n={})", s.measure, s.count);
    let font: TextStyle = (FAMILY, 12).into();
    let longest = summaries
        .iter()
        .filter_map(|s| area.estimate_text_size(&label(s), &font).ok())
        .map(|(w, _)| w)
        .max()
        .unwrap_or(100);
    let label_width = (longest + 20).min(w / 2);
    let ticks: Vec<f64> = TICKS
        .iter()
        .copied()
        .filter(|t| *t >= lo && *t <= hi)
        .collect();

    let mut chart = ChartBuilder::on(&area)
        .caption(title, (FAMILY, 20))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(label_width)
        .build_cartesian_2d(
            (lo..hi).log_scale().with_key_points(ticks),
            -0.5f64..(n as f64 - 0.5),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc("waiting time (log scale)")
        .x_label_formatter(&|v| tick_label(*v))
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .draw()
        .map_err(err)?;

    // The G20 targets: funds available within one hour; within a day.
    // The labels are staggered so they never overlap on a narrow plot.
    for (at, label, color, dy) in [
        (HOUR, "1 hour (G20 target)", RGBColor(0, 128, 0), 4),
        (DAY, "1 day", RGBColor(200, 120, 0), 20),
    ] {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(at, -0.5), (at, n as f64 - 0.5)],
                color.stroke_width(2),
            )))
            .map_err(err)?;
        let (x, y) = chart.backend_coord(&(at, n as f64 - 0.5));
        root.draw(&Text::new(
            label,
            (x + 4, y + dy),
            (FAMILY, 12).into_font().color(&color),
        ))
        .map_err(err)?;
    }

    let blue = RGBColor(52, 101, 164);
    for (i, s) in summaries.iter().enumerate() {
        let y = (n - 1 - i) as f64; // the first measure on top
        let h = 0.3;
        let whisker = |a: i64, b: i64| {
            PathElement::new(vec![(secs(a), y), (secs(b), y)], BLACK.stroke_width(1))
        };
        chart
            .draw_series([whisker(s.p10, s.p25), whisker(s.p75, s.p90)])
            .map_err(err)?;
        chart
            .draw_series([
                PathElement::new(
                    vec![(secs(s.p10), y - h / 2.0), (secs(s.p10), y + h / 2.0)],
                    BLACK.stroke_width(1),
                ),
                PathElement::new(
                    vec![(secs(s.p90), y - h / 2.0), (secs(s.p90), y + h / 2.0)],
                    BLACK.stroke_width(1),
                ),
            ])
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(secs(s.p25), y - h), (secs(s.p75), y + h)],
                blue.mix(0.35).filled(),
            )))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(secs(s.p25), y - h), (secs(s.p75), y + h)],
                blue.stroke_width(1),
            )))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(secs(s.p50), y - h), (secs(s.p50), y + h)],
                RED.stroke_width(2),
            )))
            .map_err(err)?;
        chart
            .draw_series([
                Circle::new((secs(s.min), y), 3, BLACK.filled()),
                Circle::new((secs(s.max), y), 3, BLACK.filled()),
            ])
            .map_err(err)?;

        // The measure's name and count, right-aligned left of the axis.
        let (x, py) = chart.backend_coord(&(lo, y));
        let style = (FAMILY, 12)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(label(s), (x - 8, py), style))
            .map_err(err)?;
    }
    let legend = "box: p25-p75 · red: median · whiskers: p10-p90 · dots: min and max";
    let style = (FAMILY, 11)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Right, VPos::Center));
    footer
        .draw(&Text::new(legend, (w as i32 - 12, 11), style))
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(measure: &str, seconds: i64) -> pb::DurationRecord {
        pb::DurationRecord {
            measure: measure.into(),
            duration: Some(prost_types::Duration { seconds, nanos: 0 }),
            ..Default::default()
        }
    }

    #[test]
    fn quartiles_are_nearest_rank_and_measures_in_journey_order() {
        let mut records: Vec<_> = (1..=10)
            .map(|s| record("BENEFICIARY_CREDITED", s))
            .collect();
        records.push(record("INITIATION_TO_FUNDS_AVAILABLE", 5));
        records.push(record("NOSTRO_CREDITED", 7));
        let s = summarize(&records);
        assert_eq!(
            s.iter().map(|s| s.measure.as_str()).collect::<Vec<_>>(),
            [
                "NOSTRO_CREDITED",
                "BENEFICIARY_CREDITED",
                "INITIATION_TO_FUNDS_AVAILABLE"
            ]
        );
        let b = &s[1];
        assert_eq!(
            (b.count, b.min, b.p10, b.p25, b.p50, b.p75, b.p90, b.max),
            (
                10, 1_000_000, 1_000_000, 3_000_000, 5_000_000, 8_000_000, 9_000_000, 10_000_000
            )
        );
    }

    #[test]
    fn sizes_are_checked() {
        assert_eq!(parse_size("800x400").unwrap(), (800, 400));
        assert!(parse_size("800").is_err());
        assert!(parse_size("10x10").is_err());
    }
}

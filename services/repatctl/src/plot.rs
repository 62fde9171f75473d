//! The delay plot: the distribution of each wait before a step, and of each
//! end-to-end span, as a box on a log time axis, with the G20 one-hour
//! target, a one-day line and the 120-day repatriation deadline; one panel
//! per group when grouped.
//!
//! Drawn from the raw observations (`ExportDurations`), so the boxes are
//! the data's own quartiles, not the server's rounded figures. SVG or PNG by
//! the file's extension. Text is set in DejaVu Sans compiled into the binary
//! (assets/FONT-LICENSE): the SVG embeds it (`@font-face`), so it reads the
//! same in any viewer; the PNG's text is rasterized here, glyph by glyph at
//! its advance and bearing, so no system font library is needed. Sizes of
//! text grow with the plot.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};
use repat_proto::v1 as pb;

use crate::cli::MonthRange;
use crate::commands::metrics::record_value;
use crate::wire::{STEP_KINDS, micros};

/// DejaVu Sans, cut down to the characters a plot uses (assets/FONT-LICENSE).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");
/// The family the SVG names and embeds.
const FAMILY: &str = "DejaVu Sans";

const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;
/// The repatriation deadline for services (120 days from the invoice).
const DEADLINE: f64 = 120.0 * DAY;
/// More groups than this are refused rather than drawn unreadably small.
pub const MAX_PANELS: usize = 16;

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

/// Where a measure sorts: steps in journey order, then spans.
fn order(measure: &str) -> usize {
    STEP_KINDS
        .iter()
        .chain(SPANS)
        .position(|k| *k == measure)
        .unwrap_or(usize::MAX)
}

fn is_span(measure: &str) -> bool {
    SPANS.contains(&measure)
}

/// One summary per measure, steps in journey order, then spans.
pub fn summarize<'a>(records: impl IntoIterator<Item = &'a pb::DurationRecord>) -> Vec<Summary> {
    let mut by_measure: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for r in records {
        if let Some(d) = &r.duration {
            by_measure
                .entry(r.measure.as_str())
                .or_default()
                .push(micros(d));
        }
    }
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

/// A measure as people say it: NOSTRO_CREDITED reads "nostro credited",
/// INITIATION_TO_FUNDS_AVAILABLE "initiation to funds available".
pub fn label(measure: &str) -> String {
    let words = measure.to_ascii_lowercase().replace('_', " ");
    words.replace("bdt", "BDT").replace("prc", "PRC")
}

/// The plot's path and size, checked before the server is asked anything.
pub fn check(path: &Path, size: &str) -> anyhow::Result<(u32, u32)> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg" | "png") => parse_size(size),
        _ => anyhow::bail!("--plot: {} should end in .svg or .png", path.display()),
    }
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

/// The title: what is measured, the period (as asked, else the months the
/// observations span) and whose journeys.
pub fn title(
    records: &[pb::DurationRecord],
    range: &MonthRange,
    scope: &str,
    measure: Option<&str>,
) -> String {
    let what = match measure {
        Some(m) => format!("Time taken: {}", label(&m.to_ascii_uppercase())),
        None => "Waiting time before each step, and end-to-end spans".to_string(),
    };
    let months = records
        .iter()
        .map(|r| r.month.as_str())
        .filter(|m| !m.is_empty());
    let (first, last) = (
        months.clone().min().unwrap_or_default().to_string(),
        months.max().unwrap_or_default().to_string(),
    );
    let from = range.from.clone().unwrap_or(first);
    let to = range.to.clone().unwrap_or(last);
    format!("{what}, {from} to {to}, {scope}")
}

/// What to draw: the title and the dimensions that make the panels.
pub struct Plot {
    pub title: String,
    pub dimensions: Vec<(&'static str, pb::Dimension)>,
}

/// One row of a panel: a heading over a kind of measure, or a measure.
#[derive(Debug, Clone, PartialEq)]
enum Slot {
    Heading(&'static str),
    Measure(String),
}

impl Plot {
    /// Draws to `path` (`.svg` or `.png`); returns how many panels.
    pub fn draw(
        &self,
        path: &Path,
        size: (u32, u32),
        records: &[pb::DurationRecord],
    ) -> anyhow::Result<usize> {
        anyhow::ensure!(
            !records.is_empty(),
            "no observations to plot (no journey has two steps in the months and measure asked for)"
        );
        // Panels: one per combination of the dimensions' values.
        let mut groups: BTreeMap<Vec<String>, Vec<&pb::DurationRecord>> = BTreeMap::new();
        for r in records {
            groups
                .entry(
                    self.dimensions
                        .iter()
                        .map(|(_, d)| record_value(r, *d))
                        .collect(),
                )
                .or_default()
                .push(r);
        }
        anyhow::ensure!(
            groups.len() <= MAX_PANELS,
            "--plot: {} groups, more than the {MAX_PANELS} panels a plot holds legibly; narrow them with --from/--to, --party or --measure, or group by less",
            groups.len()
        );
        let panels: Vec<(String, Vec<Summary>)> = groups
            .iter()
            .map(|(key, rs)| {
                let name = self
                    .dimensions
                    .iter()
                    .zip(key)
                    .map(|((n, _), v)| {
                        format!(
                            "{} {}",
                            n.replace('_', " "),
                            if v.is_empty() { "(none)" } else { v }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                (name, summarize(rs.iter().copied()))
            })
            .collect();
        // Every panel has the same rows and axis, so panels compare.
        let mut measures: Vec<String> = panels
            .iter()
            .flat_map(|(_, s)| s.iter().map(|s| s.measure.clone()))
            .collect();
        measures.sort_by_key(|m| (order(m), m.clone()));
        measures.dedup();
        let mut slots = Vec::new();
        let (waits, spans): (Vec<_>, Vec<_>) = measures.into_iter().partition(|m| !is_span(m));
        if !waits.is_empty() {
            slots.push(Slot::Heading("waits before each step"));
            slots.extend(waits.into_iter().map(Slot::Measure));
        }
        if !spans.is_empty() {
            slots.push(Slot::Heading("end-to-end spans"));
            slots.extend(spans.into_iter().map(Slot::Measure));
        }
        let secs = |us: i64| (us.max(1) as f64) / 1e6;
        let lo = panels
            .iter()
            .flat_map(|(_, s)| s.iter().map(|s| secs(s.min)))
            .fold(HOUR, f64::min)
            / 2.0;
        let hi = panels
            .iter()
            .flat_map(|(_, s)| s.iter().map(|s| secs(s.max)))
            .fold(DEADLINE, f64::max)
            * 2.0;
        let canvas = Canvas {
            slots,
            axis: (lo.max(1e-3), hi),
            panels,
        };

        static FONTS: Once = Once::new();
        FONTS.call_once(|| {
            // The font is compiled in; it cannot fail to parse.
            let _ = register_font(FAMILY, FontStyle::Normal, FONT);
        });
        let ink = Ink {
            font: FontRef::try_from_slice(FONT)?,
            svg: false,
        };
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("svg") => {
                {
                    let root = SVGBackend::new(path, size).into_drawing_area();
                    canvas.render(&root, &Ink { svg: true, ..ink }, &self.title)?;
                    root.present()
                        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
                }
                embed_font(path)?;
            }
            Some("png") => {
                let root = BitMapBackend::new(path, size).into_drawing_area();
                canvas.render(&root, &ink, &self.title)?;
                root.present()
                    .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
            }
            _ => anyhow::bail!("--plot: {} should end in .svg or .png", path.display()),
        }
        Ok(canvas.panels.len())
    }
}

/// Adds the font to the SVG (base64, `@font-face`), so the text is set in
/// it wherever the file is opened.
fn embed_font(path: &Path) -> anyhow::Result<()> {
    use base64::Engine;
    let svg = std::fs::read_to_string(path)?;
    let open = svg
        .find("<svg")
        .and_then(|at| svg[at..].find('>').map(|end| at + end + 1))
        .ok_or_else(|| anyhow::anyhow!("{}: no <svg> element", path.display()))?;
    let font = base64::engine::general_purpose::STANDARD.encode(FONT);
    let style = format!(
        "\n<defs><style>@font-face {{ font-family: \"{FAMILY}\"; src: url(data:font/ttf;base64,{font}) format(\"truetype\"); }}</style></defs>"
    );
    std::fs::write(path, format!("{}{style}{}", &svg[..open], &svg[open..]))?;
    Ok(())
}

/// What plotters divides an SVG text's size by.
const SVG_SIZE_FACTOR: f64 = 1.24;

/// Sets text: as SVG `<text>` (laid out by the viewer with the embedded
/// font), or rasterized here from the font's outlines.
#[derive(Clone)]
struct Ink {
    font: FontRef<'static>,
    svg: bool,
}

impl Ink {
    fn scale(&self, size: f64) -> PxScale {
        // `size` is the em, as in SVG; ab_glyph scales by ascent - descent.
        let em = self.font.units_per_em().unwrap_or(2048.0);
        PxScale::from((size as f32) * self.font.height_unscaled() / em)
    }

    /// Width of `text` at `size`, in pixels.
    fn width(&self, text: &str, size: f64) -> f64 {
        let font = self.font.as_scaled(self.scale(size));
        let mut x = 0.0;
        let mut prev = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                x += font.kern(p, id);
            }
            x += font.h_advance(id);
            prev = Some(id);
        }
        f64::from(x)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        text: &str,
        at: (i32, i32),
        size: f64,
        color: RGBColor,
        anchor: (HPos, VPos),
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        if self.svg {
            // plotters writes font-size as the size over 1.24; undo it, so
            // the em is `size` pixels, as the PNG sets it.
            let style = (FAMILY, size * SVG_SIZE_FACTOR)
                .into_font()
                .color(&color)
                .pos(Pos::new(anchor.0, anchor.1));
            return root
                .draw(&Text::new(text.to_string(), at, style))
                .map_err(|e| anyhow::anyhow!("drawing the plot: {e}"));
        }
        let font = self.font.as_scaled(self.scale(size));
        let width = self.width(text, size) as f32;
        let mut x = at.0 as f32
            - match anchor.0 {
                HPos::Left => 0.0,
                HPos::Center => width / 2.0,
                HPos::Right => width,
            };
        let baseline = at.1 as f32
            + match anchor.1 {
                VPos::Top => font.ascent(),
                VPos::Center => (font.ascent() + font.descent()) / 2.0,
                VPos::Bottom => font.descent(),
            };
        let mut prev = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                x += font.kern(p, id);
            }
            let glyph = id.with_scale_and_position(font.scale(), point(x, baseline));
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                let mut pixels = Vec::new();
                outline.draw(|gx, gy, coverage| {
                    pixels.push((
                        bounds.min.x as i32 + gx as i32,
                        bounds.min.y as i32 + gy as i32,
                        coverage,
                    ))
                });
                for (px, py, coverage) in pixels {
                    if coverage > 0.0 {
                        root.draw_pixel((px, py), &color.mix(f64::from(coverage.min(1.0))))
                            .map_err(|e| anyhow::anyhow!("drawing the plot: {e}"))?;
                    }
                }
            }
            x += font.h_advance(id);
            prev = Some(id);
        }
        Ok(())
    }
}

/// Ticks a person reads on a time axis: 1s, 1m, 10m, 1h, 6h, 1d, 1w, 30d...
const TICKS: &[f64] = &[
    0.01,
    0.1,
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
    3650.0 * DAY,
];

/// A tick in the largest whole unit: 10s, 1m, 6h, 30d.
fn tick_label(secs: f64) -> String {
    if secs < 1.0 {
        return format!("{}s", secs);
    }
    let s = secs.round() as i64;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The reference lines: where, what, and their colour.
const LINES: &[(f64, &str, RGBColor)] = &[
    (HOUR, "1 hour (G20 target)", RGBColor(0, 128, 0)),
    (DAY, "1 day", RGBColor(200, 120, 0)),
    (
        DEADLINE,
        "120 days (repatriation deadline)",
        RGBColor(190, 30, 45),
    ),
];

struct Canvas {
    slots: Vec<Slot>,
    /// The time axis, in seconds.
    axis: (f64, f64),
    /// Each panel's name (empty when ungrouped) and summaries.
    panels: Vec<(String, Vec<Summary>)>,
}

impl Canvas {
    fn render<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        ink: &Ink,
        title: &str,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("drawing the plot: {e}");
        root.fill(&WHITE).map_err(err)?;
        let (w, h) = root.dim_in_pixel();
        // Text grows with the plot.
        let fs = (f64::from(w.min(h)) / 42.0).clamp(9.0, 64.0);
        let title_size = fs * 1.3;
        let title_band = (title_size * 2.2) as u32;
        let legend_band = (fs * 2.4) as u32;
        ink.draw(
            root,
            title,
            (w as i32 / 2, (title_size * 0.6) as i32),
            title_size,
            BLACK,
            (HPos::Center, VPos::Top),
        )?;
        let legend =
            "box: p25 to p75 · red line: median · whiskers: p10 to p90 · dots: min and max";
        ink.draw(
            root,
            legend,
            (w as i32 / 2, (h - legend_band / 2) as i32),
            fs,
            BLACK,
            (HPos::Center, VPos::Center),
        )?;

        let body = root.margin(title_band, legend_band, 0, 0);
        let n = self.panels.len();
        let cols = (n as f64 * f64::from(w) / f64::from(h))
            .sqrt()
            .ceil()
            .clamp(1.0, n as f64) as usize;
        let rows = n.div_ceil(cols);
        let cells = body.split_evenly((rows, cols));
        let panel_fs = if n > 1 { (fs * 0.85).max(8.0) } else { fs };
        for ((name, summaries), cell) in self.panels.iter().zip(&cells) {
            self.panel(root, cell, ink, panel_fs, name, summaries)?;
        }
        Ok(())
    }

    fn panel<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &DrawingArea<DB, Shift>,
        ink: &Ink,
        fs: f64,
        name: &str,
        summaries: &[Summary],
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("drawing the plot: {e}");
        let (pw, _) = area.dim_in_pixel();
        let (ox, oy) = area.get_base_pixel();
        // Above the frame: the panel's name, then the reference lines' labels.
        let lines_band = fs * 1.15 * LINES.len() as f64 + fs * 0.3;
        let top = if name.is_empty() {
            lines_band as u32
        } else {
            (lines_band + fs * 1.9) as u32
        };
        if !name.is_empty() {
            ink.draw(
                root,
                name,
                (ox + pw as i32 / 2, oy + (fs * 0.5) as i32),
                fs * 1.1,
                BLACK,
                (HPos::Center, VPos::Top),
            )?;
        }
        let by_measure: BTreeMap<&str, &Summary> =
            summaries.iter().map(|s| (s.measure.as_str(), s)).collect();
        let text_of = |slot: &Slot| match slot {
            Slot::Heading(h) => format!("{h}:"),
            Slot::Measure(m) => format!(
                "{} (n={})",
                label(m),
                by_measure.get(m.as_str()).map_or(0, |s| s.count)
            ),
        };
        // Room on the left for the longest label, at most 45% of the panel;
        // labels shrink to fit rather than run off the edge.
        let longest = self
            .slots
            .iter()
            .map(|s| ink.width(&text_of(s), fs))
            .fold(0.0, f64::max);
        let room = f64::from(pw) * 0.45;
        let label_fs = if longest + fs > room {
            fs * room / (longest + fs)
        } else {
            fs
        };
        let label_width = (longest * label_fs / fs + fs) as u32;

        let (lo, hi) = self.axis;
        let n = self.slots.len();
        let mut chart = ChartBuilder::on(area)
            .margin_top(top)
            .margin_right((fs * 1.5) as u32)
            .x_label_area_size((fs * 3.6) as u32)
            .y_label_area_size(label_width)
            .build_cartesian_2d((lo..hi).log_scale(), -0.5f64..(n as f64 - 0.5))
            .map_err(err)?;
        let y_of = |i: usize| (n - 1 - i) as f64; // the first slot on top
        let (y_top, y_bottom) = (n as f64 - 0.5, -0.5);

        // Grid and ticks, drawn here so their labels are set like all text.
        let grey = RGBColor(225, 225, 225);
        // A tick whose label would touch the one before keeps its line only.
        let mut free_from = f64::MIN;
        for &t in TICKS.iter().filter(|t| **t >= lo && **t <= hi) {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(t, y_bottom), (t, y_top)],
                    grey.stroke_width(1),
                )))
                .map_err(err)?;
            let (x, y) = chart.backend_coord(&(t, y_bottom));
            let (text, size) = (tick_label(t), fs * 0.9);
            let half = ink.width(&text, size) / 2.0;
            if f64::from(x) - half >= free_from {
                ink.draw(
                    root,
                    &text,
                    (x, y + (fs * 0.4) as i32),
                    size,
                    BLACK,
                    (HPos::Center, VPos::Top),
                )?;
                free_from = f64::from(x) + half + fs * 0.5;
            }
        }
        let (x0, yb) = chart.backend_coord(&(lo, y_bottom));
        let (x1, yt) = chart.backend_coord(&(hi, y_top));
        root.draw(&Rectangle::new([(x0, yt), (x1, yb)], BLACK.stroke_width(1)))
            .map_err(err)?;
        ink.draw(
            root,
            "time taken (log scale)",
            ((x0 + x1) / 2, yb + (fs * 2.0) as i32),
            fs,
            BLACK,
            (HPos::Center, VPos::Top),
        )?;

        // The reference lines, labelled at the top, staggered so they never
        // overlap; a label that would leave the plot turns to the left.
        for (k, (at, text, color)) in LINES.iter().enumerate() {
            if *at < lo || *at > hi {
                continue;
            }
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(*at, y_bottom), (*at, y_top)],
                    color.stroke_width(2),
                )))
                .map_err(err)?;
            let (x, y) = chart.backend_coord(&(*at, y_top));
            let y = y - ((LINES.len() - k) as f64 * fs * 1.15) as i32 + (fs * 0.1) as i32;
            let size = fs * 0.9;
            let right_room = f64::from(x1 - x);
            let (x, anchor) = if ink.width(text, size) + 8.0 > right_room {
                (x - 4, HPos::Right)
            } else {
                (x + 4, HPos::Left)
            };
            ink.draw(root, text, (x, y), size, *color, (anchor, VPos::Top))?;
        }

        let blue = RGBColor(52, 101, 164);
        let secs = |us: i64| (us.max(1) as f64) / 1e6;
        for (i, slot) in self.slots.iter().enumerate() {
            let y = y_of(i);
            let (lx, ly) = chart.backend_coord(&(lo, y));
            match slot {
                Slot::Heading(_) => {
                    // A heading starts a group of rows: a rule above it
                    // separates waits from spans.
                    if i > 0 {
                        let (rx, ry) = chart.backend_coord(&(hi, y + 0.5));
                        root.draw(&PathElement::new(
                            vec![(ox + 4, ry), (rx, ry)],
                            RGBColor(120, 120, 120).stroke_width(1),
                        ))
                        .map_err(err)?;
                    }
                    ink.draw(
                        root,
                        &text_of(slot),
                        (ox + (fs * 0.3) as i32, ly),
                        label_fs,
                        RGBColor(90, 90, 90),
                        (HPos::Left, VPos::Center),
                    )?;
                }
                Slot::Measure(m) => {
                    ink.draw(
                        root,
                        &text_of(slot),
                        (lx - 8, ly),
                        label_fs,
                        BLACK,
                        (HPos::Right, VPos::Center),
                    )?;
                    let Some(s) = by_measure.get(m.as_str()) else {
                        continue;
                    };
                    let half = 0.3;
                    let line = |a: (f64, f64), b: (f64, f64), width: u32, color: RGBColor| {
                        PathElement::new(vec![a, b], color.stroke_width(width))
                    };
                    chart
                        .draw_series([
                            line((secs(s.p10), y), (secs(s.p25), y), 1, BLACK),
                            line((secs(s.p75), y), (secs(s.p90), y), 1, BLACK),
                            line(
                                (secs(s.p10), y - half / 2.0),
                                (secs(s.p10), y + half / 2.0),
                                1,
                                BLACK,
                            ),
                            line(
                                (secs(s.p90), y - half / 2.0),
                                (secs(s.p90), y + half / 2.0),
                                1,
                                BLACK,
                            ),
                        ])
                        .map_err(err)?;
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(secs(s.p25), y - half), (secs(s.p75), y + half)],
                            blue.mix(0.35).filled(),
                        )))
                        .map_err(err)?;
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(secs(s.p25), y - half), (secs(s.p75), y + half)],
                            blue.stroke_width(1),
                        )))
                        .map_err(err)?;
                    chart
                        .draw_series(std::iter::once(line(
                            (secs(s.p50), y - half),
                            (secs(s.p50), y + half),
                            2,
                            RED,
                        )))
                        .map_err(err)?;
                    let dot = ((fs / 4.0) as i32).max(2);
                    chart
                        .draw_series([
                            Circle::new((secs(s.min), y), dot, BLACK.filled()),
                            Circle::new((secs(s.max), y), dot, BLACK.filled()),
                        ])
                        .map_err(err)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(measure: &str, seconds: i64) -> pb::DurationRecord {
        pb::DurationRecord {
            measure: measure.into(),
            duration: Some(prost_types::Duration { seconds, nanos: 0 }),
            month: "2024-03".into(),
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
    fn sizes_and_extensions_are_checked() {
        assert_eq!(parse_size("800x400").unwrap(), (800, 400));
        assert!(parse_size("800").is_err());
        assert!(parse_size("10x10").is_err());
        assert!(
            check(Path::new("x.pdf"), "800x400")
                .unwrap_err()
                .to_string()
                .contains(".svg or .png")
        );
    }

    /// Text is set at each glyph's advance: the gaps of "PAYMEN T_INI
    /// TIATED" came from drawing glyphs without their bearings.
    #[test]
    fn text_is_set_at_the_fonts_advances_and_every_character_is_in_the_font() {
        let ink = Ink {
            font: FontRef::try_from_slice(FONT).unwrap(),
            svg: false,
        };
        let size = 20.0;
        let font = ink.font.as_scaled(ink.scale(size));
        let word = "NOSTRO";
        let advances: f64 = word
            .chars()
            .map(|c| f64::from(font.h_advance(font.glyph_id(c))))
            .sum();
        assert!(
            (ink.width(word, size) - advances).abs() < 2.0,
            "kerning aside, the width is the sum of advances"
        );
        // Every character a plot writes has a glyph of its own.
        let mut texts: Vec<String> = STEP_KINDS
            .iter()
            .chain(SPANS)
            .map(|m| format!("{} (n=123)", label(m)))
            .collect();
        texts.extend(LINES.iter().map(|(_, t, _)| t.to_string()));
        texts.push("box: p25 to p75 · red line: median · whiskers: p10 to p90 · dots: min and max, waits before each step: end-to-end spans:".into());
        texts.push("Waiting time before each step, and end-to-end spans, 2024-01 to 2024-12, all parties corridor channel institution party kind month (none)".into());
        texts.push("time taken (log scale) 0.01s 10s 1m 10m 1h 6h 1d 7d 30d 120d 365d Ltd. & ' Time taken: ".into());
        let missing: Vec<char> = texts
            .iter()
            .flat_map(|t| t.chars())
            .filter(|c| ink.font.glyph_id(*c).0 == 0 && *c != ' ')
            .collect();
        assert!(missing.is_empty(), "not in the font: {missing:?}");
    }

    #[test]
    fn labels_and_title_say_what_and_when() {
        assert_eq!(label("NOSTRO_CREDITED"), "nostro credited");
        assert_eq!(label("CONVERTED_TO_BDT"), "converted to BDT");
        let records = vec![
            record("NOSTRO_CREDITED", 5),
            pb::DurationRecord {
                month: "2024-07".into(),
                ..record("NOSTRO_CREDITED", 9)
            },
        ];
        let t = title(
            &records,
            &MonthRange {
                from: None,
                to: None,
            },
            "all parties",
            None,
        );
        assert_eq!(
            t,
            "Waiting time before each step, and end-to-end spans, 2024-03 to 2024-07, all parties"
        );
        let t = title(
            &records,
            &MonthRange {
                from: Some("2024-01".into()),
                to: None,
            },
            "Dhaka Soft Ltd",
            Some("nostro_credited"),
        );
        assert_eq!(
            t,
            "Time taken: nostro credited, 2024-01 to 2024-07, Dhaka Soft Ltd"
        );
    }
}

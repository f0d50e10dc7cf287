//! Charts of the analytics results, drawn with `plotters` once as SVG (for the dashboard) and once
//! as PNG (for reports and the README): metrics over time, lift with intervals, Beta posteriors,
//! the response curves of the marketing-mix model, and share of spend against share of effect.
//!
//! Owns the look (palette, fonts, layout) and the checks on chart input, which name the field.
//! It computes nothing beyond what it draws (the Beta density, axis ticks) and does no I/O: the
//! fonts are the committed DejaVu files compiled in and registered with plotters once.

use std::ops::Range;
use std::sync::OnceLock;

use image::ImageEncoder;
use image::codecs::png::PngEncoder;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use statrs::distribution::{Beta, Continuous, ContinuousCDF};

use super::AnalyticsError;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 540;
/// Left and right padding of the title and legend, in pixels.
const PAD: i32 = 24;

const DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
const DEJAVU_SANS_BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");

/// Tableau 10 without its yellow and grey: distinct, and readable on white.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x4E, 0x79, 0xA7),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0x59, 0xA1, 0x4F),
    RGBColor(0xE1, 0x57, 0x59),
    RGBColor(0xB0, 0x7A, 0xA1),
    RGBColor(0x76, 0xB7, 0xB2),
    RGBColor(0x9C, 0x75, 0x5F),
    RGBColor(0xFF, 0x9D, 0xA7),
];
const INK: RGBColor = RGBColor(0x1F, 0x29, 0x37);
const MUTED: RGBColor = RGBColor(0x4B, 0x55, 0x63);
const AXIS: RGBColor = RGBColor(0x9C, 0xA3, 0xAF);
const GRID: RGBColor = RGBColor(0xE5, 0xE7, 0xEB);
const NEUTRAL: RGBColor = RGBColor(0x8A, 0x93, 0xA0);

/// One chart, drawn twice from the same input.
#[derive(Debug, Clone)]
pub struct Chart {
    pub svg: String,
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

#[derive(thiserror::Error, Debug)]
pub enum ChartError {
    #[error(transparent)]
    Input(#[from] AnalyticsError),
    #[error("drawing the chart: {0}")]
    Draw(String),
}

fn draw_error(e: impl std::fmt::Display) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// One variant's relative lift over control (0.12 = +12%) and its interval.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LiftRow {
    pub label: String,
    pub lift: f64,
    pub low: f64,
    pub high: f64,
}

/// A channel's response against spend, and where its current spend sits on it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ResponseCurve {
    pub channel: String,
    pub points: Vec<(f64, f64)>,
    pub current: (f64, f64),
}

/// A channel's share of total spend and of total modelled effect, both fractions in [0, 1].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ShareRow {
    pub channel: String,
    pub spend_share: f64,
    pub effect_share: f64,
}

/// Metrics over time: one line per series over ISO dates (x axis labelled with the dates).
pub fn metrics_over_time(
    title: &str,
    y_label: &str,
    dates: &[String],
    series: &[(String, Vec<f64>)],
) -> Result<Chart, ChartError> {
    if dates.is_empty() {
        return Err(AnalyticsError::new("dates", "must not be empty").into());
    }
    if series.is_empty() {
        return Err(AnalyticsError::new("series", "must not be empty").into());
    }
    for (i, (_, values)) in series.iter().enumerate() {
        if values.len() != dates.len() {
            let problem = format!("has {} values for {} dates", values.len(), dates.len());
            return Err(AnalyticsError::new(format!("series[{i}].values"), problem).into());
        }
        check_finite(values, |j| format!("series[{i}].values[{j}]"))?;
    }
    render(&MetricsOverTime {
        title,
        y_label,
        dates,
        series,
    })
}

/// Lift with intervals: one row per variant, its point estimate and interval, and a zero line.
pub fn lift_intervals(title: &str, rows: &[LiftRow]) -> Result<Chart, ChartError> {
    if rows.is_empty() {
        return Err(AnalyticsError::new("rows", "must not be empty").into());
    }
    for (i, row) in rows.iter().enumerate() {
        for (name, v) in [("lift", row.lift), ("low", row.low), ("high", row.high)] {
            if !v.is_finite() {
                let field = format!("rows[{i}].{name}");
                return Err(AnalyticsError::new(field, "must be a finite number").into());
            }
        }
        if !(row.low <= row.lift && row.lift <= row.high) {
            let problem = format!(
                "the interval [{}, {}] must hold the lift {}",
                row.low, row.high, row.lift
            );
            return Err(AnalyticsError::new(format!("rows[{i}]"), problem).into());
        }
    }
    render(&LiftIntervals { title, rows })
}

/// Posterior densities of conversion rates, Beta(alpha, beta) per arm, over the range that holds
/// the central 99.9% of every posterior.
pub fn posterior_densities(title: &str, arms: &[(String, f64, f64)]) -> Result<Chart, ChartError> {
    if arms.is_empty() {
        return Err(AnalyticsError::new("arms", "must not be empty").into());
    }
    let mut posteriors = Vec::with_capacity(arms.len());
    for (i, (_, alpha, beta)) in arms.iter().enumerate() {
        for (name, v) in [("alpha", alpha), ("beta", beta)] {
            if !(v.is_finite() && *v > 0.0) {
                let field = format!("arms[{i}].{name}");
                return Err(AnalyticsError::new(field, "must be positive and finite").into());
            }
        }
        let dist = Beta::new(*alpha, *beta)
            .map_err(|e| AnalyticsError::new(format!("arms[{i}]"), e.to_string()))?;
        posteriors.push(dist);
    }
    render(&PosteriorDensities::new(title, arms, &posteriors))
}

/// Response curves of a marketing-mix model: response against spend per channel, each
/// channel's current spend marked as a point.
pub fn response_curves(title: &str, curves: &[ResponseCurve]) -> Result<Chart, ChartError> {
    if curves.is_empty() {
        return Err(AnalyticsError::new("curves", "must not be empty").into());
    }
    for (i, curve) in curves.iter().enumerate() {
        if curve.points.is_empty() {
            return Err(
                AnalyticsError::new(format!("curves[{i}].points"), "must not be empty").into(),
            );
        }
        for (j, (x, y)) in curve.points.iter().enumerate() {
            if !(x.is_finite() && y.is_finite()) {
                let field = format!("curves[{i}].points[{j}]");
                return Err(AnalyticsError::new(field, "must be finite numbers").into());
            }
        }
        if !(curve.current.0.is_finite() && curve.current.1.is_finite()) {
            let field = format!("curves[{i}].current");
            return Err(AnalyticsError::new(field, "must be finite numbers").into());
        }
    }
    render(&ResponseCurves { title, curves })
}

/// Share of spend against share of effect per channel, as grouped bars in percent.
pub fn spend_vs_effect(title: &str, rows: &[ShareRow]) -> Result<Chart, ChartError> {
    if rows.is_empty() {
        return Err(AnalyticsError::new("rows", "must not be empty").into());
    }
    for (i, row) in rows.iter().enumerate() {
        for (name, v) in [
            ("spend_share", row.spend_share),
            ("effect_share", row.effect_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                let field = format!("rows[{i}].{name}");
                return Err(AnalyticsError::new(field, "must be a fraction in [0, 1]").into());
            }
        }
    }
    render(&SpendVsEffect { title, rows })
}

fn check_finite(values: &[f64], field: impl Fn(usize) -> String) -> Result<(), AnalyticsError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(j) => Err(AnalyticsError::new(field(j), "must be a finite number")),
        None => Ok(()),
    }
}

/// Registers the committed DejaVu fonts as plotters' "sans-serif" (normal and bold), once.
fn register_fonts() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            for (style, bytes) in [
                (FontStyle::Normal, DEJAVU_SANS),
                (FontStyle::Bold, DEJAVU_SANS_BOLD),
            ] {
                plotters::style::register_font("sans-serif", style, bytes)
                    .map_err(|_| format!("the committed DejaVu {} font", style.as_str()))?;
            }
            Ok(())
        })
        .clone()
        .map_err(|font| ChartError::Draw(format!("{font} does not parse")))
}

/// A chart that can draw itself on any plotters backend.
trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError>;
}

fn render(figure: &impl Figure) -> Result<Chart, ChartError> {
    register_fonts()?;
    let (width, height) = (WIDTH, HEIGHT);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        figure.draw(&root)?;
        root.present().map_err(draw_error)?;
    }
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        figure.draw(&root)?;
        root.present().map_err(draw_error)?;
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(draw_error)?;
    Ok(Chart {
        svg,
        png,
        width,
        height,
    })
}

fn font(size: f64, colour: RGBColor) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&colour)
}

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

#[derive(Clone, Copy)]
enum Mark {
    Line,
    Bar,
    Dot,
}

struct LegendEntry {
    label: String,
    colour: RGBColor,
    mark: Mark,
}

impl LegendEntry {
    fn new(label: impl Into<String>, colour: RGBColor, mark: Mark) -> Self {
        Self {
            label: label.into(),
            colour,
            mark,
        }
    }
}

/// Fills the background, writes the title and the legend (wrapped into rows), and returns the
/// area left for the plot.
fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    legend: &[LegendEntry],
) -> Result<DrawingArea<DB, Shift>, ChartError> {
    root.fill(&WHITE).map_err(draw_error)?;
    let title_font = FontDesc::new(FontFamily::SansSerif, 22.0, FontStyle::Bold).color(&INK);
    root.draw(&Text::new(title, (PAD, 20), title_font))
        .map_err(draw_error)?;
    let label_font = font(14.0, MUTED).pos(Pos::new(HPos::Left, VPos::Center));
    let right = root.dim_in_pixel().0 as i32 - PAD;
    let (mut x, mut y) = (PAD, 64);
    for (k, entry) in legend.iter().enumerate() {
        let text_width = root
            .estimate_text_size(&entry.label, &label_font)
            .map_err(draw_error)?
            .0 as i32;
        let width = 22 + text_width;
        if k > 0 && x + width > right {
            (x, y) = (PAD, y + 24);
        }
        match entry.mark {
            Mark::Line => root.draw(&PathElement::new(
                [(x, y), (x + 16, y)],
                entry.colour.stroke_width(3),
            )),
            Mark::Bar => root.draw(&Rectangle::new(
                [(x + 2, y - 6), (x + 14, y + 6)],
                entry.colour.filled(),
            )),
            Mark::Dot => root.draw(&Circle::new((x + 8, y), 5, entry.colour.filled())),
        }
        .map_err(draw_error)?;
        root.draw(&Text::new(
            entry.label.as_str(),
            (x + 22, y),
            label_font.clone(),
        ))
        .map_err(draw_error)?;
        x += width + 24;
    }
    let top = if legend.is_empty() { 52 } else { y + 16 };
    Ok(root.split_vertically(top).1)
}

/// A linear axis whose ticks are chosen here: nice steps for quantities, one per date or
/// category otherwise. No minor grid lines.
#[derive(Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    /// Distance between ticks of a quantity axis, for the number of decimals; 0 otherwise.
    step: f64,
}

impl Axis {
    /// Up to about `target` ticks at 1, 2 or 5 times a power of ten.
    fn nice(lo: f64, hi: f64, target: usize) -> Self {
        let raw = (hi - lo) / target.max(1) as f64;
        if !(raw > 0.0 && raw.is_finite()) {
            return Self::categories(lo, hi, vec![lo]);
        }
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = magnitude
            * match raw / magnitude {
                r if r < 1.5 => 1.0,
                r if r < 3.0 => 2.0,
                r if r < 7.0 => 5.0,
                _ => 10.0,
            };
        let first = (lo / step).ceil() as i64;
        let last = (hi / step + 1e-9).floor() as i64;
        let ticks = (first..=last).map(|k| k as f64 * step).collect();
        Self {
            lo,
            hi,
            ticks,
            step,
        }
    }

    fn categories(lo: f64, hi: f64, ticks: Vec<f64>) -> Self {
        Self {
            lo,
            hi,
            ticks,
            step: 0.0,
        }
    }

    /// Digits after the point that tell the ticks apart.
    fn decimals(&self, scale: f64) -> usize {
        let step = self.step * scale;
        if step > 0.0 && step.is_finite() {
            (-step.log10().floor()).clamp(0.0, 6.0) as usize
        } else {
            0
        }
    }

    /// Formats ticks of a quantity, with k/M/B suffixes on large ones.
    fn number_label(&self, v: f64) -> String {
        let largest = self.lo.abs().max(self.hi.abs());
        let (scale, suffix) = [(1e9, "B"), (1e6, "M"), (1e4, "k")]
            .into_iter()
            .find(|(s, _)| largest >= *s)
            .map_or((1.0, ""), |(s, suffix)| {
                (if s == 1e4 { 1e3 } else { s }, suffix)
            });
        let text = no_negative_zero(format!("{:.*}", self.decimals(1.0 / scale), v / scale));
        if text.trim_start_matches(['0', '.']).is_empty() {
            return text;
        }
        format!("{text}{suffix}")
    }

    /// Formats a fraction as percent, with a + on gains when `signed`.
    fn percent_label(&self, v: f64, signed: bool) -> String {
        percent(v, self.decimals(100.0), signed)
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let frac = if self.hi > self.lo {
            (v - self.lo) / (self.hi - self.lo)
        } else {
            0.5
        };
        limit.0 + (frac * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

fn no_negative_zero(text: String) -> String {
    if text.starts_with('-') && text.trim_start_matches(['-', '0', '.']).is_empty() {
        text[1..].to_string()
    } else {
        text
    }
}

fn percent(v: f64, decimals: usize, signed: bool) -> String {
    let text = no_negative_zero(format!("{:.*}", decimals, v * 100.0));
    let plus = signed && !text.starts_with('-') && !text.trim_start_matches(['0', '.']).is_empty();
    format!("{}{text}%", if plus { "+" } else { "" })
}

/// The range of `values` widened by `pad` of its span on each side, starting at zero when all
/// values are non-negative and the padding would cross zero; a unit range around a constant.
fn padded_range(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let span = hi - lo;
    let (mut a, b) = if span > 0.0 {
        (lo - pad * span, hi + pad * span)
    } else {
        let half = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - half, hi + half)
    };
    if lo >= 0.0 && a < 0.0 {
        a = 0.0;
    }
    (a, b)
}

type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// Builds the plot on `area` with the house margins; `y_label_width` fits the y tick labels.
fn plot<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: Axis,
    y: Axis,
    y_label_width: u32,
    x_desc: bool,
) -> Result<Plot<'a, DB>, ChartError> {
    ChartBuilder::on(area)
        .margin_left(8)
        .margin_right(PAD + 8)
        .margin_top(8)
        .margin_bottom(8)
        .x_label_area_size(if x_desc { 52 } else { 32 })
        .y_label_area_size(y_label_width)
        .build_cartesian_2d(x, y)
        .map_err(draw_error)
}

struct Axes<'f> {
    x_desc: &'f str,
    y_desc: &'f str,
    x_label: &'f dyn Fn(&f64) -> String,
    y_label: &'f dyn Fn(&f64) -> String,
    x_grid: bool,
    y_grid: bool,
}

fn draw_axes<DB: DrawingBackend>(
    plot: &mut Plot<'_, DB>,
    axes: &Axes<'_>,
) -> Result<(), ChartError> {
    let mut mesh = plot.configure_mesh();
    mesh.bold_line_style(GRID)
        .axis_style(AXIS)
        .label_style(font(13.0, MUTED))
        .axis_desc_style(font(14.0, INK))
        .x_labels(100)
        .y_labels(100)
        .x_label_formatter(axes.x_label)
        .y_label_formatter(axes.y_label);
    if !axes.x_desc.is_empty() {
        mesh.x_desc(axes.x_desc);
    }
    if !axes.y_desc.is_empty() {
        mesh.y_desc(axes.y_desc);
    }
    if !axes.x_grid {
        mesh.disable_x_mesh();
    }
    if !axes.y_grid {
        mesh.disable_y_mesh();
    }
    mesh.draw().map_err(draw_error)
}

/// Width of the y label area that fits the widest of `labels` (and the axis description).
fn label_width<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    labels: impl Iterator<Item = String>,
    with_desc: bool,
) -> Result<u32, ChartError> {
    let style = font(13.0, MUTED);
    let mut widest = 0;
    for label in labels {
        widest = widest.max(
            root.estimate_text_size(&label, &style)
                .map_err(draw_error)?
                .0,
        );
    }
    Ok((widest + if with_desc { 44 } else { 20 }).clamp(48, 320))
}

struct MetricsOverTime<'a> {
    title: &'a str,
    y_label: &'a str,
    dates: &'a [String],
    series: &'a [(String, Vec<f64>)],
}

impl Figure for MetricsOverTime<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let legend: Vec<LegendEntry> = match self.series {
            [_] => Vec::new(),
            _ => (self.series.iter().enumerate())
                .map(|(i, (name, _))| LegendEntry::new(name, colour(i), Mark::Line))
                .collect(),
        };
        let area = frame(root, self.title, &legend)?;
        let n = self.dates.len();
        let last = (n - 1) as f64;
        let pad = if n == 1 { 0.5 } else { last * 0.02 };
        // About one date label per 110 pixels.
        let every = n
            .div_ceil((area.dim_in_pixel().0 / 110).max(1) as usize)
            .max(1);
        let x_ticks = (0..n).step_by(every).map(|i| i as f64).collect();
        let x = Axis::categories(-pad, last + pad, x_ticks);
        let values = || self.series.iter().flat_map(|(_, v)| v.iter().copied());
        let (lo, hi) = padded_range(values(), 0.08);
        let y = Axis::nice(lo, hi, 6);
        let y_width = label_width(root, y.ticks.iter().map(|t| y.number_label(*t)), true)?;
        let mut plot = plot(&area, x, y.clone(), y_width, false)?;
        let dates = self.dates;
        let x_label = |v: &f64| dates.get(v.round() as usize).cloned().unwrap_or_default();
        let y_label = |v: &f64| y.number_label(*v);
        let axes = Axes {
            x_desc: "",
            y_desc: self.y_label,
            x_label: &x_label,
            y_label: &y_label,
            x_grid: false,
            y_grid: true,
        };
        draw_axes(&mut plot, &axes)?;
        for (i, (_, values)) in self.series.iter().enumerate() {
            let c = colour(i);
            let points = values.iter().enumerate().map(|(j, v)| (j as f64, *v));
            plot.draw_series(LineSeries::new(points.clone(), c.stroke_width(3)))
                .map_err(draw_error)?;
            if n <= 60 {
                plot.draw_series(points.map(|p| Circle::new(p, 3, c.filled())))
                    .map_err(draw_error)?;
            }
        }
        Ok(())
    }
}

struct LiftIntervals<'a> {
    title: &'a str,
    rows: &'a [LiftRow],
}

/// Colour and legend text of a row by where its interval lies against zero.
fn verdict(row: &LiftRow) -> (usize, RGBColor, &'static str) {
    if row.low > 0.0 {
        (0, PALETTE[2], "Interval above zero")
    } else if row.high < 0.0 {
        (2, PALETTE[3], "Interval below zero")
    } else {
        (1, NEUTRAL, "Interval includes zero")
    }
}

impl Figure for LiftIntervals<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let mut verdicts: Vec<_> = self.rows.iter().map(verdict).collect();
        verdicts.sort_by_key(|v| v.0);
        verdicts.dedup_by_key(|v| v.0);
        let legend: Vec<LegendEntry> = (verdicts.into_iter())
            .map(|(_, colour, label)| LegendEntry::new(label, colour, Mark::Dot))
            .collect();
        let area = frame(root, self.title, &legend)?;
        let n = self.rows.len() as f64;
        // The first row on top.
        let row_y = |i: usize| n - i as f64 - 0.5;
        let lows = self.rows.iter().map(|r| r.low);
        let highs = self.rows.iter().map(|r| r.high);
        let lo = lows.fold(0.0, f64::min);
        let hi = highs.fold(0.0, f64::max);
        let (lo, hi) = if hi > lo {
            (lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))
        } else {
            (-0.05, 0.05)
        };
        let x = Axis::nice(lo, hi, 8);
        let y_ticks = (0..self.rows.len()).map(row_y).collect();
        let y = Axis::categories(0.0, n, y_ticks);
        let labels = self.rows.iter().map(|r| r.label.clone());
        let mut plot = plot(&area, x.clone(), y, label_width(root, labels, false)?, true)?;
        let rows = self.rows;
        let x_label = |v: &f64| x.percent_label(*v, true);
        let y_label = |v: &f64| {
            let i = (n - 0.5 - v).round() as usize;
            rows.get(i).map(|r| r.label.clone()).unwrap_or_default()
        };
        let axes = Axes {
            x_desc: "Relative lift",
            y_desc: "",
            x_label: &x_label,
            y_label: &y_label,
            x_grid: true,
            y_grid: false,
        };
        draw_axes(&mut plot, &axes)?;
        let zero = PathElement::new([(0.0, 0.0), (0.0, n)], INK.stroke_width(1));
        plot.draw_series([zero]).map_err(draw_error)?;
        let annotate = plot.plotting_area().dim_in_pixel().1 as f64 / n >= 40.0;
        let decimals = if hi - lo < 0.02 { 2 } else { 1 };
        for (i, row) in self.rows.iter().enumerate() {
            let y = row_y(i);
            draw_lift_row(&mut plot, row, y, annotate.then_some(decimals))?;
        }
        Ok(())
    }
}

/// One row: the interval with caps, the point estimate, and with `decimals` the numbers above.
fn draw_lift_row<DB: DrawingBackend>(
    plot: &mut Plot<'_, DB>,
    row: &LiftRow,
    y: f64,
    decimals: Option<usize>,
) -> Result<(), ChartError> {
    let (_, c, _) = verdict(row);
    let interval = PathElement::new([(row.low, y), (row.high, y)], c.stroke_width(3));
    plot.draw_series([interval]).map_err(draw_error)?;
    let caps = [row.low, row.high].map(|end| {
        EmptyElement::at((end, y)) + PathElement::new([(0, -7), (0, 7)], c.stroke_width(2))
    });
    plot.draw_series(caps).map_err(draw_error)?;
    let point = [
        Circle::new((row.lift, y), 8, WHITE.filled()),
        Circle::new((row.lift, y), 6, c.filled()),
    ];
    plot.draw_series(point).map_err(draw_error)?;
    let Some(decimals) = decimals else {
        return Ok(());
    };
    let text = format!(
        "{}  [{}, {}]",
        percent(row.lift, decimals, true),
        percent(row.low, decimals, true),
        percent(row.high, decimals, true)
    );
    // Kept inside the plot near its edges.
    let range = plot.x_range();
    let anchor = match (row.lift - range.start) / (range.end - range.start) {
        f if f < 0.2 => HPos::Left,
        f if f > 0.8 => HPos::Right,
        _ => HPos::Center,
    };
    let style = font(12.0, INK).pos(Pos::new(anchor, VPos::Bottom));
    let note = EmptyElement::at((row.lift, y)) + Text::new(text, (0, -12), style);
    plot.draw_series([note]).map_err(draw_error)?;
    Ok(())
}

struct PosteriorDensities<'a> {
    title: &'a str,
    legend: Vec<LegendEntry>,
    curves: Vec<Vec<(f64, f64)>>,
    x: Axis,
    y: Axis,
}

impl<'a> PosteriorDensities<'a> {
    const GRID_POINTS: usize = 241;

    fn new(title: &'a str, arms: &[(String, f64, f64)], posteriors: &[Beta]) -> Self {
        let lo = posteriors
            .iter()
            .map(|d| d.inverse_cdf(0.0005))
            .fold(1.0, f64::min);
        let hi = posteriors
            .iter()
            .map(|d| d.inverse_cdf(0.9995))
            .fold(0.0, f64::max);
        let pad = ((hi - lo) * 0.04).max(1e-6);
        let (lo, hi) = ((lo - pad).max(0.0), (hi + pad).min(1.0));
        let step = (hi - lo) / (Self::GRID_POINTS - 1) as f64;
        let mut curves: Vec<Vec<(f64, f64)>> = (posteriors.iter())
            .map(|d| {
                (0..Self::GRID_POINTS)
                    .map(|k| {
                        let x = lo + k as f64 * step;
                        (x, d.pdf(x))
                    })
                    .collect()
            })
            .collect();
        let peak = (curves.iter().flatten())
            .map(|p| p.1)
            .filter(|y| y.is_finite())
            .fold(0.0, f64::max);
        let top = if peak > 0.0 { peak * 1.08 } else { 1.0 };
        // A density that goes to infinity at 0 or 1 is cut at the top of the plot.
        for p in curves.iter_mut().flatten() {
            p.1 = if p.1.is_finite() { p.1.min(top) } else { top };
        }
        let x = Axis::nice(lo, hi, 8);
        let decimals = x.decimals(100.0) + 1;
        let legend = match arms {
            [_] => Vec::new(),
            _ => (arms.iter().enumerate())
                .map(|(i, (name, alpha, beta))| {
                    let mean = percent(alpha / (alpha + beta), decimals, false);
                    LegendEntry::new(format!("{name} (mean {mean})"), colour(i), Mark::Bar)
                })
                .collect(),
        };
        Self {
            title,
            legend,
            curves,
            x,
            y: Axis::nice(0.0, top, 6),
        }
    }
}

impl Figure for PosteriorDensities<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let area = frame(root, self.title, &self.legend)?;
        let (x, y) = (&self.x, &self.y);
        let y_width = label_width(root, y.ticks.iter().map(|t| y.number_label(*t)), true)?;
        let mut plot = plot(&area, x.clone(), y.clone(), y_width, true)?;
        let x_label = |v: &f64| x.percent_label(*v, false);
        let y_label = |v: &f64| y.number_label(*v);
        let axes = Axes {
            x_desc: "Conversion rate",
            y_desc: "Posterior density",
            x_label: &x_label,
            y_label: &y_label,
            x_grid: true,
            y_grid: true,
        };
        draw_axes(&mut plot, &axes)?;
        for (i, curve) in self.curves.iter().enumerate() {
            let c = colour(i);
            let area = AreaSeries::new(curve.iter().copied(), 0.0, c.mix(0.18))
                .border_style(c.stroke_width(2));
            plot.draw_series(area).map_err(draw_error)?;
        }
        Ok(())
    }
}

struct ResponseCurves<'a> {
    title: &'a str,
    curves: &'a [ResponseCurve],
}

impl Figure for ResponseCurves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let mut legend: Vec<LegendEntry> = (self.curves.iter().enumerate())
            .map(|(i, curve)| LegendEntry::new(&curve.channel, colour(i), Mark::Line))
            .collect();
        legend.push(LegendEntry::new("Current spend", INK, Mark::Dot));
        let area = frame(root, self.title, &legend)?;
        let all = || (self.curves.iter()).flat_map(|c| c.points.iter().copied().chain([c.current]));
        let (x_lo, x_hi) = padded_range(all().map(|p| p.0), 0.04);
        let (y_lo, y_hi) = padded_range(all().map(|p| p.1), 0.08);
        let (x, y) = (Axis::nice(x_lo, x_hi, 8), Axis::nice(y_lo, y_hi, 6));
        let y_width = label_width(root, y.ticks.iter().map(|t| y.number_label(*t)), true)?;
        let mut plot = plot(&area, x.clone(), y.clone(), y_width, true)?;
        let x_label = |v: &f64| x.number_label(*v);
        let y_label = |v: &f64| y.number_label(*v);
        let axes = Axes {
            x_desc: "Spend",
            y_desc: "Response",
            x_label: &x_label,
            y_label: &y_label,
            x_grid: true,
            y_grid: true,
        };
        draw_axes(&mut plot, &axes)?;
        for (i, curve) in self.curves.iter().enumerate() {
            let c = colour(i);
            let mut points = curve.points.clone();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            plot.draw_series(LineSeries::new(points, c.stroke_width(3)))
                .map_err(draw_error)?;
        }
        for (i, curve) in self.curves.iter().enumerate() {
            let marker = [
                Circle::new(curve.current, 8, INK.filled()),
                Circle::new(curve.current, 5, colour(i).filled()),
            ];
            plot.draw_series(marker).map_err(draw_error)?;
        }
        Ok(())
    }
}

struct SpendVsEffect<'a> {
    title: &'a str,
    rows: &'a [ShareRow],
}

impl Figure for SpendVsEffect<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let (spend, effect) = (RGBColor(0xA0, 0xB4, 0xC8), PALETTE[1]);
        let legend = [
            LegendEntry::new("Share of spend", spend, Mark::Bar),
            LegendEntry::new("Share of effect", effect, Mark::Bar),
        ];
        let area = frame(root, self.title, &legend)?;
        let n = self.rows.len();
        let x_ticks = (0..n).map(|i| i as f64 + 0.5).collect();
        let x = Axis::categories(0.0, n as f64, x_ticks);
        let shares = self
            .rows
            .iter()
            .flat_map(|r| [r.spend_share, r.effect_share]);
        let top = (shares.fold(0.0, f64::max) * 1.15).clamp(0.1, 1.1);
        let y = Axis::nice(0.0, top, 6);
        let y_width = label_width(
            root,
            y.ticks.iter().map(|t| y.percent_label(*t, false)),
            true,
        )?;
        let mut plot = plot(&area, x, y.clone(), y_width, false)?;
        let rows = self.rows;
        let x_label = |v: &f64| {
            rows.get(v.floor() as usize)
                .map(|r| r.channel.clone())
                .unwrap_or_default()
        };
        let y_label = |v: &f64| y.percent_label(*v, false);
        let axes = Axes {
            x_desc: "",
            y_desc: "Share of total",
            x_label: &x_label,
            y_label: &y_label,
            x_grid: false,
            y_grid: true,
        };
        draw_axes(&mut plot, &axes)?;
        let bar_pixels = plot.plotting_area().dim_in_pixel().0 as f64 / n as f64 * 0.34;
        let value_font = font(12.0, MUTED).pos(Pos::new(HPos::Center, VPos::Bottom));
        for (i, row) in self.rows.iter().enumerate() {
            let centre = i as f64 + 0.5;
            for (left, value, c) in [
                (centre - 0.36, row.spend_share, spend),
                (centre + 0.02, row.effect_share, effect),
            ] {
                let bar = Rectangle::new([(left, 0.0), (left + 0.34, value)], c.filled());
                plot.draw_series([bar]).map_err(draw_error)?;
                if bar_pixels >= 28.0 {
                    let text = percent(value, if value < 0.1 { 1 } else { 0 }, false);
                    let label = EmptyElement::at((left + 0.17, value))
                        + Text::new(text, (0, -4), value_font.clone());
                    plot.draw_series([label]).map_err(draw_error)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dates(n: usize) -> Vec<String> {
        (0..n).map(|d| format!("2025-03-{:02}", d + 1)).collect()
    }

    fn metrics() -> Result<Chart, ChartError> {
        let ctr = (0..14)
            .map(|d| 0.021 + 0.002 * (d as f64 * 0.7).sin())
            .collect();
        let cvr = (0..14).map(|d| 0.012 + 0.0004 * d as f64).collect();
        let series = [("CTR".to_string(), ctr), ("CVR".to_string(), cvr)];
        metrics_over_time("Daily rates", "Rate", &dates(14), &series)
    }

    fn lift_rows() -> Vec<LiftRow> {
        let row = |label: &str, lift, low, high| LiftRow {
            label: label.to_string(),
            lift,
            low,
            high,
        };
        vec![
            row("Headline B", 0.12, 0.031, 0.209),
            row("Headline C", 0.02, -0.05, 0.09),
            row("Video cut", -0.08, -0.15, -0.01),
        ]
    }

    fn curves() -> Vec<ResponseCurve> {
        let curve = |channel: &str, scale: f64, current: f64| ResponseCurve {
            channel: channel.to_string(),
            points: (0..=40)
                .map(|k| {
                    let spend = k as f64 * 2500.0;
                    (spend, scale * spend / (spend + 30_000.0))
                })
                .collect(),
            current: (current, scale * current / (current + 30_000.0)),
        };
        vec![
            curve("Search", 180_000.0, 40_000.0),
            curve("Social", 120_000.0, 65_000.0),
        ]
    }

    fn shares() -> Vec<ShareRow> {
        [
            ("Search", 0.45, 0.52),
            ("Social", 0.35, 0.28),
            ("Display", 0.2, 0.2),
        ]
        .map(|(channel, spend_share, effect_share)| ShareRow {
            channel: channel.to_string(),
            spend_share,
            effect_share,
        })
        .to_vec()
    }

    fn arms() -> Vec<(String, f64, f64)> {
        vec![
            ("Control".to_string(), 121.0, 3881.0),
            ("Variant".to_string(), 151.0, 3851.0),
        ]
    }

    /// The SVG holds `texts`, the PNG decodes to the chart's size and the plot is not blank.
    fn check(chart: &Chart, texts: &[&str]) {
        assert!(chart.svg.contains("<svg"));
        for text in texts {
            assert!(chart.svg.contains(text), "{text:?} is not in the svg");
        }
        let png = image::load_from_memory_with_format(&chart.png, image::ImageFormat::Png)
            .unwrap()
            .to_rgb8();
        assert_eq!((png.width(), png.height()), (chart.width, chart.height));
        assert_eq!((chart.width, chart.height), (960, 540));
        let colours: std::collections::HashSet<[u8; 3]> = png.pixels().map(|p| p.0).collect();
        assert!(colours.len() > 20, "only {} colours", colours.len());
        let (w, h) = (png.width(), png.height());
        let inked = (w / 8..w * 7 / 8)
            .flat_map(|x| (h / 4..h * 7 / 8).map(move |y| (x, y)))
            .filter(|(x, y)| png.get_pixel(*x, *y).0 != [255, 255, 255])
            .count();
        assert!(inked > 2000, "only {inked} pixels drawn in the plot area");
    }

    fn input_error(result: Result<Chart, ChartError>) -> AnalyticsError {
        match result {
            Err(ChartError::Input(e)) => e,
            Err(e) => panic!("expected an input error, got {e}"),
            Ok(_) => panic!("expected an input error, got a chart"),
        }
    }

    #[test]
    fn metrics_over_time_renders_lines_dates_and_legend() {
        let chart = metrics().unwrap();
        check(&chart, &["Daily rates", "CTR", "CVR", "Rate", "2025-03-01"]);
    }

    #[test]
    fn lift_intervals_renders_rows_and_verdicts() {
        let chart = lift_intervals("Lift over control", &lift_rows()).unwrap();
        let texts = [
            "Lift over control",
            "Headline B",
            "Video cut",
            "Relative lift",
        ];
        check(&chart, &texts);
        for verdict in ["above zero", "includes zero", "below zero", "+12.0%"] {
            assert!(chart.svg.contains(verdict), "{verdict:?} is not in the svg");
        }
    }

    #[test]
    fn posterior_densities_renders_each_arm_with_its_mean() {
        let chart = posterior_densities("Posterior conversion rate", &arms()).unwrap();
        let texts = [
            "Posterior conversion rate",
            "Control (mean 3.02",
            "Variant (mean 3.77",
        ];
        check(&chart, &texts);
    }

    #[test]
    fn response_curves_render_with_current_spend() {
        let chart = response_curves("Response curves", &curves()).unwrap();
        check(
            &chart,
            &[
                "Response curves",
                "Search",
                "Social",
                "Current spend",
                "Spend",
            ],
        );
    }

    #[test]
    fn spend_vs_effect_renders_grouped_bars() {
        let chart = spend_vs_effect("Spend vs effect", &shares()).unwrap();
        let texts = [
            "Spend vs effect",
            "Share of spend",
            "Share of effect",
            "Display",
            "52%",
        ];
        check(&chart, &texts);
    }

    #[test]
    fn same_input_gives_identical_bytes() {
        let (a, b) = (metrics().unwrap(), metrics().unwrap());
        assert_eq!(a.svg, b.svg);
        assert_eq!(a.png, b.png);
        let a = posterior_densities("p", &arms()).unwrap();
        let b = posterior_densities("p", &arms()).unwrap();
        assert_eq!((a.svg, a.png), (b.svg, b.png));
    }

    #[test]
    fn degenerate_inputs_render() {
        let one = [("Spend".to_string(), vec![12.5])];
        check(
            &metrics_over_time("One day", "€", &dates(1), &one).unwrap(),
            &["2025-03-01"],
        );
        let zeros = [
            ("a".to_string(), vec![0.0; 5]),
            ("b".to_string(), vec![0.0; 5]),
        ];
        metrics_over_time("Zeros", "", &dates(5), &zeros).unwrap();
        let flat = LiftRow {
            label: "Same".to_string(),
            lift: 0.0,
            low: 0.0,
            high: 0.0,
        };
        lift_intervals("Zero width", &[flat]).unwrap();
        posterior_densities("Flat prior", &[("Prior".to_string(), 1.0, 1.0)]).unwrap();
        posterior_densities("U shaped", &[("Jeffreys".to_string(), 0.5, 0.5)]).unwrap();
        let extreme = [
            ("Million".to_string(), 5_001.0, 995_001.0),
            ("Tiny".to_string(), 0.01, 3.0),
        ];
        posterior_densities("Extreme", &extreme).unwrap();
        let dot = ResponseCurve {
            channel: "TV".to_string(),
            points: vec![(0.0, 0.0)],
            current: (0.0, 0.0),
        };
        response_curves("One point", &[dot]).unwrap();
        let none = ShareRow {
            channel: "Radio".to_string(),
            spend_share: 0.0,
            effect_share: 0.0,
        };
        spend_vs_effect("Nothing", &[none]).unwrap();
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let e = input_error(metrics_over_time("t", "y", &[], &[]));
        assert_eq!(
            (e.field.as_str(), e.problem.as_str()),
            ("dates", "must not be empty")
        );
        let short = [("a".to_string(), vec![1.0; 9])];
        let e = input_error(metrics_over_time("t", "y", &dates(10), &short));
        assert_eq!(e.field, "series[0].values");
        assert_eq!(e.problem, "has 9 values for 10 dates");
        let mut bad = vec![1.0; 10];
        bad[4] = f64::NAN;
        let two = [("a".to_string(), vec![1.0; 10]), ("b".to_string(), bad)];
        let e = input_error(metrics_over_time("t", "y", &dates(10), &two));
        assert_eq!(e.field, "series[1].values[4]");
        assert_eq!(e.problem, "must be a finite number");

        let mut rows = lift_rows();
        rows[1].low = 0.05;
        assert_eq!(input_error(lift_intervals("t", &rows)).field, "rows[1]");
        rows[1].high = f64::INFINITY;
        assert_eq!(
            input_error(lift_intervals("t", &rows)).field,
            "rows[1].high"
        );

        let e = input_error(posterior_densities("t", &[("a".to_string(), 1.0, 0.0)]));
        assert_eq!(e.field, "arms[0].beta");
        let e = input_error(posterior_densities("t", &[("a".to_string(), -2.0, 3.0)]));
        assert_eq!(e.field, "arms[0].alpha");

        let mut curves = curves();
        curves[1].points[3].1 = f64::NAN;
        assert_eq!(
            input_error(response_curves("t", &curves)).field,
            "curves[1].points[3]"
        );
        curves[0].points.clear();
        assert_eq!(
            input_error(response_curves("t", &curves)).field,
            "curves[0].points"
        );

        let mut shares = shares();
        shares[2].effect_share = 1.5;
        let e = input_error(spend_vs_effect("t", &shares));
        assert_eq!(e.field, "rows[2].effect_share");
        assert_eq!(e.problem, "must be a fraction in [0, 1]");
        assert_eq!(input_error(spend_vs_effect("t", &[])).field, "rows");
    }

    #[test]
    fn tick_labels_read_well() {
        let y = Axis::nice(0.0, 0.031, 6);
        assert_eq!(y.ticks.len(), 7);
        assert_eq!(y.percent_label(y.ticks[1], false), "0.5%");
        let spend = Axis::nice(0.0, 180_000.0, 6);
        assert_eq!(spend.number_label(50_000.0), "50k");
        assert_eq!(spend.number_label(0.0), "0");
        assert_eq!(Axis::nice(-0.2, 0.3, 5).percent_label(0.1, true), "+10%");
        assert_eq!(percent(-0.0001, 1, true), "0.0%");
    }

    /// Writes every chart to $TMPDIR/charts for a look: `cargo test --lib charts -- --ignored`.
    #[test]
    #[ignore]
    fn write_samples() {
        let dir = std::env::temp_dir().join("charts");
        std::fs::create_dir_all(&dir).unwrap();
        let one = [("Spend".to_string(), vec![12_500.0])];
        let flat = LiftRow {
            label: "Same".to_string(),
            lift: 0.0,
            low: 0.0,
            high: 0.0,
        };
        let jeffreys = [("A".to_string(), 0.5, 0.5), ("B".to_string(), 3.0, 1.5)];
        let charts = [
            ("metrics", metrics().unwrap()),
            (
                "lift",
                lift_intervals("Lift over control", &lift_rows()).unwrap(),
            ),
            (
                "posteriors",
                posterior_densities("Posterior conversion rate", &arms()).unwrap(),
            ),
            (
                "response",
                response_curves("Response curves", &curves()).unwrap(),
            ),
            (
                "shares",
                spend_vs_effect("Share of spend vs share of effect", &shares()).unwrap(),
            ),
            (
                "one_day",
                metrics_over_time("One day", "Spend (€)", &dates(1), &one).unwrap(),
            ),
            (
                "zero_lift",
                lift_intervals("Zero-width interval", &[flat]).unwrap(),
            ),
            (
                "jeffreys",
                posterior_densities("Beta(0.5, 0.5)", &jeffreys).unwrap(),
            ),
        ];
        for (name, chart) in charts {
            std::fs::write(dir.join(format!("{name}.png")), &chart.png).unwrap();
            std::fs::write(dir.join(format!("{name}.svg")), &chart.svg).unwrap();
        }
    }
}

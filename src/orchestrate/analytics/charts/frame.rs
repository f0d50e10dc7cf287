//! What every chart shares: the committed fonts registered with plotters, rendering a figure to
//! SVG and PNG, the palette, the frame (background, title, legend), and the axes with their ticks
//! and tick labels. Draws no chart itself and checks no input: `figures` and the public functions
//! in `charts` do.

use std::ops::Range;
use std::sync::OnceLock;

use image::ImageEncoder;
use image::codecs::png::PngEncoder;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Chart, ChartError, draw_error};

const WIDTH: u32 = 960;
const HEIGHT: u32 = 540;
/// Left and right padding of the title and legend, in pixels.
const PAD: i32 = 24;

const DEJAVU_SANS: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");
const DEJAVU_SANS_BOLD: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans-Bold.ttf");

/// Tableau 10 without its yellow and grey: distinct, and readable on white.
pub(super) const PALETTE: [RGBColor; 8] = [
    RGBColor(0x4E, 0x79, 0xA7),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0x59, 0xA1, 0x4F),
    RGBColor(0xE1, 0x57, 0x59),
    RGBColor(0xB0, 0x7A, 0xA1),
    RGBColor(0x76, 0xB7, 0xB2),
    RGBColor(0x9C, 0x75, 0x5F),
    RGBColor(0xFF, 0x9D, 0xA7),
];
pub(super) const INK: RGBColor = RGBColor(0x1F, 0x29, 0x37);
pub(super) const MUTED: RGBColor = RGBColor(0x4B, 0x55, 0x63);
const AXIS: RGBColor = RGBColor(0x9C, 0xA3, 0xAF);
const GRID: RGBColor = RGBColor(0xE5, 0xE7, 0xEB);
pub(super) const NEUTRAL: RGBColor = RGBColor(0x8A, 0x93, 0xA0);

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
pub(super) trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError>;
}

pub(super) fn render(figure: &impl Figure) -> Result<Chart, ChartError> {
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

pub(super) fn font(size: f64, colour: RGBColor) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&colour)
}

pub(super) fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

#[derive(Clone, Copy)]
pub(super) enum Mark {
    Line,
    Bar,
    Dot,
}

pub(super) struct LegendEntry {
    label: String,
    colour: RGBColor,
    mark: Mark,
}

impl LegendEntry {
    pub(super) fn new(label: impl Into<String>, colour: RGBColor, mark: Mark) -> Self {
        Self {
            label: label.into(),
            colour,
            mark,
        }
    }
}

/// Fills the background, writes the title and the legend (wrapped into rows), and returns the
/// area left for the plot.
pub(super) fn frame<DB: DrawingBackend>(
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
pub(super) struct Axis {
    lo: f64,
    hi: f64,
    pub(super) ticks: Vec<f64>,
    /// Distance between ticks of a quantity axis, for the number of decimals; 0 otherwise.
    step: f64,
}

impl Axis {
    /// Up to about `target` ticks at 1, 2 or 5 times a power of ten.
    pub(super) fn nice(lo: f64, hi: f64, target: usize) -> Self {
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

    pub(super) fn categories(lo: f64, hi: f64, ticks: Vec<f64>) -> Self {
        Self {
            lo,
            hi,
            ticks,
            step: 0.0,
        }
    }

    /// Digits after the point that tell the ticks apart.
    pub(super) fn decimals(&self, scale: f64) -> usize {
        let step = self.step * scale;
        if step > 0.0 && step.is_finite() {
            (-step.log10().floor()).clamp(0.0, 6.0) as usize
        } else {
            0
        }
    }

    /// Formats ticks of a quantity, with k/M/B suffixes on large ones.
    pub(super) fn number_label(&self, v: f64) -> String {
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
    pub(super) fn percent_label(&self, v: f64, signed: bool) -> String {
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

pub(super) fn percent(v: f64, decimals: usize, signed: bool) -> String {
    let text = no_negative_zero(format!("{:.*}", decimals, v * 100.0));
    let plus = signed && !text.starts_with('-') && !text.trim_start_matches(['0', '.']).is_empty();
    format!("{}{text}%", if plus { "+" } else { "" })
}

/// The range of `values` widened by `pad` of its span on each side, starting at zero when all
/// values are non-negative and the padding would cross zero; a unit range around a constant.
pub(super) fn padded_range(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
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

pub(super) type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// Builds the plot on `area` with the house margins; `y_label_width` fits the y tick labels.
pub(super) fn plot<'a, DB: DrawingBackend>(
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

pub(super) struct Axes<'f> {
    pub(super) x_desc: &'f str,
    pub(super) y_desc: &'f str,
    pub(super) x_label: &'f dyn Fn(&f64) -> String,
    pub(super) y_label: &'f dyn Fn(&f64) -> String,
    pub(super) x_grid: bool,
    pub(super) y_grid: bool,
}

pub(super) fn draw_axes<DB: DrawingBackend>(
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
pub(super) fn label_width<DB: DrawingBackend>(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

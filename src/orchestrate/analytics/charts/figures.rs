//! The five charts, each a `Figure` drawn on the shared frame: what goes in its legend, how its
//! axes are ranged and labelled, and how its data is marked. The input is checked before it gets
//! here (in `charts`); nothing here fails but the drawing.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use statrs::distribution::{Beta, Continuous, ContinuousCDF};

use super::frame::{
    Axes, Axis, Figure, INK, LegendEntry, MUTED, Mark, NEUTRAL, PALETTE, Plot, colour, draw_axes,
    font, frame, label_width, padded_range, percent, plot,
};
use super::{ChartError, LiftRow, ResponseCurve, ShareRow, draw_error};

pub(super) struct MetricsOverTime<'a> {
    pub(super) title: &'a str,
    pub(super) y_label: &'a str,
    pub(super) dates: &'a [String],
    pub(super) series: &'a [(String, Vec<f64>)],
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

pub(super) struct LiftIntervals<'a> {
    pub(super) title: &'a str,
    pub(super) rows: &'a [LiftRow],
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

pub(super) struct PosteriorDensities<'a> {
    title: &'a str,
    legend: Vec<LegendEntry>,
    curves: Vec<Vec<(f64, f64)>>,
    x: Axis,
    y: Axis,
}

impl<'a> PosteriorDensities<'a> {
    const GRID_POINTS: usize = 241;

    pub(super) fn new(title: &'a str, arms: &[(String, f64, f64)], posteriors: &[Beta]) -> Self {
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
        let x = &self.x;
        let x_label = |v: &f64| x.percent_label(*v, false);
        let descriptions = ("Conversion rate", "Posterior density");
        let mut plot = gridded_plot(root, &area, x, &self.y, &x_label, descriptions)?;
        for (i, curve) in self.curves.iter().enumerate() {
            let c = colour(i);
            let area = AreaSeries::new(curve.iter().copied(), 0.0, c.mix(0.18))
                .border_style(c.stroke_width(2));
            plot.draw_series(area).map_err(draw_error)?;
        }
        Ok(())
    }
}

/// A plot with a gridded numeric y axis and the given x labels, axes drawn.
fn gridded_plot<'a, DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &'a DrawingArea<DB, Shift>,
    x: &Axis,
    y: &Axis,
    x_label: &dyn Fn(&f64) -> String,
    (x_desc, y_desc): (&str, &str),
) -> Result<Plot<'a, DB>, ChartError> {
    let y_width = label_width(root, y.ticks.iter().map(|t| y.number_label(*t)), true)?;
    let mut plot = plot(area, x.clone(), y.clone(), y_width, true)?;
    let y_label = |v: &f64| y.number_label(*v);
    let axes = Axes {
        x_desc,
        y_desc,
        x_label,
        y_label: &y_label,
        x_grid: true,
        y_grid: true,
    };
    draw_axes(&mut plot, &axes)?;
    Ok(plot)
}

pub(super) struct ResponseCurves<'a> {
    pub(super) title: &'a str,
    pub(super) curves: &'a [ResponseCurve],
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
        let x_label = |v: &f64| x.number_label(*v);
        let mut plot = gridded_plot(root, &area, &x, &y, &x_label, ("Spend", "Response"))?;
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

pub(super) struct SpendVsEffect<'a> {
    pub(super) title: &'a str,
    pub(super) rows: &'a [ShareRow],
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

//! Charts of the analytics results, drawn with `plotters` once as SVG (for the dashboard) and once
//! as PNG (for reports and the README): metrics over time, lift with intervals, Beta posteriors,
//! the response curves of the marketing-mix model, and share of spend against share of effect.
//!
//! Owns the look (palette, fonts, layout) and the checks on chart input, which name the field.
//! It computes nothing beyond what it draws (the Beta density, axis ticks) and does no I/O: the
//! fonts are the committed DejaVu files compiled in and registered with plotters once.
//!
//! This file is the public API: the input rows, the five charts and the checks on their input.
//! `frame` holds what every chart shares (fonts, rendering to SVG and PNG, the title and legend,
//! axes and tick labels); `figures` draws each chart on it.

mod figures;
mod frame;
#[cfg(test)]
mod tests;

use statrs::distribution::Beta;

use super::AnalyticsError;
use figures::{LiftIntervals, MetricsOverTime, PosteriorDensities, ResponseCurves, SpendVsEffect};
use frame::render;

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

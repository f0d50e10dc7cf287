//! The charts of a campaign's experiments: lift with intervals, posterior densities, and the
//! cumulative conversion rate per day.

use super::{Counts, Loaded};
use crate::orchestrate::analytics::charts;

/// Posterior densities drawn at most, so the chart stays readable.
const MAX_POSTERIOR_ARMS: usize = 8;

pub fn draw(name: &str, loaded: &[Loaded]) -> Result<charts::Chart, charts::ChartError> {
    let arm = |e: &Loaded, label: &str| format!("{}: {label}", e.request.name);
    match name {
        "lift" => {
            let mut rows = Vec::new();
            for e in loaded {
                let control = e.statistics["control"]["rate"].as_f64().unwrap_or(0.0);
                for v in e.statistics["variants"].as_array().into_iter().flatten() {
                    let (Some(lift), true) = (v["lift"].as_f64(), control > 0.0) else {
                        continue;
                    };
                    let interval = &v["difference_interval"];
                    rows.push(charts::LiftRow {
                        label: arm(e, v["name"].as_str().unwrap_or("")),
                        lift,
                        low: interval[0].as_f64().unwrap_or(0.0) / control,
                        high: interval[1].as_f64().unwrap_or(0.0) / control,
                    });
                }
            }
            charts::lift_intervals("Lift over control with 95% intervals", &rows)
        }
        "posteriors" => {
            let mut arms = Vec::new();
            for e in loaded {
                let test = &e.request.test;
                for a in std::iter::once(&test.control).chain(&test.variants) {
                    arms.push((
                        arm(e, &a.name),
                        1.0 + a.conversions as f64,
                        1.0 + (a.users - a.conversions) as f64,
                    ));
                }
            }
            arms.truncate(MAX_POSTERIOR_ARMS);
            charts::posterior_densities("Posterior conversion rates", &arms)
        }
        _ => {
            let days = loaded
                .iter()
                .map(|e| e.request.daily.len())
                .max()
                .unwrap_or(0);
            let labels: Vec<String> = (1..=days).map(|d| format!("day {d}")).collect();
            let mut series = Vec::new();
            for e in loaded
                .iter()
                .filter(|e| e.request.daily.len() == days && days > 0)
            {
                let rate = |c: &Counts| c.conversions as f64 / c.users.max(1) as f64;
                series.push((
                    arm(e, &e.request.test.control.name),
                    e.request.daily.iter().map(|d| rate(&d.control)).collect(),
                ));
                for (i, v) in e.request.test.variants.iter().enumerate() {
                    series.push((
                        arm(e, &v.name),
                        e.request
                            .daily
                            .iter()
                            .map(|d| rate(&d.variants[i]))
                            .collect(),
                    ));
                }
            }
            charts::metrics_over_time("Cumulative conversion rate", "rate", &labels, &series)
        }
    }
}

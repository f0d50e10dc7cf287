//! The one metric a campaign is judged on, chosen from its objective, and the sentences that
//! compare creatives on it. The optimizer (`optimizer::decide`), the campaign report's A/B
//! headline (`best_vs_rest`) and the experiment summary all call [`ObjectiveMetric::choose`],
//! so they never disagree about what "best" means:
//!
//! - `sales`: ROAS (revenue per unit of spend) when revenue is synced, else CPA;
//! - `leads`, `app_promotion` (and any other objective): CPA, read as conversions per spend;
//! - `traffic`, `awareness`, `engagement`: CTR (clicks per impression).
//!
//! Pure, no I/O.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::store::orchestration::MetricRow;

/// The metric a campaign's creatives and platforms are compared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ObjectiveMetric {
    /// Revenue per unit of spend (higher is better).
    Roas,
    /// Spend per conversion (lower is better; the optimizer ranks conversions per spend).
    Cpa,
    /// Clicks per impression (higher is better).
    Ctr,
}

impl ObjectiveMetric {
    /// The metric of a campaign `objective`; `revenue_synced` when any synced row has revenue.
    pub fn choose(objective: &str, revenue_synced: bool) -> Self {
        match objective {
            "sales" if revenue_synced => Self::Roas,
            "traffic" | "awareness" | "engagement" => Self::Ctr,
            _ => Self::Cpa,
        }
    }

    /// `roas`, `cpa` or `ctr`, as the API spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Roas => "roas",
            Self::Cpa => "cpa",
            Self::Ctr => "ctr",
        }
    }

    /// How a marketer reads its name: `ROAS`, `CPA`, `CTR`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Roas => "ROAS",
            Self::Cpa => "CPA",
            Self::Ctr => "CTR",
        }
    }

    /// The observed value over `t`; `None` where it is undefined (no spend, no conversions,
    /// no impressions).
    pub fn value(self, t: &Totals) -> Option<f64> {
        let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
        match self {
            Self::Roas => ratio(t.revenue, t.spend),
            Self::Cpa => ratio(t.spend, t.conversions),
            Self::Ctr => ratio(t.clicks as f64, t.impressions as f64),
        }
    }

    /// Whether `a` is better than `b` on this metric.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Self::Cpa => a < b,
            Self::Roas | Self::Ctr => a > b,
        }
    }

    /// A value as a marketer reads it: `0.26x`, `$12.10`, `1.20%`.
    pub fn format(self, value: f64, currency: &str) -> String {
        match self {
            Self::Roas => format!("{value:.2}x"),
            Self::Cpa => money(value, currency),
            Self::Ctr => format!("{:.2}%", 100.0 * value),
        }
    }

    /// `value` formatted, or `n/a (no conversions)` and the like where it is undefined.
    pub fn describe(self, value: Option<f64>, currency: &str) -> String {
        match (value, self) {
            (Some(v), _) => self.format(v, currency),
            (None, Self::Cpa) => "n/a (no conversions)".into(),
            (None, _) => "n/a".into(),
        }
    }
}

/// An amount in `currency` units: `$310`, `$12.10`, `€4.50`, `¥1200`, `4.50 CHF`.
/// Amounts of 100 or more are shown whole.
pub fn money(amount: f64, currency: &str) -> String {
    let symbol = match currency {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        _ => None,
    };
    let digits = if amount.abs() >= 100.0 || currency == "JPY" {
        0
    } else {
        2
    };
    match symbol {
        Some(s) => format!("{s}{amount:.digits$}"),
        None => format!("{amount:.digits$} {currency}"),
    }
}

/// Delivery summed over some rows (one day, one creative, one platform); amounts in currency
/// units.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub spend: f64,
    pub impressions: u64,
    pub clicks: u64,
    pub conversions: f64,
    pub revenue: f64,
}

impl Totals {
    /// Adds one synced row.
    pub fn add_row(&mut self, m: &MetricRow) {
        self.add(&Totals {
            spend: m.spend_micros as f64 / 1e6,
            impressions: m.impressions.max(0) as u64,
            clicks: m.clicks.max(0) as u64,
            conversions: m.conversions.max(0.0),
            revenue: m.revenue_micros as f64 / 1e6,
        });
    }

    /// Adds other totals.
    pub fn add(&mut self, o: &Totals) {
        self.spend += o.spend;
        self.impressions += o.impressions;
        self.clicks += o.clicks;
        self.conversions += o.conversions;
        self.revenue += o.revenue;
    }
}

/// The best creative on the metric against the others pooled.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The key of the best creative, as given.
    pub best: String,
    pub value: f64,
    /// The others pooled; `None` when they have no value (no delivery, no conversions).
    pub others_value: Option<f64>,
    /// "Creative 'X' has ROAS 3.76x against 0.85x for the others."
    pub headline: String,
}

/// The best of `arms` (key, name, totals) on `metric` against the rest pooled, with its
/// headline; `None` when no arm has a value.
pub fn best_vs_rest(
    metric: ObjectiveMetric,
    arms: &[(String, String, Totals)],
    currency: &str,
) -> Option<Comparison> {
    let (best, value) = arms
        .iter()
        .enumerate()
        .filter_map(|(i, (_, _, t))| metric.value(t).map(|v| (i, v)))
        .reduce(|a, b| if metric.better(b.1, a.1) { b } else { a })?;
    let mut rest = Totals::default();
    for (_, _, t) in arms
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != best)
        .map(|p| p.1)
    {
        rest.add(t);
    }
    let others_value = metric.value(&rest);
    let (key, name, _) = &arms[best];
    let against = match others_value {
        Some(o) => format!("against {} for the others", metric.format(o, currency)),
        None => "; the others have no measurable value yet".into(),
    };
    let space = if others_value.is_some() { " " } else { "" };
    Some(Comparison {
        best: key.clone(),
        value,
        others_value,
        headline: format!(
            "Creative '{name}' has {} {}{space}{against}.",
            metric.label(),
            metric.format(value, currency)
        ),
    })
}

/// A campaign's creatives compared on its objective's metric from its synced rows (the
/// campaign report's A/B headline and the experiment summary's): the metric, ROAS for sales
/// once any row has revenue, and the best creative against the rest. `names` maps creative ids
/// to names (the id stands in for a missing one); rows without a creative pool as one arm.
pub fn compare_creatives(
    objective: &str,
    currency: &str,
    rows: &[MetricRow],
    names: &HashMap<String, String>,
) -> Option<(ObjectiveMetric, Comparison)> {
    let mut by_creative: BTreeMap<String, Totals> = BTreeMap::new();
    for m in rows {
        let id = m.creative_id.clone().unwrap_or_default();
        by_creative.entry(id).or_default().add_row(m);
    }
    let arms: Vec<(String, String, Totals)> = by_creative
        .into_iter()
        .map(|(id, t)| {
            let name = names.get(&id).cloned().unwrap_or_else(|| id.clone());
            (id, name, t)
        })
        .collect();
    let metric = ObjectiveMetric::choose(objective, rows.iter().any(|m| m.revenue_micros > 0));
    best_vs_rest(metric, &arms, currency).map(|c| (metric, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(spend: f64, conversions: f64, revenue: f64) -> Totals {
        Totals {
            spend,
            impressions: 10_000,
            clicks: 200,
            conversions,
            revenue,
        }
    }

    #[test]
    fn the_objective_picks_the_metric() {
        assert_eq!(
            ObjectiveMetric::choose("sales", true),
            ObjectiveMetric::Roas
        );
        assert_eq!(
            ObjectiveMetric::choose("sales", false),
            ObjectiveMetric::Cpa
        );
        assert_eq!(ObjectiveMetric::choose("leads", true), ObjectiveMetric::Cpa);
        assert_eq!(
            ObjectiveMetric::choose("app_promotion", true),
            ObjectiveMetric::Cpa
        );
        for o in ["traffic", "awareness", "engagement"] {
            assert_eq!(ObjectiveMetric::choose(o, true), ObjectiveMetric::Ctr);
        }
    }

    #[test]
    fn the_headline_reads_roas_not_conversion_rate() {
        // The loser converts more clicks but earns less per unit of spend.
        let arms = vec![
            (
                "a".to_string(),
                "Morning ritual".to_string(),
                totals(100.0, 10.0, 85.0),
            ),
            (
                "b".to_string(),
                "Slow pour".to_string(),
                totals(100.0, 5.0, 376.0),
            ),
        ];
        let c = best_vs_rest(ObjectiveMetric::Roas, &arms, "USD").unwrap();
        assert_eq!(c.best, "b");
        assert_eq!(
            c.headline,
            "Creative 'Slow pour' has ROAS 3.76x against 0.85x for the others."
        );
        let cpa = best_vs_rest(ObjectiveMetric::Cpa, &arms, "USD").unwrap();
        assert_eq!(cpa.best, "a", "lower CPA is better");
        assert!(
            cpa.headline.contains("CPA $10.00 against $20.00"),
            "{}",
            cpa.headline
        );
        assert_eq!(money(310.4, "USD"), "$310");
        assert_eq!(money(4.5, "CHF"), "4.50 CHF");
    }
}

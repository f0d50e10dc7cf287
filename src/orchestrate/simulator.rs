//! A seeded simulator of an ad platform, pure and without I/O: a set of ads (the arms of the
//! optimizer), each with hidden true rates (CPM, click-through rate, conversions per click, mean
//! revenue per conversion), and days of delivery drawn from them with the noise a real platform
//! shows. Each day every ad's clearing price moves around its CPM (log-normal, 10%), the budget
//! buys Poisson impressions at that price, clicks and conversions are binomial thinnings, and
//! each conversion's value is Gamma around the mean. The rows it returns have the shape of a
//! platform's daily report per ad, so the sandbox ad platform reuses this one implementation;
//! the optimizer's tests measure regret against its hidden rates (`expected_conversions`).
//!
//! Everything is drawn from one seeded `StdRng` with rand 0.9, by the exact methods of
//! `analytics::sample`: Poisson impressions, binomial clicks and conversions, Gamma values, a
//! Box-Muller normal for the price. Owns no state beyond its ads, its day counter and its
//! generator; knows nothing of campaigns, storage or HTTP.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::orchestrate::analytics::sample::{binomial, gamma, poisson, standard_normal};

/// Standard deviation of the log of each day's clearing price around an ad's CPM.
const PRICE_NOISE: f64 = 0.1;
/// Gamma shape of one conversion's value around the ad's mean (coefficient of variation 0.71).
const VALUE_SHAPE: f64 = 2.0;
/// The largest daily budget one ad takes, in currency units.
const MAX_BUDGET: f64 = 1e9;

/// The hidden true rates of one ad.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdRates {
    /// Cost per 1000 impressions, in currency units.
    pub cpm: f64,
    /// Clicks per impression.
    pub ctr: f64,
    /// Conversions per click.
    pub conversion_rate: f64,
    /// Mean revenue per conversion, in currency units.
    pub revenue_per_conversion: f64,
}

impl AdRates {
    /// Expected conversions per currency unit spent.
    pub fn conversions_per_spend(&self) -> f64 {
        1000.0 / self.cpm * self.ctr * self.conversion_rate
    }

    /// Expected revenue per currency unit spent.
    pub fn revenue_per_spend(&self) -> f64 {
        self.conversions_per_spend() * self.revenue_per_conversion
    }

    fn check(&self, index: usize) -> Result<(), SandboxError> {
        let problem = |field: &'static str, problem: &str| SandboxError::Rates {
            index,
            field,
            problem: problem.to_string(),
        };
        if !(self.cpm > 0.0 && self.cpm.is_finite()) {
            return Err(problem("cpm", "must be a positive number"));
        }
        for (field, rate) in [("ctr", self.ctr), ("conversion_rate", self.conversion_rate)] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(problem(field, "must be a rate from 0 to 1"));
            }
        }
        if !(self.revenue_per_conversion >= 0.0 && self.revenue_per_conversion.is_finite()) {
            return Err(problem(
                "revenue_per_conversion",
                "must be a finite number, 0 or more",
            ));
        }
        Ok(())
    }
}

/// One ad's delivery on one day, as a platform reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DayMetrics {
    /// Days since the simulator started, from 0.
    pub day: u32,
    /// The ad's index in the simulator.
    pub ad: usize,
    pub impressions: u64,
    pub clicks: u64,
    /// Currency units, to the cent; within a fraction of a percent of the budget either side.
    pub spend: f64,
    pub conversions: u64,
    /// Currency units, to the cent.
    pub revenue: f64,
}

impl DayMetrics {
    /// Clicks per impression; `None` without impressions.
    pub fn ctr(&self) -> Option<f64> {
        ratio(self.clicks as f64, self.impressions as f64)
    }

    /// Cost per 1000 impressions; `None` without impressions.
    pub fn cpm(&self) -> Option<f64> {
        ratio(1000.0 * self.spend, self.impressions as f64)
    }

    /// Cost per click; `None` without clicks.
    pub fn cpc(&self) -> Option<f64> {
        ratio(self.spend, self.clicks as f64)
    }

    /// Conversions per click; `None` without clicks.
    pub fn conversion_rate(&self) -> Option<f64> {
        ratio(self.conversions as f64, self.clicks as f64)
    }

    /// Cost per conversion (acquisition); `None` without conversions.
    pub fn cpa(&self) -> Option<f64> {
        ratio(self.spend, self.conversions as f64)
    }

    /// Return on ad spend, revenue / spend; `None` without spend.
    pub fn roas(&self) -> Option<f64> {
        ratio(self.revenue, self.spend)
    }
}

fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

/// Input the simulator cannot run, named by field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SandboxError {
    #[error("ads[{index}].{field}: {problem}")]
    Rates {
        index: usize,
        field: &'static str,
        problem: String,
    },
    #[error("budgets: {got} given for {expected} ads")]
    BudgetCount { expected: usize, got: usize },
    #[error("budgets[{index}]: {value} must be a finite number from 0 to {MAX_BUDGET}")]
    Budget { index: usize, value: f64 },
}

/// A seeded ad platform: the same seed, ads and budgets give the same days.
#[derive(Debug, Clone)]
pub struct Simulator {
    rng: StdRng,
    ads: Vec<AdRates>,
    day: u32,
}

impl Simulator {
    /// A platform running `ads` (possibly none yet), drawing its days from `seed`.
    pub fn new(seed: u64, ads: Vec<AdRates>) -> Result<Self, SandboxError> {
        for (index, ad) in ads.iter().enumerate() {
            ad.check(index)?;
        }
        Ok(Self {
            rng: StdRng::seed_from_u64(seed),
            ads,
            day: 0,
        })
    }

    /// `n_ads` ads with plausible hidden rates drawn from `seed`: one audience's CPM between 6
    /// and 14 (each ad within 20% of it), click-through rates from 0.6% to 2%, and conversions
    /// per click from 0.5% to 5%, spread on purpose: each ad's is drawn (log-uniform) from its
    /// own slice of that range, in shuffled order, so no two ads are alike by accident.
    pub fn random(seed: u64, n_ads: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let base_cpm = rng.random_range(6.0..14.0);
        let base_value = rng.random_range(20.0..120.0);
        let mut slices: Vec<usize> = (0..n_ads).collect();
        slices.shuffle(&mut rng);
        let ads = slices
            .into_iter()
            .map(|slice| {
                let position = (slice as f64 + rng.random::<f64>()) / n_ads as f64;
                AdRates {
                    cpm: base_cpm * rng.random_range(0.8..1.2),
                    ctr: log_uniform(&mut rng, 0.006, 0.02),
                    conversion_rate: 0.005 * 10f64.powf(position),
                    revenue_per_conversion: base_value * rng.random_range(0.85..1.15),
                }
            })
            .collect();
        Self { rng, ads, day: 0 }
    }

    /// Starts delivering a new ad from the next day on; returns its index.
    pub fn add_ad(&mut self, rates: AdRates) -> Result<usize, SandboxError> {
        let index = self.ads.len();
        rates.check(index)?;
        self.ads.push(rates);
        Ok(index)
    }

    /// Replaces ad `index`'s hidden rates from the next day on (a rehearsal's "what if").
    pub fn set_rates(&mut self, index: usize, rates: AdRates) -> Result<(), SandboxError> {
        rates.check(index)?;
        if let Some(ad) = self.ads.get_mut(index) {
            *ad = rates;
        }
        Ok(())
    }

    /// The hidden rates, by ad index.
    pub fn ads(&self) -> &[AdRates] {
        &self.ads
    }

    /// Days run so far: the `day` of the next rows.
    pub fn day(&self) -> u32 {
        self.day
    }

    /// One day of delivery with `budgets[i]` for ad `i`: a row per ad, zero where the budget is.
    pub fn run_day(&mut self, budgets: &[f64]) -> Result<Vec<DayMetrics>, SandboxError> {
        self.check_budgets(budgets)?;
        let day = self.day;
        let rng = &mut self.rng;
        let rows = self
            .ads
            .iter()
            .zip(budgets)
            .enumerate()
            .map(|(ad, (rates, &budget))| deliver(rng, day, ad, rates, budget))
            .collect();
        self.day += 1;
        Ok(rows)
    }

    /// Expected conversions of a day with these budgets, from the hidden rates.
    pub fn expected_conversions(&self, budgets: &[f64]) -> Result<f64, SandboxError> {
        self.check_budgets(budgets)?;
        Ok(self
            .ads
            .iter()
            .zip(budgets)
            .map(|(ad, budget)| ad.conversions_per_spend() * budget)
            .sum())
    }

    /// Expected revenue of a day with these budgets, from the hidden rates.
    pub fn expected_revenue(&self, budgets: &[f64]) -> Result<f64, SandboxError> {
        self.check_budgets(budgets)?;
        Ok(self
            .ads
            .iter()
            .zip(budgets)
            .map(|(ad, budget)| ad.revenue_per_spend() * budget)
            .sum())
    }

    /// The most conversions `budget` could buy in a day: all of it on the best ad.
    pub fn best_expected_conversions(&self, budget: f64) -> f64 {
        self.ads
            .iter()
            .map(|ad| ad.conversions_per_spend() * budget)
            .fold(0.0, f64::max)
    }

    fn check_budgets(&self, budgets: &[f64]) -> Result<(), SandboxError> {
        if budgets.len() != self.ads.len() {
            return Err(SandboxError::BudgetCount {
                expected: self.ads.len(),
                got: budgets.len(),
            });
        }
        match budgets.iter().position(|b| !(0.0..=MAX_BUDGET).contains(b)) {
            Some(index) => Err(SandboxError::Budget {
                index,
                value: budgets[index],
            }),
            None => Ok(()),
        }
    }
}

/// One ad's day: the clearing price is CPM x m with E[1/m] = 1, so impressions, clicks and
/// conversions have exactly the means the hidden rates give, and spend averages the budget.
fn deliver(rng: &mut StdRng, day: u32, ad: usize, rates: &AdRates, budget: f64) -> DayMetrics {
    let mut row = DayMetrics {
        day,
        ad,
        impressions: 0,
        clicks: 0,
        spend: 0.0,
        conversions: 0,
        revenue: 0.0,
    };
    if budget <= 0.0 {
        return row;
    }
    let price = rates.cpm * (PRICE_NOISE * standard_normal(rng) + PRICE_NOISE.powi(2) / 2.0).exp();
    // Pacing never spends past the day's budget: delivery stops at the impressions it buys.
    let affordable = (budget * 1000.0 / price).floor() as u64;
    row.impressions = poisson(rng, budget * 1000.0 / price).min(affordable);
    row.clicks = binomial(rng, row.impressions, rates.ctr);
    row.conversions = binomial(rng, row.clicks, rates.conversion_rate);
    row.spend = ((row.impressions as f64 * price / 1000.0) * 100.0).floor() / 100.0;
    if row.conversions > 0 {
        let value = gamma(rng, VALUE_SHAPE * row.conversions as f64);
        row.revenue = to_cents(value * rates.revenue_per_conversion / VALUE_SHAPE);
    }
    row
}

fn to_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn log_uniform(rng: &mut StdRng, low: f64, high: f64) -> f64 {
    low * (high / low).powf(rng.random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ad(cpm: f64, ctr: f64, conversion_rate: f64, value: f64) -> AdRates {
        AdRates {
            cpm,
            ctr,
            conversion_rate,
            revenue_per_conversion: value,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_days() {
        let budgets = [100.0, 0.0, 250.5, 40.0];
        let run = |seed| {
            let mut sim = Simulator::random(seed, 4);
            (0..5)
                .map(|_| sim.run_day(&budgets).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
        let days = run(42);
        assert_eq!(days[3][2].day, 3);
        assert_eq!(days[3][2].ad, 2);
        assert_eq!(days[0][1].impressions + days[0][1].conversions, 0);
        assert_eq!(days[0][1].cpa(), None);
        assert_eq!(
            Simulator::random(42, 4).ads(),
            Simulator::random(42, 4).ads()
        );
    }

    /// The case: a $1,400 campaign spent $1,400.19. Every day of every ad stays within
    /// its budget, so a schedule never spends past its total.
    #[test]
    fn pacing_never_spends_past_a_day_s_budget() {
        let budgets = [50.0, 0.35, 1.0, 20.01, 333.33];
        let mut sim = Simulator::random(9, budgets.len());
        let mut spent = 0.0;
        let days = 200;
        for _ in 0..days {
            for row in sim.run_day(&budgets).unwrap() {
                assert!(
                    row.spend <= budgets[row.ad],
                    "ad {} spent {} of {}",
                    row.ad,
                    row.spend,
                    budgets[row.ad]
                );
                spent += row.spend;
            }
        }
        let planned: f64 = budgets.iter().sum::<f64>() * days as f64;
        assert!(
            spent <= planned && spent > 0.9 * planned,
            "{spent} of {planned}"
        );
    }

    #[test]
    fn empirical_rates_converge_to_the_hidden_ones() {
        let hidden = ad(9.0, 0.012, 0.03, 60.0);
        let mut sim = Simulator::new(8, vec![hidden]).unwrap();
        let (days, budget) = (400, 1500.0);
        let rows: Vec<DayMetrics> = (0..days)
            .flat_map(|_| sim.run_day(&[budget]).unwrap())
            .collect();
        let total = |f: fn(&DayMetrics) -> f64| rows.iter().map(f).sum::<f64>();
        let impressions = total(|r| r.impressions as f64);
        let clicks = total(|r| r.clicks as f64);
        let conversions = total(|r| r.conversions as f64);
        let spend = total(|r| r.spend);
        let revenue = total(|r| r.revenue);
        let close = |what: &str, got: f64, want: f64, tolerance: f64| {
            assert!(
                (got / want - 1.0).abs() <= tolerance,
                "{what}: {got} against hidden {want}"
            );
        };
        // About four standard errors, relative; spend is Poisson around the budget, and the
        // day's price moves impressions (10% a day) but not spend.
        close("spend", spend, days as f64 * budget, 1e-3);
        close(
            "cpm",
            1000.0 * spend / impressions,
            hidden.cpm,
            4.0 * 0.1 / (days as f64).sqrt(),
        );
        close("ctr", clicks / impressions, hidden.ctr, 4.0 / clicks.sqrt());
        close(
            "conversion rate",
            conversions / clicks,
            hidden.conversion_rate,
            4.0 / conversions.sqrt(),
        );
        close(
            "conversions",
            conversions,
            sim.expected_conversions(&[budget]).unwrap() * days as f64,
            4.0 * (1.0 / conversions + 0.01 / days as f64).sqrt(),
        );
        close(
            "revenue per conversion",
            revenue / conversions,
            hidden.revenue_per_conversion,
            4.0 * (1.0 / (VALUE_SHAPE * conversions)).sqrt(),
        );
        assert!(rows.iter().all(|r| r.roas().is_some_and(f64::is_finite)));
    }

    #[test]
    fn random_ads_differ_and_expectations_follow_the_rates() {
        for seed in 0..50 {
            let sim = Simulator::random(seed, 4);
            let rates: Vec<f64> = sim.ads().iter().map(|a| a.conversion_rate).collect();
            let (lo, hi) = (
                rates.iter().copied().fold(1.0, f64::min),
                rates.iter().copied().fold(0.0, f64::max),
            );
            assert!(
                lo >= 0.005 && hi <= 0.05 && hi / lo > 10f64.sqrt(),
                "{rates:?}"
            );
        }
        let sim = Simulator::new(
            1,
            vec![ad(10.0, 0.01, 0.02, 50.0), ad(5.0, 0.01, 0.01, 80.0)],
        )
        .unwrap();
        // 100 impressions and 1 click per currency unit; 0.02 conversions per unit for both.
        let expected = sim.expected_conversions(&[100.0, 300.0]).unwrap();
        assert!((expected - 8.0).abs() < 1e-12);
        let revenue = sim.expected_revenue(&[100.0, 300.0]).unwrap();
        assert!((revenue - (2.0 * 50.0 + 6.0 * 80.0)).abs() < 1e-9);
        assert!((sim.best_expected_conversions(400.0) - 8.0).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_named() {
        let err = Simulator::new(0, vec![ad(10.0, 0.01, 0.02, 1.0), ad(10.0, 1.5, 0.02, 1.0)]);
        assert_eq!(
            err.unwrap_err().to_string(),
            "ads[1].ctr: must be a rate from 0 to 1"
        );
        let mut sim = Simulator::random(3, 2);
        assert_eq!(
            sim.run_day(&[1.0]).unwrap_err(),
            SandboxError::BudgetCount {
                expected: 2,
                got: 1
            }
        );
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                sim.run_day(&[1.0, bad]),
                Err(SandboxError::Budget { index: 1, .. })
            ));
        }
        assert_eq!(sim.day(), 0);
        assert_eq!(
            sim.add_ad(ad(0.0, 0.01, 0.01, 1.0))
                .unwrap_err()
                .to_string(),
            "ads[2].cpm: must be a positive number"
        );
        assert_eq!(sim.add_ad(ad(8.0, 0.01, 0.01, 1.0)), Ok(2));
        assert_eq!(sim.run_day(&[0.0; 3]).unwrap().len(), 3);
    }
}

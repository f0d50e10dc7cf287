//! Thompson-sampling budget optimizer over creatives or ad sets (the arms; the same code serves
//! either level): a posterior per arm over conversions per unit of spend, a daily split of the
//! budget, and a stopping rule. Thompson sampling (Thompson 1933, "On the likelihood that one
//! unknown probability exceeds another"; Russo, Van Roy, Kazerouni, Osband and Wen, "A Tutorial
//! on Thompson Sampling", 2018) in its batched, probability-matching form (Scott 2010, "A modern
//! Bayesian look at the multi-armed bandit"): each day every arm gets a share of the budget
//! equal to its posterior probability of being the best, estimated from seeded Monte Carlo
//! draws, with a floor per arm so that no arm stops being explored; shares under the floor are
//! raised to it and the rest rescaled (water-filling), so the shares sum to one.
//!
//! Two likelihoods. `BetaPerClick` / `BetaPerImpression`: conversions per exposure are
//! Beta-Bernoulli (Beta prior, binomial counts) and exposures per unit of spend are
//! Gamma-Poisson, independent a posteriori; conversions per spend is their product.
//! `GammaPoisson`: conversion counts are Poisson in spend, with a Gamma(shape, rate) prior on
//! the rate, so the posterior is Gamma(shape + conversions, rate + spend) (the Gamma-Poisson
//! conjugacy; e.g. Gelman et al., "Bayesian Data Analysis", 2.6); it fits where clicks are not
//! reported or conversions are counted across exposures (view-through, several per click).
//!
//! Stopping: a winner is declared only when the leader's probability of being best reaches
//! `win_probability` and the always-valid mSPRT (`sequential::msprt`) of the leader against the
//! runner-up (the best other posterior mean) on their cumulative daily counts has p < `alpha`.
//! The test sees conversions out of spend in cents: at far below one conversion per cent, the
//! binomial variance it assumes is the Poisson variance of conversions per unit of spend. Pure,
//! no I/O; the caller owns the counts it passes in and what it does with a winner.
//!
//! `posterior` holds the arms' Beta and Gamma posteriors and the seeded draws behind the
//! probabilities of being best; this file the settings, the optimizer's state, the daily split
//! and the stopping rule.

mod posterior;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use super::AnalyticsError;
use super::abtest::Proportion;
use super::sequential::msprt;
use posterior::{argmax, probability_best};

pub use posterior::{ArmPosterior, BetaParams, GammaParams};

/// Spend enters the sequential test as trials of one cent.
const SPEND_UNITS: f64 = 100.0;

/// Which counts the posterior of each arm is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Likelihood {
    /// Beta on conversions per click, Gamma on clicks per unit of spend.
    BetaPerClick,
    /// Beta on conversions per impression, Gamma on impressions per unit of spend.
    BetaPerImpression,
    /// Gamma on conversions per unit of spend, from conversion counts alone.
    GammaPoisson,
}

/// Settings of the optimizer; `Default` gives the values named on each field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BanditConfig {
    /// `BetaPerClick`.
    pub likelihood: Likelihood,
    /// Least share of the budget each arm gets, for exploration: 0.05; arms x floor <= 1.
    pub floor: f64,
    /// Monte Carlo draws behind each day's probabilities of being best: 2000 (a standard
    /// error of at most 0.011 on each, 0.005 near a `win_probability` of 0.95).
    pub draws: usize,
    /// Probability of being best a winner needs: 0.95.
    pub win_probability: f64,
    /// Level of the sequential test a winner needs: 0.05.
    pub alpha: f64,
    /// Standard deviation of the mSPRT mixture over the difference in conversions per unit of
    /// spend, relative to the pooled rate of all arms (the size of lift worth finding): 0.2.
    pub tau_relative: f64,
    /// Prior on conversions per exposure (Beta likelihoods): Beta(1, 1).
    pub conversion_prior: BetaParams,
    /// Prior on counts per unit of spend: exposures (Beta likelihoods) or conversions
    /// (`GammaPoisson`); `shape` counts seen in `rate` units of spend. Gamma(1, 1).
    pub spend_prior: GammaParams,
    /// Seed of the Monte Carlo draws, mixed with the day: 0.
    pub seed: u64,
}

impl Default for BanditConfig {
    fn default() -> Self {
        Self {
            likelihood: Likelihood::BetaPerClick,
            floor: 0.05,
            draws: 2000,
            win_probability: 0.95,
            alpha: 0.05,
            tau_relative: 0.2,
            conversion_prior: BetaParams {
                alpha: 1.0,
                beta: 1.0,
            },
            spend_prior: GammaParams {
                shape: 1.0,
                rate: 1.0,
            },
            seed: 0,
        }
    }
}

impl BanditConfig {
    fn check(&self, n_arms: usize) -> Result<(), AnalyticsError> {
        if n_arms == 0 {
            return Err(AnalyticsError::new("arms", "needs at least one arm"));
        }
        if !(0.0..1.0).contains(&self.floor) || self.floor * n_arms as f64 > 1.0 + 1e-12 {
            return Err(AnalyticsError::new(
                "floor",
                format!(
                    "{} must be from 0 to below 1, and at most 1 / {n_arms} arms",
                    self.floor
                ),
            ));
        }
        if self.draws == 0 {
            return Err(AnalyticsError::new("draws", "needs at least one draw"));
        }
        for (field, value) in [
            ("win_probability", self.win_probability),
            ("alpha", self.alpha),
        ] {
            if !(value > 0.0 && value < 1.0) {
                return Err(AnalyticsError::new(
                    field,
                    format!("{value} must be between 0 and 1"),
                ));
            }
        }
        for (field, value) in [
            ("tau_relative", self.tau_relative),
            ("conversion_prior.alpha", self.conversion_prior.alpha),
            ("conversion_prior.beta", self.conversion_prior.beta),
            ("spend_prior.shape", self.spend_prior.shape),
            ("spend_prior.rate", self.spend_prior.rate),
        ] {
            if !(value > 0.0 && value.is_finite()) {
                return Err(AnalyticsError::new(
                    field,
                    format!("{value} must be a positive number"),
                ));
            }
        }
        Ok(())
    }
}

/// One arm's delivery on one day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Currency units.
    pub spend: f64,
    pub impressions: u64,
    pub clicks: u64,
    pub conversions: u64,
}

/// One arm in a day's decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ArmDecision {
    /// Fraction of the budget, at least the floor.
    pub share: f64,
    /// Currency units: share x budget.
    pub budget: f64,
    /// Posterior probability that this arm has the most conversions per unit of spend.
    pub probability_best: f64,
    /// Posterior mean of conversions per unit of spend.
    pub posterior_mean: f64,
    /// Always-valid p-value of the leader against this arm; 1 for the leader itself.
    pub p_value_vs_leader: f64,
}

/// The evidence behind a declared winner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Winner {
    pub arm: usize,
    pub probability_best: f64,
    /// The other arm with the highest posterior mean.
    pub runner_up: usize,
    /// Always-valid p-value of the winner against the runner-up.
    pub p_value: f64,
}

/// A day's decision: how to split the budget, and whether an arm has won.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allocation {
    /// Days observed before this decision.
    pub day: u32,
    pub arms: Vec<ArmDecision>,
    /// The arm most likely to be best.
    pub leader: usize,
    /// `Some` only when the leader passes both the probability and the sequential test.
    pub winner: Option<Winner>,
}

/// One arm's cumulative counts, with the (conversions, cents) after each day for the test.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ArmTotals {
    spend: f64,
    impressions: u64,
    clicks: u64,
    conversions: u64,
    looks: Vec<(u64, u64)>,
}

/// The optimizer's state: the settings and every arm's counts so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Optimizer {
    config: BanditConfig,
    arms: Vec<ArmTotals>,
    days: u32,
}

impl Optimizer {
    pub fn new(n_arms: usize, config: BanditConfig) -> Result<Self, AnalyticsError> {
        config.check(n_arms)?;
        Ok(Self {
            config,
            arms: vec![ArmTotals::default(); n_arms],
            days: 0,
        })
    }

    pub fn config(&self) -> &BanditConfig {
        &self.config
    }

    pub fn n_arms(&self) -> usize {
        self.arms.len()
    }

    /// Days observed so far.
    pub fn days(&self) -> u32 {
        self.days
    }

    /// Adds one day's delivery, `day[i]` for arm `i`; nothing changes if any of it is invalid.
    pub fn observe(&mut self, day: &[Observation]) -> Result<(), AnalyticsError> {
        if day.len() != self.arms.len() {
            return Err(AnalyticsError::new(
                "observations",
                format!("{} given for {} arms", day.len(), self.arms.len()),
            ));
        }
        for (i, o) in day.iter().enumerate() {
            check_observation(i, o, self.config.likelihood)?;
        }
        for (arm, o) in self.arms.iter_mut().zip(day) {
            arm.spend += o.spend;
            arm.impressions = arm.impressions.saturating_add(o.impressions);
            arm.clicks = arm.clicks.saturating_add(o.clicks);
            arm.conversions = arm.conversions.saturating_add(o.conversions);
            let cents = (arm.spend * SPEND_UNITS).round() as u64;
            // More than one conversion per cent is not a rate the test can read; cap it.
            arm.looks.push((arm.conversions.min(cents), cents));
        }
        self.days += 1;
        Ok(())
    }

    /// Each arm's posterior after the days observed.
    pub fn posteriors(&self) -> Vec<ArmPosterior> {
        let (prior, spend_prior) = (self.config.conversion_prior, self.config.spend_prior);
        let per_spend = |count: u64, spend: f64| GammaParams {
            shape: spend_prior.shape + count as f64,
            rate: spend_prior.rate + spend,
        };
        let per_exposure = |conversions: u64, exposures: u64| BetaParams {
            alpha: prior.alpha + conversions as f64,
            beta: prior.beta + exposures.saturating_sub(conversions) as f64,
        };
        self.arms
            .iter()
            .map(|a| match self.config.likelihood {
                Likelihood::BetaPerClick => ArmPosterior::Beta {
                    conversion: per_exposure(a.conversions, a.clicks),
                    exposure: per_spend(a.clicks, a.spend),
                },
                Likelihood::BetaPerImpression => ArmPosterior::Beta {
                    conversion: per_exposure(a.conversions, a.impressions),
                    exposure: per_spend(a.impressions, a.spend),
                },
                Likelihood::GammaPoisson => ArmPosterior::Gamma {
                    conversions: per_spend(a.conversions, a.spend),
                },
            })
            .collect()
    }

    /// Tomorrow's split of `budget` and the stopping decision. The same state, settings and
    /// seed give the same allocation.
    pub fn allocate(&self, budget: f64) -> Result<Allocation, AnalyticsError> {
        if !(budget >= 0.0 && budget.is_finite()) {
            return Err(AnalyticsError::new(
                "budget",
                format!("{budget} must be a finite number, 0 or more"),
            ));
        }
        let posteriors = self.posteriors();
        let means: Vec<f64> = posteriors.iter().map(ArmPosterior::mean).collect();
        let probability_best = probability_best(&posteriors, self.config.draws, self.day_seed());
        let shares = floored_shares(&probability_best, self.config.floor);
        let leader = argmax(probability_best.iter().copied().enumerate());
        let p_values = (0..self.arms.len())
            .map(|arm| self.p_value(leader, arm))
            .collect::<Result<Vec<f64>, AnalyticsError>>()?;
        let runner_up = (self.arms.len() > 1).then(|| {
            argmax(
                means
                    .iter()
                    .copied()
                    .enumerate()
                    .filter(|&(arm, _)| arm != leader),
            )
        });
        let winner = runner_up
            .map(|runner_up| Winner {
                arm: leader,
                probability_best: probability_best[leader],
                runner_up,
                p_value: p_values[runner_up],
            })
            .filter(|w| {
                w.probability_best >= self.config.win_probability && w.p_value < self.config.alpha
            });
        let arms = (0..self.arms.len())
            .map(|arm| ArmDecision {
                share: shares[arm],
                budget: shares[arm] * budget,
                probability_best: probability_best[arm],
                posterior_mean: means[arm],
                p_value_vs_leader: p_values[arm],
            })
            .collect();
        Ok(Allocation {
            day: self.days,
            arms,
            leader,
            winner,
        })
    }

    /// The always-valid p-value of `leader` against `other` over all days so far, with the
    /// mixture scaled to today's pooled conversions per cent; 1 before any conversion.
    fn p_value(&self, leader: usize, other: usize) -> Result<f64, AnalyticsError> {
        if leader == other {
            return Ok(1.0);
        }
        let (conversions, cents) = self
            .arms
            .iter()
            .filter_map(|a| a.looks.last())
            .fold((0u64, 0u64), |(c, n), &(dc, dn)| (c + dc, n + dn));
        if conversions == 0 || cents == 0 {
            return Ok(1.0);
        }
        let tau = self.config.tau_relative * conversions as f64 / cents as f64;
        let proportion = |(successes, trials)| Proportion { successes, trials };
        let looks: Vec<(Proportion, Proportion)> = self.arms[other]
            .looks
            .iter()
            .zip(&self.arms[leader].looks)
            .map(|(&o, &l)| (proportion(o), proportion(l)))
            .collect();
        Ok(msprt(&looks, tau)?.p_values.last().copied().unwrap_or(1.0))
    }

    /// The seed of today's draws: the configured seed mixed with the day (SplitMix64).
    fn day_seed(&self) -> u64 {
        let mut z = self
            .config
            .seed
            .wrapping_add(u64::from(self.days).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Counts that cannot be real; conversions above their exposures only where the likelihood
/// treats them as trials (Gamma-Poisson counts conversions, and allows several per click).
fn check_observation(
    i: usize,
    o: &Observation,
    likelihood: Likelihood,
) -> Result<(), AnalyticsError> {
    let field = |name: &str| format!("observations[{i}].{name}");
    if !(o.spend >= 0.0 && o.spend.is_finite()) {
        return Err(AnalyticsError::new(
            field("spend"),
            format!("{} must be a finite number, 0 or more", o.spend),
        ));
    }
    if o.clicks > o.impressions {
        return Err(AnalyticsError::new(
            field("clicks"),
            format!("{} is above its {} impressions", o.clicks, o.impressions),
        ));
    }
    let trials = match likelihood {
        Likelihood::BetaPerClick => Some(("clicks", o.clicks)),
        Likelihood::BetaPerImpression => Some(("impressions", o.impressions)),
        Likelihood::GammaPoisson => None,
    };
    if let Some((name, trials)) = trials
        && o.conversions > trials
    {
        return Err(AnalyticsError::new(
            field("conversions"),
            format!("{} is above its {trials} {name}", o.conversions),
        ));
    }
    Ok(())
}

/// Shares proportional to `weights` (summing to 1), except that any share under `floor` is
/// raised to it and the others rescaled over what is left, until none is under.
fn floored_shares(weights: &[f64], floor: f64) -> Vec<f64> {
    let n = weights.len();
    let mut pinned = vec![false; n];
    loop {
        let free = pinned.iter().filter(|&&p| !p).count();
        let mass = (1.0 - floor * (n - free) as f64).max(0.0);
        let free_weight: f64 = (0..n).filter(|&i| !pinned[i]).map(|i| weights[i]).sum();
        let shares: Vec<f64> = (0..n)
            .map(|i| match (pinned[i], free_weight > 0.0) {
                (true, _) => floor,
                (false, true) => mass * weights[i] / free_weight,
                (false, false) => mass / free as f64,
            })
            .collect();
        let under: Vec<usize> = (0..n)
            .filter(|&i| !pinned[i] && shares[i] < floor)
            .collect();
        if under.is_empty() {
            return shares;
        }
        for i in under {
            pinned[i] = true;
        }
    }
}

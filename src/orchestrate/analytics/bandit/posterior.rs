//! The posterior of each arm over conversions per unit of spend (a Beta over conversions per
//! exposure times a Gamma over exposures per unit of spend, or one Gamma over conversions per
//! unit of spend), and the seeded Monte Carlo estimate of each arm's probability of being best.
//!
//! The draws are the bandit's own, not `analytics::sample`'s: normals by Marsaglia's polar method
//! (two per accepted pair, the second kept for the next call) and Gamma by Marsaglia and Tsang
//! with their squeeze. The seeded allocations, and the tests on them, depend on this exact
//! sequence of draws.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::orchestrate::analytics::sample::open_uniform;

/// A Beta(alpha, beta) distribution over a rate: a prior or a posterior.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BetaParams {
    pub alpha: f64,
    pub beta: f64,
}

impl BetaParams {
    pub fn mean(&self) -> f64 {
        self.alpha / (self.alpha + self.beta)
    }

    fn sample(&self, draws: &mut Draws) -> f64 {
        let x = draws.gamma(self.alpha);
        let sum = x + draws.gamma(self.beta);
        if sum > 0.0 { x / sum } else { self.mean() }
    }
}

/// A Gamma(shape, rate) distribution over counts per unit of spend: a prior or a posterior.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaParams {
    pub shape: f64,
    pub rate: f64,
}

impl GammaParams {
    pub fn mean(&self) -> f64 {
        self.shape / self.rate
    }

    fn sample(&self, draws: &mut Draws) -> f64 {
        draws.gamma(self.shape) / self.rate
    }
}

/// One arm's posterior over conversions per unit of spend.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArmPosterior {
    /// Conversions per exposure times exposures per unit of spend.
    Beta {
        conversion: BetaParams,
        exposure: GammaParams,
    },
    /// Conversions per unit of spend.
    Gamma { conversions: GammaParams },
}

impl ArmPosterior {
    /// Posterior mean of conversions per unit of spend (the factors are independent).
    pub fn mean(&self) -> f64 {
        match self {
            Self::Beta {
                conversion,
                exposure,
            } => conversion.mean() * exposure.mean(),
            Self::Gamma { conversions } => conversions.mean(),
        }
    }

    fn sample(&self, draws: &mut Draws) -> f64 {
        match self {
            Self::Beta {
                conversion,
                exposure,
            } => conversion.sample(draws) * exposure.sample(draws),
            Self::Gamma { conversions } => conversions.sample(draws),
        }
    }
}

/// The first index with the largest value.
pub(super) fn argmax(values: impl Iterator<Item = (usize, f64)>) -> usize {
    values
        .fold((0, f64::NEG_INFINITY), |best, (i, x)| {
            if x > best.1 { (i, x) } else { best }
        })
        .0
}

/// The share of `draws` joint posterior draws in which each arm is the best.
pub(super) fn probability_best(posteriors: &[ArmPosterior], draws: usize, seed: u64) -> Vec<f64> {
    let mut draws_rng = Draws::new(seed);
    let mut wins = vec![0usize; posteriors.len()];
    for _ in 0..draws {
        let best = argmax(
            posteriors
                .iter()
                .map(|p| p.sample(&mut draws_rng))
                .enumerate(),
        );
        wins[best] += 1;
    }
    wins.into_iter().map(|w| w as f64 / draws as f64).collect()
}

/// The seeded random draws behind the probabilities of being best.
struct Draws {
    rng: StdRng,
    /// The second normal of the last polar pair, not yet used.
    spare_normal: Option<f64>,
}

impl Draws {
    fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            spare_normal: None,
        }
    }

    /// A standard normal draw (Marsaglia's polar method, two per accepted pair).
    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.rng.random::<f64>() - 1.0;
            let v = 2.0 * self.rng.random::<f64>() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let factor = (-2.0 * s.ln() / s).sqrt();
                self.spare_normal = Some(v * factor);
                return u * factor;
            }
        }
    }

    /// Gamma(shape, 1) by Marsaglia and Tsang (2000), with their squeeze; shapes below 1
    /// through the boost U^(1/shape).
    fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = open_uniform(&mut self.rng);
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = open_uniform(&mut self.rng);
            let x2 = x * x;
            if u < 1.0 - 0.0331 * x2 * x2 || u.ln() < 0.5 * x2 + d * (1.0 - v + v.ln()) {
                return d * v;
            }
        }
    }
}

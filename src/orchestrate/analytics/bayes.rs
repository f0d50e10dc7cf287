//! Bayesian A/B for conversion rates: Beta-Binomial posteriors, the probability that a variant
//! beats control, the expected loss of choosing each, and credible intervals. Exact closed
//! forms where the posterior's alpha is a whole number (Evan Miller's sum for P(B > A), and the
//! expected loss written through it); otherwise a seeded Monte Carlo whose standard error is
//! returned with it.

use rand::SeedableRng;
use rand::rngs::StdRng;
use statrs::distribution::{Beta, ContinuousCDF};
use statrs::function::beta::ln_beta;

use super::AnalyticsError;
use super::abtest::Proportion;
use super::sample;

/// A Beta posterior over a conversion rate.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Posterior {
    pub alpha: f64,
    pub beta: f64,
}

impl Posterior {
    /// Beta(prior_alpha + successes, prior_beta + failures).
    pub fn from_counts(
        p: Proportion,
        prior_alpha: f64,
        prior_beta: f64,
        field: &str,
    ) -> Result<Self, AnalyticsError> {
        p.check_as(field, field, "trials", true)?;
        if !(prior_alpha > 0.0
            && prior_beta > 0.0
            && prior_alpha.is_finite()
            && prior_beta.is_finite())
        {
            return Err(AnalyticsError::new(
                "prior",
                "alpha and beta must be positive",
            ));
        }
        Ok(Self {
            alpha: prior_alpha + p.successes as f64,
            beta: prior_beta + (p.trials - p.successes) as f64,
        })
    }

    pub fn mean(self) -> f64 {
        self.alpha / (self.alpha + self.beta)
    }

    /// The equal-tailed credible interval holding `mass` of the posterior.
    pub fn interval(self, mass: f64) -> (f64, f64) {
        match Beta::new(self.alpha, self.beta) {
            Ok(d) => (
                d.inverse_cdf((1.0 - mass) / 2.0),
                d.inverse_cdf((1.0 + mass) / 2.0),
            ),
            Err(_) => (0.0, 1.0),
        }
    }
}

/// P(rate of `b` > rate of `a`) exactly, when `b.alpha` is a whole number (Evan Miller):
/// sum over i < alpha_b of B(alpha_a + i, beta_a + beta_b) / ((beta_b + i) B(1 + i, beta_b)
/// B(alpha_a, beta_a)). `None` otherwise.
pub fn probability_to_beat_exact(a: Posterior, b: Posterior) -> Option<f64> {
    // The sum has one term per unit of `b.alpha`: past a million, the Monte Carlo estimate
    // (with its standard error) answers in bounded time instead.
    if b.alpha.fract() != 0.0 || b.alpha > EXACT_MAX_ALPHA {
        return None;
    }
    let base = ln_beta(a.alpha, a.beta);
    let total: f64 = (0..b.alpha as u64)
        .map(|i| {
            let i = i as f64;
            (ln_beta(a.alpha + i, a.beta + b.beta)
                - (b.beta + i).ln()
                - ln_beta(1.0 + i, b.beta)
                - base)
                .exp()
        })
        .sum();
    Some(total.clamp(0.0, 1.0))
}

/// Largest integer alpha the exact probability to beat is summed for.
pub const EXACT_MAX_ALPHA: f64 = 1e6;

/// A Monte Carlo estimate and its standard error.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub value: f64,
    pub standard_error: f64,
}

/// P(rate of `b` > rate of `a`) from `draws` seeded posterior draws.
pub fn probability_to_beat_monte_carlo(
    a: Posterior,
    b: Posterior,
    draws: usize,
    seed: u64,
) -> Estimate {
    let mut rng = StdRng::seed_from_u64(seed);
    let wins = (0..draws)
        .filter(|_| sample_beta(&mut rng, b) > sample_beta(&mut rng, a))
        .count();
    let value = wins as f64 / draws.max(1) as f64;
    Estimate {
        value,
        standard_error: (value * (1.0 - value) / draws.max(1) as f64).sqrt(),
    }
}

/// Expected loss of choosing `b` over `a`: E[max(rate a - rate b, 0)], exactly when both alphas
/// are whole numbers (through the probability-to-beat sums), `None` otherwise.
pub fn expected_loss_exact(a: Posterior, b: Posterior) -> Option<f64> {
    let shifted_a = Posterior {
        alpha: a.alpha + 1.0,
        ..a
    };
    let shifted_b = Posterior {
        alpha: b.alpha + 1.0,
        ..b
    };
    // P(X > Y) = probability that X beats Y.
    let a_beats_b_shifted_a = probability_to_beat_exact(b, shifted_a)?;
    let a_beats_b_shifted_b = probability_to_beat_exact(shifted_b, a)?;
    let loss = a.mean() * a_beats_b_shifted_a - b.mean() * a_beats_b_shifted_b;
    Some(loss.max(0.0))
}

/// One draw from the posterior, by `sample::beta`.
fn sample_beta(rng: &mut StdRng, p: Posterior) -> f64 {
    sample::beta(rng, p.alpha, p.beta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::Continuous;

    /// P(B > A) = integral of f_B(x) F_A(x) dx by Simpson's rule over where B's density lives.
    fn integrated(a: Posterior, b: Posterior) -> f64 {
        let (fa, fb) = (
            Beta::new(a.alpha, a.beta).unwrap(),
            Beta::new(b.alpha, b.beta).unwrap(),
        );
        let sd =
            (b.alpha * b.beta / ((b.alpha + b.beta).powi(2) * (b.alpha + b.beta + 1.0))).sqrt();
        let (lo, hi) = (
            (b.mean() - 14.0 * sd).max(0.0),
            (b.mean() + 14.0 * sd).min(1.0),
        );
        let n = 20_000;
        let h = (hi - lo) / n as f64;
        let f = |x: f64| fb.pdf(x) * fa.cdf(x);
        let mut sum = f(lo) + f(hi);
        for k in 1..n {
            sum += f(lo + k as f64 * h) * if k % 2 == 1 { 4.0 } else { 2.0 };
        }
        sum * h / 3.0
    }

    fn posterior(s: u64, n: u64) -> Posterior {
        Posterior::from_counts(
            Proportion {
                successes: s,
                trials: n,
            },
            1.0,
            1.0,
            "a",
        )
        .unwrap()
    }

    #[test]
    fn exact_probability_matches_integration_and_monte_carlo() {
        for (a, b) in [
            ((3, 10), (5, 12)),
            ((40, 1000), (55, 1000)),
            ((0, 50), (0, 50)),
            ((480, 5000), (530, 5000)),
            ((9, 9), (1, 20)),
        ] {
            let (pa, pb) = (posterior(a.0, a.1), posterior(b.0, b.1));
            let exact = probability_to_beat_exact(pa, pb).unwrap();
            let reference = integrated(pa, pb);
            assert!(
                (exact - reference).abs() < 1e-6,
                "{a:?} {b:?}: {exact} vs {reference}"
            );
            let mc = probability_to_beat_monte_carlo(pa, pb, 200_000, 7);
            assert!(
                (mc.value - exact).abs() <= 4.0 * mc.standard_error.max(1e-4),
                "{a:?} {b:?}: monte carlo {} +- {} vs {exact}",
                mc.value,
                mc.standard_error
            );
        }
    }

    #[test]
    fn expected_loss_matches_monte_carlo() {
        let (a, b) = (posterior(40, 1000), posterior(55, 1000));
        let exact = expected_loss_exact(a, b).unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let n = 200_000;
        let mc: f64 = (0..n)
            .map(|_| (sample_beta(&mut rng, a) - sample_beta(&mut rng, b)).max(0.0))
            .sum::<f64>()
            / n as f64;
        assert!((exact - mc).abs() < 5e-5, "{exact} vs {mc}");
        let (lo, hi) = a.interval(0.95);
        assert!(lo < a.mean() && a.mean() < hi && lo > 0.02 && hi < 0.06);
    }
}

//! Always-valid inference for experiments watched every day: the mixture sequential probability
//! ratio test (mSPRT) of Johari, Pekelis and Walsh ("Always Valid Inference", 2017) on the
//! difference of two conversion rates, with the normal approximation and a N(0, tau^2) mixture
//! over the difference. Its p-value may be read after every day and the experiment stopped the
//! first time it falls below alpha: the chance of ever doing so under no difference stays at
//! most alpha.

use super::AnalyticsError;
use super::abtest::Proportion;

/// The always-valid p-value after each look, and the statistic behind it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sequential {
    /// One per look: min over looks so far of 1 / Lambda; never increases.
    pub p_values: Vec<f64>,
    /// Lambda, the mixture likelihood ratio, at each look.
    pub ratios: Vec<f64>,
}

/// `looks` are cumulative (control, variant) counts after each day; `tau` is the standard
/// deviation of the mixture over the difference in rates (about the size of effect worth
/// finding, e.g. 0.1 x the control rate).
pub fn msprt(looks: &[(Proportion, Proportion)], tau: f64) -> Result<Sequential, AnalyticsError> {
    if !(tau > 0.0 && tau.is_finite()) {
        return Err(AnalyticsError::new("tau", "must be a positive number"));
    }
    let mut p = 1.0f64;
    let mut p_values = Vec::with_capacity(looks.len());
    let mut ratios = Vec::with_capacity(looks.len());
    let mut previous: Option<(Proportion, Proportion)> = None;
    for (day, &(a, b)) in looks.iter().enumerate() {
        for (arm, x) in [("control", a), ("variant", b)] {
            let field = format!("looks[{day}].{arm}");
            x.check_as(&field, &field, "trials", true)?;
        }
        if let Some((pa, pb)) = previous
            && (a.trials < pa.trials
                || b.trials < pb.trials
                || a.successes < pa.successes
                || b.successes < pb.successes)
        {
            return Err(AnalyticsError::new(
                format!("looks[{day}]"),
                "counts must be cumulative (never below the day before)",
            ));
        }
        previous = Some((a, b));
        let ratio = if a.trials == 0 || b.trials == 0 {
            1.0
        } else {
            let (ra, rb) = (a.rate(), b.rate());
            let variance = ra * (1.0 - ra) / a.trials as f64 + rb * (1.0 - rb) / b.trials as f64;
            if variance <= 0.0 {
                1.0
            } else {
                let t2 = tau * tau;
                let diff = rb - ra;
                (variance / (variance + t2)).sqrt()
                    * (t2 * diff * diff / (2.0 * variance * (variance + t2))).exp()
            }
        };
        p = p.min(1.0 / ratio.max(f64::MIN_POSITIVE)).min(1.0);
        ratios.push(ratio);
        p_values.push(p);
    }
    Ok(Sequential { p_values, ratios })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// 30 days of `daily` users per arm at the given rates: cumulative counts.
    fn simulate(
        rng: &mut StdRng,
        rate_a: f64,
        rate_b: f64,
        daily: u64,
    ) -> Vec<(Proportion, Proportion)> {
        let (mut a, mut b) = (
            Proportion {
                successes: 0,
                trials: 0,
            },
            Proportion {
                successes: 0,
                trials: 0,
            },
        );
        (0..30)
            .map(|_| {
                for _ in 0..daily {
                    a.trials += 1;
                    a.successes += u64::from(rng.random::<f64>() < rate_a);
                    b.trials += 1;
                    b.successes += u64::from(rng.random::<f64>() < rate_b);
                }
                (a, b)
            })
            .collect()
    }

    #[test]
    fn peeking_every_day_keeps_the_false_positive_rate() {
        let mut rng = StdRng::seed_from_u64(11);
        let runs = 300;
        let false_positives = (0..runs)
            .filter(|_| {
                let looks = simulate(&mut rng, 0.05, 0.05, 200);
                let s = msprt(&looks, 0.01).unwrap();
                assert!(s.p_values.windows(2).all(|w| w[1] <= w[0]));
                s.p_values.last().is_some_and(|&p| p < 0.05)
            })
            .count();
        // At most alpha (5%) in expectation: 15 of 300, with three standard errors of slack.
        assert!(false_positives <= 15 + 11, "{false_positives} of {runs}");
        let detected = (0..50)
            .filter(|_| {
                let looks = simulate(&mut rng, 0.05, 0.07, 200);
                msprt(&looks, 0.01)
                    .unwrap()
                    .p_values
                    .last()
                    .is_some_and(|&p| p < 0.05)
            })
            .count();
        assert!(detected >= 40, "a 40% lift found in {detected} of 50");
    }

    #[test]
    fn bad_looks_are_named() {
        let x = Proportion {
            successes: 5,
            trials: 10,
        };
        let y = Proportion {
            successes: 4,
            trials: 9,
        };
        let err = msprt(&[(x, x), (y, x)], 0.01).unwrap_err();
        assert_eq!(err.field, "looks[1]");
        assert_eq!(msprt(&[(x, x)], 0.0).unwrap_err().field, "tau");
    }
}

//! Designing and sharpening experiments: power and sample size for two conversion rates (the
//! normal approximation on Cohen's h that statsmodels' `NormalIndPower` uses), and CUPED
//! variance reduction with a pre-period covariate.

use statrs::distribution::{ContinuousCDF, Normal};

use super::AnalyticsError;

fn check_rate(field: &str, p: f64) -> Result<f64, AnalyticsError> {
    if p.is_finite() && p > 0.0 && p < 1.0 {
        Ok(p)
    } else {
        Err(AnalyticsError::new(
            field,
            format!("{p} is not a rate strictly between 0 and 1"),
        ))
    }
}

/// Cohen's h between two rates: 2 asin(sqrt p1) - 2 asin(sqrt p2).
pub fn cohens_h(p1: f64, p2: f64) -> f64 {
    2.0 * p1.sqrt().asin() - 2.0 * p2.sqrt().asin()
}

/// Power of a two-sided test of effect `h` with `n1` units in the first arm and `ratio * n1`
/// in the second, at level `alpha`.
pub fn power(h: f64, n1: f64, alpha: f64, ratio: f64) -> f64 {
    let normal = Normal::standard();
    let critical = normal.inverse_cdf(1.0 - alpha / 2.0);
    let effect = h.abs() * (1.0 / (1.0 / n1 + 1.0 / (n1 * ratio))).sqrt();
    normal.sf(critical - effect) + normal.cdf(-critical - effect)
}

/// Units needed in the first arm (fractional; round up to plan) to detect a change from rate
/// `base` to `target` with probability `wanted_power` at level `alpha`, the second arm holding
/// `ratio` times as many.
pub fn sample_size(
    base: f64,
    target: f64,
    alpha: f64,
    wanted_power: f64,
    ratio: f64,
) -> Result<f64, AnalyticsError> {
    let base = check_rate("base", base)?;
    let target = check_rate("target", target)?;
    if base == target {
        return Err(AnalyticsError::new(
            "target",
            "equals base: no effect to detect",
        ));
    }
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(AnalyticsError::new(
            "alpha",
            format!("{alpha} is outside (0, 1)"),
        ));
    }
    if !(wanted_power > alpha / 2.0 && wanted_power < 1.0) {
        return Err(AnalyticsError::new(
            "power",
            format!("{wanted_power} is outside (alpha/2, 1)"),
        ));
    }
    if !(ratio > 0.0 && ratio.is_finite()) {
        return Err(AnalyticsError::new("ratio", "must be positive"));
    }
    let h = cohens_h(target, base);
    // Power grows with n: bisect on a log scale to full precision.
    let (mut lo, mut hi) = (1e-6f64, 1e15f64);
    for _ in 0..200 {
        let mid = (lo * hi).sqrt();
        if power(h, mid, alpha, ratio) < wanted_power {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

/// CUPED: the outcome adjusted by its pre-period covariate, y - theta (x - mean x) with
/// theta = cov(x, y) / var(x). The mean is unchanged; the variance falls by the squared
/// correlation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Cuped {
    pub theta: f64,
    pub adjusted: Vec<f64>,
    /// 1 - var(adjusted) / var(y).
    pub variance_reduction: f64,
}

pub fn cuped(y: &[f64], x: &[f64]) -> Result<Cuped, AnalyticsError> {
    if y.len() != x.len() || y.len() < 2 {
        return Err(AnalyticsError::new(
            "covariate",
            "needs one pre-period value per unit, at least 2 units",
        ));
    }
    for (field, v) in [("outcome", y), ("covariate", x)] {
        if let Some(i) = v.iter().position(|f| !f.is_finite()) {
            return Err(AnalyticsError::new(
                format!("{field}[{i}]"),
                "must be a finite number",
            ));
        }
    }
    let n = y.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let var_x = x.iter().map(|v| (v - mx).powi(2)).sum::<f64>();
    let cov = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>();
    let theta = if var_x > 0.0 { cov / var_x } else { 0.0 };
    let adjusted: Vec<f64> = y.iter().zip(x).map(|(b, a)| b - theta * (a - mx)).collect();
    let var_y = y.iter().map(|v| (v - my).powi(2)).sum::<f64>();
    let var_adj = adjusted.iter().map(|v| (v - my).powi(2)).sum::<f64>();
    Ok(Cuped {
        theta,
        variance_reduction: if var_y > 0.0 {
            1.0 - var_adj / var_y
        } else {
            0.0
        },
        adjusted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuped_keeps_the_mean_and_removes_the_correlated_variance() {
        let x: Vec<f64> = (0..200)
            .map(|i| (i as f64 * 0.37).sin() * 10.0 + 50.0)
            .collect();
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| 0.8 * v + (i as f64 * 1.7).cos() * 2.0)
            .collect();
        let c = cuped(&y, &x).unwrap();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean(&c.adjusted) - mean(&y)).abs() < 1e-9);
        assert!(c.variance_reduction > 0.9, "{}", c.variance_reduction);
        assert!((c.theta - 0.8).abs() < 0.05);
        assert!(cuped(&y[..3], &x[..2]).is_err());
    }

    #[test]
    fn bad_design_inputs_are_named() {
        assert_eq!(
            sample_size(0.1, 0.1, 0.05, 0.8, 1.0).unwrap_err().field,
            "target"
        );
        assert_eq!(
            sample_size(1.5, 0.1, 0.05, 0.8, 1.0).unwrap_err().field,
            "base"
        );
    }
}

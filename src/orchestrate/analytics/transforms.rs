//! The media transforms of Meta's Robyn marketing-mix model (R package `Robyn`,
//! `R/transformation.R`), which the marketing-mix model fits: geometric and Weibull adstock
//! (carry-over of spend into later periods) and Hill saturation (diminishing returns).

use statrs::distribution::{Continuous, ContinuousCDF, Weibull};

/// Geometric adstock (Robyn `adstock_geometric`): x_decayed[0] = x[0],
/// x_decayed[t] = x[t] + theta * x_decayed[t - 1].
pub fn adstock_geometric(x: &[f64], theta: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    let mut carry = 0.0;
    for (t, &v) in x.iter().enumerate() {
        carry = if t == 0 { v } else { v + theta * carry };
        out.push(carry);
    }
    out
}

/// Which Weibull decay Robyn applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeibullKind {
    /// `theta_vec_cum = cumprod(c(1, 1 - pweibull(1:(L-1), shape, scale_trans)))`
    Cdf,
    /// `theta_vec_cum = normalize(dweibull(1:L, shape, scale_trans))`, min-max normalised
    Pdf,
}

/// R's `round`: halves go to the even neighbour (IEC 60559).
fn round_half_even(v: f64) -> f64 {
    let r = v.round();
    if (v - v.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - v.signum()
    } else {
        r
    }
}

/// Weibull adstock (Robyn `adstock_weibull`) over a window of the series' length:
/// scale_trans = round(quantile(1:L, scale)) (R's type-7 quantile, 1 + (L - 1) scale), the decay
/// vector per `kind`, and x_decayed[t] = sum over s <= t of x[s] * theta_vec_cum[t - s].
/// A shape or scale of 0 turns the carry-over off (Robyn returns zeros for the decay vector).
pub fn adstock_weibull(x: &[f64], shape: f64, scale: f64, kind: WeibullKind) -> Vec<f64> {
    let len = x.len();
    if len == 0 {
        return Vec::new();
    }
    let scale_trans = round_half_even(1.0 + (len as f64 - 1.0) * scale);
    let decay: Vec<f64> = match Weibull::new(shape, scale_trans) {
        Ok(w) if shape > 0.0 && scale > 0.0 => match kind {
            WeibullKind::Cdf => {
                let mut cum = 1.0;
                (0..len)
                    .map(|k| {
                        if k > 0 {
                            cum *= 1.0 - w.cdf(k as f64);
                        }
                        cum
                    })
                    .collect()
            }
            WeibullKind::Pdf => {
                let pdf: Vec<f64> = (1..=len).map(|k| w.pdf(k as f64)).collect();
                let (lo, hi) = pdf
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
                pdf.iter()
                    .map(|v| if hi > lo { (v - lo) / (hi - lo) } else { 0.0 })
                    .collect()
            }
        },
        _ => vec![0.0; len],
    };
    (0..len)
        .map(|t| (0..=t).map(|s| x[s] * decay[t - s]).sum())
        .collect()
}

/// Hill saturation (Robyn `saturation_hill`): the inflexion point is placed at `gamma` of the
/// way across the range of `x` (min (1 - gamma) + max gamma), then
/// x^alpha / (x^alpha + inflexion^alpha).
pub fn saturation_hill(x: &[f64], alpha: f64, gamma: f64) -> Vec<f64> {
    let inflexion = hill_inflexion(x, gamma);
    x.iter().map(|&v| hill(v, alpha, inflexion)).collect()
}

/// Robyn's `gammaTrans`: the point `gamma` of the way across the range of `x`, in x's units. It
/// stays fixed when the model is asked about other spend levels (response curves, allocation).
pub fn hill_inflexion(x: &[f64], gamma: f64) -> f64 {
    let (lo, hi) = x
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    lo * (1.0 - gamma) + hi * gamma
}

/// One value through the Hill curve with its inflexion in x's units: v^alpha / (v^alpha +
/// inflexion^alpha), 0 where both are 0.
pub fn hill(v: f64, alpha: f64, inflexion: f64) -> f64 {
    let a = v.max(0.0).powf(alpha);
    let denominator = a + inflexion.powf(alpha);
    if denominator > 0.0 {
        a / denominator
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn geometric_adstock_carries_a_share_forward() {
        close(
            &adstock_geometric(&[10.0, 0.0, 0.0, 4.0], 0.5),
            &[10.0, 5.0, 2.5, 5.25],
        );
        close(&adstock_geometric(&[3.0, 1.0], 0.0), &[3.0, 1.0]);
    }

    #[test]
    fn weibull_adstock_follows_robyns_decay_vectors() {
        // L = 5, scale 0.5: scale_trans = round(1 + 4 * 0.5) = 3. Shape 1 is the exponential:
        // pweibull(k, 1, 3) = 1 - exp(-k / 3), so theta_vec_cum = exp(-k(k+1)/6)... built here
        // term by term from the definition.
        let x = [10.0, 0.0, 0.0, 0.0, 0.0];
        let cdf = |k: f64| 1.0 - (-(k / 3.0)).exp();
        let mut expected = vec![1.0];
        for k in 1..5 {
            let last = expected[k - 1];
            expected.push(last * (1.0 - cdf(k as f64)));
        }
        let expected: Vec<f64> = expected.iter().map(|d| 10.0 * d).collect();
        close(&adstock_weibull(&x, 1.0, 0.5, WeibullKind::Cdf), &expected);
        // PDF, shape 2, scale_trans 3: dweibull(k) = (2/3)(k/3) exp(-(k/3)^2), min-max normalised.
        let pdf: Vec<f64> = (1..=5)
            .map(|k| {
                let k = k as f64;
                (2.0 / 3.0) * (k / 3.0) * (-(k / 3.0).powi(2)).exp()
            })
            .collect();
        let (lo, hi) = (
            pdf.iter().copied().fold(f64::MAX, f64::min),
            pdf.iter().copied().fold(f64::MIN, f64::max),
        );
        let decay: Vec<f64> = pdf.iter().map(|v| (v - lo) / (hi - lo)).collect();
        let x2 = [10.0, 0.0, 5.0, 0.0, 0.0];
        let expected: Vec<f64> = (0..5)
            .map(|t| (0..=t).map(|s| x2[s] * decay[t - s]).sum())
            .collect();
        close(&adstock_weibull(&x2, 2.0, 0.5, WeibullKind::Pdf), &expected);
        // R rounds halves to even: scale 0.375 over L = 5 gives 2.5 -> 2.
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.5), 4.0);
        close(&adstock_weibull(&x, 0.0, 0.5, WeibullKind::Cdf), &[0.0; 5]);
    }

    #[test]
    fn hill_saturation_places_the_inflexion_in_the_range() {
        // Range 0..10, gamma 0.5: inflexion 5; alpha 2: 25 / (25 + 25) = 0.5, 100 / 125 = 0.8.
        close(
            &saturation_hill(&[0.0, 5.0, 10.0], 2.0, 0.5),
            &[0.0, 0.5, 0.8],
        );
        // Range 2..6, gamma 0.25: inflexion 3; alpha 1: 3 / 6.
        close(
            &saturation_hill(&[2.0, 3.0, 6.0], 1.0, 0.25),
            &[0.4, 0.5, 2.0 / 3.0],
        );
    }
}

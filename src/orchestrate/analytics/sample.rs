//! Random draws from the distributions the analytics and the sandbox simulate with, by exact
//! methods on any rand 0.9 generator: a standard normal by Box-Muller, Gamma by Marsaglia and
//! Tsang (2000), Beta as a ratio of Gammas, Poisson by inversion below a mean of 30 and above it
//! by Ahrens and Dieter's reduction through Gamma order statistics, and the binomial by inversion
//! below a mean of 30 and above it by Knuth's reduction through Beta order statistics (TAOCP
//! vol. 2, 3.4.1).
//!
//! Owns only the arithmetic of each draw; the caller owns the generator and its seed. Seeded
//! results elsewhere (the sandbox's days, the Bayesian Monte Carlo) depend on the exact sequence
//! of uniforms each function takes, so a change here changes them. The bandit keeps its own
//! polar-method normals and squeezed Gamma (`bandit::posterior`), which its seeded tests pin.

use rand::Rng;

/// Below this mean, Poisson and binomial draws are by inversion; above, by reduction.
const INVERSION_MEAN: f64 = 30.0;

/// A uniform draw in (0, 1]: safe to take the log of.
pub fn open_uniform<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    1.0 - rng.random::<f64>()
}

/// A standard normal draw (Box-Muller, the cosine branch; two uniforms per draw).
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let u1 = open_uniform(rng);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Gamma(shape, 1) by Marsaglia and Tsang; shapes below 1 through the boost U^(1/shape).
pub fn gamma<R: Rng + ?Sized>(rng: &mut R, shape: f64) -> f64 {
    if shape < 1.0 {
        let u = open_uniform(rng);
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = standard_normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        if open_uniform(rng).ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// Beta(alpha, beta) as X / (X + Y) with X ~ Gamma(alpha) drawn before Y ~ Gamma(beta).
pub fn beta<R: Rng + ?Sized>(rng: &mut R, alpha: f64, beta: f64) -> f64 {
    let x = gamma(rng, alpha);
    x / (x + gamma(rng, beta))
}

/// Poisson(mean), exactly. Above `INVERSION_MEAN` the m-th arrival X ~ Gamma(m) of a unit-rate
/// process splits the interval: X < mean leaves m arrivals plus Poisson(mean - X); otherwise
/// the arrivals before the mean are Binomial(m - 1, mean / X).
pub fn poisson<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> u64 {
    let mut mean = mean;
    let mut count = 0u64;
    while mean >= INVERSION_MEAN {
        let m = (0.875 * mean).floor();
        let arrival = gamma(rng, m);
        if arrival >= mean {
            return count + binomial(rng, m as u64 - 1, mean / arrival);
        }
        count += m as u64;
        mean -= arrival;
    }
    count + poisson_inversion(rng, mean)
}

/// Poisson by sequential search of the CDF; for small means (the first term is exp(-mean)).
fn poisson_inversion<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    let u: f64 = rng.random();
    let mut k = 0u64;
    let mut term = (-mean).exp();
    let mut cdf = term;
    while u > cdf {
        k += 1;
        term *= mean / k as f64;
        let next = cdf + term;
        if next == cdf {
            break;
        }
        cdf = next;
    }
    k
}

/// Binomial(n, p), exactly. Above `INVERSION_MEAN`, the a-th smallest of n uniforms,
/// X ~ Beta(a, n + 1 - a) with a = n/2 + 1, splits the trials: X >= p leaves Binomial(a - 1,
/// p / X) below it; otherwise a successes plus Binomial(n - a, (p - X) / (1 - X)).
pub fn binomial<R: Rng + ?Sized>(rng: &mut R, n: u64, p: f64) -> u64 {
    let (mut n, mut p) = (n, p);
    let mut count = 0u64;
    loop {
        if n == 0 || p <= 0.0 {
            return count;
        }
        if p >= 1.0 {
            return count + n;
        }
        if n as f64 * p.min(1.0 - p) < INVERSION_MEAN {
            return count
                + if p <= 0.5 {
                    binomial_inversion(rng, n, p)
                } else {
                    n - binomial_inversion(rng, n, 1.0 - p)
                };
        }
        let a = n / 2 + 1;
        let b = n + 1 - a;
        let split = beta(rng, a as f64, b as f64);
        if split >= p {
            n = a - 1;
            p /= split;
        } else {
            count += a;
            n = b - 1;
            p = (p - split) / (1.0 - split);
        }
    }
}

/// Binomial by sequential search of the CDF, for n p below `INVERSION_MEAN` and p <= 0.5;
/// a draw that runs past ten standard deviations (only through rounding) is redrawn.
fn binomial_inversion<R: Rng + ?Sized>(rng: &mut R, n: u64, p: f64) -> u64 {
    let q = 1.0 - p;
    let odds = p / q;
    let first = (n as f64 * (-p).ln_1p()).exp();
    let mean = n as f64 * p;
    let bound = n.min((mean + 10.0 * (mean * q + 1.0).sqrt()) as u64);
    loop {
        let mut u: f64 = rng.random();
        let mut term = first;
        let mut k = 0u64;
        while u > term && k <= bound {
            u -= term;
            k += 1;
            term *= (n - k + 1) as f64 / k as f64 * odds;
        }
        if k <= bound {
            return k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Sample mean and variance of `n` draws.
    fn moments(n: usize, mut draw: impl FnMut() -> u64) -> (f64, f64) {
        let xs: Vec<f64> = (0..n).map(|_| draw() as f64).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        (mean, var)
    }

    #[test]
    fn poisson_and_binomial_draws_have_their_moments() {
        let mut rng = StdRng::seed_from_u64(5);
        let n = 20_000;
        for mean in [0.0, 0.7, 4.0, 29.5, 31.0, 450.0, 1e5] {
            let (m, v) = moments(n, || poisson(&mut rng, mean));
            let se = (mean / n as f64).sqrt();
            assert!(
                (m - mean).abs() <= 4.0 * se + 1e-12,
                "poisson({mean}): mean {m}"
            );
            // The variance of a sample variance is about 2 var^2 / n for these counts.
            let var_se = mean * (2.0 / n as f64).sqrt() + (mean / n as f64).sqrt();
            assert!(
                (v - mean).abs() <= 5.0 * var_se + 1e-12,
                "poisson({mean}): var {v}"
            );
        }
        for (trials, p) in [
            (0, 0.3),
            (12, 0.3),
            (40, 0.97),
            (500, 0.5),
            (2_000, 0.02),
            (200_000, 0.01),
            (10_000_000, 0.0001),
            (7, 1.0),
        ] {
            let (m, v) = moments(n, || binomial(&mut rng, trials, p));
            let (mean, var) = (trials as f64 * p, trials as f64 * p * (1.0 - p));
            let se = (var / n as f64).sqrt();
            assert!(
                (m - mean).abs() <= 4.0 * se + 1e-12,
                "bin({trials}, {p}): {m}"
            );
            let var_se = var * (2.0 / n as f64).sqrt() + se;
            assert!(
                (v - var).abs() <= 5.0 * var_se + 1e-12,
                "bin({trials}, {p}): {v}"
            );
        }
        let (m, v) = moments(n, || (1e3 * gamma(&mut rng, 2.5)) as u64);
        assert!((m / 1e3 - 2.5).abs() < 0.05 && (v / 1e6 - 2.5).abs() < 0.15);
    }
}

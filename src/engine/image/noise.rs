//! The Gaussian noise of one image, from (seed, image index, stream) alone: the initial latent
//! is stream 0, the fresh noise of ancestral step k is stream k + 1. The same request gives the
//! same pixels whether it runs alone or stacked with others, and an image's noise never depends
//! on its neighbours in a batch. ChaCha8 (rand_chacha, a fixed and portable algorithm, unlike
//! `StdRng`) keyed by the seed, one stream per (index, stream) pair; Box-Muller for normals.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `len` standard normal values for image `index` of a request seeded `seed`.
pub fn gaussian(seed: u64, index: u32, stream: u32, len: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((u64::from(index) << 32) | u64::from(stream));
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        // Box-Muller on (0, 1] x [0, 1): both values of the pair are used.
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        out.push((radius * angle.cos()) as f32);
        if out.len() < len {
            out.push((radius * angle.sin()) as f32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_depends_on_seed_index_and_stream_only() {
        let a = gaussian(42, 0, 0, 1000);
        assert_eq!(a, gaussian(42, 0, 0, 1000));
        // A longer draw starts with the shorter one: the count never shifts the values.
        assert_eq!(&gaussian(42, 0, 0, 1001)[..1000], &a[..]);
        assert_ne!(a, gaussian(43, 0, 0, 1000));
        assert_ne!(a, gaussian(42, 1, 0, 1000));
        assert_ne!(a, gaussian(42, 0, 1, 1000));
    }

    #[test]
    fn noise_is_standard_normal() {
        let x = gaussian(7, 3, 0, 200_000);
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = x
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
        let beyond = x.iter().filter(|v| v.abs() > 1.96).count() as f64 / n;
        assert!((beyond - 0.05).abs() < 0.003, "tails {beyond}");
    }
}

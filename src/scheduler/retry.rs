//! Exponential backoff between job attempts.

use std::time::Duration;

/// Delay before attempt `n + 1` after attempt `n` failed: `base * 2^(n-1)`, capped at `max`, with
/// up to `jitter` (a fraction of the delay) added from a caller-supplied seed, so that jobs failing
/// together do not all return at the same instant, yet a given job's schedule is reproducible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The delay after the `attempt`-th attempt (1-based) failed. `seed` picks the jitter.
    pub fn delay(&self, attempt: u32, seed: u64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let raw = self.base.saturating_mul(1u32 << exponent);
        let capped = raw.min(self.max);
        // splitmix64 of the seed -> a fraction in [0, 1).
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let fraction = (z >> 11) as f64 / (1u64 << 53) as f64;
        capped + capped.mul_f64(self.jitter.clamp(0.0, 1.0) * fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let policy = RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
            jitter: 0.0,
        };
        let delays: Vec<u64> = (1..=6).map(|a| policy.delay(a, 7).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 10, 10]);
        assert_eq!(policy.delay(0, 7), Duration::from_secs(1));
        assert_eq!(policy.delay(u32::MAX, 7), Duration::from_secs(10));
    }

    #[test]
    fn jitter_is_bounded_and_reproducible() {
        let policy = RetryPolicy {
            base: Duration::from_secs(4),
            max: Duration::from_secs(100),
            jitter: 0.5,
        };
        for seed in 0..200 {
            let d = policy.delay(1, seed);
            assert!(
                d >= Duration::from_secs(4) && d < Duration::from_secs(6),
                "{d:?}"
            );
            assert_eq!(d, policy.delay(1, seed));
        }
        assert_ne!(policy.delay(1, 1), policy.delay(1, 2));
    }
}

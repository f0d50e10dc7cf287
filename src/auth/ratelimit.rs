//! Per-caller rate limits: a token bucket per API key or per user, `burst` requests deep and
//! refilled at `per_minute` a minute. The map of buckets is bounded: when it is full, buckets
//! that have refilled completely (idle callers) are dropped first, then the least recently used.
//! Pure bookkeeping over a clock the caller passes in; no HTTP here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limit of one caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests a caller may send at once after a pause.
    pub burst: u32,
    /// Requests a minute sustained.
    pub per_minute: u32,
}

/// A refused request: when to try again and which limit it hit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "rate limit of {} requests a minute (bursts of {}) reached; retry in {retry_after_secs} s",
    limit.per_minute, limit.burst
)]
pub struct RateLimited {
    pub retry_after_secs: u64,
    pub limit: RateLimit,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets of every recent caller.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    max_buckets: usize,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Keeps at most `max_buckets` callers' buckets.
    pub fn new(limit: RateLimit, max_buckets: usize) -> Self {
        Self {
            limit: RateLimit {
                burst: limit.burst.max(1),
                per_minute: limit.per_minute.max(1),
            },
            max_buckets: max_buckets.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    fn per_sec(&self) -> f64 {
        f64::from(self.limit.per_minute) / 60.0
    }

    /// Takes one token from `caller`'s bucket at `now`, or says how long until one is there.
    pub fn check(&self, caller: &str, now: Instant) -> Result<(), RateLimited> {
        let burst = f64::from(self.limit.burst);
        let per_sec = self.per_sec();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(caller) && buckets.len() >= self.max_buckets {
            self.evict(&mut buckets, now);
        }
        let bucket = buckets.entry(caller.to_string()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec);
        Err(RateLimited {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            limit: self.limit,
        })
    }

    /// Number of buckets held (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }

    /// Drops buckets that are full again at `now`; if none is, the least recently used one.
    fn evict(&self, buckets: &mut HashMap<String, Bucket>, now: Instant) {
        let burst = f64::from(self.limit.burst);
        let per_sec = self.per_sec();
        buckets.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * per_sec < burst
        });
        if buckets.len() >= self.max_buckets
            && let Some(oldest) = buckets
                .iter()
                .min_by_key(|(_, b)| b.updated)
                .map(|(k, _)| k.clone())
        {
            buckets.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills() {
        let limiter = RateLimiter::new(
            RateLimit {
                burst: 3,
                per_minute: 6,
            },
            10,
        );
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("key:a", t0).is_ok());
        }
        let refused = limiter.check("key:a", t0).unwrap_err();
        // 6 a minute: one token every 10 s.
        assert_eq!(refused.retry_after_secs, 10);
        assert!(
            refused.to_string().contains("6 requests a minute"),
            "{refused}"
        );
        // Another caller has its own bucket.
        assert!(limiter.check("key:b", t0).is_ok());
        assert!(limiter.check("key:a", t0 + Duration::from_secs(10)).is_ok());
        assert!(
            limiter
                .check("key:a", t0 + Duration::from_secs(10))
                .is_err()
        );
    }

    #[test]
    fn the_map_stays_bounded() {
        let limit = RateLimit {
            burst: 2,
            per_minute: 60,
        };
        let limiter = RateLimiter::new(limit, 3);
        let t0 = Instant::now();
        for caller in ["a", "b", "c"] {
            limiter.check(caller, t0).unwrap();
        }
        // Full map: at t0 + 1 s every bucket has refilled, so all idle ones go.
        limiter.check("d", t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(limiter.tracked(), 1);
        // None idle: the least recently used one goes.
        let t1 = t0 + Duration::from_secs(1);
        limiter.check("e", t1).unwrap();
        limiter.check("e", t1).unwrap();
        limiter.check("f", t1).unwrap();
        limiter.check("f", t1).unwrap();
        limiter.check("g", t1 + Duration::from_millis(1)).unwrap();
        assert_eq!(limiter.tracked(), 3);
    }
}

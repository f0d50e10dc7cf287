//! The HTTP helper every REST client shares: auth headers per platform, one request at a time
//! with bounded retries, exponential backoff with full jitter from an injectable seed, and
//! `Retry-After` honoured. Each client turns a response into a value or a [`PlatformError`]
//! (its own envelope, throttling codes included); this module decides whether and when to try
//! again: only errors for which [`PlatformError::is_retryable`] holds, at most
//! `max_attempts` times, never waiting more than `max_total_wait` in all.
//!
//! A create that failed with a 5xx or a broken connection is retried like any other call, so a
//! platform that did create the object before failing may hold it twice; the campaign layer
//! reconciles by name (not in this slice).
//!
//! TLS is rustls with the webpki roots bundled (no system certificate store needed), so the real
//! `https://` platform hosts are reachable; tests use `http://` servers on loopback.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::header::HeaderMap;

use super::PlatformError;
use crate::secret::Secret;

/// How often and how long to retry a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffPolicy {
    /// Tries in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The cap of the first wait; doubles each retry.
    pub base: Duration,
    /// The largest cap of one wait.
    pub max_delay: Duration,
    /// The most time spent waiting across all retries of one request; a wait that would pass
    /// it (a long `Retry-After` included) ends the retries with the last error.
    pub max_total_wait: Duration,
    /// Timeout of one HTTP exchange.
    pub request_timeout: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total_wait: Duration::from_secs(120),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl BackoffPolicy {
    /// Full jitter: uniform in `[0, min(max_delay, base * 2^retry)]`, `retry` from 0.
    pub fn jittered_delay(&self, retry: u32, rng: &mut StdRng) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << retry.min(30))
            .min(self.max_delay);
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=nanos))
    }
}

/// Credentials, as each platform wants them sent.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Meta: `Authorization: Bearer <token>`, or `?access_token=<token>` with `token_in_query`;
    /// `?appsecret_proof=` too where the app requires it.
    Meta {
        access_token: Secret,
        token_in_query: bool,
        appsecret_proof: Option<String>,
    },
    /// `Authorization: Bearer`, `developer-token` and, through a manager account,
    /// `login-customer-id`.
    Google {
        access_token: Secret,
        developer_token: Secret,
        login_customer_id: Option<String>,
    },
    /// `Access-Token: <token>`.
    TikTok(Secret),
}

impl Auth {
    fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::Meta {
                access_token,
                token_in_query,
                appsecret_proof,
            } => {
                let request = match appsecret_proof {
                    Some(proof) => request.query(&[("appsecret_proof", proof)]),
                    None => request,
                };
                if *token_in_query {
                    request.query(&[("access_token", access_token.expose())])
                } else {
                    request.bearer_auth(access_token.expose())
                }
            }
            Auth::Google {
                access_token,
                developer_token,
                login_customer_id,
            } => {
                let request = request
                    .bearer_auth(access_token.expose())
                    .header("developer-token", developer_token.expose());
                match login_customer_id {
                    Some(id) => request.header("login-customer-id", id),
                    None => request,
                }
            }
            Auth::TikTok(token) => request.header("Access-Token", token.expose()),
        }
    }
}

/// A response read whole, for a client to interpret.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    /// The body as JSON; a body that is not becomes an error naming the status.
    pub fn json(&self) -> Result<serde_json::Value, PlatformError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let snippet =
                String::from_utf8_lossy(&self.body[..self.body.len().min(200)]).to_string();
            if self.status >= 500 {
                PlatformError::Transient {
                    message: format!("http {}: {snippet}", self.status),
                }
            } else {
                PlatformError::unexpected(
                    &format!("http {} body", self.status),
                    format!("{e}: {snippet}"),
                )
            }
        })
    }

    /// The error an HTTP status alone says, for bodies without a recognised envelope.
    pub fn status_error(&self) -> PlatformError {
        let message = format!("http {}", self.status);
        match self.status {
            401 | 403 => PlatformError::Auth { message },
            404 => PlatformError::NotFound { message },
            429 => PlatformError::RateLimited {
                retry_after: retry_after(&self.headers),
            },
            s if s >= 500 => PlatformError::Transient { message },
            _ => PlatformError::InvalidRequest {
                field: None,
                message,
            },
        }
    }
}

/// `Retry-After` in seconds; the HTTP-date form is not used by these platforms and is ignored.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
}

/// One platform's HTTP side: a connection pool, credentials and a retry policy.
#[derive(Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    auth: Auth,
    policy: BackoffPolicy,
    rng: Mutex<StdRng>,
}

impl HttpClient {
    /// `seed` draws the jitter, so a test's waits are reproducible.
    pub fn new(auth: Auth, policy: BackoffPolicy, seed: u64) -> Result<Self, PlatformError> {
        let client = reqwest::Client::builder()
            .timeout(policy.request_timeout)
            .build()
            .map_err(|e| PlatformError::Transport {
                message: format!("cannot build the http client: {e}"),
            })?;
        Ok(Self {
            client,
            auth,
            policy,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        })
    }

    pub fn policy(&self) -> &BackoffPolicy {
        &self.policy
    }

    /// Sends the request `build` makes (again on each attempt), with the credentials added, and
    /// hands the response to `interpret`; retries what may succeed later.
    pub async fn execute<T>(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        interpret: impl Fn(RawResponse) -> Result<T, PlatformError>,
    ) -> Result<T, PlatformError> {
        let mut waited = Duration::ZERO;
        let max_attempts = self.policy.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let error = match self.attempt(&build).await {
                Ok(response) => {
                    let header_wait = retry_after(&response.headers);
                    match interpret(response) {
                        Ok(value) => return Ok(value),
                        Err(PlatformError::RateLimited { retry_after: None }) => {
                            PlatformError::RateLimited {
                                retry_after: header_wait,
                            }
                        }
                        Err(e) => e,
                    }
                }
                Err(e) => e,
            };
            if !error.is_retryable() || attempt >= max_attempts {
                return Err(error);
            }
            let delay = match &error {
                PlatformError::RateLimited {
                    retry_after: Some(d),
                } => *d,
                _ => match self.rng.lock() {
                    Ok(mut rng) => self.policy.jittered_delay(attempt - 1, &mut rng),
                    Err(_) => self.policy.base,
                },
            };
            if waited + delay > self.policy.max_total_wait {
                return Err(error);
            }
            tracing::warn!(attempt, ?delay, %error, "platform request failed; retrying");
            tokio::time::sleep(delay).await;
            waited += delay;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        build: &impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<RawResponse, PlatformError> {
        let transport = |e: reqwest::Error| PlatformError::Transport {
            message: e.to_string(),
        };
        let response = self
            .auth
            .apply(build(&self.client))
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }
}

/// A `multipart/form-data` body built by hand (adforge's reqwest has no multipart feature).
#[derive(Debug, Default)]
pub struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Multipart {
    pub fn new(seed: u64) -> Self {
        Self {
            boundary: format!("adforge-boundary-{seed:016x}"),
            body: Vec::new(),
        }
    }

    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.head(name, None);
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub fn file(mut self, name: &str, file_name: &str, bytes: &[u8]) -> Self {
        self.head(name, Some(file_name));
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    fn head(&mut self, name: &str, file_name: Option<&str>) {
        let clean = |s: &str| s.replace(['"', '\r', '\n'], "_");
        let mut head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"",
            self.boundary,
            clean(name)
        );
        if let Some(file_name) = file_name {
            head.push_str(&format!(
                "; filename=\"{}\"\r\nContent-Type: application/octet-stream",
                clean(file_name)
            ));
        }
        head.push_str("\r\n\r\n");
        self.body.extend_from_slice(head.as_bytes());
    }

    /// The content type and the body, closed.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_the_doubling_cap() {
        let policy = BackoffPolicy {
            base: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            ..BackoffPolicy::default()
        };
        let mut rng = StdRng::seed_from_u64(1);
        for retry in 0..8 {
            let cap = Duration::from_millis((100u64 << retry).min(500));
            for _ in 0..50 {
                assert!(policy.jittered_delay(retry, &mut rng) <= cap);
            }
        }
        let draw = |seed| policy.jittered_delay(3, &mut StdRng::seed_from_u64(seed));
        assert_eq!(draw(9), draw(9));
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn multipart_has_the_parts() {
        let (content_type, body) = Multipart::new(7)
            .text("upload_type", "UPLOAD_BY_FILE")
            .file("video_file", "a.mp4", b"\x00\x01")
            .finish();
        let text = String::from_utf8_lossy(&body);
        assert!(content_type.ends_with("adforge-boundary-0000000000000007"));
        assert!(text.contains("name=\"upload_type\"\r\n\r\nUPLOAD_BY_FILE\r\n"));
        assert!(text.contains("filename=\"a.mp4\""));
        assert!(text.ends_with("--adforge-boundary-0000000000000007--\r\n"));
    }
}

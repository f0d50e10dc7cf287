//! Contract tests of the ad-platform clients: each platform is a local axum server that checks
//! the documented request shapes (paths, headers, required fields, money units) and answers the
//! documented responses; each client drives a whole deployment through it, then the error
//! paths: throttling retried, bounded attempts, auth not retried, error envelopes mapped.
//! This file holds the mock server and the specs all three share; one file per platform.

mod connected;
mod google;
mod meta;
mod tiktok;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adforge::orchestrate::platforms::google::{GoogleClient, GoogleConfig};
use adforge::orchestrate::platforms::http::BackoffPolicy;
use adforge::orchestrate::platforms::meta::{MetaClient, MetaConfig};
use adforge::orchestrate::platforms::tiktok::{TikTokClient, TikTokConfig};
use adforge::orchestrate::platforms::{
    AdCopy, AdPlatform, AdSetSpec, AdSpec, Budget, CallToAction, CampaignSpec, CreativeSpec,
    Currency, DateRange, DeliveryStatus, Micros, ObjectKind, Objective, PlatformError, Targeting,
    VideoSource,
};
use adforge::secret::Secret;
use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use time::{Date, Month};

const IMAGE: &[u8] = b"PNG-bytes-of-a-hero";
const IMAGE_MD5: &str = "7b02f14d9b4de9794f62b0576268574b";
const VIDEO: &[u8] = b"0123456789";
const VIDEO_MD5: &str = "781e5e245d69b566979b86e28d23f2c7";

/// One request as the mock saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, key: &str) -> &str {
        self.headers
            .get(key)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }

    /// The value of a multipart text part.
    fn part(&self, name: &str) -> Option<String> {
        let text = self.text();
        let start = text.find(&format!("name=\"{name}\"\r\n\r\n"))? + name.len() + 11;
        let end = text[start..].find("\r\n")? + start;
        Some(text[start..end].to_string())
    }
}

/// The answer of a mock: status, extra headers, JSON body.
struct Reply(u16, Vec<(&'static str, String)>, Value);

fn ok(body: Value) -> Reply {
    Reply(200, Vec::new(), body)
}

type Responder = dyn Fn(&Seen, usize, &mut Vec<String>) -> Reply + Send + Sync;

/// A running mock: its base URL, every request it saw, and the checks that failed.
struct Mock {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    failures: Arc<Mutex<Vec<String>>>,
}

impl Mock {
    fn paths(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect()
    }

    fn calls_to(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path.ends_with(path))
            .count()
    }

    fn assert_no_failed_checks(&self) {
        let failures = self.failures.lock().unwrap();
        assert!(failures.is_empty(), "request checks failed: {failures:#?}");
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// Serves `respond` on 127.0.0.1:0; `respond` gets the request, how many earlier requests went
/// to the same path, and a list to push failed checks to.
async fn serve(
    respond: impl Fn(&Seen, usize, &mut Vec<String>) -> Reply + Send + Sync + 'static,
) -> Mock {
    let respond: Arc<Responder> = Arc::new(respond);
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let (seen_in, failures_in) = (seen.clone(), failures.clone());
    let app = Router::new().fallback(move |request: Request| {
        let (respond, seen, failures) = (respond.clone(), seen_in.clone(), failures_in.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let query = parts
                .uri
                .query()
                .unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect();
            let request = Seen {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                query,
                headers: parts.headers,
                body,
            };
            let n_before = {
                let mut seen = seen.lock().unwrap();
                let n = seen.iter().filter(|s| s.path == request.path).count();
                seen.push(request.clone());
                n
            };
            let mut failed = Vec::new();
            let Reply(status, headers, body) = respond(&request, n_before, &mut failed);
            failures.lock().unwrap().extend(
                failed
                    .into_iter()
                    .map(|f| format!("{} {}: {f}", request.method, request.path)),
            );
            let mut response: Response =
                (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Mock {
        base,
        seen,
        failures,
    }
}

/// Records a failed check unless `condition` holds.
fn check(failed: &mut Vec<String>, condition: bool, what: impl Into<String>) {
    if !condition {
        failed.push(what.into());
    }
}

fn tiny_backoff() -> BackoffPolicy {
    BackoffPolicy {
        max_attempts: 3,
        base: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        max_total_wait: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
    }
}

fn day(n: u8) -> Date {
    Date::from_calendar_date(2026, Month::January, n).unwrap()
}

fn campaign_spec(budget: Option<Budget>) -> CampaignSpec {
    CampaignSpec {
        name: "Spring sale".into(),
        objective: Objective::Sales,
        budget,
        start_date: day(1),
        end_date: Some(day(14)),
        status: DeliveryStatus::Paused,
    }
}

fn ad_set_spec(campaign: &str, budget: Option<Budget>, bid: Option<Micros>) -> AdSetSpec {
    AdSetSpec {
        campaign_external_id: campaign.into(),
        name: "US adults".into(),
        objective: Objective::Sales,
        budget,
        bid,
        targeting: Targeting {
            countries: vec!["US".into()],
            age_min: None,
            age_max: None,
        },
        start_date: day(1),
        end_date: Some(day(14)),
        status: DeliveryStatus::Active,
    }
}

fn creative_spec() -> CreativeSpec {
    CreativeSpec {
        name: "Hero".into(),
        copy: AdCopy {
            headline: "Spring sale".into(),
            primary_text: "Everything 20% off this week".into(),
            description: "Free returns".into(),
            call_to_action: CallToAction::ShopNow,
            link_url: "https://shop.example/spring".into(),
        },
        image: None,
        square_image: None,
        logo: None,
        video: None,
        business_name: Some("Example Shop".into()),
    }
}

fn units(text: &str) -> Micros {
    Micros::from_decimal_str(text).unwrap()
}

fn range() -> DateRange {
    DateRange {
        since: day(1),
        until: day(2),
    }
}

//! Contract tests of the ad-platform clients: each platform is a local axum server that checks
//! the documented request shapes (paths, headers, required fields, money units) and answers the
//! documented responses; each client drives a whole deployment through it, then the error
//! paths: throttling retried, bounded attempts, auth not retried, error envelopes mapped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adforge::config::Secret;
use adforge::orchestrate::platforms::google::{GoogleClient, GoogleConfig};
use adforge::orchestrate::platforms::http::BackoffPolicy;
use adforge::orchestrate::platforms::meta::{MetaClient, MetaConfig};
use adforge::orchestrate::platforms::tiktok::{TikTokClient, TikTokConfig};
use adforge::orchestrate::platforms::{
    AdCopy, AdPlatform, AdSetSpec, AdSpec, Budget, CallToAction, CampaignSpec, CreativeSpec,
    Currency, DateRange, DeliveryStatus, Micros, ObjectKind, Objective, PlatformError, Targeting,
    VideoSource,
};
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

// ---------------------------------------------------------------- Meta

fn meta_client(mock: &Mock) -> MetaClient {
    MetaClient::new(MetaConfig {
        base_url: mock.base.clone(),
        video_base_url: mock.base.clone(),
        api_version: "v23.0".into(),
        ad_account_id: "42".into(),
        page_id: "page-7".into(),
        currency: Currency::from_code("USD").unwrap(),
        access_token: Secret::new("meta-token"),
        token_in_query: false,
        conversion_action_type: "purchase".into(),
        video_chunk_bytes: 4,
        backoff: tiny_backoff(),
        seed: 1,
    })
    .unwrap()
}

fn meta_row(ad: &str, date: &str, spend: &str) -> Value {
    json!({
        "ad_id": ad, "date_start": date, "date_stop": date,
        "impressions": "1000", "clicks": "25", "spend": spend, "ctr": "2.5", "cpc": "0.49",
        "actions": [{ "action_type": "link_click", "value": "25" }, { "action_type": "purchase", "value": "3" }],
        "action_values": [{ "action_type": "purchase", "value": "150.50" }],
    })
}

fn meta_platform(seen: &Seen, n: usize, failed: &mut Vec<String>) -> Reply {
    check(
        failed,
        seen.header("authorization") == "Bearer meta-token",
        "no bearer token",
    );
    let body = seen.json();
    let is_int = |v: &Value| v.is_i64() || v.is_u64();
    match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/v23.0/act_42/campaigns") => {
            check(failed, body["name"] == "Spring sale", "name");
            check(failed, body["objective"] == "OUTCOME_SALES", "objective");
            check(failed, body["status"] == "PAUSED", "status");
            check(
                failed,
                body["special_ad_categories"].is_array(),
                "special_ad_categories",
            );
            ok(json!({ "id": "c1" }))
        }
        ("POST", "/v23.0/act_42/adsets") => {
            check(failed, body["campaign_id"] == "c1", "campaign_id");
            check(
                failed,
                is_int(&body["daily_budget"]) && body["daily_budget"] == 12345,
                "daily_budget in cents",
            );
            check(
                failed,
                body["billing_event"] == "IMPRESSIONS",
                "billing_event",
            );
            check(
                failed,
                body["optimization_goal"].is_string(),
                "optimization_goal",
            );
            check(
                failed,
                body["targeting"]["geo_locations"]["countries"] == json!(["US"]),
                "targeting",
            );
            check(
                failed,
                body["start_time"].is_string() && body["status"] == "ACTIVE",
                "start_time, status",
            );
            ok(json!({ "id": "s1" }))
        }
        ("POST", "/v23.0/act_42/adimages") => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(body["bytes"].as_str().unwrap_or(""))
                .unwrap_or_default();
            check(failed, bytes == IMAGE, "bytes is the base64 image");
            ok(json!({ "images": { "hero.png": { "hash": "h1", "url": "https://x" } } }))
        }
        ("POST", "/v23.0/act_42/advideos") => {
            if seen
                .header("content-type")
                .starts_with("multipart/form-data")
            {
                check(
                    failed,
                    seen.part("upload_phase").as_deref() == Some("transfer"),
                    "transfer phase",
                );
                check(
                    failed,
                    seen.part("upload_session_id").as_deref() == Some("u1"),
                    "session",
                );
                let start: usize = seen
                    .part("start_offset")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(99);
                let chunk = &VIDEO[start.min(VIDEO.len())..(start + 4).min(VIDEO.len())];
                check(
                    failed,
                    seen.text().contains(std::str::from_utf8(chunk).unwrap()),
                    "chunk bytes",
                );
                let next = (start + 4).min(VIDEO.len());
                let end = (next + 4).min(VIDEO.len());
                return ok(
                    json!({ "start_offset": next.to_string(), "end_offset": end.to_string() }),
                );
            }
            match body["upload_phase"].as_str() {
                Some("start") => {
                    check(failed, body["file_size"] == VIDEO.len(), "file_size");
                    ok(
                        json!({ "upload_session_id": "u1", "video_id": "v1", "start_offset": "0", "end_offset": "4" }),
                    )
                }
                Some("finish") => {
                    check(failed, body["upload_session_id"] == "u1", "finish session");
                    ok(json!({ "success": true }))
                }
                other => {
                    failed.push(format!("upload_phase {other:?}"));
                    Reply(400, Vec::new(), json!({}))
                }
            }
        }
        ("POST", "/v23.0/act_42/adcreatives") => {
            let spec = &body["object_story_spec"];
            check(failed, spec["page_id"] == "page-7", "page_id");
            let video = &spec["video_data"];
            check(
                failed,
                video["video_id"] == "v1" && video["image_hash"] == "h1",
                "video_data ids",
            );
            check(
                failed,
                video["call_to_action"]["type"] == "SHOP_NOW",
                "call_to_action",
            );
            check(
                failed,
                video["message"] == "Everything 20% off this week",
                "message = primary text",
            );
            ok(json!({ "id": "cr1" }))
        }
        ("POST", "/v23.0/act_42/ads") => {
            check(failed, body["adset_id"] == "s1", "adset_id");
            check(
                failed,
                body["creative"]["creative_id"] == "cr1",
                "creative_id",
            );
            ok(json!({ "id": "ad1" }))
        }
        ("GET", "/v23.0/act_42/insights") => {
            check(failed, seen.query("level") == Some("ad"), "level=ad");
            check(
                failed,
                seen.query("time_increment") == Some("1"),
                "time_increment=1",
            );
            let time_range: Value =
                serde_json::from_str(seen.query("time_range").unwrap_or("")).unwrap_or(Value::Null);
            check(
                failed,
                time_range == json!({ "since": "2026-01-01", "until": "2026-01-02" }),
                "time_range",
            );
            check(
                failed,
                seen.query("fields")
                    .is_some_and(|f| f.contains("spend") && f.contains("actions")),
                "fields",
            );
            match seen.query("after") {
                None => ok(json!({
                    "data": [meta_row("ad1", "2026-01-01", "12.34")],
                    "paging": { "cursors": { "before": "B", "after": "AFTER1" }, "next": "http://next" },
                })),
                Some("AFTER1") => ok(json!({
                    "data": [meta_row("ad1", "2026-01-02", "7.05")],
                    "paging": { "cursors": { "before": "AFTER1", "after": "AFTER2" } },
                })),
                Some(other) => {
                    failed.push(format!("cursor {other}"));
                    ok(json!({ "data": [] }))
                }
            }
        }
        ("POST", "/v23.0/ad1") => {
            check(
                failed,
                body["status"] == ["PAUSED", "ACTIVE"][n.min(1)],
                "status update",
            );
            ok(json!({ "success": true }))
        }
        ("POST", "/v23.0/s1") => {
            check(
                failed,
                body == json!({ "daily_budget": 5000 }),
                "budget update in cents",
            );
            ok(json!({ "success": true }))
        }
        _ => {
            failed.push("unexpected call".into());
            Reply(
                404,
                Vec::new(),
                json!({ "error": { "code": 803, "message": "no such path" } }),
            )
        }
    }
}

#[tokio::test]
async fn meta_deploys_a_video_ad_and_reads_insights() {
    let mock = serve(meta_platform).await;
    let meta = meta_client(&mock);
    let campaign = meta.create_campaign(&campaign_spec(None)).await.unwrap();
    let ad_set = meta
        .create_ad_set(&ad_set_spec(
            &campaign,
            Some(Budget::Daily(units("123.45"))),
            None,
        ))
        .await
        .unwrap();
    let image = meta.upload_image("hero.png", IMAGE).await.unwrap();
    let video = meta
        .upload_video("spot.mp4", &VideoSource::Bytes(Bytes::from_static(VIDEO)))
        .await
        .unwrap();
    assert_eq!(
        (image.external_id.as_str(), video.external_id.as_str()),
        ("h1", "v1")
    );
    let creative = meta
        .create_creative(&CreativeSpec {
            image: Some(image),
            video: Some(video),
            ..creative_spec()
        })
        .await
        .unwrap();
    let ad = meta
        .create_ad(&AdSpec {
            ad_set_external_id: ad_set.clone(),
            name: "Hero ad".into(),
            creative,
            status: DeliveryStatus::Active,
        })
        .await
        .unwrap();
    assert_eq!(ad, "ad1");
    meta.pause(ObjectKind::Ad, &ad).await.unwrap();
    meta.resume(ObjectKind::Ad, &ad).await.unwrap();
    meta.update_budget(ObjectKind::AdSet, &ad_set, Budget::Daily(units("50")))
        .await
        .unwrap();
    let rows = meta.fetch_insights(range()).await.unwrap();
    mock.assert_no_failed_checks();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].spend, Micros(12_340_000));
    assert_eq!(rows[1].spend, Micros(7_050_000));
    assert_eq!(
        (rows[0].impressions, rows[0].clicks, rows[0].conversions),
        (1000, 25, 3)
    );
    assert_eq!(rows[0].revenue, Micros(150_500_000));
    assert_eq!(rows[1].date, day(2));
    // start, three transfers of 4, 4 and 2 bytes, finish.
    assert_eq!(mock.calls_to("/advideos"), 5);
    assert_eq!(mock.calls_to("/insights"), 2);
    assert_eq!(
        mock.paths()[..4],
        [
            "POST /v23.0/act_42/campaigns",
            "POST /v23.0/act_42/adsets",
            "POST /v23.0/act_42/adimages",
            "POST /v23.0/act_42/advideos"
        ]
    );
}

#[tokio::test]
async fn meta_refuses_a_budget_finer_than_a_cent_before_sending() {
    let mock = serve(meta_platform).await;
    let err = meta_client(&mock)
        .create_ad_set(&ad_set_spec(
            "c1",
            Some(Budget::Daily(units("1.005"))),
            None,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PlatformError::InvalidRequest { field: Some(ref f), .. } if f == "budget"),
        "{err}"
    );
    assert!(mock.paths().is_empty());
}

fn meta_error(code: i64, subcode: Option<i64>) -> Value {
    json!({ "error": {
        "message": format!("error {code}"), "type": "OAuthException", "code": code,
        "error_subcode": subcode, "fbtrace_id": "trace-9",
        "error_data": { "blame_field_specs": [["daily_budget"]] },
    }})
}

#[tokio::test]
async fn meta_throttling_code_17_is_retried_then_succeeds() {
    let mock = serve(|_: &Seen, n, _: &mut Vec<String>| {
        if n < 2 {
            Reply(400, Vec::new(), meta_error(17, Some(2446079)))
        } else {
            ok(json!({ "id": "c1" }))
        }
    })
    .await;
    let id = meta_client(&mock)
        .create_campaign(&campaign_spec(None))
        .await
        .unwrap();
    assert_eq!(id, "c1");
    assert_eq!(mock.calls_to("/campaigns"), 3);
}

#[tokio::test]
async fn meta_429_with_retry_after_is_retried_and_a_long_one_is_not_waited_for() {
    let mock = serve(|_: &Seen, n, _: &mut Vec<String>| match n {
        0 => Reply(429, vec![("retry-after", "0".into())], json!({})),
        1 => ok(json!({ "id": "c1" })),
        _ => Reply(429, vec![("retry-after", "120".into())], json!({})),
    })
    .await;
    let meta = meta_client(&mock);
    assert_eq!(
        meta.create_campaign(&campaign_spec(None)).await.unwrap(),
        "c1"
    );
    // 120 s is past the 1 s the policy may wait in all: the error comes back at once.
    let err = meta
        .create_campaign(&campaign_spec(None))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PlatformError::RateLimited {
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(mock.calls_to("/campaigns"), 3);
}

#[tokio::test]
async fn meta_errors_map_to_platform_errors_and_auth_is_not_retried() {
    let mock = serve(
        |seen: &Seen, _, _: &mut Vec<String>| match seen.path.as_str() {
            "/v23.0/act_42/campaigns" => Reply(401, Vec::new(), meta_error(190, Some(463))),
            "/v23.0/act_42/adsets" => Reply(400, Vec::new(), meta_error(100, Some(1487390))),
            "/v23.0/act_42/ads" => Reply(400, Vec::new(), meta_error(2635, Some(1487))),
            _ => Reply(400, Vec::new(), meta_error(80004, None)),
        },
    )
    .await;
    let meta = meta_client(&mock);
    let auth = meta
        .create_campaign(&campaign_spec(None))
        .await
        .unwrap_err();
    assert!(matches!(auth, PlatformError::Auth { .. }), "{auth}");
    assert_eq!(mock.calls_to("/campaigns"), 1);
    let invalid = meta
        .create_ad_set(&ad_set_spec("c1", Some(Budget::Daily(units("1"))), None))
        .await
        .unwrap_err();
    assert_eq!(
        invalid,
        PlatformError::InvalidRequest {
            field: Some("daily_budget".into()),
            message: "error 100".into()
        }
    );
    let creative = meta
        .create_creative(&CreativeSpec {
            image: Some(adforge::orchestrate::platforms::AssetRef {
                kind: adforge::orchestrate::platforms::AssetKind::Image,
                external_id: "h1".into(),
            }),
            ..creative_spec()
        })
        .await
        .unwrap_err();
    // 80004: the ads-management throttle, retried up to the policy's 3 attempts.
    assert_eq!(creative, PlatformError::RateLimited { retry_after: None });
    assert_eq!(mock.calls_to("/adcreatives"), 3);
    let other = meta
        .create_ad(&AdSpec {
            ad_set_external_id: "s1".into(),
            name: "x".into(),
            creative: adforge::orchestrate::platforms::Creative {
                external_id: Some("cr1".into()),
                spec: creative_spec(),
            },
            status: DeliveryStatus::Paused,
        })
        .await
        .unwrap_err();
    assert_eq!(
        other,
        PlatformError::Platform {
            code: "2635/1487".into(),
            message: "error 2635".into(),
            request_id: Some("trace-9".into())
        }
    );
}

// ---------------------------------------------------------------- Google

const GOOGLE: &str = "/v21/customers/123";

fn google_client(mock: &Mock) -> GoogleClient {
    GoogleClient::new(GoogleConfig {
        base_url: mock.base.clone(),
        api_version: "v21".into(),
        customer_id: "123".into(),
        access_token: Secret::new("g-token"),
        developer_token: Secret::new("dev-token"),
        login_customer_id: Some("999".into()),
        contains_eu_political_advertising: false,
        backoff: tiny_backoff(),
        seed: 2,
    })
    .unwrap()
}

fn google_failure(kind: &str, code: &str, field: &str) -> Value {
    json!({
        "code": 3, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT",
        "details": [{
            "@type": "type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure",
            "errors": [{
                "errorCode": { kind: code },
                "message": "The required field was not present.",
                "location": { "fieldPathElements": [
                    { "fieldName": "operations", "index": 0 }, { "fieldName": "create" }, { "fieldName": field }
                ]},
            }],
            "requestId": "req-1",
        }],
    })
}

fn results(name: &str) -> Reply {
    ok(json!({ "results": [{ "resourceName": name }] }))
}

fn google_platform(seen: &Seen, _n: usize, failed: &mut Vec<String>) -> Reply {
    check(
        failed,
        seen.header("authorization") == "Bearer g-token",
        "bearer token",
    );
    check(
        failed,
        seen.header("developer-token") == "dev-token",
        "developer-token",
    );
    check(
        failed,
        seen.header("login-customer-id") == "999",
        "login-customer-id",
    );
    check(failed, seen.method == "POST", "every call is a POST");
    let body = seen.json();
    let op = &body["operations"][0];
    let create = &op["create"];
    let Some(method) = seen.path.strip_prefix(&format!("{GOOGLE}/")) else {
        failed.push("outside the customer".into());
        return Reply(404, Vec::new(), json!({}));
    };
    if method.ends_with(":mutate") {
        check(
            failed,
            body["operations"].as_array().is_some_and(|o| !o.is_empty()),
            "operations",
        );
    }
    match method {
        "campaignBudgets:mutate" if op.get("update").is_some() => {
            check(
                failed,
                op["update"]["resourceName"] == "customers/123/campaignBudgets/1",
                "budget name",
            );
            check(
                failed,
                op["update"]["amountMicros"] == "30000000",
                "amountMicros as a string",
            );
            check(failed, op["updateMask"] == "amountMicros", "updateMask");
            results("customers/123/campaignBudgets/1")
        }
        "campaignBudgets:mutate" => {
            check(
                failed,
                create["amountMicros"] == "25000000",
                "amountMicros is a string of micros",
            );
            check(
                failed,
                create["deliveryMethod"] == "STANDARD" && create["name"].is_string(),
                "budget fields",
            );
            results("customers/123/campaignBudgets/1")
        }
        "campaigns:mutate" => {
            if create.get("containsEuPoliticalAdvertising").is_none() {
                return Reply(
                    400,
                    Vec::new(),
                    json!({ "error": google_failure("fieldError", "REQUIRED", "contains_eu_political_advertising") }),
                );
            }
            check(
                failed,
                create["campaignBudget"] == "customers/123/campaignBudgets/1",
                "campaignBudget",
            );
            check(
                failed,
                create["advertisingChannelType"] == "DISPLAY",
                "channel",
            );
            check(
                failed,
                create.get("maximizeConversions").is_some() || create.get("manualCpc").is_some(),
                "bidding",
            );
            check(
                failed,
                create["startDate"] == "2026-01-01" && create["endDate"] == "2026-01-14",
                "dates",
            );
            check(failed, create["status"] == "PAUSED", "status");
            results("customers/123/campaigns/2")
        }
        "campaignCriteria:mutate" => {
            check(
                failed,
                create["campaign"] == "customers/123/campaigns/2",
                "criterion campaign",
            );
            check(
                failed,
                create["location"]["geoTargetConstant"] == "geoTargetConstants/2840",
                "US location",
            );
            results("customers/123/campaignCriteria/2~2840")
        }
        "adGroups:mutate" => {
            check(
                failed,
                create["campaign"] == "customers/123/campaigns/2",
                "ad group campaign",
            );
            check(
                failed,
                create["cpcBidMicros"] == "1500000",
                "cpcBidMicros as a string",
            );
            results("customers/123/adGroups/3")
        }
        "assets:mutate" => {
            let data = base64::engine::general_purpose::STANDARD
                .decode(create["imageAsset"]["data"].as_str().unwrap_or(""))
                .unwrap_or_default();
            check(failed, data == IMAGE, "imageAsset.data is the base64 image");
            results("customers/123/assets/4")
        }
        "adGroupAds:mutate" if op.get("update").is_some() => {
            check(
                failed,
                op["update"]["status"] == "PAUSED" && op["updateMask"] == "status",
                "pause",
            );
            results("customers/123/adGroupAds/3~5")
        }
        "adGroupAds:mutate" => {
            check(
                failed,
                create["adGroup"] == "customers/123/adGroups/3",
                "adGroup",
            );
            let ad = &create["ad"];
            let display = &ad["responsiveDisplayAd"];
            check(
                failed,
                ad["finalUrls"] == json!(["https://shop.example/spring"]),
                "finalUrls",
            );
            check(
                failed,
                display["marketingImages"] == json!([{ "asset": "customers/123/assets/4" }]),
                "marketingImages",
            );
            check(
                failed,
                display["squareMarketingImages"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty()),
                "square images",
            );
            check(
                failed,
                display["headlines"][0]["text"] == "Spring sale",
                "headlines",
            );
            check(
                failed,
                display["longHeadline"]["text"].is_string(),
                "longHeadline",
            );
            check(
                failed,
                display["descriptions"][0]["text"] == "Free returns",
                "descriptions",
            );
            check(
                failed,
                display["businessName"] == "Example Shop",
                "businessName",
            );
            results("customers/123/adGroupAds/3~5")
        }
        "googleAds:searchStream" => {
            let query = body["query"].as_str().unwrap_or("");
            if query.contains("campaign.campaign_budget") {
                check(
                    failed,
                    query.contains("'customers/123/campaigns/2'"),
                    "budget lookup",
                );
                return ok(json!([{ "results": [{ "campaign": {
                    "resourceName": "customers/123/campaigns/2",
                    "campaignBudget": "customers/123/campaignBudgets/1" } }] }]));
            }
            check(
                failed,
                query.contains("metrics.cost_micros") && query.contains("FROM ad_group_ad"),
                "GAQL fields",
            );
            check(
                failed,
                query.contains("BETWEEN '2026-01-01' AND '2026-01-02'"),
                "GAQL dates",
            );
            let row = |date: &str, cost: &str| {
                json!({
                    "adGroupAd": { "resourceName": "customers/123/adGroupAds/3~5", "ad": { "id": "5" } },
                    "segments": { "date": date },
                    "metrics": { "impressions": "800", "clicks": "12", "costMicros": cost,
                                 "conversions": 2.0, "conversionsValue": 99.5 },
                })
            };
            // A zero day leaves its metrics out (proto3 JSON).
            ok(json!([
                { "results": [row("2026-01-01", "1230000")], "requestId": "r1" },
                { "results": [{ "adGroupAd": { "resourceName": "customers/123/adGroupAds/3~5" },
                                "segments": { "date": "2026-01-02" }, "metrics": {} }] },
            ]))
        }
        _ => {
            failed.push("unexpected call".into());
            Reply(
                404,
                Vec::new(),
                json!({ "error": { "code": 404, "status": "NOT_FOUND", "message": "no" } }),
            )
        }
    }
}

#[tokio::test]
async fn google_deploys_a_responsive_display_ad_and_reads_cost_micros() {
    let mock = serve(google_platform).await;
    let google = google_client(&mock);
    let campaign = google
        .create_campaign(&campaign_spec(Some(Budget::Daily(units("25")))))
        .await
        .unwrap();
    assert_eq!(campaign, "customers/123/campaigns/2");
    let ad_group = google
        .create_ad_set(&ad_set_spec(&campaign, None, Some(units("1.5"))))
        .await
        .unwrap();
    let image = google.upload_image("hero.png", IMAGE).await.unwrap();
    let video = google
        .upload_video("spot.mp4", &VideoSource::Bytes(Bytes::from_static(VIDEO)))
        .await
        .unwrap_err();
    assert!(matches!(video, PlatformError::InvalidRequest { .. }));
    let creative = google
        .create_creative(&CreativeSpec {
            image: Some(image),
            ..creative_spec()
        })
        .await
        .unwrap();
    assert_eq!(creative.external_id, None);
    let ad = google
        .create_ad(&AdSpec {
            ad_set_external_id: ad_group,
            name: "Hero ad".into(),
            creative,
            status: DeliveryStatus::Active,
        })
        .await
        .unwrap();
    google.pause(ObjectKind::Ad, &ad).await.unwrap();
    google
        .update_budget(ObjectKind::Campaign, &campaign, Budget::Daily(units("30")))
        .await
        .unwrap();
    let rows = google.fetch_insights(range()).await.unwrap();
    mock.assert_no_failed_checks();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].ad_external_id, ad);
    assert_eq!(
        (rows[0].impressions, rows[0].clicks, rows[0].conversions),
        (800, 12, 2)
    );
    assert_eq!(rows[0].spend, Micros(1_230_000));
    assert_eq!(rows[0].revenue, Micros(99_500_000));
    assert_eq!((rows[1].impressions, rows[1].spend), (0, Micros::ZERO));
    let order: Vec<String> = mock
        .paths()
        .iter()
        .take(6)
        .map(|p| p.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(
        order,
        [
            "campaignBudgets:mutate",
            "campaigns:mutate",
            "campaignCriteria:mutate",
            "adGroups:mutate",
            "assets:mutate",
            "adGroupAds:mutate"
        ]
    );
}

#[tokio::test]
async fn google_partial_failure_and_error_details_are_mapped() {
    let mock = serve(|seen: &Seen, n, _: &mut Vec<String>| match seen.path.rsplit('/').next().unwrap_or("") {
        "adGroups:mutate" => ok(json!({
            "results": [{}],
            "partialFailureError": google_failure("fieldError", "REQUIRED", "name"),
        })),
        "campaignBudgets:mutate" if n == 0 => Reply(429, Vec::new(), json!({ "error": {
            "code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED" } })),
        "campaignBudgets:mutate" => results("customers/123/campaignBudgets/1"),
        "campaigns:mutate" => Reply(401, Vec::new(), json!({ "error": {
            "code": 401, "message": "Request is missing required authentication credential.", "status": "UNAUTHENTICATED" } })),
        _ => Reply(400, Vec::new(), json!({ "error": google_failure("quotaError", "RESOURCE_EXHAUSTED", "x") })),
    })
    .await;
    let google = google_client(&mock);
    let spec = AdSetSpec {
        targeting: Targeting::default(),
        ..ad_set_spec("customers/123/campaigns/2", None, None)
    };
    match google.create_ad_set(&spec).await.unwrap_err() {
        PlatformError::InvalidRequest { field, message } => {
            assert_eq!(field.as_deref(), Some("operations.create.name"));
            assert!(message.starts_with("fieldError.REQUIRED"), "{message}");
        }
        other => panic!("{other}"),
    }
    // RESOURCE_EXHAUSTED is retried; then the campaign's 401 comes back once, unretried.
    let err = google
        .create_campaign(&campaign_spec(Some(Budget::Daily(units("25")))))
        .await
        .unwrap_err();
    assert!(matches!(err, PlatformError::Auth { .. }), "{err}");
    assert_eq!(mock.calls_to("campaignBudgets:mutate"), 2);
    assert_eq!(mock.calls_to("campaigns:mutate"), 1);
    // A quotaError detail: retried to the bound, then RateLimited.
    let err = google.upload_image("hero.png", IMAGE).await.unwrap_err();
    assert_eq!(err, PlatformError::RateLimited { retry_after: None });
    assert_eq!(mock.calls_to("assets:mutate"), 3);
    // Limits are checked before anything is sent.
    let long = google
        .create_creative(&CreativeSpec {
            copy: AdCopy {
                headline: "x".repeat(31),
                ..creative_spec().copy
            },
            ..creative_spec()
        })
        .await
        .unwrap_err();
    assert!(long.to_string().contains("31 characters"), "{long}");
}

#[tokio::test]
async fn google_campaign_without_the_eu_political_field_fails_as_documented() {
    // The mock refuses a campaign without containsEuPoliticalAdvertising with FieldError.REQUIRED;
    // the client always sets it, so the deployment test passes; here the mapping of that answer.
    let mock = serve(|_: &Seen, _, _: &mut Vec<String>| {
        Reply(400, Vec::new(), json!({ "error": google_failure("fieldError", "REQUIRED", "contains_eu_political_advertising") }))
    })
    .await;
    let err = google_client(&mock)
        .create_campaign(&campaign_spec(Some(Budget::Daily(units("25")))))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PlatformError::InvalidRequest {
            field: Some("operations.create.contains_eu_political_advertising".into()),
            message: "fieldError.REQUIRED: The required field was not present.".into()
        }
    );
    assert_eq!(mock.paths().len(), 1);
}

// ---------------------------------------------------------------- TikTok

const TIKTOK: &str = "/open_api/v1.3";

fn tiktok_client(mock: &Mock) -> TikTokClient {
    TikTokClient::new(TikTokConfig {
        base_url: mock.base.clone(),
        api_version: "v1.3".into(),
        advertiser_id: "7001".into(),
        identity_type: "CUSTOMIZED_USER".into(),
        identity_id: "ident-3".into(),
        access_token: Secret::new("tt-token"),
        revenue_metric: Some("total_purchase_value".into()),
        backoff: tiny_backoff(),
        seed: 3,
    })
    .unwrap()
}

fn envelope(data: Value) -> Reply {
    ok(json!({ "code": 0, "message": "OK", "request_id": "rq-1", "data": data }))
}

fn tiktok_error(code: i64) -> Reply {
    ok(
        json!({ "code": code, "message": format!("error {code}"), "request_id": "rq-err", "data": {} }),
    )
}

fn tiktok_platform(seen: &Seen, _n: usize, failed: &mut Vec<String>) -> Reply {
    check(
        failed,
        seen.header("access-token") == "tt-token",
        "Access-Token",
    );
    let body = seen.json();
    let Some(path) = seen.path.strip_prefix(TIKTOK) else {
        failed.push("outside open_api/v1.3".into());
        return tiktok_error(40002);
    };
    let multipart = seen
        .header("content-type")
        .starts_with("multipart/form-data");
    if seen.method == "POST" && !multipart {
        check(failed, body["advertiser_id"] == "7001", "advertiser_id");
    }
    match (seen.method.as_str(), path) {
        ("POST", "/campaign/create/") => {
            check(
                failed,
                body["campaign_name"] == "Spring sale",
                "campaign_name",
            );
            check(
                failed,
                body["objective_type"] == "WEB_CONVERSIONS",
                "objective_type",
            );
            check(
                failed,
                body["budget_mode"] == "BUDGET_MODE_DAY",
                "budget_mode",
            );
            check(
                failed,
                body["budget"].is_f64() && body["budget"] == 50.5,
                "budget as a float of whole units",
            );
            envelope(json!({ "campaign_id": "tc1" }))
        }
        ("POST", "/adgroup/create/") => {
            check(failed, body["campaign_id"] == "tc1", "campaign_id");
            check(
                failed,
                body["location_ids"] == json!(["6252001"]),
                "location_ids",
            );
            check(
                failed,
                body["budget"].is_number() && body["budget"] == 20.0,
                "budget float",
            );
            for key in [
                "adgroup_name",
                "placement_type",
                "schedule_type",
                "schedule_start_time",
                "optimization_goal",
                "billing_event",
                "bid_type",
            ] {
                check(failed, body[key].is_string(), key);
            }
            check(failed, body["placements"].is_array(), "placements");
            envelope(json!({ "adgroup_id": "tg1" }))
        }
        ("POST", "/file/image/ad/upload/") => {
            check(failed, multipart, "multipart");
            check(
                failed,
                seen.part("advertiser_id").as_deref() == Some("7001"),
                "advertiser_id part",
            );
            check(
                failed,
                seen.part("image_signature").as_deref() == Some(IMAGE_MD5),
                "image_signature md5",
            );
            check(
                failed,
                seen.text()
                    .contains("name=\"image_file\"; filename=\"hero.png\""),
                "image_file",
            );
            envelope(json!({ "image_id": "ti1" }))
        }
        ("POST", "/file/video/ad/upload/") => {
            check(failed, multipart, "multipart");
            check(
                failed,
                seen.part("upload_type").as_deref() == Some("UPLOAD_BY_FILE"),
                "upload_type",
            );
            check(
                failed,
                seen.part("video_signature").as_deref() == Some(VIDEO_MD5),
                "video_signature md5",
            );
            check(
                failed,
                seen.text().contains("filename=\"spot.mp4\"") && seen.text().contains("0123456789"),
                "video_file",
            );
            envelope(json!([{ "video_id": "tv1" }]))
        }
        ("POST", "/ad/create/") => {
            check(failed, body["adgroup_id"] == "tg1", "adgroup_id");
            let c = &body["creatives"][0];
            check(
                failed,
                c["ad_format"] == "SINGLE_VIDEO" && c["video_id"] == "tv1",
                "video creative",
            );
            check(failed, c["image_ids"] == json!(["ti1"]), "cover image_ids");
            check(
                failed,
                c["ad_text"] == "Everything 20% off this week",
                "ad_text",
            );
            check(
                failed,
                c["call_to_action"] == "SHOP_NOW" && c["landing_page_url"].is_string(),
                "cta, landing page",
            );
            check(
                failed,
                c["identity_id"] == "ident-3" && c["identity_type"] == "CUSTOMIZED_USER",
                "identity",
            );
            envelope(json!({ "ad_ids": ["ta1"] }))
        }
        ("POST", "/ad/status/update/") => {
            check(
                failed,
                body["ad_ids"] == json!(["ta1"]) && body["operation_status"] == "DISABLE",
                "pause",
            );
            envelope(json!({}))
        }
        ("POST", "/adgroup/update/") => {
            check(
                failed,
                body["adgroup_id"] == "tg1" && body["budget"] == 35.25,
                "budget update float",
            );
            envelope(json!({}))
        }
        ("GET", "/report/integrated/get/") => {
            check(
                failed,
                seen.query("advertiser_id") == Some("7001"),
                "advertiser_id",
            );
            check(
                failed,
                seen.query("report_type") == Some("BASIC"),
                "report_type",
            );
            check(
                failed,
                seen.query("data_level") == Some("AUCTION_AD"),
                "data_level",
            );
            check(
                failed,
                seen.query("dimensions") == Some(r#"["ad_id","stat_time_day"]"#),
                "dimensions",
            );
            check(
                failed,
                seen.query("metrics")
                    .is_some_and(|m| m.contains("\"spend\"") && m.contains("\"conversion\"")),
                "metrics",
            );
            check(
                failed,
                seen.query("start_date") == Some("2026-01-01")
                    && seen.query("end_date") == Some("2026-01-02"),
                "dates",
            );
            let page: u64 = seen.query("page").and_then(|p| p.parse().ok()).unwrap_or(0);
            let date = format!("2026-01-0{page} 00:00:00");
            envelope(json!({
                "list": [{
                    "dimensions": { "ad_id": "ta1", "stat_time_day": date },
                    "metrics": { "spend": "10.50", "impressions": "900", "clicks": "30", "conversion": "4",
                                 "total_purchase_value": "88.00" },
                }],
                "page_info": { "page": page, "page_size": 1000, "total_number": 2, "total_page": 2 },
            }))
        }
        _ => {
            failed.push("unexpected call".into());
            tiktok_error(40002)
        }
    }
}

#[tokio::test]
async fn tiktok_deploys_a_video_ad_from_a_file_and_reads_the_report() {
    let mock = serve(tiktok_platform).await;
    let tiktok = tiktok_client(&mock);
    let campaign = tiktok
        .create_campaign(&campaign_spec(Some(Budget::Daily(units("50.5")))))
        .await
        .unwrap();
    let ad_group = tiktok
        .create_ad_set(&ad_set_spec(
            &campaign,
            Some(Budget::Daily(units("20"))),
            None,
        ))
        .await
        .unwrap();
    let image = tiktok.upload_image("hero.png", IMAGE).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spot.mp4");
    std::fs::write(&path, VIDEO).unwrap();
    let video = tiktok
        .upload_video("spot.mp4", &VideoSource::Path(path))
        .await
        .unwrap();
    let creative = tiktok
        .create_creative(&CreativeSpec {
            image: Some(image),
            video: Some(video),
            ..creative_spec()
        })
        .await
        .unwrap();
    let ad = tiktok
        .create_ad(&AdSpec {
            ad_set_external_id: ad_group.clone(),
            name: "Hero ad".into(),
            creative,
            status: DeliveryStatus::Active,
        })
        .await
        .unwrap();
    assert_eq!(ad, "ta1");
    tiktok.pause(ObjectKind::Ad, &ad).await.unwrap();
    tiktok
        .update_budget(ObjectKind::AdSet, &ad_group, Budget::Daily(units("35.25")))
        .await
        .unwrap();
    let rows = tiktok.fetch_insights(range()).await.unwrap();
    mock.assert_no_failed_checks();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].date, rows[1].date), (day(1), day(2)));
    assert_eq!(
        (rows[0].impressions, rows[0].clicks, rows[0].conversions),
        (900, 30, 4)
    );
    assert_eq!(
        (rows[0].spend, rows[0].revenue),
        (Micros(10_500_000), Micros(88_000_000))
    );
    assert_eq!(mock.calls_to("/report/integrated/get/"), 2);
}

#[tokio::test]
async fn tiktok_envelope_errors_in_http_200_are_retried_or_mapped() {
    let mock = serve(
        |seen: &Seen, n, _: &mut Vec<String>| match seen.path.as_str() {
            "/open_api/v1.3/campaign/create/" if n < 2 => tiktok_error(40100),
            "/open_api/v1.3/campaign/create/" => envelope(json!({ "campaign_id": "tc1" })),
            "/open_api/v1.3/adgroup/create/" if n == 0 => tiktok_error(50000),
            "/open_api/v1.3/adgroup/create/" => envelope(json!({ "adgroup_id": "tg1" })),
            "/open_api/v1.3/ad/status/update/" => tiktok_error(40100),
            "/open_api/v1.3/campaign/status/update/" => tiktok_error(40001),
            _ => tiktok_error(40999),
        },
    )
    .await;
    let tiktok = tiktok_client(&mock);
    assert_eq!(
        tiktok.create_campaign(&campaign_spec(None)).await.unwrap(),
        "tc1"
    );
    assert_eq!(mock.calls_to("/campaign/create/"), 3);
    assert_eq!(
        tiktok
            .create_ad_set(&ad_set_spec("tc1", None, None))
            .await
            .unwrap(),
        "tg1"
    );
    assert_eq!(mock.calls_to("/adgroup/create/"), 2);
    let limited = tiktok.pause(ObjectKind::Ad, "ta1").await.unwrap_err();
    assert_eq!(limited, PlatformError::RateLimited { retry_after: None });
    assert_eq!(mock.calls_to("/ad/status/update/"), 3);
    let auth = tiktok.pause(ObjectKind::Campaign, "tc1").await.unwrap_err();
    assert!(matches!(auth, PlatformError::Auth { .. }), "{auth}");
    assert_eq!(mock.calls_to("/campaign/status/update/"), 1);
    let other = tiktok.resume(ObjectKind::AdSet, "tg1").await.unwrap_err();
    assert_eq!(
        other,
        PlatformError::Platform {
            code: "40999".into(),
            message: "error 40999".into(),
            request_id: Some("rq-err".into())
        }
    );
    assert!(!other.is_retryable());
}

//! Tenant isolation, generated from the server's own OpenAPI document: owner A makes one of
//! everything (campaign with plan and ad set, creatives, a deployment with its ledger, jobs, an
//! asset, an action, a platform connection, an API key, an experiment); then owner B calls every
//! operation of every path that takes an id with A's ids and gets 404, never data; and every
//! listing route shows B none of A's rows. The matrix (route, method, status) is printed for
//! RELIABILITY.md (target/isolation-matrix.json). A path added later without an id mapping here fails the test, so no route
//! escapes the check.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use adforge::store::{ApiKeyRow, now_ms};
use serde_json::{Value, json};

use crate::campaign_loop::{job_result, planned_campaign, square_creatives};
use crate::support::{StoreKind, TestDb, TestServer, send};

const B_KEY: &str = "adf_tenant-b-key-0123456789abcdef";

/// Paths whose parameters are not an owner's ids: webhooks (authenticated by signature, they
/// name a platform, not a row) and an owner's connections to a platform (a listing, checked
/// with the other listings below).
const NOT_OWNED: &[&str] = &["/api/webhooks/", "/api/platforms/{platform}/connections"];

async fn add_owner_b(server: &TestServer) {
    server
        .store
        .ensure_owner("tenant-b", "B", now_ms())
        .await
        .unwrap();
    let key = ApiKeyRow {
        id: "k-tenant-b".into(),
        owner_id: "tenant-b".into(),
        name: "b".into(),
        prefix: "adf_tena".into(),
        is_admin: false,
        created_at: now_ms(),
        revoked_at: None,
    };
    server
        .store
        .insert_api_key(&key, &adforge::auth::hash_key(B_KEY))
        .await
        .unwrap();
}

/// One of everything, owned by A (the admin key's owner); the ids by parameter meaning.
async fn a_owns_everything(server: &TestServer) -> BTreeMap<&'static str, String> {
    let owner = adforge::auth::ADMIN_OWNER_ID;
    let campaign = planned_campaign(server, owner, "sandbox").await;
    let job_id = square_creatives(server, &campaign).await;
    let (_, page) = send(server.get(&format!("/api/creatives?campaign_id={campaign}"))).await;
    let creative = page["creatives"][0]["id"].as_str().unwrap().to_string();
    let asset = page["creatives"][0]["assets"]["meta_feed_square"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, created) = send(server.post(
        "/api/deployments",
        &json!({"campaign_id": campaign, "platform": "sandbox", "approve": true}),
    ))
    .await;
    assert_eq!(status, 202, "{created}");
    job_result(
        server,
        created["job_id"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
    let deployment = created["deployment"]["id"].as_str().unwrap().to_string();
    let action = adforge::store::orchestration::ActionRow {
        id: format!("act-{campaign}"),
        owner_id: owner.into(),
        campaign_id: campaign.clone(),
        run_id: format!("{campaign}-run"),
        kind: "pause_creative".into(),
        params: json!({"platform": "sandbox", "creative_id": creative}),
        reason: "a test".into(),
        status: "proposed".into(),
        result: None,
        created_at: now_ms(),
        decided_at: None,
    };
    server.store.insert_action(&action).await.unwrap();
    let (status, connection) = send(server.post(
        "/api/platforms/meta/connections",
        &json!({"account_id": "77", "currency": "USD", "time_zone": "UTC",
            "access_token": "t", "page_id": "p"}),
    ))
    .await;
    assert!(status == 201 || status == 200, "{connection}");
    let (status, key) = send(server.post("/api/keys", &json!({"name": "a's key"}))).await;
    assert_eq!(status, 201, "{key}");
    let (status, experiment) = send(server.post(
        "/api/analytics/experiments",
        &json!({"campaign_id": campaign, "name": "a's test", "test": {
            "control": {"name": "a", "conversions": 10, "users": 100},
            "variants": [{"name": "b", "conversions": 14, "users": 100}]}}),
    ))
    .await;
    assert_eq!(status, 201, "{experiment}");
    BTreeMap::from([
        ("campaign", campaign),
        ("creative", creative),
        ("deployment", deployment),
        ("job", job_id),
        ("asset", asset),
        ("action", action.id),
        ("connection", connection["id"].as_str().unwrap().to_string()),
        ("key", key["id"].as_str().unwrap().to_string()),
    ])
}

/// The concrete path of `template` with A's ids, or `None` when no mapping exists.
fn fill(template: &str, ids: &BTreeMap<&'static str, String>) -> Option<String> {
    let resource = |segment: &str| match segment {
        "campaigns" => Some("campaign"),
        "creatives" => Some("creative"),
        "deployments" => Some("deployment"),
        "jobs" | "videos" | "mmm" => Some("job"),
        "assets" => Some("asset"),
        "actions" => Some("action"),
        "keys" => Some("key"),
        "connections" => Some("connection"),
        _ => None,
    };
    let segments: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let mut out = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        if !(segment.starts_with('{') && segment.ends_with('}')) {
            out.push(segment.to_string());
            continue;
        }
        let value = match *segment {
            "{platform}" => "meta".to_string(),
            "{file}" => "lift.svg".to_string(),
            "{campaign_id}" => ids["campaign"].clone(),
            _ => ids.get(resource(segments[i.checked_sub(1)?])?)?.clone(),
        };
        out.push(value);
    }
    Some(format!("/{}", out.join("/")))
}

/// What a (possibly endless) response body sends within `limit`.
async fn read_for(response: reqwest::Response, limit: Duration) -> String {
    use futures::StreamExt;
    let mut text = String::new();
    let mut stream = response.bytes_stream();
    let deadline = tokio::time::Instant::now() + limit;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, stream.next()).await {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

/// A body that passes the route's own validation, so the answer is about the id.
fn body_for(method: &reqwest::Method, path: &str) -> Value {
    if method == reqwest::Method::PATCH {
        json!({"name": "taken over"})
    } else if path.ends_with("/sync") {
        json!({"days": 1})
    } else if path.ends_with("/policy") {
        json!({"auto_apply": true})
    } else if path.ends_with("/experiment") {
        json!({"platform": "sandbox"})
    } else if path.ends_with("/allocate") {
        json!({"total_budget": 100.0})
    } else if path.ends_with("/sandbox/rates") {
        json!({"creative_id": "c", "conversion_rate_factor": 0.5})
    } else {
        json!({})
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_owner_gets_404_on_every_route_with_an_id() {
    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
        db.store.clone(),
    ));
    let server = TestServer::start(db.store.clone(), queue).await;
    add_owner_b(&server).await;
    let ids = a_owns_everything(&server).await;
    let doc = serde_json::to_value(adforge::api::openapi_json()).unwrap();
    let mut matrix: BTreeMap<String, u16> = BTreeMap::new();
    let mut unmapped = Vec::new();
    for (template, operations) in doc["paths"].as_object().unwrap() {
        let listing = template == "/api/platforms/{platform}/connections";
        if !template.contains('{')
            || (NOT_OWNED.iter().any(|p| template.starts_with(p)) && !template.ends_with("{id}"))
            || listing
        {
            continue;
        }
        let Some(path) = fill(template, &ids) else {
            unmapped.push(template.clone());
            continue;
        };
        for method in operations.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut request = server
                .client
                .request(method.clone(), server.url(&path))
                .bearer_auth(B_KEY)
                .header("if-match", "\"1\"");
            if matches!(
                method,
                reqwest::Method::POST | reqwest::Method::PUT | reqwest::Method::PATCH
            ) {
                request = request.json(&body_for(&method, &path));
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            for id in ids.values() {
                assert!(
                    status == 404 || !text.contains(id.as_str()),
                    "{method} {template} as owner B leaked A's id {id}: {text}"
                );
            }
            matrix.insert(format!("{method} {template}"), status);
        }
    }
    assert!(
        unmapped.is_empty(),
        "paths without an id mapping in this test: {unmapped:?}"
    );
    let refused: Vec<_> = matrix.iter().filter(|(_, s)| **s != 404).collect();
    // The matrix for RELIABILITY.md.
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/isolation-matrix.json");
    let _ = std::fs::write(&out, serde_json::to_string_pretty(&matrix).unwrap());
    assert!(refused.is_empty(), "owner B did not get 404: {refused:#?}");
    assert!(
        matrix.len() >= 30,
        "every id route was called: {}",
        matrix.len()
    );

    // Lists: B sees none of A's rows on any listing route of the document.
    for (template, operations) in doc["paths"].as_object().unwrap() {
        if template.contains('{')
            || !template.starts_with("/api/")
            || operations.get("get").is_none()
        {
            continue;
        }
        let streams = operations["get"]["responses"]["200"]["content"]
            .get("text/event-stream")
            .is_some();
        let (status, text) = if streams {
            // An event stream never ends: replay B's whole window (`after=0`) and read what
            // arrives in a bounded time.
            let response = server
                .client
                .get(server.url(&format!("{template}?after=0")))
                .bearer_auth(B_KEY)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, read_for(response, Duration::from_secs(2)).await)
        } else {
            let (status, body) =
                send(server.client.get(server.url(template)).bearer_auth(B_KEY)).await;
            (status, body.to_string())
        };
        for id in ids.values() {
            assert!(
                !text.contains(id.as_str()),
                "GET {template} ({status}) shows B A's id {id}"
            );
        }
    }
    // A's rows are all still there, unchanged by B's attempts.
    let (status, campaign) = send(server.get(&format!("/api/campaigns/{}", ids["campaign"]))).await;
    assert_eq!(status, 200);
    assert_eq!(campaign["name"], "Cold brew");
    let (_, action) =
        send(server.get(&format!("/api/campaigns/{}/actions", ids["campaign"]))).await;
    assert_eq!(action["actions"][0]["status"], "proposed", "{action}");
    server.stop().await;
}

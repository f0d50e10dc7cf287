//! The HTTP API over a real socket: operations endpoints, auth, bad input, the job routes and
//! their event stream, and recovery when the database or Redis goes away.

use std::sync::Arc;
use std::time::Duration;

use adforge::jobs::embedded::EmbeddedQueue;
use adforge::store::{ApiKeyRow, JobState, now_ms};
use serde_json::{Value, json};

use crate::support::{
    OwnPostgres, OwnRedis, StoreKind, TEST_MAX_BODY, TestDb, TestServer, connect, fast_settings,
    fresh_postgres_database, redis_queue, send, sse_blocks, unique_stream, wait_for,
};

async fn sqlite_server() -> (TestDb, TestServer) {
    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = Arc::new(EmbeddedQueue::new(db.store.clone()));
    let server = TestServer::start(db.store.clone(), queue).await;
    (db, server)
}

async fn wait_job_state(server: &TestServer, id: &str, state: &str) -> Value {
    wait_for(
        Duration::from_secs(20),
        &format!("job {id} {state}"),
        || async {
            let (status, job) = send(server.get(&format!("/api/jobs/{id}"))).await;
            (status == 200 && job["state"] == state).then_some(job)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_endpoints_report_health_readiness_metrics_and_openapi() {
    let (_db, server) = sqlite_server().await;
    let response = server
        .client
        .get(server.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().contains_key("x-request-id"),
        "request ids are returned"
    );
    let (status, ready) = send(server.client.get(server.url("/ready"))).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["store"]["backend"], "sqlite");
    assert_eq!(ready["queue"]["backend"], "embedded");
    assert_eq!(ready["device"]["compute"], "cpu");
    let names: Vec<&str> = ready["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for model in [
        "smollm2-135m-instruct",
        "all-minilm-l6-v2",
        "esrgan-slim",
        "rife-3.9",
    ] {
        assert!(names.contains(&model), "{model} listed in /ready");
    }
    send(server.post(
        "/api/jobs",
        &json!({"kind": "test.double", "payload": {"n": 1}}),
    ))
    .await;
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"adforge_http_requests_total{method="GET",route="/health",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains(
        r#"adforge_http_requests_total{method="POST",route="/api/jobs",status="202"} 1"#
    ));
    assert!(
        metrics.contains(
            "adforge_http_request_duration_seconds_bucket{method=\"GET\",route=\"/ready\""
        )
    );
    assert!(
        metrics.contains("adforge_jobs{state=\"succeeded\"}")
            && metrics.contains("adforge_queue_depth{backend=\"embedded\"")
    );
    let (status, doc) = send(server.client.get(server.url("/openapi.json"))).await;
    assert_eq!(status, 200);
    for path in [
        "/health",
        "/ready",
        "/metrics",
        "/api/jobs",
        "/api/jobs/{id}",
        "/api/jobs/{id}/events",
    ] {
        assert!(doc["paths"].get(path).is_some(), "openapi documents {path}");
    }
    assert!(doc["components"]["schemas"].get("SubmitJob").is_some());
    let (status, body) = send(server.client.get(server.url("/nope"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = send(server.client.put(server.url("/health"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_routes_need_a_valid_key_and_owners_are_isolated() {
    let (db, server) = sqlite_server().await;
    let (status, body) = send(server.client.get(server.url("/api/jobs"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = send(
        server
            .client
            .get(server.url("/api/jobs"))
            .bearer_auth("adf_wrong"),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = send(
        server
            .client
            .get(server.url("/api/jobs"))
            .header("x-api-key", &server.admin_key),
    )
    .await;
    assert_eq!(status, 200);
    // A second, non-admin owner.
    db.store
        .ensure_owner("acme", "Acme", now_ms())
        .await
        .unwrap();
    let other_key = "adf_acme-key-aaaaaaaaaaaaaaaaaaaaaaaa";
    let row = ApiKeyRow {
        id: "k-acme".into(),
        owner_id: "acme".into(),
        name: "acme".into(),
        prefix: "adf_acme".into(),
        is_admin: false,
        created_at: now_ms(),
        revoked_at: None,
    };
    db.store
        .insert_api_key(&row, &adforge::auth::hash_key(other_key))
        .await
        .unwrap();
    let (status, job) = send(server.post(
        "/api/jobs",
        &json!({"kind": "test.double", "payload": {"n": 2}}),
    ))
    .await;
    assert_eq!(status, 202);
    let id = job["id"].as_str().unwrap();
    let as_other = |req: reqwest::RequestBuilder| req.bearer_auth(other_key);
    let (status, _) = send(as_other(
        server.client.get(server.url(&format!("/api/jobs/{id}"))),
    ))
    .await;
    assert_eq!(status, 404, "another owner's job is invisible");
    let (status, _) = send(as_other(
        server.client.delete(server.url(&format!("/api/jobs/{id}"))),
    ))
    .await;
    assert_eq!(status, 404);
    let (_, page) = send(as_other(server.client.get(server.url("/api/jobs")))).await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 0);
    // Admin-only kinds are refused to other keys.
    let pull = json!({"kind": "model.pull", "payload": {"model": "esrgan-slim"}});
    let (status, body) = send(as_other(
        server.client.post(server.url("/api/jobs")).json(&pull),
    ))
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_4xx_that_names_the_field_and_the_limit() {
    let (_db, server) = sqlite_server().await;
    let raw = |body: &str| {
        server
            .client
            .post(server.url("/api/jobs"))
            .bearer_auth(&server.admin_key)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let body_limit = format!("limit of {TEST_MAX_BODY} bytes");
    let cases: Vec<(reqwest::RequestBuilder, u16, &str, &str)> = vec![
        (raw("{\"kind\": "), 400, "malformed_json", "not valid JSON"),
        (
            raw(r#"{"kind":"test.double","payload":{"n":1},"colour":"red"}"#),
            400,
            "unknown_field",
            "colour",
        ),
        (
            raw(r#"{"kind":"test.double","payload":{"n":1},"priority":"high"}"#),
            400,
            "invalid_field",
            "priority",
        ),
        (raw(r#"{"payload":{"n":1}}"#), 400, "invalid_field", "kind"),
        (
            raw(r#"{"kind":"test.double","payload":[1]}"#),
            400,
            "invalid_field",
            "payload: must be a JSON object",
        ),
        (
            raw(r#"{"kind":"render.everything","payload":{}}"#),
            400,
            "unknown_job_kind",
            "expected one of",
        ),
        (
            raw(r#"{"kind":"test.double","payload":{}}"#),
            400,
            "invalid_payload",
            "payload.n",
        ),
        (
            raw(r#"{"kind":"test.double","payload":{"n":1},"priority":1000}"#),
            400,
            "invalid_request",
            "-100..=100",
        ),
        (
            raw(r#"{"kind":"test.double","payload":{"n":1},"max_attempts":99}"#),
            400,
            "invalid_request",
            "max_attempts: 99 is outside 1..=3",
        ),
        (
            raw(&format!(
                r#"{{"kind":"test.double","payload":{{"n":1}},"idempotency_key":"{}"}}"#,
                "k".repeat(300)
            )),
            400,
            "invalid_request",
            "1 to 255",
        ),
        (
            raw(&format!(
                r#"{{"kind":"test.double","payload":{{"n":1,"pad":"{}"}}}}"#,
                "x".repeat(5000)
            )),
            400,
            "payload_too_large",
            "limit of 4096 bytes",
        ),
        (
            raw(&format!(
                r#"{{"kind":"test.double","payload":{{"pad":"{}"}}}}"#,
                "x".repeat(TEST_MAX_BODY * 2)
            )),
            413,
            "payload_too_large",
            &body_limit,
        ),
        (
            server
                .client
                .post(server.url("/api/jobs"))
                .bearer_auth(&server.admin_key)
                .body("{}"),
            415,
            "unsupported_media_type",
            "application/json",
        ),
        (
            server.get("/api/jobs?state=done"),
            400,
            "invalid_request",
            "state: unknown job state \"done\"",
        ),
        (
            server.get("/api/jobs?limit=0"),
            400,
            "invalid_request",
            "limit: 0 is outside 1..=200",
        ),
        (
            server.get("/api/jobs?limit=lots"),
            400,
            "invalid_query",
            "limit",
        ),
        (
            server.get("/api/jobs?cursor=xyz"),
            400,
            "invalid_request",
            "cursor",
        ),
        (
            server.get("/api/jobs/0000-no-such-job"),
            404,
            "not_found",
            "no job with id",
        ),
        (
            server.delete("/api/jobs/0000-no-such-job"),
            404,
            "not_found",
            "no job with id",
        ),
        (
            server.get("/api/jobs/0000-no-such-job/events"),
            404,
            "not_found",
            "no job with id",
        ),
    ];
    for (request, status, code, needle) in cases {
        let (got_status, body) = send(request).await;
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(
            (got_status, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(
            message.contains(needle),
            "message {message:?} should mention {needle:?}"
        );
    }
    // Cancelling a finished job is a conflict; the job is untouched.
    let (_, job) = send(server.post(
        "/api/jobs",
        &json!({"kind": "test.double", "payload": {"n": 4}}),
    ))
    .await;
    let id = job["id"].as_str().unwrap().to_string();
    let done = wait_job_state(&server, &id, "succeeded").await;
    let (status, body) = send(server.delete(&format!("/api/jobs/{id}"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("job_finished")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already succeeded")
    );
    let (_, after) = send(server.get(&format!("/api/jobs/{id}"))).await;
    assert_eq!(after, done);
    // The server is still up.
    assert_eq!(send(server.client.get(server.url("/health"))).await.0, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_persisted_before_202_and_run_with_idempotency() {
    let (db, server) = sqlite_server().await;
    let body = json!({"kind": "test.double", "payload": {"n": 21}, "idempotency_key": "order-1"});
    let response = server.post("/api/jobs", &body).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let job: Value = response.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/jobs/{id}"));
    // The row was committed before the answer came back: a fresh connection sees it.
    let other_pool = db.reopen().await;
    assert!(other_pool.get_job(None, &id).await.unwrap().is_some());
    let done = wait_job_state(&server, &id, "succeeded").await;
    assert_eq!(done["result"], json!({"doubled": 42}));
    assert_eq!(done["progress"], 1.0);
    // Same key, same body: the same job, marked as replayed. Same key, other body: 409.
    let replay = server.post("/api/jobs", &body).send().await.unwrap();
    assert_eq!(replay.headers()["idempotency-replayed"], "true");
    let replayed: Value = replay.json().await.unwrap();
    assert_eq!(replayed["id"], job["id"]);
    let changed =
        json!({"kind": "test.double", "payload": {"n": 22}, "idempotency_key": "order-1"});
    let (status, err) = send(server.post("/api/jobs", &changed)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("idempotency_key_reused"))
    );
    let via_header = server
        .post(
            "/api/jobs",
            &json!({"kind": "test.double", "payload": {"n": 21}}),
        )
        .header("idempotency-key", "order-1")
        .send()
        .await
        .unwrap();
    assert_eq!(via_header.json::<Value>().await.unwrap()["id"], job["id"]);
    let (_, page) = send(server.get("/api/jobs?state=succeeded&kind=test.double&limit=1")).await;
    assert_eq!(page["jobs"][0]["id"], job["id"]);
    server.stop().await;
}

/// Reads server-sent events until the stream ends: (id, event, data) triples.
async fn read_events(response: reqwest::Response) -> Vec<(i64, String, Value)> {
    let mut events = Vec::new();
    for block in sse_blocks(response).await {
        let (mut id, mut event, mut data) = (None, String::new(), None);
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data = serde_json::from_str(v.trim()).ok();
            }
        }
        if let (Some(id), Some(data)) = (id, data) {
            events.push((id, event, data));
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_reports_progress_and_resumes_after_last_event_id() {
    let (_db, server) = sqlite_server().await;
    let (_, job) = send(server.post(
        "/api/jobs",
        &json!({"kind": "test.steps", "payload": {"steps": 4, "step_ms": 30}}),
    ))
    .await;
    let id = job["id"].as_str().unwrap().to_string();
    let response = server
        .get(&format!("/api/jobs/{id}/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = read_events(response).await;
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0), "ids increase");
    let states: Vec<&str> = events
        .iter()
        .map(|e| e.2["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.first(), Some(&"queued"));
    assert_eq!(states.last(), Some(&"succeeded"));
    let progress: Vec<f64> = events
        .iter()
        .filter(|e| e.1 == "progress")
        .map(|e| e.2["progress"].as_f64().unwrap())
        .collect();
    assert_eq!(progress, vec![0.25, 0.5, 0.75, 1.0]);
    // Reconnecting after the third event replays exactly the rest.
    let resume_after = events[2].0;
    let response = server
        .get(&format!("/api/jobs/{id}/events"))
        .header("last-event-id", resume_after.to_string())
        .send()
        .await
        .unwrap();
    let rest = read_events(response).await;
    assert_eq!(
        rest.iter().map(|e| e.0).collect::<Vec<_>>(),
        events[3..].iter().map(|e| e.0).collect::<Vec<_>>()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_gives_503_then_recovers_without_losing_jobs() {
    let db = TestDb::new(StoreKind::Sqlite).await;
    let redis = OwnRedis::start();
    let queue = Arc::new(redis_queue(&redis.url(), &unique_stream(), &fast_settings()).await);
    let server = TestServer::start(db.store.clone(), queue).await;
    let (status, before) = send(server.post(
        "/api/jobs",
        &json!({"kind": "test.steps", "payload": {"steps": 30, "step_ms": 100}}),
    ))
    .await;
    assert_eq!(status, 202);
    let before_id = before["id"].as_str().unwrap().to_string();
    wait_job_state(&server, &before_id, "running").await;
    redis.stop();
    let response = server
        .client
        .get(server.url("/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let ready: Value = response.json().await.unwrap();
    assert_eq!(
        (
            ready["store"]["ok"].as_bool(),
            ready["queue"]["ok"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let response = server
        .post(
            "/api/jobs",
            &json!({"kind": "test.double", "payload": {"n": 1}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let err: Value = response.json().await.unwrap();
    assert_eq!(err["error"]["code"], "unavailable");
    // Redis comes back (its append-only file restores the stream): no restart of adforge.
    redis.start_again();
    wait_for(Duration::from_secs(20), "ready again", || async {
        (server
            .client
            .get(server.url("/ready"))
            .send()
            .await
            .unwrap()
            .status()
            == 200)
            .then_some(())
    })
    .await;
    let (status, after) = send(server.post(
        "/api/jobs",
        &json!({"kind": "test.double", "payload": {"n": 5}}),
    ))
    .await;
    assert_eq!(status, 202);
    let after = wait_job_state(&server, after["id"].as_str().unwrap(), "succeeded").await;
    assert_eq!(after["result"], json!({"doubled": 10}));
    let before = wait_job_state(&server, &before_id, "succeeded").await;
    assert_eq!(
        before["result"],
        json!({"steps": 30}),
        "the job accepted before the outage finished"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_gives_503_then_recovers_without_losing_jobs() {
    let pg = OwnPostgres::start();
    let url = fresh_postgres_database(&pg.url()).await;
    let store = connect(&url).await;
    let queue = Arc::new(EmbeddedQueue::new(store.clone()));
    let server = TestServer::start(store.clone(), queue).await;
    let (status, accepted) = send(server.post(
        "/api/jobs",
        &json!({"kind": "test.double", "payload": {"n": 3}}),
    ))
    .await;
    assert_eq!(status, 202);
    let accepted_id = accepted["id"].as_str().unwrap().to_string();
    pg.stop();
    let response = server
        .client
        .get(server.url("/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let (status, err) = send(server.post(
        "/api/jobs",
        &json!({"kind": "test.double", "payload": {"n": 1}}),
    ))
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{err}"
    );
    let (status, _) = send(server.get(&format!("/api/jobs/{accepted_id}"))).await;
    assert_eq!(status, 503);
    pg.start_again();
    wait_for(Duration::from_secs(30), "ready again", || async {
        (server
            .client
            .get(server.url("/ready"))
            .send()
            .await
            .unwrap()
            .status()
            == 200)
            .then_some(())
    })
    .await;
    let done = wait_job_state(&server, &accepted_id, "succeeded").await;
    assert_eq!(done["result"], json!({"doubled": 6}));
    let (status, _) = send(server.post(
        "/api/jobs",
        &json!({"kind": "test.double", "payload": {"n": 2}}),
    ))
    .await;
    assert_eq!(status, 202);
    let rows = server.store.count_jobs_by_state().await.unwrap();
    let total: i64 = rows.iter().map(|c| c.count).sum();
    assert_eq!(total, 2);
    assert!(
        rows.iter()
            .all(|c| c.state != JobState::Failed || c.count == 0)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_upload_is_checked_whole_then_accepted() {
    let (db, server) = sqlite_server().await;
    let post = |body: String| {
        server
            .client
            .post(server.url("/api/jobs/batch"))
            .bearer_auth(&server.admin_key)
            .header("content-type", "application/x-ndjson")
            .body(body)
    };
    let bad = [
        r#"{"kind":"test.double","payload":{"n":1},"idempotency_key":"b-1"}"#,
        "",
        r#"{"kind":"test.double","payload":{"n":"two"}}"#,
    ]
    .join("\n");
    let (status, err) = send(post(bad)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("invalid_payload")),
        "{err}"
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 3: payload.n")
    );
    let (status, err) = send(post("{\"kind\": \"test.double\"\n".into())).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("malformed_json"))
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 1:")
    );
    let (status, err) = send(post(
        r#"{"kind":"test.double","payload":{"n":1},"when":"now"}"#.into(),
    ))
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("invalid_field"))
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `when`")
    );
    let (status, err) = send(post(
        r#"{"kind":"test.double","payload":{"n":1}}"#.repeat(0) + &"\n".repeat(3),
    ))
    .await;
    assert_eq!(status, 400);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 to 1000")
    );
    assert!(
        db.store
            .list_jobs("admin", &Default::default())
            .await
            .is_ok()
    );
    assert_eq!(
        db.store
            .count_jobs_by_state()
            .await
            .unwrap()
            .iter()
            .map(|c| c.count)
            .sum::<i64>(),
        0,
        "a refused batch stores nothing"
    );
    let good: String = (1..=5)
        .map(|n| format!("{{\"kind\":\"test.double\",\"payload\":{{\"n\":{n}}},\"idempotency_key\":\"b-{n}\"}}\n"))
        .collect();
    let (status, accepted) = send(post(good.clone())).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(
        (
            accepted["jobs"].as_array().unwrap().len(),
            accepted["replayed"].as_u64()
        ),
        (5, Some(0))
    );
    for (n, job) in accepted["jobs"].as_array().unwrap().iter().enumerate() {
        let done = wait_job_state(&server, job["id"].as_str().unwrap(), "succeeded").await;
        assert_eq!(done["result"], json!({"doubled": 2 * (n as i64 + 1)}));
    }
    // Re-sending the same batch creates nothing new.
    let (_, again) = send(post(good)).await;
    assert_eq!(again["replayed"], 5);
    assert_eq!(again["jobs"][0]["id"], accepted["jobs"][0]["id"]);
    server.stop().await;
}

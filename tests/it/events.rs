//! `/api/events` and `/api/webhooks/*` on SQLite and PostgreSQL: events reach the owner's streams
//! in id order, a reconnect with Last-Event-ID gets exactly what it missed and then live events,
//! other owners see nothing, a lagging subscriber recovers from the store, the window is pruned
//! and streams per owner are bounded; on PostgreSQL an event published through another pool (as
//! a separate worker would) reaches the server's streams once. Webhooks: Meta's handshake, signed
//! deliveries resolved to owners through the deployments' ledger, forged ones refused leaving no
//! row and no event; TikTok signatures and their freshness; Google's bearer token.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use adforge::events::{EventBus, EventError, EventSettings};
use adforge::store::{ApiKeyRow, StoreError, now_ms};
use adforge_input::webhook::{meta_signature, tiktok_signature};
use base64::Engine;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};

use crate::support::{StoreKind, TEST_WEBHOOK_SECRETS, TestDb, TestServer, expect_error, send};

on_both_stores!(
    events_stream_in_order_resume_and_stay_with_their_owner,
    subscriptions_survive_lag_and_the_window_is_bounded,
    webhooks_are_verified_resolved_and_recorded,
);

/// How long a test waits for an event before it fails (a guard, not a measurement).
const WAIT: Duration = Duration::from_secs(30);
const ACME_KEY: &str = "adf_acme-events-key-aaaaaaaaaaaaaaaa";

/// One parsed server-sent event.
#[derive(Debug, Clone, PartialEq)]
struct Sse {
    id: i64,
    kind: String,
    data: Value,
}

/// Reads a server-sent event stream block by block, skipping keep-alive comments.
struct SseReader {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>,
    buffer: String,
}

impl SseReader {
    async fn open(request: reqwest::RequestBuilder) -> Self {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Self {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    async fn next(&mut self) -> Sse {
        tokio::time::timeout(WAIT, self.next_inner())
            .await
            .expect("no event arrived")
    }

    async fn next_inner(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut kind, mut data) = (None, "message".to_string(), String::new());
                for line in block.lines() {
                    let Some((field, value)) = line.split_once(':') else {
                        continue;
                    };
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "id" => id = Some(value.parse().unwrap()),
                        "event" => kind = value.to_string(),
                        "data" => data.push_str(value),
                        _ => {}
                    }
                }
                if let Some(id) = id {
                    let data = serde_json::from_str(&data).unwrap();
                    return Sse { id, kind, data };
                }
                continue;
            }
            let chunk = self.body.next().await.expect("the stream ended").unwrap();
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// A second owner, `acme`, with its own API key.
async fn add_acme(server: &TestServer) {
    let store = &server.store;
    store.ensure_owner("acme", "Acme", now_ms()).await.unwrap();
    let key = ApiKeyRow {
        id: "k-acme-events".into(),
        owner_id: "acme".into(),
        name: "acme".into(),
        prefix: "adf_acme".into(),
        is_admin: false,
        created_at: now_ms(),
        revoked_at: None,
    };
    store
        .insert_api_key(&key, &adforge::auth::hash_key(ACME_KEY))
        .await
        .unwrap();
}

fn as_acme(server: &TestServer, path: &str) -> reqwest::RequestBuilder {
    server.client.get(server.url(path)).bearer_auth(ACME_KEY)
}

async fn start(db: &TestDb) -> TestServer {
    let queue = Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
        db.store.clone(),
    ));
    let server = TestServer::start(db.store.clone(), queue).await;
    add_acme(&server).await;
    server
}

async fn events_stream_in_order_resume_and_stay_with_their_owner(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    let server = start(&db).await;
    let mut admin = SseReader::open(server.get("/api/events")).await;
    let mut acme = SseReader::open(as_acme(&server, "/api/events")).await;

    // Three events: the stream gets them in order, with their ids.
    let mut ids = Vec::new();
    for n in 0..3 {
        let kind = if n == 1 {
            "metrics.synced"
        } else {
            "deployment.updated"
        };
        ids.push(
            server
                .events
                .publish("admin", kind, json!({"n": n}))
                .await
                .unwrap(),
        );
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for (n, id) in ids.iter().enumerate() {
        let event = admin.next().await;
        assert_eq!((event.id, event.data["n"].as_i64()), (*id, Some(n as i64)));
    }

    // Another owner's stream got none of them: its first event is its own.
    let own = server
        .events
        .publish("acme", "deployment.updated", json!({"acme": true}))
        .await
        .unwrap();
    let first = acme.next().await;
    assert_eq!((first.id, first.data["acme"].as_bool()), (own, Some(true)));

    // Reconnect after the first: exactly the other two (not acme's), then a live one.
    let mut resumed = SseReader::open(
        server
            .get("/api/events")
            .header("last-event-id", ids[0].to_string()),
    )
    .await;
    let replayed = [resumed.next().await, resumed.next().await];
    assert_eq!([replayed[0].id, replayed[1].id], [ids[1], ids[2]]);
    assert_eq!(replayed[0].kind, "metrics.synced");
    let live = server
        .events
        .publish("admin", "action.proposed", json!({"n": 3}))
        .await
        .unwrap();
    let next = resumed.next().await;
    assert_eq!((next.id, next.kind.as_str()), (live, "action.proposed"));

    // ?after= replays too, and ?kinds= filters.
    let mut filtered =
        SseReader::open(server.get("/api/events?after=0&kinds=metrics.synced,action.proposed"))
            .await;
    assert_eq!(filtered.next().await.id, ids[1]);
    assert_eq!(filtered.next().await.id, live);

    // Bad resume points and filters name the field.
    expect_error(
        server
            .get("/api/events")
            .header("last-event-id", "yesterday"),
        400,
        "Last-Event-ID",
    )
    .await;
    expect_error(server.get("/api/events?after=-4"), 400, "after").await;
    expect_error(server.get("/api/events?kinds=,"), 400, "kinds").await;
    expect_error(server.client.get(server.url("/api/events")), 401, "API key").await;

    // At most 16 open streams per owner: the 17th is refused (acme's first is still open).
    let mut open = Vec::new();
    for _ in 0..16 - 1 {
        open.push(SseReader::open(as_acme(&server, "/api/events")).await);
    }
    expect_error(
        as_acme(&server, "/api/events"),
        429,
        "16 open event streams",
    )
    .await;
    drop(open);

    if kind == StoreKind::Postgres {
        // Another process (its own pool and bus) publishes: the server's stream gets it, once.
        let worker = EventBus::new(db.reopen().await);
        let remote = worker
            .publish("admin", "metrics.synced", json!({"from": "worker"}))
            .await
            .unwrap();
        let got = admin.next().await;
        assert!(got.id > ids[2]);
        let got = if got.id == live {
            admin.next().await
        } else {
            got
        };
        assert_eq!(
            (got.id, got.data["from"].as_str()),
            (remote, Some("worker"))
        );
        let after = server
            .events
            .publish("admin", "metrics.synced", json!({"n": 5}))
            .await
            .unwrap();
        assert_eq!(admin.next().await.id, after, "the remote event came once");

        // The listener's connection is cut: it reconnects and catches up on what it missed.
        // Only this test's database: other tests' servers listen on the same PostgreSQL.
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db.url)
            .await
            .unwrap();
        let cut = sqlx::query(
            "SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity \
             WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid() \
             AND datname = current_database()",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(cut.len(), 1, "one listener connection");
        let missed = worker
            .publish("admin", "metrics.synced", json!({"n": 6}))
            .await
            .unwrap();
        assert_eq!(admin.next().await.id, missed);
    }
    server.stop().await;
}

async fn subscriptions_survive_lag_and_the_window_is_bounded(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    db.store
        .ensure_owner("admin", "admin", now_ms())
        .await
        .unwrap();

    // A subscriber that falls behind the broadcast buffer resumes from the store: no gaps.
    let bus = EventBus::new(db.store.clone());
    let mut subscription = bus.subscribe_from("admin", None).await.unwrap();
    let total = adforge::events::CHANNEL_CAPACITY as i64 + 20;
    let mut published = Vec::new();
    for n in 0..total {
        published.push(bus.publish("admin", "tick", json!({"n": n})).await.unwrap());
    }
    let mut received = Vec::new();
    while received.len() < published.len() {
        let event = tokio::time::timeout(WAIT, subscription.next())
            .await
            .expect("events stopped arriving")
            .unwrap();
        received.push(event.id);
    }
    assert_eq!(received, published);

    // The window: the newest `max_per_owner` per owner; replay starts inside it.
    let small = EventBus::with_settings(
        db.store.clone(),
        EventSettings {
            max_per_owner: 3,
            max_streams_per_owner: 2,
            ..EventSettings::default()
        },
    );
    let removed = small.prune().await.unwrap();
    assert_eq!(removed, total as u64 - 3);
    let mut replay = small.subscribe_from("admin", Some(0)).await.unwrap();
    let mut kept = Vec::new();
    for _ in 0..3 {
        kept.push(replay.next().await.unwrap().id);
    }
    assert_eq!(kept, published[published.len() - 3..]);
    assert_eq!(small.prune().await.unwrap(), 0);

    // Streams per owner are bounded, and a closed one frees its place.
    let second = small.subscribe_from("admin", None).await.unwrap();
    assert!(matches!(
        small.subscribe_from("admin", None).await,
        Err(EventError::TooManyStreams { limit: 2 })
    ));
    assert_eq!(small.open_streams("admin"), 2);
    drop(second);
    assert!(small.subscribe_from("admin", None).await.is_ok());

    // Publishing for an owner that does not exist fails and stores nothing.
    let newest = db.store.max_event_id().await.unwrap();
    assert!(matches!(
        bus.publish("nobody", "tick", json!({})).await,
        Err(StoreError::Query(_))
    ));
    assert_eq!(db.store.max_event_id().await.unwrap(), newest);
}

/// A campaign of `acme` deployed to `platform` whose `kind` object has `external_id`.
async fn deployed(db: &TestDb, platform: &str, kind: &str, external_id: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    let now = now_ms();
    let campaign = format!("cmp-{platform}");
    let deployment = format!("dep-{platform}");
    sqlx::query(
        "INSERT INTO campaigns (id, owner_id, name, objective, status, currency, \
         daily_budget_micros, start_date, platforms, version, created_at, updated_at) \
         VALUES ($1, 'acme', 'Spring', 'sales', 'active', 'USD', 50000000, '2026-12-01', $2, 1, $3, $3)",
    )
    .bind(&campaign)
    .bind(json!([platform]).to_string())
    .bind(now)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO deployments (id, owner_id, campaign_id, platform, status, version, \
         created_at, updated_at) VALUES ($1, 'acme', $2, $3, 'deployed', 1, $4, $4)",
    )
    .bind(&deployment)
    .bind(&campaign)
    .bind(platform)
    .bind(now)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO deployment_objects (deployment_id, owner_id, platform, kind, local_id, \
         external_id, created_at) VALUES ($1, 'acme', $2, $3, 'local-1', $4, $5)",
    )
    .bind(&deployment)
    .bind(platform)
    .bind(kind)
    .bind(external_id)
    .bind(now)
    .execute(&mut conn)
    .await
    .unwrap();
}

fn signed_meta(
    server: &TestServer,
    body: &str,
    signature: Option<String>,
) -> reqwest::RequestBuilder {
    let mut request = server
        .client
        .post(server.url("/api/webhooks/meta"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    request
}

fn tiktok(server: &TestServer, body: &str, header: String) -> reqwest::RequestBuilder {
    server
        .client
        .post(server.url("/api/webhooks/tiktok"))
        .header("tiktok-signature", header)
        .body(body.to_string())
}

async fn webhooks_are_verified_resolved_and_recorded(kind: StoreKind) {
    let [meta_secret, verify_token, tiktok_secret, google_token] = TEST_WEBHOOK_SECRETS;
    let db = TestDb::new(kind).await;
    let server = start(&db).await;
    deployed(&db, "meta", "ad", "120330000001").await;
    deployed(&db, "tiktok", "ad", "1780000000042").await;
    deployed(&db, "google", "campaign", "customers/77/campaigns/88").await;

    // Meta's handshake: the challenge verbatim for the right token, 403 otherwise.
    let handshake = |token: &str| {
        server.client.get(server.url(&format!(
            "/api/webhooks/meta?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
        )))
    };
    let response = handshake(verify_token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(response.text().await.unwrap(), "1158201444");
    expect_error(handshake("guess"), 403, "verify_token").await;

    let mut acme = SseReader::open(as_acme(
        &server,
        "/api/events?kinds=webhook.meta,webhook.tiktok,webhook.google",
    ))
    .await;
    let no_rows = |server: &TestServer| {
        let store = server.store.clone();
        async move {
            (
                store.count_webhook_deliveries().await.unwrap(),
                store.max_event_id().await.unwrap(),
            )
        }
    };
    let before = no_rows(&server).await;

    // Forged, unsigned or malformed deliveries: 401 naming the header; no row, no event.
    let body = json!({"object": "ad_account", "entry": [{"id": "act_555", "time": 1,
        "changes": [{"field": "ads", "value": {"ad_id": "120330000001", "status": "DISAPPROVED"}}]}]})
    .to_string();
    expect_error(
        signed_meta(
            &server,
            &body,
            Some(meta_signature("not-the-secret", body.as_bytes())),
        ),
        401,
        "signature does not match",
    )
    .await;
    expect_error(
        signed_meta(&server, &body, None),
        401,
        "X-Hub-Signature-256",
    )
    .await;
    expect_error(
        signed_meta(&server, &body, Some("sha256=zz".into())),
        401,
        "X-Hub-Signature-256",
    )
    .await;
    assert_eq!(
        no_rows(&server).await,
        before,
        "a refused delivery left a row"
    );

    // Signed: 200, the owner's stream gets one webhook.meta event, the delivery is recorded.
    let (status, receipt) = send(signed_meta(
        &server,
        &body,
        Some(meta_signature(meta_secret, body.as_bytes())),
    ))
    .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["owners"], 1);
    assert_eq!(receipt["unmatched_ids"], json!(["act_555"]));
    let event = acme.next().await;
    assert_eq!(event.kind, "webhook.meta");
    assert_eq!(event.data["object_ids"], json!(["120330000001"]));
    assert_eq!(
        event.data["changes"][0]["entry"]["changes"][0]["value"]["status"],
        "DISAPPROVED"
    );
    let sha = receipt["delivery"].as_str().unwrap();
    let rows = db.store.webhook_deliveries_by_body(sha).await.unwrap();
    let mut recorded: Vec<(Option<String>, Vec<String>, String)> = rows
        .into_iter()
        .map(|r| (r.owner_id, r.object_ids, r.verified))
        .collect();
    recorded.sort();
    assert_eq!(
        recorded,
        [
            (
                None,
                vec!["act_555".to_string()],
                "x-hub-signature-256".to_string()
            ),
            (
                Some("acme".to_string()),
                vec!["120330000001".to_string()],
                "x-hub-signature-256".to_string()
            ),
        ]
    );
    // A signed body that is not Meta's shape: 400, nothing stored.
    let before = no_rows(&server).await;
    let bad = r#"{"entry": "nope"}"#;
    expect_error(
        signed_meta(
            &server,
            bad,
            Some(meta_signature(meta_secret, bad.as_bytes())),
        ),
        400,
        "entry",
    )
    .await;
    let huge = format!(r#"{{"entry": [], "pad": "{}"}}"#, "x".repeat(300 * 1024));
    expect_error(
        signed_meta(
            &server,
            &huge,
            Some(meta_signature(meta_secret, huge.as_bytes())),
        ),
        413,
        "limit",
    )
    .await;

    // TikTok: signed and fresh is accepted; stale or forged is refused.
    let tt_body = json!({"event": "ad.status_change", "ad_id": "1780000000042"}).to_string();
    let now = now_ms() / 1000;
    expect_error(
        tiktok(
            &server,
            &tt_body,
            tiktok_signature(tiktok_secret, now - 3600, tt_body.as_bytes()),
        ),
        401,
        "replay",
    )
    .await;
    expect_error(
        tiktok(
            &server,
            &tt_body,
            tiktok_signature("wrong", now, tt_body.as_bytes()),
        ),
        401,
        "signature does not match",
    )
    .await;
    assert_eq!(
        no_rows(&server).await,
        before,
        "a refused delivery left a row"
    );
    let (status, receipt) = send(tiktok(
        &server,
        &tt_body,
        tiktok_signature(tiktok_secret, now, tt_body.as_bytes()),
    ))
    .await;
    assert_eq!((status, &receipt["owners"]), (200, &json!(1)), "{receipt}");
    let event = acme.next().await;
    assert_eq!(
        (event.kind.as_str(), &event.data["object_ids"]),
        ("webhook.tiktok", &json!(["1780000000042"]))
    );

    // Google: a Pub/Sub push with the bearer token.
    let data = base64::engine::general_purpose::STANDARD.encode(
        json!({"resourceName": "customers/77/campaigns/88", "changeType": "UPDATE"}).to_string(),
    );
    let push = json!({"message": {"data": data, "messageId": "m-1"}, "subscription": "s"});
    let google = |token: Option<&str>| {
        let request = server
            .client
            .post(server.url("/api/webhooks/google"))
            .json(&push);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    };
    expect_error(google(Some("guess")), 401, "bearer token does not match").await;
    expect_error(google(None), 401, "Authorization").await;
    let (status, receipt) = send(google(Some(google_token))).await;
    assert_eq!((status, &receipt["owners"]), (200, &json!(1)), "{receipt}");
    let event = acme.next().await;
    assert_eq!(event.kind, "webhook.google");
    assert_eq!(event.data["changes"][0]["data"]["changeType"], "UPDATE");
    server.stop().await;
}

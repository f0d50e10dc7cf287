//! `/api/campaigns` on SQLite and PostgreSQL: create, read with ETag (and 304), list paged by
//! cursor and filtered, version-checked PATCH (428 without If-Match, 412 when another editor
//! wrote first), DELETE, bad input naming the field, and another owner's ids answered with 404.

use std::sync::Arc;

use adforge::store::ApiKeyRow;
use adforge::store::now_ms;
use serde_json::{Value, json};

use crate::support::{StoreKind, TestDb, TestServer, send};

on_both_stores!(campaigns_are_versioned_paged_and_owned);

fn campaign(name: &str, status: &str, platforms: &[&str]) -> Value {
    json!({"name": name, "objective": "sales", "status": status, "currency": "usd",
           "daily_budget": "50.25", "start_date": "2026-12-01", "end_date": "2026-12-31",
           "platforms": platforms, "brief": {"product": "trail shoes"}})
}

async fn patch(
    server: &TestServer,
    id: &str,
    if_match: Option<&str>,
    body: Value,
) -> (u16, Value, Option<String>) {
    let mut request = server
        .client
        .patch(server.url(&format!("/api/campaigns/{id}")))
        .bearer_auth(&server.admin_key)
        .json(&body);
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    (status, response.json().await.unwrap_or(Value::Null), etag)
}

async fn campaigns_are_versioned_paged_and_owned(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    let queue = Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
        db.store.clone(),
    ));
    let server = TestServer::start(db.store.clone(), queue).await;

    let (status, created) = send(server.post(
        "/api/campaigns",
        &campaign("Spring", "draft", &["meta", "sandbox"]),
    ))
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        (
            created["version"].as_i64(),
            created["daily_budget"].as_str()
        ),
        (Some(1), Some("50.25"))
    );
    assert_eq!(created["currency"], "USD");

    // Read: the version is the ETag; If-None-Match with it is 304.
    let read = server
        .get(&format!("/api/campaigns/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.headers()["etag"], "\"1\"");
    let again = server
        .get(&format!("/api/campaigns/{id}"))
        .header("if-none-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // Two editors: the first write wins, the second (same ETag) gets 412, none gets 428.
    let (status, body, etag) = patch(
        &server,
        &id,
        Some("\"1\""),
        json!({"daily_budget": 75, "status": "active"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["version"].as_i64(),
            body["daily_budget"].as_str(),
            etag.as_deref()
        ),
        (Some(2), Some("75.00"), Some("\"2\""))
    );
    let (status, body, _) = patch(&server, &id, Some("\"1\""), json!({"name": "Overwrite"})).await;
    assert_eq!(status, 412, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at version 2, not 1"),
        "{body}"
    );
    let (status, body, _) = patch(&server, &id, None, json!({"name": "No condition"})).await;
    assert_eq!(status, 428, "{body}");
    let (_, unchanged) = send(server.get(&format!("/api/campaigns/{id}"))).await;
    assert_eq!(unchanged["name"], "Spring");

    // Paging and filters.
    for n in 0..5 {
        let platforms: &[&str] = if n % 2 == 0 {
            &["google"]
        } else {
            &["tiktok", "meta"]
        };
        let (status, _) = send(server.post(
            "/api/campaigns",
            &campaign(&format!("C{n}"), "draft", platforms),
        ))
        .await;
        assert_eq!(status, 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/campaigns?limit=2&cursor={c}"),
            None => "/api/campaigns?limit=2".into(),
        };
        let (status, page) = send(server.get(&path)).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["campaigns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, vec!["C4", "C3", "C2", "C1", "C0", "Spring"]);
    let (_, google) = send(server.get("/api/campaigns?platform=google")).await;
    assert_eq!(google["campaigns"].as_array().unwrap().len(), 3);
    let (_, meta_active) = send(server.get("/api/campaigns?platform=meta&status=active")).await;
    assert_eq!(meta_active["campaigns"][0]["name"], "Spring");
    assert_eq!(meta_active["campaigns"].as_array().unwrap().len(), 1);

    // Bad input names the field and the limit.
    let cases = [
        (json!({"daily_budget": "-5"}), "daily_budget"),
        (json!({"daily_budget": "NaN"}), "daily_budget"),
        (
            json!({"daily_budget": "0"}),
            "daily_budget: must be more than 0",
        ),
        (
            json!({"end_date": "2026-11-01"}),
            "end_date: 2026-11-01 is before start_date 2026-12-01",
        ),
        (json!({"start_date": "12/01/2026"}), "start_date"),
        (
            json!({"objective": "fame"}),
            "objective: `fame` is not one of",
        ),
        (json!({"platforms": ["myspace"]}), "platforms[0]: `myspace`"),
        (json!({"platforms": []}), "platforms: at least one"),
        (json!({"currency": "dollars"}), "currency"),
        (json!({"name": ""}), "name: 0 characters"),
        (json!({"owner_id": "someone"}), "owner_id"),
    ];
    for (change, needle) in cases {
        let mut body = campaign("Bad", "draft", &["meta"]);
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, error) = send(server.post("/api/campaigns", &body)).await;
        assert_eq!(status, 400, "{change} -> {error}");
        assert!(
            error.to_string().contains(needle),
            "{needle:?} not in {error}"
        );
    }
    let (_, all) = send(server.get("/api/campaigns?limit=100")).await;
    assert_eq!(
        all["campaigns"].as_array().unwrap().len(),
        6,
        "no bad campaign was stored"
    );

    // Another owner sees none of it: 404 on every route with the id, an empty list.
    db.store
        .ensure_owner("acme", "Acme", now_ms())
        .await
        .unwrap();
    let other = "adf_acme-campaign-key-aaaaaaaaaaaaaa";
    let key = ApiKeyRow {
        id: "k-acme".into(),
        owner_id: "acme".into(),
        name: "acme".into(),
        prefix: "adf_acme".into(),
        is_admin: false,
        created_at: now_ms(),
        revoked_at: None,
    };
    db.store
        .insert_api_key(&key, &adforge::auth::hash_key(other))
        .await
        .unwrap();
    let as_other = |method: reqwest::Method, path: &str| {
        server
            .client
            .request(method, server.url(path))
            .bearer_auth(other)
    };
    let path = format!("/api/campaigns/{id}");
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let (status, _) = send(as_other(method, &path)).await;
        assert_eq!(status, 404);
    }
    let (status, _) = send(
        as_other(reqwest::Method::PATCH, &path)
            .header("if-match", "\"2\"")
            .json(&json!({"name": "Mine"})),
    )
    .await;
    assert_eq!(status, 404);
    let (_, list) = send(as_other(reqwest::Method::GET, "/api/campaigns")).await;
    assert_eq!(list["campaigns"].as_array().unwrap().len(), 0);

    // Delete: a stale If-Match is refused; then it goes.
    let (status, _) = send(server.delete(&path).header("if-match", "\"1\"")).await;
    assert_eq!(status, 412);
    let (status, _) = send(server.delete(&path).header("if-match", "\"2\"")).await;
    assert_eq!(status, 204);
    let (status, _) = send(server.get(&path)).await;
    assert_eq!(status, 404);
    server.stop().await;
}

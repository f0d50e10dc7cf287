//! Users, sessions, API keys, rate limits and sealed platform credentials on SQLite and
//! PostgreSQL: password sign-in and JWTs (expired and tampered tokens refused with their
//! reason), the one-time setup token, keys shown once and revoked, a caller's rate limit,
//! connections whose tokens are absent from the stored row and the answers, another owner's
//! ids answered 404, key rotation, and the Google token refresh against a local token endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use adforge::auth::jwt::{self, Claims, JwtKey};
use adforge::auth::{GoogleOAuth, RateLimit, SecretBox};
use adforge::secret::Secret;
use adforge::store::{Store, now_ms};
use serde_json::{Value, json};

use crate::support::{
    StoreKind, TEST_JWT_SECRET, TEST_SECRET_KEYS, TestDb, TestServer, expect_error, send, test_auth,
};

on_both_stores!(
    sessions_sign_in_expire_and_keep_tenants_apart,
    setup_token_works_once,
    api_keys_are_shown_once_listed_by_prefix_and_revocable,
    callers_past_their_rate_limit_get_429,
    connections_are_sealed_listed_without_secrets_and_owned,
    rotation_reseals_under_the_new_key,
    google_tokens_are_refreshed_before_they_expire,
);

const PASSWORD: &str = "correct horse battery staple";

async fn start(kind: StoreKind) -> (TestDb, TestServer) {
    let db = TestDb::new(kind).await;
    let queue = Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
        db.store.clone(),
    ));
    let server = TestServer::start(db.store.clone(), queue).await;
    (db, server)
}

/// Adds a member with an owner of its own (through the admin key) and signs it in.
async fn member_token(server: &TestServer, email: &str) -> (String, Value) {
    let (status, user) = send(server.post(
        "/api/users",
        &json!({"email": email, "password": PASSWORD, "role": "member"}),
    ))
    .await;
    assert_eq!(status, 201, "{user}");
    let (status, session) = send(
        server
            .client
            .post(server.url("/api/auth/login"))
            .json(&json!({"email": email.to_uppercase(), "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["token_type"], "Bearer");
    assert_eq!(session["user"]["id"], user["id"]);
    (session["token"].as_str().unwrap().to_string(), user)
}

fn as_user(request: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    request.bearer_auth(token)
}

fn campaign() -> Value {
    json!({"name": "Spring", "objective": "sales", "currency": "USD", "daily_budget": "20",
           "start_date": "2026-12-01", "platforms": ["meta"]})
}

async fn sessions_sign_in_expire_and_keep_tenants_apart(kind: StoreKind) {
    let (_db, server) = start(kind).await;
    let (token_a, user_a) = member_token(&server, "ann@example.com").await;
    let (token_b, user_b) = member_token(&server, "bob@example.com").await;
    assert_ne!(user_a["owner_id"], user_b["owner_id"]);

    // A session reads and writes its owner's rows.
    let (status, created) =
        send(as_user(server.client.post(server.url("/api/campaigns")), &token_a).json(&campaign()))
            .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, list) = send(as_user(
        server.client.get(server.url("/api/campaigns")),
        &token_a,
    ))
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["campaigns"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
    let (status, me) = send(as_user(
        server.client.get(server.url("/api/users/me")),
        &token_a,
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (me["user"]["email"].as_str(), me["is_admin"].as_bool()),
        (Some("ann@example.com"), Some(false))
    );

    // Another tenant: its session neither reads nor lists A's campaign.
    let (status, _) = send(as_user(
        server
            .client
            .get(server.url(&format!("/api/campaigns/{id}"))),
        &token_b,
    ))
    .await;
    assert_eq!(status, 404);
    let (_, list) = send(as_user(
        server.client.get(server.url("/api/campaigns")),
        &token_b,
    ))
    .await;
    assert_eq!(
        list["campaigns"].as_array().map(Vec::len),
        Some(0),
        "{list}"
    );

    // Members may not add users.
    expect_error(
        as_user(server.client.post(server.url("/api/users")), &token_a)
            .json(&json!({"email": "eve@example.com", "password": PASSWORD, "role": "admin"})),
        403,
        "only admins",
    )
    .await;

    // Wrong password and unknown email: the same answer.
    let login = |email: &str, password: &str| {
        server
            .client
            .post(server.url("/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
    };
    let wrong_password = send(login("ann@example.com", "not the password")).await;
    let unknown_email = send(login("nobody@example.com", PASSWORD)).await;
    assert_eq!(wrong_password.0, 401);
    assert_eq!(wrong_password, unknown_email);

    // An expired token (signed with the server's key) and a tampered one.
    let key = JwtKey::new(TEST_JWT_SECRET.to_vec()).unwrap();
    let now = now_ms() / 1000;
    let expired = jwt::issue(
        &key,
        &Claims {
            sub: user_a["id"].as_str().unwrap().into(),
            owner: user_a["owner_id"].as_str().unwrap().into(),
            role: "member".into(),
            iat: now - 7200,
            exp: now - 3600,
        },
    );
    expect_error(
        as_user(server.client.get(server.url("/api/campaigns")), &expired),
        401,
        "token expired at",
    )
    .await;
    let parts: Vec<&str> = token_a.split('.').collect();
    let claims_b = Claims {
        sub: user_b["id"].as_str().unwrap().into(),
        owner: user_b["owner_id"].as_str().unwrap().into(),
        role: "admin".into(),
        iat: now,
        exp: now + 3600,
    };
    use base64::Engine;
    let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&claims_b).unwrap());
    let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    expect_error(
        as_user(server.client.get(server.url("/api/campaigns")), &tampered),
        401,
        "token signature does not verify",
    )
    .await;
    server.stop().await;
}

async fn setup_token_works_once(kind: StoreKind) {
    let (db, server) = start(kind).await;
    let setup = |token: &str, email: &str| {
        server
            .client
            .post(server.url("/api/auth/setup"))
            .json(&json!({"setup_token": token, "email": email, "password": PASSWORD}))
    };
    let first = adforge::auth::bootstrap_first_user(&db.store, None)
        .await
        .unwrap()
        .unwrap();
    // A restart before setup shows a new token; the earlier one stops working.
    let token = adforge::auth::bootstrap_first_user(&db.store, None)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first, token);
    expect_error(
        setup(first.expose(), "root@example.com"),
        401,
        "setup token",
    )
    .await;
    expect_error(
        setup("adfsetup_wrong", "root@example.com"),
        401,
        "setup token",
    )
    .await;

    let (status, admin) = send(setup(token.expose(), "Root@Example.com")).await;
    assert_eq!(status, 201, "{admin}");
    assert_eq!(
        (
            admin["email"].as_str(),
            admin["role"].as_str(),
            admin["owner_id"].as_str()
        ),
        (Some("root@example.com"), Some("admin"), Some("admin"))
    );
    // Spent: the same token again is refused, and no new one is made now a user exists.
    expect_error(
        setup(token.expose(), "other@example.com"),
        409,
        "setup is over",
    )
    .await;
    assert!(
        adforge::auth::bootstrap_first_user(&db.store, None)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(db.store.count_users().await.unwrap(), 1);

    // The admin signs in and may add users.
    let (status, session) = send(
        server
            .client
            .post(server.url("/api/auth/login"))
            .json(&json!({"email": "root@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "{session}");
    let (status, _) = send(
        as_user(
            server.client.post(server.url("/api/users")),
            session["token"].as_str().unwrap(),
        )
        .json(
            &json!({"email": "m@example.com", "password": PASSWORD, "role": "member",
                          "same_owner": true}),
        ),
    )
    .await;
    assert_eq!(status, 201);

    // An admin from the environment: created once, on the admin owner.
    let password = Secret::new(PASSWORD);
    for _ in 0..2 {
        adforge::auth::bootstrap_first_user(&db.store, Some(("ops@example.com", &password)))
            .await
            .unwrap();
    }
    let ops = db
        .store
        .user_by_email("ops@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ops.role.as_str(), ops.owner_id.as_str()),
        ("admin", "admin")
    );
    assert_eq!(db.store.count_users().await.unwrap(), 3);
    server.stop().await;
}

async fn api_keys_are_shown_once_listed_by_prefix_and_revocable(kind: StoreKind) {
    let (_db, server) = start(kind).await;
    let (token, _) = member_token(&server, "kim@example.com").await;
    let (status, created) = send(
        as_user(server.client.post(server.url("/api/keys")), &token).json(&json!({"name": "ci"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));

    // The key works, for the user's owner.
    let (status, me) = send(as_user(
        server.client.get(server.url("/api/users/me")),
        &key,
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(me["key_id"].as_str(), Some(id.as_str()));

    // Listed by prefix only: neither the key nor its hash is in the answer.
    let listed = as_user(server.client.get(server.url("/api/keys")), &token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(&key), "{listed}");
    assert!(!listed.contains(&adforge::auth::hash_key(&key)), "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["keys"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed["keys"][0]["prefix"], created["prefix"]);
    assert!(listed["keys"][0]["revoked_at"].is_null());

    // Another owner cannot revoke it; its owner can, and then it is refused.
    let (status, _) = send(server.delete(&format!("/api/keys/{id}"))).await;
    assert_eq!(status, 404);
    let (status, _) = send(as_user(
        server.client.delete(server.url(&format!("/api/keys/{id}"))),
        &token,
    ))
    .await;
    assert_eq!(status, 204);
    expect_error(
        as_user(server.client.get(server.url("/api/campaigns")), &key),
        401,
        "revoked",
    )
    .await;
    let (_, listed) = send(as_user(server.client.get(server.url("/api/keys")), &token)).await;
    assert!(listed["keys"][0]["revoked_at"].is_i64(), "{listed}");
    server.stop().await;
}

async fn callers_past_their_rate_limit_get_429(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    let queue = Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
        db.store.clone(),
    ));
    let limit = RateLimit {
        burst: 3,
        per_minute: 1,
    };
    let server = TestServer::start_with_auth(db.store.clone(), queue, test_auth(limit)).await;
    for _ in 0..3 {
        let (status, body) = send(server.get("/api/campaigns")).await;
        assert_eq!(status, 200, "{body}");
    }
    let refused = server.get("/api/campaigns").send().await.unwrap();
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // One request a minute: the next token is up to 60 s away.
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rate limit of 1 requests a minute (bursts of 3)"),
        "{body}"
    );
    server.stop().await;
}

fn meta_connection(account: &str) -> Value {
    json!({"account_id": account, "currency": "eur", "time_zone": "Europe/Berlin",
           "access_token": "EAAB-meta-secret-token", "app_secret": "meta-app-secret",
           "page_id": "1234567890", "token_expires_at": 1_900_000_000_000_i64})
}

/// The stored `secret_ciphertext` of connection `id`, read with plain SQL.
async fn raw_ciphertext(url: &str, id: &str) -> (String, String) {
    use sqlx::Row;
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    let row = sqlx::query(
        "SELECT secret_ciphertext, secret_key_id FROM platform_connections WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    (row.try_get(0).unwrap(), row.try_get(1).unwrap())
}

async fn connections_are_sealed_listed_without_secrets_and_owned(kind: StoreKind) {
    let (db, server) = start(kind).await;
    let answer = server
        .post("/api/platforms/meta/connections", &meta_connection("98765"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let text = answer.text().await.unwrap();
    assert!(
        !text.contains("meta-secret-token") && !text.contains("meta-app-secret"),
        "{text}"
    );
    let created: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (created["currency"].as_str(), created["page_id"].as_str()),
        (Some("EUR"), Some("1234567890"))
    );
    let id = created["id"].as_str().unwrap();

    // Not in the stored row in the clear; sealed under the test key.
    let (ciphertext, kid) = raw_ciphertext(&db.url, id).await;
    assert!(!ciphertext.contains("meta-secret-token"), "{ciphertext}");
    assert!(ciphertext.starts_with("v1:test:"), "{ciphertext}");
    assert_eq!(kid, "test");

    // Listed without secrets, with the token's expiry.
    let listed = server
        .get("/api/platforms/meta/connections")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !listed.contains("meta-secret-token") && !listed.contains("v1:test"),
        "{listed}"
    );
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(
        listed["connections"][0]["token_expires_at"],
        1_900_000_000_000_i64
    );

    // What deployment code reads: the newest connection, opened.
    let row = db
        .store
        .platform_connection("admin", "meta")
        .await
        .unwrap()
        .unwrap();
    let secrets = SecretBox::from_spec(TEST_SECRET_KEYS).unwrap();
    let credentials = secrets.open_credentials(&row).unwrap();
    assert_eq!(credentials.access_token.expose(), "EAAB-meta-secret-token");
    assert_eq!(
        credentials.app_secret.as_ref().map(Secret::expose),
        Some("meta-app-secret")
    );

    // Connecting the account again replaces its token in place.
    let mut again = meta_connection("98765");
    again["access_token"] = json!("EAAB-second-token");
    let (status, replaced) = send(server.post("/api/platforms/meta/connections", &again)).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        (replaced["id"].as_str(), replaced["version"].as_i64()),
        (Some(id), Some(2))
    );
    let row = db.store.get_connection("admin", id).await.unwrap().unwrap();
    assert_eq!(
        secrets
            .open_credentials(&row)
            .unwrap()
            .access_token
            .expose(),
        "EAAB-second-token"
    );

    // Another owner: 404 for the id, an empty list.
    let (token_b, _) = member_token(&server, "other@example.com").await;
    let (status, _) = send(as_user(
        server
            .client
            .delete(server.url(&format!("/api/platforms/meta/connections/{id}"))),
        &token_b,
    ))
    .await;
    assert_eq!(status, 404);
    let (_, list_b) = send(as_user(
        server
            .client
            .get(server.url("/api/platforms/meta/connections")),
        &token_b,
    ))
    .await;
    assert_eq!(list_b["connections"].as_array().map(Vec::len), Some(0));

    // Bad input names the field.
    let mut no_page = meta_connection("1");
    no_page.as_object_mut().unwrap().remove("page_id");
    let post = |path: &str, body: &Value| server.post(path, body);
    expect_error(
        post("/api/platforms/meta/connections", &no_page),
        400,
        "page_id",
    )
    .await;
    let mut bad = meta_connection("1");
    bad["currency"] = json!("EURO");
    expect_error(
        post("/api/platforms/meta/connections", &bad),
        400,
        "currency",
    )
    .await;
    let mut bad = meta_connection("1");
    bad["time_zone"] = json!("Mars/Olympus_Mons");
    expect_error(
        post("/api/platforms/meta/connections", &bad),
        400,
        "time_zone",
    )
    .await;
    expect_error(
        post("/api/platforms/myspace/connections", &meta_connection("1")),
        400,
        "platform",
    )
    .await;
    let tiktok = json!({"account_id": "7", "currency": "USD", "time_zone": "America/New_York",
                        "access_token": "tt"});
    expect_error(
        post("/api/platforms/tiktok/connections", &tiktok),
        400,
        "identity_id",
    )
    .await;
    let google = json!({"account_id": "7", "currency": "USD", "time_zone": "UTC",
                        "access_token": "ya29", "customer_id": "123-456-7890"});
    expect_error(
        post("/api/platforms/google/connections", &google),
        400,
        "developer_token",
    )
    .await;

    // The owner deletes it.
    let (status, _) = send(server.delete(&format!("/api/platforms/meta/connections/{id}"))).await;
    assert_eq!(status, 204);
    assert!(
        db.store
            .get_connection("admin", id)
            .await
            .unwrap()
            .is_none()
    );
    server.stop().await;
}

async fn rotation_reseals_under_the_new_key(kind: StoreKind) {
    let (db, server) = start(kind).await;
    // Sealed by the server under key "test" (A).
    let (status, created) =
        send(server.post("/api/platforms/meta/connections", &meta_connection("555"))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    server.stop().await;

    let key_b = format!("b:{}", base64_of([0x22; 32]));
    let both = SecretBox::from_spec(&format!("{key_b},{TEST_SECRET_KEYS}")).unwrap();
    let only_b = SecretBox::from_spec(&key_b).unwrap();
    let row = db.store.get_connection("admin", id).await.unwrap().unwrap();
    assert!(matches!(
        only_b.open_credentials(&row),
        Err(adforge::auth::CryptoError::UnknownKid(kid)) if kid == "test"
    ));

    let stop = tokio_util::sync::CancellationToken::new();
    let report = adforge::auth::crypto::rotate(&db.store, &both, &stop)
        .await
        .unwrap();
    assert_eq!((report.rotated, report.failed), (1, 0));
    let (_, kid) = raw_ciphertext(&db.url, id).await;
    assert_eq!(kid, "b");
    let row = db.store.get_connection("admin", id).await.unwrap().unwrap();
    assert_eq!(row.version, 2);
    assert_eq!(
        only_b.open_credentials(&row).unwrap().access_token.expose(),
        "EAAB-meta-secret-token"
    );
    // A second pass finds nothing left to do.
    let again = adforge::auth::crypto::rotate(&db.store, &both, &stop)
        .await
        .unwrap();
    assert_eq!(again, Default::default());
}

fn base64_of(bytes: [u8; 32]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A local OAuth token endpoint: answers a refresh of `old-refresh` with a new access token
/// valid an hour, and counts its calls.
async fn mock_token_endpoint() -> (String, Arc<AtomicUsize>) {
    use axum::extract::{Form, State};
    let hits = Arc::new(AtomicUsize::new(0));
    async fn token(
        State(hits): State<Arc<AtomicUsize>>,
        Form(form): Form<std::collections::HashMap<String, String>>,
    ) -> (axum::http::StatusCode, axum::Json<Value>) {
        hits.fetch_add(1, Ordering::SeqCst);
        let expected = [
            ("grant_type", "refresh_token"),
            ("refresh_token", "old-refresh"),
            ("client_id", "client-1"),
            ("client_secret", "client-secret"),
        ];
        if expected
            .iter()
            .any(|(k, v)| form.get(*k).map(String::as_str) != Some(*v))
        {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "invalid_grant"})),
            );
        }
        (
            axum::http::StatusCode::OK,
            axum::Json(json!({"access_token": "ya29.fresh", "expires_in": 3600,
                              "token_type": "Bearer"})),
        )
    }
    let app = axum::Router::new()
        .route("/token", axum::routing::post(token))
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

async fn google_tokens_are_refreshed_before_they_expire(kind: StoreKind) {
    let (db, server) = start(kind).await;
    let google = |account: &str, expires_in_ms: i64| {
        json!({"account_id": account, "currency": "USD", "time_zone": "America/Los_Angeles",
               "access_token": "ya29.old", "refresh_token": "old-refresh",
               "token_expires_at": now_ms() + expires_in_ms,
               "customer_id": account, "developer_token": "dev-token"})
    };
    // One expires in a minute (inside the 5-minute margin), one in two hours.
    let (status, soon) = send(server.post(
        "/api/platforms/google/connections",
        &google("1112223333", 60_000),
    ))
    .await;
    assert_eq!(status, 201, "{soon}");
    let (status, later) = send(server.post(
        "/api/platforms/google/connections",
        &google("4445556666", 7_200_000),
    ))
    .await;
    assert_eq!(status, 201, "{later}");
    server.stop().await;

    let (token_url, hits) = mock_token_endpoint().await;
    let oauth = GoogleOAuth {
        token_url,
        client_id: "client-1".into(),
        client_secret: Secret::new("client-secret"),
    };
    let http = crate::support::test_client();
    let secrets = SecretBox::from_spec(TEST_SECRET_KEYS).unwrap();
    let store: &Store = &db.store;

    let row = store
        .get_connection("admin", soon["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    let refreshed = adforge::auth::google_refresh(&http, &oauth, store, &secrets, &row)
        .await
        .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(refreshed.version, row.version + 1);
    assert!(refreshed.token_expires_at.unwrap() > now_ms() + 50 * 60_000);
    let stored = store
        .get_connection("admin", &row.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, refreshed);
    let credentials = secrets.open_credentials(&stored).unwrap();
    assert_eq!(credentials.access_token.expose(), "ya29.fresh");
    assert_eq!(
        credentials.refresh_token.as_ref().map(Secret::expose),
        Some("old-refresh")
    );
    assert_eq!(
        credentials.developer_token.as_ref().map(Secret::expose),
        Some("dev-token")
    );

    // Fresh tokens are left alone: no call to the endpoint.
    let again = adforge::auth::google_refresh(&http, &oauth, store, &secrets, &stored)
        .await
        .unwrap();
    assert_eq!(again, stored);
    let row = store
        .get_connection("admin", later["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    adforge::auth::google_refresh(&http, &oauth, store, &secrets, &row)
        .await
        .unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // A refused refresh says so.
    let wrong = GoogleOAuth {
        client_id: "someone-else".into(),
        ..oauth
    };
    let mut due = stored.clone();
    due.token_expires_at = Some(now_ms());
    let err = adforge::auth::google_refresh(&http, &wrong, store, &secrets, &due)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            adforge::auth::RefreshError::Refused { status: 400, .. }
        ),
        "{err}"
    );
}

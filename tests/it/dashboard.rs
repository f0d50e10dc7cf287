//! The dashboard's server side: the session cookie (HttpOnly, SameSite=Strict) set at sign-in
//! and cleared at sign-out, the CSRF header required on cookie-authenticated writes, and the
//! static export served with a per-page Content-Security-Policy and security headers, never
//! shadowing the API's JSON 404.

use std::sync::Arc;

use serde_json::json;

use crate::support::{StoreKind, TestDb, TestServer, send};

const PASSWORD: &str = "correct horse battery staple";

/// A built export in a temporary folder: a page with one inline script, a static chunk, csp.json.
fn export() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("campaign")).unwrap();
    std::fs::create_dir_all(root.join("_next/static/chunks")).unwrap();
    std::fs::write(
        root.join("index.html"),
        "<html><script>self.x=1</script></html>",
    )
    .unwrap();
    std::fs::write(root.join("campaign/index.html"), "<html>campaign</html>").unwrap();
    std::fs::write(root.join("404.html"), "<html>not here</html>").unwrap();
    std::fs::write(root.join("_next/static/chunks/app.js"), "console.log(1)").unwrap();
    std::fs::write(
        root.join("csp.json"),
        json!({"/index.html": ["sha256-abc="]}).to_string(),
    )
    .unwrap();
    std::fs::write(dir.path().parent().unwrap().join("secret.txt"), "x").ok();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_served_with_their_policy_and_the_api_keeps_its_404() {
    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
        db.store.clone(),
    ));
    let web = export();
    let server = TestServer::start_with_dashboard(db.store.clone(), queue, web.path()).await;
    let get = |path: &str| server.client.get(server.url(path)).send();

    let index = get("/").await.unwrap();
    assert_eq!(index.status(), 200);
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self' 'sha256-abc='"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline';") || csp.contains("style-src 'self' 'unsafe-inline'"));
    assert!(
        !csp.split(';')
            .any(|d| d.contains("script-src") && d.contains("unsafe")),
        "{csp}"
    );
    assert_eq!(index.headers()["x-frame-options"], "DENY");
    assert_eq!(index.headers()["x-content-type-options"], "nosniff");
    assert!(
        index.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );

    let page = get("/campaign/?id=abc").await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), "<html>campaign</html>");
    let chunk = get("/_next/static/chunks/app.js").await.unwrap();
    assert_eq!(chunk.status(), 200);
    assert!(
        chunk.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(
        chunk.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    let missing = get("/nowhere/").await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.text().await.unwrap(), "<html>not here</html>");
    for escape in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/campaign/..%2f..%2fsecret.txt",
    ] {
        let response = get(escape).await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status == 404 || status == 400, "{escape}: {status}");
        assert_ne!(body, "x", "{escape} escaped the folder");
    }
    // The API's own 404 stays JSON.
    let (status, body) = send(server.get("/api/nothing-here")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    let (status, _) = send(server.client.post(server.url("/"))).await;
    assert_eq!(status, 404, "only GET and HEAD read pages");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_signs_in_and_writes_need_the_csrf_header() {
    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
        db.store.clone(),
    ));
    let server = TestServer::start(db.store.clone(), queue).await;
    let (status, user) = send(server.post(
        "/api/users",
        &json!({"email": "dash@example.com", "password": PASSWORD, "role": "member"}),
    ))
    .await;
    assert_eq!(status, 201, "{user}");
    let login = server
        .client
        .post(server.url("/api/auth/login"))
        .json(&json!({"email": "dash@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["adforge_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{attribute}: {set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let with_cookie = |method: reqwest::Method, path: &str| {
        server
            .client
            .request(method, server.url(path))
            .header("cookie", &cookie)
    };

    let (status, me) = send(with_cookie(reqwest::Method::GET, "/api/users/me")).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["email"], "dash@example.com", "{me}");
    // A write on the cookie alone is what a forged cross-site form would send: refused.
    let (status, body) =
        send(with_cookie(reqwest::Method::POST, "/api/keys").json(&json!({"name": "from a page"})))
            .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("X-Requested-With")
    );
    let (status, body) = send(
        with_cookie(reqwest::Method::POST, "/api/keys")
            .header("x-requested-with", "adforge")
            .json(&json!({"name": "from the dashboard"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // A cookie that is not a session token is refused, not looked up as a key.
    let (status, _) = send(server.client.get(server.url("/api/users/me")).header(
        "cookie",
        format!("adforge_session={}", body["key"].as_str().unwrap()),
    ))
    .await;
    assert_eq!(status, 401);

    let logout = server
        .client
        .post(server.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let cleared = logout.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("adforge_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    server.stop().await;
}

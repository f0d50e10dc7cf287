//! A deployment to a real platform through the API: the owner's Meta connection (tokens sealed
//! at rest) becomes a Meta client pointed at a local server, the campaign's ad set and creatives
//! are pushed with the connection's token and appsecret_proof, and a redeploy makes nothing again.

use std::sync::Arc;

use adforge::config::PlatformEndpoints;

use super::*;
use crate::campaign_loop::{job_result, planned_campaign, square_creatives};
use crate::support::{StoreKind, TestDb, TestServer, send};

fn graph(seen: &Seen, _n: usize, failed: &mut Vec<String>) -> Reply {
    check(
        failed,
        seen.header("authorization") == "Bearer conn-token",
        "the connection's token",
    );
    // HMAC-SHA256("conn-secret", "conn-token").
    check(
        failed,
        seen.query("appsecret_proof").is_some_and(|p| p.len() == 64),
        "appsecret_proof",
    );
    let body = seen.json();
    match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/v23.0/act_77/campaigns") => ok(json!({ "id": "mc1" })),
        ("POST", "/v23.0/act_77/adsets") => {
            check(failed, body["campaign_id"] == "mc1", "campaign_id");
            check(
                failed,
                body["daily_budget"] == 10_000,
                "daily_budget in cents",
            );
            ok(json!({ "id": "ms1" }))
        }
        ("POST", "/v23.0/act_77/adimages") => {
            let name = body["name"].as_str().unwrap_or("img").to_string();
            ok(
                json!({ "images": { name: { "hash": format!("h-{}", seen.body.len()), "url": "https://x" } } }),
            )
        }
        ("POST", "/v23.0/act_77/adcreatives") => {
            check(
                failed,
                body["object_story_spec"]["page_id"] == "page-9",
                "the connection's page",
            );
            ok(json!({ "id": format!("mcr-{}", seen.body.len()) }))
        }
        ("POST", "/v23.0/act_77/ads") => ok(json!({ "id": format!("mad-{}", seen.body.len()) })),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meta_deployment_uses_the_owners_connection() {
    let mock = serve(graph).await;
    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
        db.store.clone(),
    ));
    let endpoints = PlatformEndpoints {
        meta_base_url: mock.base.clone(),
        meta_video_base_url: mock.base.clone(),
        ..PlatformEndpoints::default()
    };
    let server = TestServer::start_with_endpoints(db.store.clone(), queue, None, endpoints).await;
    let owner = adforge::auth::ADMIN_OWNER_ID;
    let campaign = planned_campaign(&server, owner, "meta").await;
    square_creatives(&server, &campaign).await;

    // Without a connection the deployment is refused, and leaves nothing.
    let body = json!({"campaign_id": campaign, "platform": "meta", "approve": true});
    let (status, refused) = send(server.post("/api/deployments", &body)).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("connections"),
        "{refused}"
    );
    let (_, list) = send(server.get("/api/deployments")).await;
    assert_eq!(list["deployments"].as_array().unwrap().len(), 0, "{list}");

    let (status, conn) = send(server.post(
        "/api/platforms/meta/connections",
        &json!({"account_id": "77", "currency": "USD", "time_zone": "America/New_York",
            "access_token": "conn-token", "app_secret": "conn-secret", "page_id": "page-9"}),
    ))
    .await;
    assert!(status == 201 || status == 200, "{conn}");
    let (status, created) = send(server.post("/api/deployments", &body)).await;
    assert_eq!(status, 202, "{created}");
    job_result(
        &server,
        created["job_id"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
    mock.assert_no_failed_checks();
    assert_eq!(mock.calls_to("/act_77/campaigns"), 1);
    assert_eq!(mock.calls_to("/act_77/adsets"), 1);
    assert_eq!(mock.calls_to("/act_77/ads"), 2);
    let id = created["deployment"]["id"].as_str().unwrap();
    let (_, deployment) = send(server.get(&format!("/api/deployments/{id}"))).await;
    assert_eq!(deployment["status"], "active", "{deployment}");
    let objects = deployment["objects"].as_array().unwrap();
    assert!(
        objects.iter().any(|o| o["external_id"] == "mc1"),
        "{deployment}"
    );

    // A redeploy reads the ledger: nothing is created a second time.
    let (status, again) =
        send(server.post(&format!("/api/deployments/{id}/redeploy"), &json!({}))).await;
    assert_eq!(status, 202, "{again}");
    job_result(
        &server,
        again["job_id"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(mock.calls_to("/act_77/campaigns"), 1);
    assert_eq!(mock.calls_to("/act_77/ads"), 2);
    mock.assert_no_failed_checks();
    server.stop().await;
}

//! The whole campaign loop through the HTTP API on the sandbox platform, on SQLite and on
//! PostgreSQL, with the real default text model: brief -> plan (schema-constrained, tool trace
//! recorded) -> creative set (copy, images per format) -> deployment -> 14 simulated days of
//! metrics -> report and experiment statistics -> optimizer proposals -> approval -> the change
//! reaches the platform. Also: a deployment retried after a crash at every step creates nothing
//! twice, and another owner gets 404 for every route with the first owner's ids.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use adforge::engine::text::EngineLimits;
use adforge::orchestrate::platforms::{
    AdPlatform, AdSetSpec, AdSpec, AssetRef, CampaignSpec, Creative, CreativeSpec, DailyAdMetrics,
    DateRange, ObjectKind, PlatformError, VideoSource,
};
use adforge::store::{ApiKeyRow, now_ms};
use serde_json::{Value, json};

use crate::support::{StoreKind, TestDb, TestServer, send, wait_for};

on_both_stores!(
    the_loop_runs_end_to_end_on_the_sandbox,
    a_deployment_retried_after_a_crash_at_any_step_creates_nothing_twice,
);

const OTHER_KEY: &str = "adf_other-tenant-key-0123456789abcdef";

async fn start(db: &TestDb) -> TestServer {
    let queue = Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
        db.store.clone(),
    ));
    let text = tokio::task::spawn_blocking(|| {
        crate::inference::text_service(EngineLimits::default(), 2048)
    })
    .await
    .unwrap();
    TestServer::start_with_endpoints(db.store.clone(), queue, Some(text), Default::default()).await
}

/// A second owner with its own key.
async fn add_other_owner(server: &TestServer) {
    let store = &server.store;
    store
        .ensure_owner("other", "Other", now_ms())
        .await
        .unwrap();
    let key = ApiKeyRow {
        id: "k-other-loop".into(),
        owner_id: "other".into(),
        name: "other".into(),
        prefix: "adf_othe".into(),
        is_admin: false,
        created_at: now_ms(),
        revoked_at: None,
    };
    store
        .insert_api_key(&key, &adforge::auth::hash_key(OTHER_KEY))
        .await
        .unwrap();
}

/// A request as the second owner (no admin key on it).
fn as_other(server: &TestServer, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    server
        .client
        .request(method, server.url(path))
        .bearer_auth(OTHER_KEY)
}

/// Waits for a job to succeed (panics with its error when it fails); its result.
pub async fn job_result(server: &TestServer, id: &str, limit: Duration) -> Value {
    let job = wait_for(limit, &format!("job {id}"), || async {
        let (status, job) = send(server.get(&format!("/api/jobs/{id}"))).await;
        assert_eq!(status, 200, "{job}");
        let state = job["state"].as_str().unwrap_or_default().to_string();
        (state != "queued" && state != "running").then_some(job)
    })
    .await;
    assert_eq!(job["state"], "succeeded", "job {id}: {job}");
    job["result"].clone()
}

fn brief() -> Value {
    json!({
        "brand": "Harbor Coffee Co", "product": "cold brew coffee concentrate",
        "benefits": ["Makes 16 cups a bottle", "Smooth and never bitter"],
        "offer": "20% off your first order", "audience": "Busy commuters who make coffee at home",
        "interests": ["coffee", "commuting"], "age_min": 25, "age_max": 44,
        "objective": "sales", "currency": "USD", "total_budget": "2100.00",
        "start_date": "2027-03-01", "end_date": "2027-03-21", "platforms": ["sandbox"],
        "landing_url": "https://example.com/coldbrew", "seed": 7
    })
}

/// The plan's facts are the brief's: names composed from brand, product, benefits and offer,
/// the audience and targeting as given, and every copy field and angle passes the guards
/// against the brief's texts (no invented name, number or date, no markup, repeat or cut).
fn assert_plan_keeps_the_brief(plan: &Value, ad_sets: &[Value], brief: &Value) {
    use adforge::orchestrate::guards::{Facts, check_phrase};
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut texts: Vec<String> = ["brand", "product", "offer", "audience"]
        .iter()
        .map(|k| text(&brief[*k]))
        .collect();
    for list in ["benefits", "interests"] {
        texts.extend(brief[list].as_array().unwrap().iter().map(text));
    }
    let facts = Facts::from_texts(texts.iter().map(String::as_str));
    let name = text(&plan["name"]);
    assert!(name.starts_with("Harbor Coffee Co · "), "{name}");
    assert!(!ad_sets.is_empty());
    for (channel, ad_set) in plan["channels"].as_array().unwrap().iter().zip(ad_sets) {
        let audience = &channel["audience"];
        assert_eq!(audience["description"], brief["audience"], "{audience}");
        assert_eq!(audience["interests"], brief["interests"], "{audience}");
        assert_eq!(audience["countries"], json!(["US"]), "{audience}");
        assert_eq!(
            (&audience["age_min"], &audience["age_max"]),
            (&json!(25), &json!(44))
        );
        assert_eq!(ad_set["name"], audience["name"]);
        assert_eq!(text(&ad_set["name"]), "Sandbox · US · 25–44");
    }
    let leads = [
        "Makes 16 cups a bottle",
        "20% off your first order",
        "Smooth and never bitter",
    ];
    for concept in plan["concepts"].as_array().unwrap() {
        let concept_name = text(&concept["name"]);
        assert!(
            leads.contains(&concept_name.as_str()),
            "{concept_name} is not from the brief"
        );
        check_phrase(&text(&concept["angle"]), &facts, 100)
            .unwrap_or_else(|e| panic!("angle of {concept_name}: {e}"));
        for (platform, copy) in concept["copy"].as_object().unwrap() {
            for field in ["headline", "primary_text", "description"] {
                let value = text(&copy[field]);
                check_phrase(&value, &facts, 125)
                    .unwrap_or_else(|e| panic!("{platform}.{field} `{value}`: {e}"));
                let source = &concept["copy_sources"][platform][field];
                assert!(source == "model" || source == "brief", "{concept}");
            }
        }
    }
    let checks = &plan["phrase_checks"];
    assert!(checks["proposed"].as_u64().unwrap() >= checks["accepted"].as_u64().unwrap());
}

async fn the_loop_runs_end_to_end_on_the_sandbox(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    let server = start(&db).await;
    add_other_owner(&server).await;
    let long = Duration::from_secs(600);

    // Bad briefs are refused before any job exists.
    for (field, value, needle) in [
        ("total_budget", json!("-5"), "total_budget"),
        ("total_budget", json!("NaN"), "total_budget"),
        ("end_date", json!("2027-02-01"), "end_date"),
        ("objective", json!("fame"), "objective"),
        ("platforms", json!(["myspace"]), "platforms[0]"),
        ("total_budget", json!("10.00"), "minimum"),
    ] {
        let mut bad = brief();
        bad[field] = value;
        let (status, body) = send(server.post("/api/campaigns/plan", &bad)).await;
        assert_eq!(status, 400, "{field}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{field}: {message}");
    }
    let (_, jobs) = send(server.get("/api/jobs?kind=campaign.plan")).await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 0, "{jobs}");

    // Plan: a draft campaign, its ad set, the plan and the agent's recorded tool calls.
    let (status, job) = send(server.post("/api/campaigns/plan", &brief())).await;
    assert_eq!(status, 202, "{job}");
    let planned = job_result(&server, job["job_id"].as_str().unwrap(), long).await;
    let campaign_id = planned["campaign_id"].as_str().unwrap().to_string();
    let (status, plan) = send(server.get(&format!("/api/campaigns/{campaign_id}/plan"))).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["plan"]["daily_budget_micros"], 100_000_000, "{plan}");
    assert_eq!(plan["ad_sets"].as_array().unwrap().len(), 1);
    assert_eq!(plan["ad_sets"][0]["daily_budget_micros"], 100_000_000);
    assert_plan_keeps_the_brief(&plan["plan"], plan["ad_sets"].as_array().unwrap(), &brief());
    let (_, runs) = send(server.get(&format!("/api/campaigns/{campaign_id}/runs"))).await;
    let trace = runs["runs"][0]["trace"].as_array().unwrap();
    for call in trace {
        // Reasons are written by code from what the tool did.
        let reason = call["reason"].as_str().unwrap();
        assert!(reason.ends_with('.') && reason.len() > 20, "{call}");
    }
    let tools: Vec<&str> = trace.iter().filter_map(|c| c["tool"].as_str()).collect();
    for tool in [
        "read_past_results",
        "estimate_budget_split",
        "generate_copy",
    ] {
        assert!(tools.contains(&tool), "{tool} missing from {tools:?}");
    }

    // The same seed plans the same words (deterministic with a seed; the budget is not in the
    // words' prompt). A total that does not divide over the 21 days: the daily budget is whole
    // cents, the total is the brief's exactly with the rest stated as unallocated, and the plan
    // can be approved (PATCH with If-Match), which refuses a fraction of a cent.
    let mut uneven = brief();
    uneven["total_budget"] = json!("2100.10");
    let (_, again) = send(server.post("/api/campaigns/plan", &uneven)).await;
    let replanned = job_result(&server, again["job_id"].as_str().unwrap(), long).await;
    assert_eq!(planned["plan"]["concepts"], replanned["plan"]["concepts"]);
    assert_ne!(planned["campaign_id"], replanned["campaign_id"]);
    assert_eq!(replanned["plan"]["total_budget_micros"], 2_100_100_000);
    assert_eq!(replanned["plan"]["daily_budget_micros"], 100_000_000);
    assert_eq!(replanned["plan"]["unallocated_micros"], 100_000);
    let replanned_id = replanned["campaign_id"].as_str().unwrap();
    let (status, approved) = send(
        server
            .client
            .patch(server.url(&format!("/api/campaigns/{replanned_id}")))
            .bearer_auth(&server.admin_key)
            .header("if-match", "\"1\"")
            .json(&json!({"status": "active"})),
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "active", "{approved}");

    // Creatives: refused formats leave no job; then the set from the plan's concepts.
    let (status, body) = send(server.post(
        "/api/generate",
        &json!({"campaign_id": campaign_id, "formats": ["tiktok_in_feed"]}),
    ))
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("formats[0]")
    );
    let (status, job) = send(server.post(
        "/api/generate",
        &json!({"campaign_id": campaign_id, "video": false,
            "formats": ["meta_feed_square", "meta_link"]}),
    ))
    .await;
    assert_eq!(status, 202, "{job}");
    let set = job_result(&server, job["id"].as_str().unwrap(), long).await;
    let (_, page) = send(server.get(&format!("/api/creatives?campaign_id={campaign_id}"))).await;
    let creatives = page["creatives"].as_array().unwrap().clone();
    assert_eq!(creatives.len(), set["creatives"].as_array().unwrap().len());
    assert_eq!(creatives.len(), 2, "one creative per planned concept");
    for c in &creatives {
        assert_eq!(c["status"], "ready");
        for format in ["meta_feed_square", "meta_link"] {
            let asset = c["assets"][format].as_str().unwrap();
            let response = server
                .get(&format!("/api/assets/{asset}/content"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let png = response.bytes().await.unwrap();
            let image = image::load_from_memory(&png).unwrap();
            let f = adforge::media::formats::find(format).unwrap();
            assert_eq!((image.width(), image.height()), (f.width, f.height));
        }
        let headline = c["copy"]["headline"].as_str().unwrap();
        assert!((3..=40).contains(&headline.chars().count()), "{headline}");
    }

    // Deploy: every planned object made on the sandbox, recorded in the ledger.
    let (status, body) = send(server.post(
        "/api/deployments",
        &json!({"campaign_id": campaign_id, "platform": "meta"}),
    ))
    .await;
    assert_eq!(
        status, 400,
        "meta is not one of the campaign's platforms: {body}"
    );
    // A draft deploys only once its plan is approved, here in the same step.
    let (status, body) = send(server.post(
        "/api/deployments",
        &json!({"campaign_id": campaign_id, "platform": "sandbox"}),
    ))
    .await;
    assert_eq!(status, 409, "a draft is not deployed: {body}");
    assert_eq!(body["error"]["code"], "not_approved", "{body}");
    let (status, created) = send(server.post(
        "/api/deployments",
        &json!({"campaign_id": campaign_id, "platform": "sandbox", "approve": true}),
    ))
    .await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["approved_plan"], true, "{created}");
    let (_, campaign) = send(server.get(&format!("/api/campaigns/{campaign_id}"))).await;
    assert_eq!(campaign["status"], "active", "{campaign}");
    let deployment_id = created["deployment"]["id"].as_str().unwrap().to_string();
    job_result(&server, created["job_id"].as_str().unwrap(), long).await;
    let (_, deployment) = send(server.get(&format!("/api/deployments/{deployment_id}"))).await;
    assert_eq!(deployment["status"], "active", "{deployment}");
    let objects = deployment["objects"].as_array().unwrap();
    let count = |kind: &str| objects.iter().filter(|o| o["kind"] == kind).count();
    assert_eq!(count("campaign"), 1, "{deployment}");
    assert_eq!(count("ad_set"), 1);
    assert_eq!(count("ad"), 2);

    // 14 simulated days, read back into the metrics table.
    let (status, sync) = send(server.post(
        &format!("/api/deployments/{deployment_id}/sync"),
        &json!({"days": 14}),
    ))
    .await;
    assert_eq!(status, 202, "{sync}");
    job_result(&server, sync["job_id"].as_str().unwrap(), long).await;
    let (_, metrics) = send(server.get(&format!(
        "/api/metrics?campaign_id={campaign_id}&limit=1000"
    )))
    .await;
    let rows = metrics["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 28, "14 days x 2 ads: {metrics}");
    let (_, report) = send(server.get(&format!("/api/campaigns/{campaign_id}/report"))).await;
    assert_eq!(report["days"], 14, "{report}");
    // The sandbox paces each day's spend to the budget with the platform's noise (the price
    // moves, impressions are drawn), never past it: over 14 days, within 2% under 14 x 100.
    let spend = report["totals"]["spend_micros"].as_i64().unwrap() as f64 / 1e6;
    assert!(
        spend <= 1400.0 && spend > 1400.0 * 0.98,
        "spend paced to the budget: {report}"
    );
    assert!(
        report["best_vs_rest"]["p_value"].as_f64().is_some(),
        "{report}"
    );
    // The A/B headline reads the objective's metric (sales with revenue: ROAS), as the
    // optimizer does.
    assert_eq!(report["best_vs_rest"]["metric"], "roas", "{report}");
    let headline = report["best_vs_rest"]["headline"].as_str().unwrap();
    assert!(
        headline.starts_with("Creative '") && headline.contains("has ROAS "),
        "{headline}"
    );

    // Analytics: the creatives as an experiment, from the synced days.
    let (status, experiment) = send(server.post(
        &format!("/api/campaigns/{campaign_id}/experiment"),
        &json!({"platform": "sandbox", "metric": "conversions_per_click"}),
    ))
    .await;
    assert_eq!(status, 201, "{experiment}");
    let (status, summary) =
        send(server.get(&format!("/api/analytics/campaigns/{campaign_id}"))).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(
        summary["experiments"].as_array().unwrap().len(),
        1,
        "{summary}"
    );
    assert_eq!(summary["metric"], "roas", "{summary}");
    assert_eq!(summary["headline"].as_str(), Some(headline), "{summary}");

    // Under the default policy the optimizer either proposes or says why not, on ROAS.
    let (status, now) = send(server.get(&format!("/api/campaigns/{campaign_id}/optimizer"))).await;
    assert_eq!(status, 200, "{now}");
    assert_eq!(now["metric"], "roas", "{now}");
    assert_eq!(
        now["proposals"].as_array().unwrap().is_empty(),
        now["no_proposal_reason"].is_string(),
        "{now}"
    );

    // Optimizer: proposals with reasons; approving one reaches the platform.
    let (status, optimized) = send(server.post(
        &format!("/api/campaigns/{campaign_id}/optimize"),
        &json!({"min_days": 5, "min_spend": 1.0, "pause_below": 0.5}),
    ))
    .await;
    assert_eq!(status, 201, "{optimized}");
    let actions = optimized["actions"].as_array().unwrap();
    assert!(!actions.is_empty(), "the optimizer proposes: {optimized}");
    assert_eq!(optimized["metric"], "roas", "{optimized}");
    assert!(optimized["no_proposal_reason"].is_null(), "{optimized}");
    let action = &actions[0];
    assert_eq!(action["status"], "proposed", "{action}");
    let reason = action["reason"].as_str().unwrap();
    assert!(
        reason.contains("ROAS") && reason.contains("days"),
        "{reason}"
    );
    assert_eq!(action["evidence"]["metric"], "roas", "{action}");
    assert_eq!(action["evidence"]["days"], 14, "{action}");
    let action_id = action["id"].as_str().unwrap();
    let (status, approved) =
        send(server.post(&format!("/api/actions/{action_id}/approve"), &json!({}))).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "applied", "{approved}");
    let paused: Vec<String> = match action["kind"].as_str().unwrap() {
        "pause_creative" => vec![action["params"]["creative_id"].as_str().unwrap().into()],
        _ => action["params"]["pause"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
    };
    assert!(!paused.is_empty(), "{action}");
    for id in &paused {
        let (_, c) = send(server.get(&format!("/api/creatives/{id}"))).await;
        assert_eq!(c["status"], "paused", "{c}");
    }
    // The next simulated day: the paused creatives spend nothing, the rest takes the budget.
    let (_, sync) = send(server.post(
        &format!("/api/deployments/{deployment_id}/sync"),
        &json!({"days": 1}),
    ))
    .await;
    job_result(&server, sync["job_id"].as_str().unwrap(), long).await;
    let (_, day15) = send(server.get(&format!(
        "/api/metrics?campaign_id={campaign_id}&from=2027-03-15&to=2027-03-15"
    )))
    .await;
    let day15 = day15["rows"].as_array().unwrap();
    assert!(!day15.is_empty(), "day 15 was synced");
    for row in day15 {
        let creative = row["creative_id"].as_str().unwrap_or_default().to_string();
        if paused.contains(&creative) {
            assert_eq!(
                row["spend_micros"], 0,
                "paused creatives spend nothing: {row}"
            );
        }
    }

    // Past the schedule (it ends on 2027-03-21, day 21): 10 more simulated days deliver 6, the
    // result says 4 fall after the end, and the campaign is `ended`.
    let (_, sync) = send(server.post(
        &format!("/api/deployments/{deployment_id}/sync"),
        &json!({"days": 10}),
    ))
    .await;
    let past = job_result(&server, sync["job_id"].as_str().unwrap(), long).await;
    assert_eq!(past["days_after_end"], 4, "{past}");
    assert_eq!(past["campaign_ended"], true, "{past}");
    assert!(
        past["note"].as_str().unwrap().contains("2027-03-21"),
        "{past}"
    );
    assert_eq!(past["range"]["until"], "2027-03-21", "{past}");
    let (_, campaign) = send(server.get(&format!("/api/campaigns/{campaign_id}"))).await;
    assert_eq!(campaign["status"], "ended", "{campaign}");

    // Another owner: 404 for every route with these ids, and empty lists.
    let ids = [
        format!("/api/campaigns/{campaign_id}"),
        format!("/api/campaigns/{campaign_id}/plan"),
        format!("/api/campaigns/{campaign_id}/runs"),
        format!("/api/campaigns/{campaign_id}/actions"),
        format!("/api/campaigns/{campaign_id}/report"),
        format!("/api/analytics/campaigns/{campaign_id}"),
        format!("/api/creatives/{}", creatives[0]["id"].as_str().unwrap()),
        format!("/api/deployments/{deployment_id}"),
        format!("/api/jobs/{}", created["job_id"].as_str().unwrap()),
        format!(
            "/api/assets/{}",
            creatives[0]["assets"]["meta_link"].as_str().unwrap()
        ),
    ];
    for path in &ids {
        let (status, body) = send(as_other(&server, reqwest::Method::GET, path)).await;
        assert_eq!(status, 404, "GET {path} as another owner: {body}");
    }
    for (path, body) in [
        (
            format!("/api/deployments/{deployment_id}/sync"),
            json!({"days": 1}),
        ),
        (
            format!("/api/deployments/{deployment_id}/redeploy"),
            json!({}),
        ),
        (format!("/api/campaigns/{campaign_id}/optimize"), json!({})),
        (
            format!("/api/campaigns/{campaign_id}/experiment"),
            json!({"platform": "sandbox"}),
        ),
        (format!("/api/actions/{action_id}/approve"), json!({})),
        (format!("/api/actions/{action_id}/reject"), json!({})),
        (
            "/api/generate".to_string(),
            json!({"campaign_id": campaign_id}),
        ),
        (
            "/api/deployments".to_string(),
            json!({"campaign_id": campaign_id, "platform": "sandbox"}),
        ),
    ] {
        let (status, answer) =
            send(as_other(&server, reqwest::Method::POST, &path).json(&body)).await;
        assert_eq!(status, 404, "POST {path} as another owner: {answer}");
    }
    for path in [
        format!("/api/creatives/{}", creatives[0]["id"].as_str().unwrap()),
        format!("/api/deployments/{deployment_id}"),
        format!("/api/campaigns/{campaign_id}"),
    ] {
        let (status, answer) = send(as_other(&server, reqwest::Method::DELETE, &path)).await;
        assert_eq!(status, 404, "DELETE {path} as another owner: {answer}");
    }
    for list in [
        "/api/campaigns",
        "/api/creatives",
        "/api/deployments",
        "/api/metrics",
        "/api/jobs",
    ] {
        let (status, body) = send(as_other(&server, reqwest::Method::GET, list)).await;
        assert_eq!(status, 200, "{list}: {body}");
        let rows: usize = body
            .as_object()
            .unwrap()
            .values()
            .filter_map(Value::as_array)
            .map(Vec::len)
            .sum();
        assert_eq!(rows, 0, "{list} shows another owner's rows: {body}");
    }
    // The owner's rows are untouched by all of that.
    let (status, _) = send(server.get(&format!("/api/campaigns/{campaign_id}"))).await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// Counts the objects a platform made, and after `crash_after` successful creations fails
/// every call, as a process that died there would have stopped.
struct Crashing {
    inner: Arc<dyn AdPlatform>,
    made: Arc<AtomicUsize>,
    crash_after: usize,
    by_kind: Arc<std::sync::Mutex<Vec<&'static str>>>,
}

impl Crashing {
    fn step(&self, _kind: &'static str) -> Result<(), PlatformError> {
        if self.made.load(Ordering::SeqCst) >= self.crash_after {
            return Err(PlatformError::Transport {
                message: "the process died here".into(),
            });
        }
        Ok(())
    }

    fn made(&self, kind: &'static str) {
        self.made.fetch_add(1, Ordering::SeqCst);
        self.by_kind.lock().unwrap().push(kind);
    }
}

#[async_trait::async_trait]
impl AdPlatform for Crashing {
    async fn create_campaign(&self, spec: &CampaignSpec) -> Result<String, PlatformError> {
        self.step("campaign")?;
        let id = self.inner.create_campaign(spec).await?;
        self.made("campaign");
        Ok(id)
    }

    async fn create_ad_set(&self, spec: &AdSetSpec) -> Result<String, PlatformError> {
        self.step("ad_set")?;
        let id = self.inner.create_ad_set(spec).await?;
        self.made("ad_set");
        Ok(id)
    }

    async fn upload_image(&self, name: &str, bytes: &[u8]) -> Result<AssetRef, PlatformError> {
        self.step("image")?;
        let r = self.inner.upload_image(name, bytes).await?;
        self.made("image");
        Ok(r)
    }

    async fn upload_video(
        &self,
        name: &str,
        source: &VideoSource,
    ) -> Result<AssetRef, PlatformError> {
        self.step("video")?;
        let r = self.inner.upload_video(name, source).await?;
        self.made("video");
        Ok(r)
    }

    async fn create_creative(&self, spec: &CreativeSpec) -> Result<Creative, PlatformError> {
        self.step("creative")?;
        let r = self.inner.create_creative(spec).await?;
        self.made("creative");
        Ok(r)
    }

    async fn create_ad(&self, spec: &AdSpec) -> Result<String, PlatformError> {
        self.step("ad")?;
        let id = self.inner.create_ad(spec).await?;
        self.made("ad");
        Ok(id)
    }

    async fn pause(&self, kind: ObjectKind, id: &str) -> Result<(), PlatformError> {
        self.inner.pause(kind, id).await
    }

    async fn resume(&self, kind: ObjectKind, id: &str) -> Result<(), PlatformError> {
        self.inner.resume(kind, id).await
    }

    async fn update_budget(
        &self,
        kind: ObjectKind,
        id: &str,
        budget: adforge::orchestrate::platforms::Budget,
    ) -> Result<(), PlatformError> {
        self.inner.update_budget(kind, id, budget).await
    }

    async fn fetch_insights(&self, range: DateRange) -> Result<Vec<DailyAdMetrics>, PlatformError> {
        self.inner.fetch_insights(range).await
    }
}

/// Generates `campaign`'s creatives for the square feed format only (no video) and waits for
/// the job; its id.
pub async fn square_creatives(server: &TestServer, campaign: &str) -> String {
    let (status, job) = send(server.post(
        "/api/generate",
        &json!({"campaign_id": campaign, "video": false, "formats": ["meta_feed_square"]}),
    ))
    .await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    job_result(server, &id, Duration::from_secs(120)).await;
    id
}

/// A planned campaign stored directly (two concepts with Meta-sized copy, one ad set on
/// `platform`): what the planner would store, without running the model.
pub async fn planned_campaign(server: &TestServer, owner: &str, platform: &str) -> String {
    planned_campaign_in(&server.store, owner, platform).await
}

/// [`planned_campaign`] straight into a store.
pub async fn planned_campaign_in(
    store: &adforge::store::Store,
    owner: &str,
    platform: &str,
) -> String {
    use adforge::store::campaigns::CampaignRow;
    use adforge::store::orchestration::{AdSetRow, AgentRunRow};
    let now = now_ms();
    let id = format!("c-crash-{now}-{}", uuid::Uuid::new_v4().simple());
    let copy = |h: &str| {
        let mut per_platform = serde_json::Map::new();
        per_platform.insert(
            platform.to_string(),
            json!({"headline": h, "primary_text": "Smooth cold brew at home in a minute.",
                "description": "Makes 16 cups", "call_to_action": "Shop Now"}),
        );
        Value::Object(per_platform)
    };
    let plan = json!({"name": "Cold brew", "daily_budget_micros": 100_000_000,
        "concepts": [{"name": "Morning ritual", "angle": "calm", "copy": copy("Your calm morning cup")},
                     {"name": "Commute fuel", "angle": "speed", "copy": copy("Fuel for the commute")}]});
    let campaign = CampaignRow {
        id: id.clone(),
        owner_id: owner.into(),
        name: "Cold brew".into(),
        objective: "sales".into(),
        status: "draft".into(),
        currency: "USD".into(),
        daily_budget_micros: 100_000_000,
        start_date: "2027-03-01".into(),
        end_date: Some("2027-03-14".into()),
        platforms: vec![platform.into()],
        brief: Some(json!({"product": "Cold brew", "landing_url": "https://example.com/cb"})),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let ad_set = AdSetRow {
        id: format!("{id}-as"),
        owner_id: owner.into(),
        campaign_id: id.clone(),
        platform: platform.into(),
        name: "Commuters".into(),
        targeting: json!({"countries": ["US"]}),
        daily_budget_micros: 100_000_000,
        status: "active".into(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let run = AgentRunRow {
        id: format!("{id}-run"),
        owner_id: owner.into(),
        campaign_id: Some(id.clone()),
        agent: "planner".into(),
        seed: 1,
        input: json!({}),
        trace: json!([]),
        output: Some(plan.clone()),
        status: "succeeded".into(),
        error: None,
        created_at: now,
    };
    store
        .insert_planned_campaign(&campaign, &plan, &[ad_set], &run)
        .await
        .unwrap();
    id
}

async fn a_deployment_retried_after_a_crash_at_any_step_creates_nothing_twice(kind: StoreKind) {
    use adforge::orchestrate::deploy::{DeployInput, deploy};
    use adforge::orchestrate::platforms::sandbox::SandboxPlatform;
    use adforge::store::orchestration::DeploymentRow;
    let db = TestDb::new(kind).await;
    let queue = Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
        db.store.clone(),
    ));
    // No text model: the creatives take the plan's copy.
    let server = TestServer::start(db.store.clone(), queue).await;
    let owner = adforge::auth::ADMIN_OWNER_ID.to_string();
    let campaign_id = planned_campaign(&server, &owner, "sandbox").await;
    square_creatives(&server, &campaign_id).await;

    let store = &server.store;
    let assets = &server.orchestrator.assets;
    let first_day = adforge::orchestrate::platforms::parse_iso_date("2027-03-01").unwrap();
    let new_deployment = |n: usize| {
        let now = now_ms();
        DeploymentRow {
            id: format!("d-crash-{n}-{now}"),
            owner_id: owner.clone(),
            campaign_id: campaign_id.clone(),
            platform: "sandbox".into(),
            status: "pending".into(),
            job_id: None,
            error: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    };
    let run = async |d: &DeploymentRow, platform: &Crashing| {
        let input = DeployInput::load(store, d).await.unwrap();
        deploy(store, assets, platform, d, &input, None).await
    };
    let crashing = |inner: &Arc<dyn AdPlatform>, crash_after: usize| Crashing {
        inner: inner.clone(),
        made: Arc::default(),
        crash_after,
        by_kind: Arc::default(),
    };

    // A clean run: what one deployment makes.
    let (d, _) = store
        .create_or_get_deployment(&new_deployment(0))
        .await
        .unwrap();
    let inner: Arc<dyn AdPlatform> = Arc::new(SandboxPlatform::new(1, first_day).unwrap());
    let clean = crashing(&inner, usize::MAX);
    run(&d, &clean).await.unwrap();
    let mut expected = clean.by_kind.lock().unwrap().clone();
    expected.sort();
    let total = expected.len();
    assert!(
        total >= 5,
        "campaign, ad set, uploads, creatives, ads: {expected:?}"
    );
    assert!(store.delete_deployment(&owner, &d.id).await.unwrap());

    // A crash after each step, then the retry: the union is exactly one clean run.
    for crash_after in 0..total {
        let (d, _) = store
            .create_or_get_deployment(&new_deployment(crash_after + 1))
            .await
            .unwrap();
        let inner: Arc<dyn AdPlatform> = Arc::new(SandboxPlatform::new(1, first_day).unwrap());
        let first = crashing(&inner, crash_after);
        assert!(run(&d, &first).await.is_err(), "crash after {crash_after}");
        let retry = Crashing {
            inner: inner.clone(),
            made: first.made.clone(),
            crash_after: usize::MAX,
            by_kind: first.by_kind.clone(),
        };
        run(&d, &retry).await.unwrap();
        let mut made = first.by_kind.lock().unwrap().clone();
        made.sort();
        assert_eq!(
            made, expected,
            "crash after {crash_after} steps, then a retry"
        );
        let ledger = store.ledger(&owner, &d.id).await.unwrap();
        let objects = ledger.iter().filter(|l| l.kind != "sync").count();
        assert_eq!(objects, total, "one ledger row per object made");
        assert!(store.delete_deployment(&owner, &d.id).await.unwrap());
    }

    // Through the API: a deployment paused and resumed on the platform; a creative regenerated.
    let body = json!({"campaign_id": campaign_id, "platform": "sandbox", "approve": true});
    let (status, created) = send(server.post("/api/deployments", &body)).await;
    assert_eq!(status, 202, "{created}");
    job_result(
        &server,
        created["job_id"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
    let id = created["deployment"]["id"].as_str().unwrap();
    for (action, status) in [
        ("pause", "paused"),
        ("pause", "paused"),
        ("resume", "active"),
    ] {
        let (code, d) =
            send(server.post(&format!("/api/deployments/{id}/{action}"), &json!({}))).await;
        assert_eq!(code, 200, "{action}: {d}");
        assert_eq!(d["status"], status, "{action}: {d}");
    }
    let (_, page) = send(server.get(&format!("/api/creatives?campaign_id={campaign_id}"))).await;
    let before = page["creatives"][0].clone();
    let creative = before["id"].as_str().unwrap();
    let (status, job) = send(server.post(
        &format!("/api/creatives/{creative}/regenerate"),
        &json!({"seed": 5}),
    ))
    .await;
    assert_eq!(status, 202, "{job}");
    job_result(
        &server,
        job["id"].as_str().unwrap(),
        Duration::from_secs(120),
    )
    .await;
    let (_, after) = send(server.get(&format!("/api/creatives/{creative}"))).await;
    assert_eq!(
        after["version"],
        before["version"].as_i64().unwrap() + 1,
        "{after}"
    );
    assert_eq!(after["status"], "ready");
    assert_ne!(
        after["assets"]["meta_feed_square"], before["assets"]["meta_feed_square"],
        "rendered again as new assets"
    );
    assert_eq!(
        after["copy"], before["copy"],
        "no text model: the same copy"
    );
    let (status, _) = send(server.post("/api/creatives/nope/regenerate", &json!({}))).await;
    assert_eq!(status, 404);
    server.stop().await;
}

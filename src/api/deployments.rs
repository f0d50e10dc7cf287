//! Deployments and metrics: `POST /api/deployments` (a campaign to a platform, checked first,
//! then a `campaign.deploy` job), `GET /api/deployments` (paged, by campaign), `GET
//! /api/deployments/{id}` (status and every platform object made, from the ledger), `DELETE`,
//! `POST /api/deployments/{id}/sync` (a `campaign.sync` job; sandbox: simulate days first),
//! `POST /api/deployments/{id}/redeploy`, `GET /api/metrics` (daily rows per ad, filtered and
//! paged) and `GET /api/campaigns/{id}/report` (totals per creative and platform with CTR, CPA
//! and ROAS computed here, and a two-proportion test of the best creative against the rest).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::campaigns::{PLATFORMS, date, in_units, one_of};
use super::extract::{Auth, ValidJson, ValidQuery};
use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::jobs::SubmitRequest;
use crate::orchestrate::Platform;
use crate::orchestrate::campaign::MAX_SYNC_DAYS;
use crate::orchestrate::deploy::{DeployError, DeployInput};
use crate::store::now_ms;
use crate::store::orchestration::{DeploymentRow, MetricFilter};

/// Rows one metrics page lists at most.
pub const MAX_METRIC_ROWS: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/deployments", get(list).post(create))
        .route("/api/deployments/{id}", get(read).delete(remove))
        .route("/api/deployments/{id}/sync", post(sync))
        .route("/api/deployments/{id}/redeploy", post(redeploy))
        .route("/api/deployments/{id}/pause", post(pause))
        .route("/api/deployments/{id}/resume", post(resume))
        .route("/api/metrics", get(metrics))
        .route("/api/campaigns/{id}/report", get(report))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeployment {
    pub campaign_id: String,
    /// meta, google, tiktok or sandbox (the campaign must list it).
    pub platform: String,
}

fn view(d: &DeploymentRow) -> Value {
    json!({"id": d.id, "campaign_id": d.campaign_id, "platform": d.platform, "status": d.status,
        "job_id": d.job_id, "error": d.error, "version": d.version, "created_at": d.created_at,
        "updated_at": d.updated_at})
}

fn not_ready(e: DeployError) -> ApiError {
    match e {
        DeployError::NotReady(message) => ApiError::BadRequest {
            code: "not_deployable",
            message,
        },
        DeployError::Store(e) => e.into(),
        DeployError::Platform(e) => ApiError::bad_request(e.to_string()),
    }
}

async fn submit_deploy(
    state: &AppState,
    principal: &Principal,
    d: &DeploymentRow,
    attempt: &str,
) -> Result<String, ApiError> {
    let submitted = state
        .jobs
        .submit(SubmitRequest {
            owner_id: principal.owner_id.clone(),
            owner_is_admin: principal.is_admin,
            kind: "campaign.deploy".into(),
            payload: json!({"deployment_id": d.id}),
            idempotency_key: Some(format!("deploy/{}/{attempt}", d.id)),
            priority: 1,
            max_attempts: None,
        })
        .await?;
    state
        .store
        .set_deployment_status(
            &d.owner_id,
            &d.id,
            "pending",
            None,
            Some(&submitted.job.id),
            now_ms(),
        )
        .await?;
    Ok(submitted.job.id)
}

/// Deploys a campaign to a platform: everything is checked first (ad sets, ready creatives with
/// the assets the platform needs, a landing page; 400 naming what is missing), then a
/// `campaign.deploy` job runs (202). One deployment per campaign and platform: a second POST
/// answers the existing one (200).
#[utoipa::path(post, path = "/api/deployments", tag = "campaigns", request_body = NewDeployment,
    responses((status = 202, description = "Deploying"), (status = 200, description = "Exists already"),
        (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidJson(body): ValidJson<NewDeployment>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    one_of("platform", &body.platform, PLATFORMS)?;
    let owner = &principal.owner_id;
    let campaign = state
        .store
        .get_campaign(owner, &body.campaign_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no campaign {:?}", body.campaign_id)))?;
    let now = now_ms();
    let candidate = DeploymentRow {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: owner.clone(),
        campaign_id: campaign.id.clone(),
        platform: body.platform.clone(),
        status: "pending".into(),
        job_id: None,
        error: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    // Checked before anything is stored: a refused deployment leaves no row.
    DeployInput::load(&state.store, &candidate)
        .await
        .map_err(not_ready)?;
    if body.platform != Platform::Sandbox.name()
        && state
            .store
            .platform_connection(owner, &body.platform)
            .await?
            .is_none()
    {
        return Err(ApiError::BadRequest {
            code: "not_deployable",
            message: format!(
                "platform: `{0}` needs a connected account first (POST /api/platforms/{0}/connections)",
                body.platform
            ),
        });
    }
    let (d, created) = state.store.create_or_get_deployment(&candidate).await?;
    if !created {
        return Ok((StatusCode::OK, Json(view(&d))));
    }
    let job_id = submit_deploy(&state, &principal, &d, "1").await?;
    let d = state.store.get_deployment(owner, &d.id).await?.unwrap_or(d);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"deployment": view(&d), "job_id": job_id})),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeploymentQuery {
    pub campaign_id: Option<String>,
    /// 1 to 100 (default 20).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

fn page(limit: Option<i64>, offset: Option<i64>, max: i64) -> Result<(i64, i64), ApiError> {
    let limit = super::paging::limit(limit, 20.min(max), max)?;
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::bad_request("offset: must not be negative"));
    }
    Ok((limit, offset))
}

/// The caller's deployments, newest first.
#[utoipa::path(get, path = "/api/deployments", tag = "campaigns", params(DeploymentQuery),
    responses((status = 200, description = "A page of deployments")), security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidQuery(q): ValidQuery<DeploymentQuery>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = page(q.limit, q.offset, 100)?;
    let rows = state
        .store
        .list_deployments(
            &principal.owner_id,
            q.campaign_id.as_deref(),
            limit + 1,
            offset,
        )
        .await?;
    let more = rows.len() as i64 > limit;
    Ok(Json(
        json!({"deployments": rows.iter().take(limit as usize).map(view).collect::<Vec<_>>(),
        "next_offset": more.then_some(offset + limit)}),
    ))
}

async fn deployment(state: &AppState, owner: &str, id: &str) -> Result<DeploymentRow, ApiError> {
    state
        .store
        .get_deployment(owner, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no deployment {id:?}")))
}

/// A deployment with every platform object it made (kind, adforge id, platform id).
#[utoipa::path(get, path = "/api/deployments/{id}", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "The deployment"), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn read(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let d = deployment(&state, &principal.owner_id, &id).await?;
    let ledger = state.store.ledger(&principal.owner_id, &id).await?;
    let mut out = view(&d);
    out["objects"] = json!(
        ledger
            .iter()
            .filter(|l| l.kind != "sync")
            .map(|l| json!({
        "kind": l.kind, "local_id": l.local_id, "external_id": l.external_id}))
            .collect::<Vec<_>>()
    );
    Ok(Json(out))
}

/// Forgets a deployment (its ledger and metrics); the platform's objects stay where they are.
#[utoipa::path(delete, path = "/api/deployments/{id}", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state
        .store
        .delete_deployment(&principal.owner_id, &id)
        .await?
    {
        return Err(ApiError::NotFound(format!("no deployment {id:?}")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Runs the deployment again (after a failure, or to push creatives added since): what the
/// ledger holds is reused, only what is missing is made.
#[utoipa::path(post, path = "/api/deployments/{id}/redeploy", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 202, description = "Deploying"), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn redeploy(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let d = deployment(&state, &principal.owner_id, &id).await?;
    DeployInput::load(&state.store, &d)
        .await
        .map_err(not_ready)?;
    let job_id = submit_deploy(&state, &principal, &d, &format!("v{}", d.version)).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"deployment_id": id, "job_id": job_id})),
    ))
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Sandbox only: days to simulate before reading (1 to 90, default 1).
    pub days: Option<u32>,
}

/// Reads the platform's daily rows into `/api/metrics` (a `campaign.sync` job, 202).
#[utoipa::path(post, path = "/api/deployments/{id}/sync", tag = "campaigns", params(("id" = String, Path)),
    request_body = SyncRequest,
    responses((status = 202, description = "Syncing"), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn sync(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<SyncRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let d = deployment(&state, &principal.owner_id, &id).await?;
    if let Some(days) = body.days {
        if d.platform != Platform::Sandbox.name() {
            return Err(ApiError::bad_request(
                "days: only a sandbox deployment simulates days",
            ));
        }
        if days == 0 || days > MAX_SYNC_DAYS {
            return Err(ApiError::bad_request(format!(
                "days: {days} is outside 1..={MAX_SYNC_DAYS}"
            )));
        }
    }
    if d.status != "active" && d.status != "paused" {
        return Err(ApiError::Conflict {
            code: "not_deployed",
            message: format!(
                "deployment {id} is {}: it syncs once it is active",
                d.status
            ),
        });
    }
    let submitted = state
        .jobs
        .submit(SubmitRequest {
            owner_id: principal.owner_id.clone(),
            owner_is_admin: principal.is_admin,
            kind: "campaign.sync".into(),
            payload: json!({"deployment_id": id, "days": body.days}),
            idempotency_key: None,
            priority: 1,
            max_attempts: None,
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"deployment_id": id, "job_id": submitted.job.id})),
    ))
}

/// Pauses delivery: the platform's campaign object is paused and the deployment is `paused`.
#[utoipa::path(post, path = "/api/deployments/{id}/pause", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "Paused"), (status = 404, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn pause(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_delivery(&state, &principal.owner_id, &id, false).await
}

/// Resumes delivery of a paused deployment.
#[utoipa::path(post, path = "/api/deployments/{id}/resume", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "Active again"), (status = 404, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn resume(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_delivery(&state, &principal.owner_id, &id, true).await
}

async fn set_delivery(
    state: &AppState,
    owner: &str,
    id: &str,
    active: bool,
) -> Result<Json<Value>, ApiError> {
    use crate::orchestrate::platforms::ObjectKind;
    let d = deployment(state, owner, id).await?;
    let (from, to) = if active {
        ("paused", "active")
    } else {
        ("active", "paused")
    };
    if d.status != from && d.status != to {
        return Err(ApiError::Conflict {
            code: "not_deployed",
            message: format!(
                "deployment {id} is {}: only an active or paused one can be {to}",
                d.status
            ),
        });
    }
    let external = state
        .store
        .ledger_get(&d.id, "campaign", &d.campaign_id)
        .await?
        .ok_or_else(|| ApiError::Conflict {
            code: "not_deployed",
            message: format!("deployment {id} has no platform campaign yet"),
        })?;
    let client = state.orchestrator.client(&d).await.map_err(not_ready)?;
    let call = if active {
        client.resume(ObjectKind::Campaign, &external).await
    } else {
        client.pause(ObjectKind::Campaign, &external).await
    };
    call.map_err(|e| ApiError::Unavailable {
        what: "the ad platform",
        detail: e.to_string(),
    })?;
    state
        .store
        .set_deployment_status(owner, id, to, None, None, now_ms())
        .await?;
    let _ = state
        .events
        .publish(
            owner,
            "deployment.updated",
            json!({"deployment_id": id, "campaign_id": d.campaign_id, "platform": d.platform,
                "status": to}),
        )
        .await;
    let d = deployment(state, owner, id).await?;
    Ok(Json(view(&d)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MetricQuery {
    pub campaign_id: Option<String>,
    pub deployment_id: Option<String>,
    pub creative_id: Option<String>,
    /// YYYY-MM-DD, included.
    pub from: Option<String>,
    pub to: Option<String>,
    /// 1 to 1000 (default 1000).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Daily rows per ad (impressions, clicks, spend, conversions, revenue), by day.
#[utoipa::path(get, path = "/api/metrics", tag = "campaigns", params(MetricQuery),
    responses((status = 200, description = "A page of rows"), (status = 400, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn metrics(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidQuery(q): ValidQuery<MetricQuery>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = page(
        Some(q.limit.unwrap_or(MAX_METRIC_ROWS)),
        q.offset,
        MAX_METRIC_ROWS,
    )?;
    if let Some(from) = &q.from {
        date("from", from)?;
    }
    if let Some(to) = &q.to {
        date("to", to)?;
    }
    let rows = state
        .store
        .list_metrics(
            &principal.owner_id,
            &MetricFilter {
                campaign_id: q.campaign_id,
                deployment_id: q.deployment_id,
                creative_id: q.creative_id,
                from: q.from,
                to: q.to,
                limit: limit + 1,
                offset,
            },
        )
        .await?;
    let more = rows.len() as i64 > limit;
    Ok(Json(json!({
        "rows": rows.iter().take(limit as usize).map(|m| json!({
            "day": m.day, "platform": m.platform, "deployment_id": m.deployment_id,
            "creative_id": m.creative_id, "ad_external_id": m.ad_external_id,
            "impressions": m.impressions, "clicks": m.clicks, "spend_micros": m.spend_micros,
            "conversions": m.conversions, "revenue_micros": m.revenue_micros})).collect::<Vec<_>>(),
        "next_offset": more.then_some(offset + limit),
    })))
}

#[derive(Default, Clone, Copy)]
struct Totals {
    impressions: i64,
    clicks: i64,
    spend: i64,
    conversions: f64,
    revenue: i64,
}

impl Totals {
    fn add(&mut self, m: &crate::store::orchestration::MetricRow) {
        self.impressions += m.impressions;
        self.clicks += m.clicks;
        self.spend += m.spend_micros;
        self.conversions += m.conversions;
        self.revenue += m.revenue_micros;
    }

    fn view(&self, currency: &str) -> Value {
        let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
        json!({"impressions": self.impressions, "clicks": self.clicks,
            "spend": in_units(self.spend, currency), "spend_micros": self.spend,
            "conversions": self.conversions, "revenue": in_units(self.revenue, currency),
            "ctr": ratio(self.clicks as f64, self.impressions as f64),
            "cpa": ratio(self.spend as f64 / 1e6, self.conversions),
            "roas": ratio(self.revenue as f64, self.spend as f64)})
    }
}

/// A campaign's results: totals, per platform, per creative (CTR, CPA, ROAS), days covered,
/// and the best creative (conversions per click) tested against the others pooled.
#[utoipa::path(get, path = "/api/campaigns/{id}/report", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "The report"), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn report(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let owner = &principal.owner_id;
    let campaign = state
        .store
        .get_campaign(owner, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no campaign {id:?}")))?;
    let rows = state
        .store
        .list_metrics(
            owner,
            &MetricFilter {
                campaign_id: Some(id.clone()),
                limit: 200_000,
                ..MetricFilter::default()
            },
        )
        .await?;
    let mut total = Totals::default();
    let mut by_platform: std::collections::BTreeMap<String, Totals> = Default::default();
    let mut by_creative: std::collections::BTreeMap<String, Totals> = Default::default();
    let mut days = std::collections::BTreeSet::new();
    for m in &rows {
        total.add(m);
        by_platform.entry(m.platform.clone()).or_default().add(m);
        by_creative
            .entry(m.creative_id.clone().unwrap_or_default())
            .or_default()
            .add(m);
        days.insert(m.day.clone());
    }
    let cur = &campaign.currency;
    // The best creative by conversions per click against the rest pooled: a two-proportion
    // z-test (normal approximation), computed here; the numbers are the report's, not a model's.
    let best = by_creative
        .iter()
        .filter(|(_, t)| t.clicks > 0)
        .max_by(|a, b| {
            (a.1.conversions / a.1.clicks as f64).total_cmp(&(b.1.conversions / b.1.clicks as f64))
        })
        .map(|(id, t)| (id.clone(), *t));
    let test = best.map(|(best_id, b)| {
        let rest = by_creative.iter().filter(|(id, _)| **id != best_id).fold(
            Totals::default(),
            |mut acc, (_, t)| {
                acc.clicks += t.clicks;
                acc.conversions += t.conversions;
                acc
            },
        );
        let (n1, n2) = (b.clicks as f64, rest.clicks as f64);
        let (p1, p2) = (
            b.conversions / n1,
            if n2 > 0.0 { rest.conversions / n2 } else { 0.0 },
        );
        let pooled = (b.conversions + rest.conversions) / (n1 + n2).max(1.0);
        let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2.max(1.0))).sqrt();
        let z = if se > 0.0 { (p1 - p2) / se } else { 0.0 };
        let p_value = if n2 > 0.0 {
            2.0 * (1.0 - statrs::function::erf::erf(z.abs() / std::f64::consts::SQRT_2)) / 2.0
        } else {
            1.0
        };
        json!({"best_creative_id": best_id, "conversion_rate": p1, "others_conversion_rate": p2,
            "z": z, "p_value": p_value, "test": "two-proportion z-test, conversions per click"})
    });
    Ok(Json(json!({
        "campaign_id": id, "currency": cur, "days": days.len(),
        "first_day": days.iter().next(), "last_day": days.iter().next_back(),
        "totals": total.view(cur),
        "platforms": by_platform.iter().map(|(p, t)| {
            let mut v = t.view(cur); v["platform"] = json!(p); v }).collect::<Vec<_>>(),
        "creatives": by_creative.iter().map(|(c, t)| {
            let mut v = t.view(cur); v["creative_id"] = json!(c); v }).collect::<Vec<_>>(),
        "best_vs_rest": test,
    })))
}

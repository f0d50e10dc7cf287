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
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::campaigns::{PLATFORMS, date, in_units, one_of};
use super::extract::{Auth, ValidJson, ValidQuery};
use super::{ApiError, AppState};
use crate::auth::Principal;
use crate::jobs::SubmitRequest;
use crate::orchestrate::Platform;
use crate::orchestrate::campaign::MAX_SYNC_DAYS;
use crate::orchestrate::deploy::{DeployError, DeployInput};
use crate::orchestrate::objective::{self, ObjectiveMetric};
use crate::store::campaigns::CampaignRow;
use crate::store::now_ms;
use crate::store::orchestration::{DeploymentRow, MetricFilter, MetricRow};

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
        .route("/api/deployments/{id}/sandbox/rates", post(sandbox_rates))
        .route("/api/metrics", get(metrics))
        .route("/api/campaigns/{id}/report", get(report))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeployment {
    pub campaign_id: String,
    /// meta, google or tiktok (the campaign must list it), or sandbox: a rehearsal of the whole
    /// plan (every platform's ad sets with their budgets) on simulated delivery.
    pub platform: String,
    /// A draft campaign is deployed only once its plan is approved: `true` approves it in this
    /// step (the answer says so with `approved_plan`); without it a draft answers 409.
    pub approve: Option<bool>,
}

/// A campaign's deployment to one platform.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeploymentView {
    pub id: String,
    pub campaign_id: String,
    /// meta, google, tiktok or sandbox.
    pub platform: String,
    /// `pending`, `deploying`, `active`, `paused` or `failed`.
    pub status: String,
    /// The latest `campaign.deploy` job; null before the first.
    pub job_id: Option<String>,
    /// Why the deployment failed; null unless it did.
    pub error: Option<String>,
    pub version: i64,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Milliseconds since the Unix epoch.
    pub updated_at: i64,
}

fn view(d: &DeploymentRow) -> DeploymentView {
    DeploymentView {
        id: d.id.clone(),
        campaign_id: d.campaign_id.clone(),
        platform: d.platform.clone(),
        status: d.status.clone(),
        job_id: d.job_id.clone(),
        error: d.error.clone(),
        version: d.version,
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

/// A new deployment and the job that deploys it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeploymentStarted {
    pub deployment: DeploymentView,
    /// The `campaign.deploy` job.
    pub job_id: String,
    /// True when this request approved the draft plan (`approve: true`): the campaign is now
    /// `active`.
    pub approved_plan: bool,
}

/// What `POST /api/deployments` answers: a new deployment with its job (202), or the existing
/// deployment of that campaign and platform (200).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum DeploymentCreated {
    Started(DeploymentStarted),
    Existing(DeploymentView),
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
    responses((status = 202, description = "Deploying", body = DeploymentStarted),
        (status = 200, description = "Exists already", body = DeploymentView),
        (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidJson(body): ValidJson<NewDeployment>,
) -> Result<(StatusCode, Json<DeploymentCreated>), ApiError> {
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
    // Approved last, once nothing else refuses the deployment.
    let approved_plan =
        approve_for_deploy(&state, &campaign, body.approve.unwrap_or(false)).await?;
    let (d, created) = state.store.create_or_get_deployment(&candidate).await?;
    if !created {
        return Ok((StatusCode::OK, Json(DeploymentCreated::Existing(view(&d)))));
    }
    let job_id = submit_deploy(&state, &principal, &d, "1").await?;
    let d = state.store.get_deployment(owner, &d.id).await?.unwrap_or(d);
    Ok((
        StatusCode::ACCEPTED,
        Json(DeploymentCreated::Started(DeploymentStarted {
            deployment: view(&d),
            job_id,
            approved_plan,
        })),
    ))
}

/// A campaign deploys once its plan is approved: a draft is approved here when the caller says
/// so (answers true), else refused with 409; an archived or ended campaign is refused.
async fn approve_for_deploy(
    state: &AppState,
    campaign: &CampaignRow,
    approve: bool,
) -> Result<bool, ApiError> {
    match campaign.status.as_str() {
        "draft" if approve => {
            let mut row = campaign.clone();
            row.status = "active".into();
            row.updated_at = now_ms();
            match state.store.update_campaign(&row, campaign.version).await? {
                crate::store::campaigns::Versioned::Done(_) => Ok(true),
                _ => Err(ApiError::Conflict {
                    code: "stale",
                    message: format!(
                        "campaign {}: it changed while it was being approved; try again",
                        campaign.id
                    ),
                }),
            }
        }
        "draft" => Err(ApiError::Conflict {
            code: "not_approved",
            message: format!(
                "campaign: {} is a draft; approve its plan first (PATCH /api/campaigns/{} with \
                 status active) or send \"approve\": true to approve it in this step",
                campaign.id, campaign.id
            ),
        }),
        "archived" | "ended" => Err(ApiError::Conflict {
            code: "not_deployable",
            message: format!(
                "campaign: {} is {}; only a draft, active or paused campaign deploys",
                campaign.id, campaign.status
            ),
        }),
        _ => Ok(false),
    }
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

/// A page of deployments.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeploymentPage {
    /// Newest first.
    pub deployments: Vec<DeploymentView>,
    /// Pass as `offset` for the next page; null on the last.
    pub next_offset: Option<i64>,
}

/// The caller's deployments, newest first.
#[utoipa::path(get, path = "/api/deployments", tag = "campaigns", params(DeploymentQuery),
    responses((status = 200, description = "A page of deployments", body = DeploymentPage)), security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidQuery(q): ValidQuery<DeploymentQuery>,
) -> Result<Json<DeploymentPage>, ApiError> {
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
    Ok(Json(DeploymentPage {
        deployments: rows.iter().take(limit as usize).map(view).collect(),
        next_offset: more.then_some(offset + limit),
    }))
}

async fn deployment(state: &AppState, owner: &str, id: &str) -> Result<DeploymentRow, ApiError> {
    state
        .store
        .get_deployment(owner, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no deployment {id:?}")))
}

/// One object a deployment made on the platform.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlatformObject {
    /// What it is (`campaign`, `ad_set`, `creative`, `ad`, ...).
    pub kind: String,
    /// adforge's id of what it stands for.
    pub local_id: String,
    /// The platform's id.
    pub external_id: String,
}

/// A deployment with every platform object it made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeploymentDetail {
    #[serde(flatten)]
    pub deployment: DeploymentView,
    /// From the ledger, in the order they were made.
    pub objects: Vec<PlatformObject>,
}

/// A deployment with every platform object it made (kind, adforge id, platform id).
#[utoipa::path(get, path = "/api/deployments/{id}", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "The deployment", body = DeploymentDetail), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn read(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<DeploymentDetail>, ApiError> {
    let d = deployment(&state, &principal.owner_id, &id).await?;
    let ledger = state.store.ledger(&principal.owner_id, &id).await?;
    let objects = ledger
        .into_iter()
        .filter(|l| l.kind != "sync")
        .map(|l| PlatformObject {
            kind: l.kind,
            local_id: l.local_id,
            external_id: l.external_id,
        })
        .collect();
    Ok(Json(DeploymentDetail {
        deployment: view(&d),
        objects,
    }))
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

/// A job started on a deployment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeploymentJob {
    pub deployment_id: String,
    /// The job (`campaign.deploy` or `campaign.sync`); follow it at `/api/jobs/{job_id}`.
    pub job_id: String,
}

/// Runs the deployment again (after a failure, or to push creatives added since): what the
/// ledger holds is reused, only what is missing is made.
#[utoipa::path(post, path = "/api/deployments/{id}/redeploy", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 202, description = "Deploying", body = DeploymentJob), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn redeploy(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeploymentJob>), ApiError> {
    let d = deployment(&state, &principal.owner_id, &id).await?;
    DeployInput::load(&state.store, &d)
        .await
        .map_err(not_ready)?;
    let job_id = submit_deploy(&state, &principal, &d, &format!("v{}", d.version)).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(DeploymentJob {
            deployment_id: id,
            job_id,
        }),
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
    responses((status = 202, description = "Syncing", body = DeploymentJob), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn sync(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<SyncRequest>,
) -> Result<(StatusCode, Json<DeploymentJob>), ApiError> {
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
        Json(DeploymentJob {
            deployment_id: id,
            job_id: submitted.job.id,
        }),
    ))
}

/// Pauses delivery: the platform's campaign object is paused and the deployment is `paused`.
#[utoipa::path(post, path = "/api/deployments/{id}/pause", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "Paused", body = DeploymentView), (status = 404, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn pause(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<DeploymentView>, ApiError> {
    set_delivery(&state, &principal.owner_id, &id, false).await
}

/// Resumes delivery of a paused deployment.
#[utoipa::path(post, path = "/api/deployments/{id}/resume", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "Active again", body = DeploymentView), (status = 404, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn resume(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<DeploymentView>, ApiError> {
    set_delivery(&state, &principal.owner_id, &id, true).await
}

async fn set_delivery(
    state: &AppState,
    owner: &str,
    id: &str,
    active: bool,
) -> Result<Json<DeploymentView>, ApiError> {
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
    // The campaign follows its delivery: paused when every deployment is, active again when one
    // resumes.
    let all = state
        .store
        .list_deployments(owner, Some(&d.campaign_id), 100, 0)
        .await?;
    let campaign_status = if active {
        Some("active")
    } else if all.iter().all(|x| x.status != "active") {
        Some("paused")
    } else {
        None
    };
    if let Some(status) = campaign_status {
        crate::orchestrate::campaign::follow_delivery(&state.store, owner, &d.campaign_id, status)
            .await?;
    }
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

/// A rehearsal's "what if": one creative converts at a fraction (or a multiple) of its rate.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxRates {
    /// A creative of the rehearsed campaign.
    pub creative_id: String,
    /// Its ads' conversion rate is multiplied by this (0 to 10) from the next simulated day on.
    pub conversion_rate_factor: f64,
}

/// What changed: the creative's ads in the sandbox and their conversion rates now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SandboxRatesChanged {
    pub creative_id: String,
    /// One per ad of the creative (one per ad set of its platform).
    pub conversion_rates: Vec<f64>,
}

/// Sandbox only: makes one creative convert worse or better from the next simulated day on, to
/// rehearse how the optimizer and the A/B test respond.
#[utoipa::path(post, path = "/api/deployments/{id}/sandbox/rates", tag = "campaigns",
    params(("id" = String, Path)), request_body = SandboxRates,
    responses((status = 200, description = "Changed", body = SandboxRatesChanged),
        (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn sandbox_rates(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<SandboxRates>,
) -> Result<Json<SandboxRatesChanged>, ApiError> {
    let d = deployment(&state, &principal.owner_id, &id).await?;
    if d.platform != Platform::Sandbox.name() {
        return Err(ApiError::bad_request(
            "id: only a sandbox deployment has rates to change",
        ));
    }
    let factor = body.conversion_rate_factor;
    if !(0.0..=10.0).contains(&factor) {
        return Err(ApiError::bad_request(format!(
            "conversion_rate_factor: {factor} is outside 0..=10"
        )));
    }
    let sandbox = state
        .orchestrator
        .platforms
        .existing_sandbox(&d.id)
        .ok_or_else(|| ApiError::Conflict {
            code: "not_deployed",
            message: format!(
                "deployment {id} has no sandbox running (deploy it, or redeploy after a restart)"
            ),
        })?;
    let suffix = format!(":{}", body.creative_id);
    let ads: Vec<String> = state
        .store
        .ledger(&principal.owner_id, &d.id)
        .await?
        .into_iter()
        .filter(|l| l.kind == "ad" && l.local_id.ends_with(&suffix))
        .map(|l| l.external_id)
        .collect();
    if ads.is_empty() {
        return Err(ApiError::NotFound(format!(
            "creative_id: {} has no ads in deployment {id}",
            body.creative_id
        )));
    }
    let mut conversion_rates = Vec::new();
    for ad in ads {
        let rates = sandbox
            .scale_conversion_rate(&ad, factor)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        conversion_rates.push(rates.conversion_rate);
    }
    Ok(Json(SandboxRatesChanged {
        creative_id: body.creative_id,
        conversion_rates,
    }))
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

/// One ad's day on a platform.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MetricDay {
    /// YYYY-MM-DD.
    pub day: String,
    pub platform: String,
    pub deployment_id: String,
    /// The creative the ad shows; null when the ad is not one of adforge's.
    pub creative_id: Option<String>,
    /// The platform's id of the ad.
    pub ad_external_id: String,
    pub impressions: i64,
    pub clicks: i64,
    /// Spend in millionths of the campaign's currency.
    pub spend_micros: i64,
    /// Conversions (fractional where the platform attributes fractions).
    pub conversions: f64,
    /// Revenue in millionths of the campaign's currency.
    pub revenue_micros: i64,
}

impl From<&MetricRow> for MetricDay {
    fn from(m: &MetricRow) -> Self {
        MetricDay {
            day: m.day.clone(),
            platform: m.platform.clone(),
            deployment_id: m.deployment_id.clone(),
            creative_id: m.creative_id.clone(),
            ad_external_id: m.ad_external_id.clone(),
            impressions: m.impressions,
            clicks: m.clicks,
            spend_micros: m.spend_micros,
            conversions: m.conversions,
            revenue_micros: m.revenue_micros,
        }
    }
}

/// A page of daily metric rows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MetricPage {
    /// By day, then ad.
    pub rows: Vec<MetricDay>,
    /// Pass as `offset` for the next page; null on the last.
    pub next_offset: Option<i64>,
}

/// Daily rows per ad (impressions, clicks, spend, conversions, revenue), by day.
#[utoipa::path(get, path = "/api/metrics", tag = "campaigns", params(MetricQuery),
    responses((status = 200, description = "A page of rows", body = MetricPage), (status = 400, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn metrics(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidQuery(q): ValidQuery<MetricQuery>,
) -> Result<Json<MetricPage>, ApiError> {
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
    Ok(Json(MetricPage {
        rows: rows
            .iter()
            .take(limit as usize)
            .map(MetricDay::from)
            .collect(),
        next_offset: more.then_some(offset + limit),
    }))
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
    fn add(&mut self, m: &MetricRow) {
        self.impressions += m.impressions;
        self.clicks += m.clicks;
        self.spend += m.spend_micros;
        self.conversions += m.conversions;
        self.revenue += m.revenue_micros;
    }

    fn view(&self, currency: &str) -> ReportTotals {
        let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
        ReportTotals {
            impressions: self.impressions,
            clicks: self.clicks,
            spend: in_units(self.spend, currency),
            spend_micros: self.spend,
            conversions: self.conversions,
            revenue: in_units(self.revenue, currency),
            ctr: ratio(self.clicks as f64, self.impressions as f64),
            cpa: ratio(self.spend as f64 / 1e6, self.conversions),
            roas: ratio(self.revenue as f64, self.spend as f64),
        }
    }
}

/// Totals over a set of daily rows, with the ratios computed from them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportTotals {
    pub impressions: i64,
    pub clicks: i64,
    /// A decimal string in the currency's units.
    pub spend: String,
    /// Spend in millionths of the currency.
    pub spend_micros: i64,
    pub conversions: f64,
    /// A decimal string in the currency's units.
    pub revenue: String,
    /// Clicks per impression; null without impressions.
    pub ctr: Option<f64>,
    /// Spend (in units) per conversion; null without conversions.
    pub cpa: Option<f64>,
    /// Revenue per spend; null without spend.
    pub roas: Option<f64>,
}

/// One platform's totals.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlatformTotals {
    pub platform: String,
    #[serde(flatten)]
    pub totals: ReportTotals,
}

/// One creative's totals.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreativeTotals {
    /// Empty for rows of ads that are not adforge's creatives.
    pub creative_id: String,
    #[serde(flatten)]
    pub totals: ReportTotals,
}

/// The best creative on the campaign objective's metric (the optimizer's: ROAS for sales once
/// revenue is synced, else CPA; CTR for traffic, awareness and engagement; CPA for leads and
/// app promotion) against the others pooled, with a two-proportion test of its conversions per
/// click beside it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BestVsRest {
    pub best_creative_id: String,
    /// The best creative's name (concept and format).
    pub best_creative_name: String,
    /// `roas`, `cpa` or `ctr`: what "best" is judged on.
    pub metric: ObjectiveMetric,
    /// The best creative's value of `metric`.
    pub value: f64,
    /// The other creatives' value of `metric`, pooled; null when undefined (no delivery, or a
    /// CPA without conversions).
    pub others_value: Option<f64>,
    /// The sentence to show: "Creative 'X' has ROAS 3.76x against 0.85x for the others."
    pub headline: String,
    /// The best creative's conversions per click.
    pub conversion_rate: f64,
    /// The other creatives' conversions per click, pooled (0 when there are none).
    pub others_conversion_rate: f64,
    /// The z statistic.
    pub z: f64,
    /// Two-sided (1 when there are no other clicks).
    pub p_value: f64,
    /// The test's name.
    pub test: &'static str,
}

/// A campaign's results from its synced metrics.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignReport {
    pub campaign_id: String,
    /// ISO 4217.
    pub currency: String,
    /// Days with rows.
    pub days: usize,
    /// The first day with rows (YYYY-MM-DD); null without rows.
    pub first_day: Option<String>,
    /// The last day with rows (YYYY-MM-DD); null without rows.
    pub last_day: Option<String>,
    pub totals: ReportTotals,
    /// Per platform, by name.
    pub platforms: Vec<PlatformTotals>,
    /// Per creative, by id.
    pub creatives: Vec<CreativeTotals>,
    /// Null when no creative has clicks, or none has a value of the objective's metric.
    pub best_vs_rest: Option<BestVsRest>,
}

/// A campaign's results: totals, per platform, per creative (CTR, CPA, ROAS), days covered,
/// and the best creative on the objective's metric against the others pooled (`headline`).
#[utoipa::path(get, path = "/api/campaigns/{id}/report", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "The report", body = CampaignReport), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn report(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<CampaignReport>, ApiError> {
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
    let names = creative_names(&state, owner, &id).await?;
    let test = best_vs_rest(&campaign.objective, cur, &rows, &by_creative, &names);
    Ok(Json(CampaignReport {
        campaign_id: id,
        currency: cur.clone(),
        days: days.len(),
        first_day: days.iter().next().cloned(),
        last_day: days.iter().next_back().cloned(),
        totals: total.view(cur),
        platforms: by_platform
            .iter()
            .map(|(p, t)| PlatformTotals {
                platform: p.clone(),
                totals: t.view(cur),
            })
            .collect(),
        creatives: by_creative
            .iter()
            .map(|(c, t)| CreativeTotals {
                creative_id: c.clone(),
                totals: t.view(cur),
            })
            .collect(),
        best_vs_rest: test,
    }))
}

/// The campaign's creatives' names by id (the id where a creative has no name).
pub(super) async fn creative_names(
    state: &AppState,
    owner: &str,
    campaign_id: &str,
) -> Result<std::collections::HashMap<String, String>, ApiError> {
    let creatives = state
        .store
        .list_creatives(
            owner,
            &crate::store::creatives::CreativeFilter {
                campaign_id: Some(campaign_id.to_string()),
                limit: 1000,
                ..Default::default()
            },
        )
        .await?;
    Ok(creatives
        .into_iter()
        .filter(|c| !c.name.trim().is_empty())
        .map(|c| (c.id, c.name))
        .collect())
}

/// The best creative on the objective's metric against the others pooled
/// (`objective::best_vs_rest`, the metric the optimizer decides on), with the two-proportion
/// z-test of its conversions per click (normal approximation); `None` when no creative has
/// clicks or none has a value. The numbers are the report's, not a model's.
fn best_vs_rest(
    objective_name: &str,
    currency: &str,
    rows: &[MetricRow],
    by_creative: &std::collections::BTreeMap<String, Totals>,
    names: &std::collections::HashMap<String, String>,
) -> Option<BestVsRest> {
    if !by_creative.values().any(|t| t.clicks > 0) {
        return None;
    }
    let (metric, best) = objective::compare_creatives(objective_name, currency, rows, names)?;
    let (p1, p2, z, p_value) = conversions_per_click_test(&best.best, by_creative);
    Some(BestVsRest {
        best_creative_name: names
            .get(&best.best)
            .cloned()
            .unwrap_or_else(|| best.best.clone()),
        best_creative_id: best.best,
        metric,
        value: best.value,
        others_value: best.others_value,
        headline: best.headline,
        conversion_rate: p1,
        others_conversion_rate: p2,
        z,
        p_value,
        test: "two-proportion z-test, conversions per click",
    })
}

/// `best_id`'s conversions per click against the other creatives' pooled: (rate, others' rate,
/// z, two-sided p; 1 when the others have no clicks).
fn conversions_per_click_test(
    best_id: &str,
    by_creative: &std::collections::BTreeMap<String, Totals>,
) -> (f64, f64, f64, f64) {
    let b = by_creative.get(best_id).copied().unwrap_or_default();
    let rest = by_creative.iter().filter(|(id, _)| *id != best_id).fold(
        Totals::default(),
        |mut acc, (_, t)| {
            acc.clicks += t.clicks;
            acc.conversions += t.conversions;
            acc
        },
    );
    let (n1, n2) = (b.clicks as f64, rest.clicks as f64);
    let p1 = if n1 > 0.0 { b.conversions / n1 } else { 0.0 };
    let p2 = if n2 > 0.0 { rest.conversions / n2 } else { 0.0 };
    let pooled = (b.conversions + rest.conversions) / (n1 + n2).max(1.0);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1.max(1.0) + 1.0 / n2.max(1.0))).sqrt();
    let z = if se > 0.0 { (p1 - p2) / se } else { 0.0 };
    let p_value = if n2 > 0.0 && n1 > 0.0 {
        1.0 - statrs::function::erf::erf(z.abs() / std::f64::consts::SQRT_2)
    } else {
        1.0
    };
    (p1, p2, z, p_value)
}

//! The planner and optimizer agents over HTTP: `POST /api/campaigns/plan` (a brief, a budget
//! and a goal -> a `campaign.plan` job whose result is a draft campaign with its plan and ad
//! sets), `GET /api/campaigns/{id}/plan`, `GET /api/campaigns/{id}/runs` (every agent run with
//! its tool calls), `POST /api/campaigns/{id}/optimize` (proposed actions from the synced
//! metrics), `GET /api/campaigns/{id}/actions`, `POST /api/actions/{id}/approve|reject`, and
//! `PUT /api/campaigns/{id}/policy` (auto-apply).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::campaigns::{Amount, OBJECTIVES, PLATFORMS, date, one_of};
use super::extract::{Auth, ValidJson, ValidQuery};
use super::{ApiError, AppState};
use crate::jobs::SubmitRequest;
use crate::orchestrate::campaign::{apply_action, optimize};
use crate::orchestrate::optimizer::OptimizerPolicy;
use crate::orchestrate::planner::{self, PlanBrief};
use crate::orchestrate::platforms::money::Currency;
use crate::store::campaigns::CampaignRow;
use crate::store::orchestration::ActionRow;

/// Longest schedule a plan covers, in days.
pub const MAX_PLAN_DAYS: i64 = 366;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/campaigns/plan", post(plan))
        .route("/api/campaigns/{id}/plan", get(read_plan))
        .route("/api/campaigns/{id}/runs", get(runs))
        .route("/api/campaigns/{id}/optimize", post(run_optimizer))
        .route("/api/campaigns/{id}/actions", get(actions))
        .route("/api/campaigns/{id}/policy", put(policy))
        .route("/api/actions/{id}/approve", post(approve))
        .route("/api/actions/{id}/reject", post(reject))
}

/// A brief for the planner.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// What is advertised (1-500 characters).
    pub product: String,
    #[serde(default)]
    pub audience: String,
    /// awareness, traffic, engagement, leads, app_promotion or sales.
    pub objective: String,
    pub currency: String,
    /// Over the whole schedule, a decimal string or a number.
    pub total_budget: Amount,
    pub start_date: String,
    pub end_date: String,
    /// meta, google, tiktok, sandbox.
    pub platforms: Vec<String>,
    /// ISO 3166-1 alpha-2 (default US).
    #[serde(default)]
    pub countries: Vec<String>,
    pub age_min: Option<u8>,
    pub age_max: Option<u8>,
    pub landing_url: String,
    pub seed: Option<u64>,
}

fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    let n = value.chars().count();
    if n < min || n > max {
        return Err(ApiError::bad_request(format!(
            "{field}: {n} characters is outside {min}..={max}"
        )));
    }
    Ok(value.to_string())
}

impl PlanRequest {
    fn validate(self) -> Result<PlanBrief, ApiError> {
        one_of("objective", &self.objective, OBJECTIVES)?;
        let currency = Currency::from_code(&self.currency.to_ascii_uppercase())
            .map_err(|e| ApiError::bad_request(format!("currency: {e}")))?;
        let total = self.total_budget.micros("total_budget")?;
        if total.0 <= 0 {
            return Err(ApiError::bad_request("total_budget: must be more than 0"));
        }
        total
            .to_minor_units(&currency)
            .map_err(|e| ApiError::bad_request(format!("total_budget: {e}")))?;
        let start = date("start_date", &self.start_date)?;
        let end = date("end_date", &self.end_date)?;
        if end < start {
            return Err(ApiError::bad_request(format!(
                "end_date: {} is before start_date {}",
                self.end_date, self.start_date
            )));
        }
        let days = planner::days(start, end);
        if days > MAX_PLAN_DAYS {
            return Err(ApiError::bad_request(format!(
                "end_date: the schedule is {days} days, the limit is {MAX_PLAN_DAYS}"
            )));
        }
        if self.platforms.is_empty() || self.platforms.len() > 4 {
            return Err(ApiError::bad_request(
                "platforms: 1 to 4 platforms are required",
            ));
        }
        for (i, p) in self.platforms.iter().enumerate() {
            one_of(&format!("platforms[{i}]"), p, PLATFORMS)?;
            if self.platforms[..i].contains(p) {
                return Err(ApiError::bad_request(format!(
                    "platforms[{i}]: `{p}` is listed twice"
                )));
            }
        }
        let daily = total.0 / days;
        let minimum: i64 = self
            .platforms
            .iter()
            .map(|p| planner::min_daily_units(platform_of(p)) * 1_000_000)
            .sum();
        if daily < minimum {
            return Err(ApiError::bad_request(format!(
                "total_budget: {:.2} a day over {days} days is under the platforms' minimum of {:.2} a day ({})",
                daily as f64 / 1e6,
                minimum as f64 / 1e6,
                self.platforms
                    .iter()
                    .map(|p| format!("{p} {}", planner::min_daily_units(platform_of(p))))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let countries = if self.countries.is_empty() {
            vec!["US".to_string()]
        } else {
            self.countries
        };
        for (i, c) in countries.iter().enumerate() {
            if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
                return Err(ApiError::bad_request(format!(
                    "countries[{i}]: `{c}` is not an ISO 3166-1 alpha-2 code like US"
                )));
            }
        }
        if let (Some(lo), Some(hi)) = (self.age_min, self.age_max)
            && lo > hi
        {
            return Err(ApiError::bad_request(format!(
                "age_max: {hi} is under age_min {lo}"
            )));
        }
        if self.age_min.is_some_and(|a| a < 13) || self.age_max.is_some_and(|a| a > 65) {
            return Err(ApiError::bad_request(
                "age_min/age_max: ages run from 13 to 65",
            ));
        }
        let landing = super::urls::public_url("landing_url", &self.landing_url)?;
        Ok(PlanBrief {
            product: text("product", &self.product, 1, 500)?,
            audience: text("audience", &self.audience, 0, 300)?,
            objective: self.objective,
            currency: currency.code().to_string(),
            total_budget_micros: total.0,
            start_date: self.start_date,
            end_date: self.end_date,
            platforms: self.platforms.iter().map(|p| platform_of(p)).collect(),
            countries,
            age_min: self.age_min,
            age_max: self.age_max,
            landing_url: landing,
            seed: self.seed.unwrap_or_else(rand::random),
        })
    }
}

/// Plans a campaign from a brief: a `campaign.plan` job (202). Its result names the draft
/// campaign; the plan, its tool-call trace and the ad sets are stored with it.
#[utoipa::path(post, path = "/api/campaigns/plan", tag = "campaigns", request_body = PlanRequest,
    responses((status = 202, description = "The job"), (status = 400, body = super::ErrorBody),
        (status = 503, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn plan(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidJson(body): ValidJson<PlanRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let brief = body.validate()?;
    if state.orchestrator.text.is_none() {
        return Err(ApiError::ModelNotLoaded(
            "no text model for the planner: install one with `adforge models pull smollm2-135m-instruct`, or start with --inference-url of a server that has one".into(),
        ));
    }
    let submitted = state
        .jobs
        .submit(SubmitRequest {
            owner_id: principal.owner_id,
            owner_is_admin: principal.is_admin,
            kind: "campaign.plan".into(),
            payload: json!(brief),
            idempotency_key: None,
            priority: 0,
            max_attempts: None,
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({"job_id": submitted.job.id, "status_url": format!("/api/jobs/{}", submitted.job.id),
            "seed": brief.seed}),
        ),
    ))
}

async fn campaign_of(state: &AppState, owner: &str, id: &str) -> Result<CampaignRow, ApiError> {
    state
        .store
        .get_campaign(owner, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no campaign {id:?}")))
}

/// The plan a campaign was made from (404 when it was not planned).
#[utoipa::path(get, path = "/api/campaigns/{id}/plan", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "The plan"), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn read_plan(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let campaign = campaign_of(&state, &principal.owner_id, &id).await?;
    let plan = state
        .store
        .campaign_plan(&principal.owner_id, &campaign.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("campaign {id} has no plan")))?;
    let ad_sets = state.store.list_ad_sets(&principal.owner_id, &id).await?;
    Ok(Json(
        json!({"campaign_id": id, "plan": plan, "ad_sets": ad_sets.iter().map(|a| json!({
        "id": a.id, "platform": a.platform, "name": a.name, "targeting": a.targeting,
        "daily_budget_micros": a.daily_budget_micros, "status": a.status, "version": a.version
    })).collect::<Vec<_>>()}),
    ))
}

/// Every agent run of a campaign (planner, optimizer) with its recorded tool calls.
#[utoipa::path(get, path = "/api/campaigns/{id}/runs", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "The runs"), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn runs(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    campaign_of(&state, &principal.owner_id, &id).await?;
    let runs = state
        .store
        .list_agent_runs(&principal.owner_id, &id)
        .await?;
    Ok(Json(json!({"runs": runs.iter().map(|r| json!({
        "id": r.id, "agent": r.agent, "seed": r.seed, "status": r.status, "input": r.input,
        "trace": r.trace, "output": r.output, "error": r.error, "created_at": r.created_at
    })).collect::<Vec<_>>()})))
}

/// Optimizer thresholds (defaults in `OptimizerPolicy`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizeRequest {
    pub min_days: Option<u32>,
    pub min_spend: Option<f64>,
    pub pause_below: Option<f64>,
    pub seed: Option<u64>,
}

fn action_view(a: &ActionRow) -> Value {
    json!({"id": a.id, "campaign_id": a.campaign_id, "run_id": a.run_id, "kind": a.kind,
        "params": a.params, "reason": a.reason, "status": a.status, "result": a.result,
        "created_at": a.created_at, "decided_at": a.decided_at})
}

/// Runs the optimizer on the campaign's synced metrics: the run (with its evidence) and the
/// proposed actions (applied at once when the campaign's policy is auto-apply).
#[utoipa::path(post, path = "/api/campaigns/{id}/optimize", tag = "campaigns", params(("id" = String, Path)),
    request_body = OptimizeRequest,
    responses((status = 201, description = "The run and its actions"), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn run_optimizer(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<OptimizeRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let campaign = campaign_of(&state, &principal.owner_id, &id).await?;
    let mut policy = OptimizerPolicy::default();
    if let Some(d) = body.min_days {
        if !(1..=90).contains(&d) {
            return Err(ApiError::bad_request(format!(
                "min_days: {d} is outside 1..=90"
            )));
        }
        policy.min_days = d;
    }
    if let Some(s) = body.min_spend {
        if !(s.is_finite() && s >= 0.0) {
            return Err(ApiError::bad_request(
                "min_spend: must be a finite number, 0 or more",
            ));
        }
        policy.min_spend = s;
    }
    if let Some(p) = body.pause_below {
        if !(0.0..=0.5).contains(&p) {
            return Err(ApiError::bad_request(format!(
                "pause_below: {p} is outside 0..=0.5"
            )));
        }
        policy.pause_below = p;
    }
    policy.seed = body.seed.unwrap_or(policy.seed);
    let (run, actions) = optimize(&state.orchestrator, &principal.owner_id, &campaign, &policy)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"run": {"id": run.id, "trace": run.trace, "output": run.output},
            "actions": actions.iter().map(action_view).collect::<Vec<_>>()}),
        ),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ActionQuery {
    /// proposed, applied, rejected or failed.
    pub status: Option<String>,
}

/// The campaign's actions, oldest first.
#[utoipa::path(get, path = "/api/campaigns/{id}/actions", tag = "campaigns",
    params(("id" = String, Path), ActionQuery),
    responses((status = 200, description = "The actions"), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn actions(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidQuery(query): ValidQuery<ActionQuery>,
) -> Result<Json<Value>, ApiError> {
    campaign_of(&state, &principal.owner_id, &id).await?;
    if let Some(s) = &query.status {
        one_of("status", s, &["proposed", "applied", "rejected", "failed"])?;
    }
    let rows = state
        .store
        .list_actions(&principal.owner_id, &id, query.status.as_deref())
        .await?;
    Ok(Json(
        json!({"actions": rows.iter().map(action_view).collect::<Vec<_>>()}),
    ))
}

async fn proposed(state: &AppState, owner: &str, id: &str) -> Result<ActionRow, ApiError> {
    let action = state
        .store
        .get_action(owner, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no action {id:?}")))?;
    if action.status != "proposed" {
        return Err(ApiError::Conflict {
            code: "already_decided",
            message: format!("action {id} is {} already", action.status),
        });
    }
    Ok(action)
}

/// Applies a proposed action on the platforms (pause creatives, move budget).
#[utoipa::path(post, path = "/api/actions/{id}/approve", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "The decided action"), (status = 404, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let action = proposed(&state, &principal.owner_id, &id).await?;
    let decided = apply_action(&state.orchestrator, &action)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(action_view(&decided)))
}

/// Rejects a proposed action; nothing changes on the platforms.
#[utoipa::path(post, path = "/api/actions/{id}/reject", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "The decided action"), (status = 404, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn reject(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let action = proposed(&state, &principal.owner_id, &id).await?;
    state
        .store
        .decide_action(
            &principal.owner_id,
            &action.id,
            "rejected",
            None,
            crate::store::now_ms(),
        )
        .await?;
    let row = state
        .store
        .get_action(&principal.owner_id, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no action {id:?}")))?;
    Ok(Json(action_view(&row)))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    /// Apply the optimizer's actions without approval.
    pub auto_apply: bool,
}

/// Sets the campaign's optimizer policy.
#[utoipa::path(put, path = "/api/campaigns/{id}/policy", tag = "campaigns", params(("id" = String, Path)),
    request_body = PolicyRequest,
    responses((status = 200, description = "The policy"), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn policy(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<PolicyRequest>,
) -> Result<Json<Value>, ApiError> {
    if !state
        .store
        .set_campaign_auto_apply(&principal.owner_id, &id, body.auto_apply)
        .await?
    {
        return Err(ApiError::NotFound(format!("no campaign {id:?}")));
    }
    Ok(Json(
        json!({"campaign_id": id, "auto_apply": body.auto_apply}),
    ))
}

/// A platform name the request already checked against `PLATFORMS`.
fn platform_of(name: &str) -> crate::orchestrate::Platform {
    crate::orchestrate::Platform::from_name(name).unwrap_or(crate::orchestrate::Platform::Sandbox)
}

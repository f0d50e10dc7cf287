//! The planner and optimizer agents over HTTP: `POST /api/campaigns/plan` (a brief, a budget
//! and a goal -> a `campaign.plan` job whose result is a draft campaign with its plan and ad
//! sets), `GET /api/campaigns/{id}/plan`, `GET /api/campaigns/{id}/runs` (every agent run with
//! its tool calls), `POST /api/campaigns/{id}/optimize` (proposed actions from the synced
//! metrics, with the metric judged on and, when nothing is proposed, why),
//! `GET /api/campaigns/{id}/optimizer` (the same decision without recording it: what the
//! optimizer would propose now, or why not), `GET /api/campaigns/{id}/actions`,
//! `POST /api/actions/{id}/approve|reject`, and `PUT /api/campaigns/{id}/policy` (auto-apply).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::campaigns::{Amount, OBJECTIVES, PLATFORMS, date, one_of};
use super::extract::{Auth, ValidJson, ValidQuery};
use super::{ApiError, AppState};
use crate::jobs::SubmitRequest;
use crate::orchestrate::campaign::{apply_action, evaluate, optimize};
use crate::orchestrate::objective::ObjectiveMetric;
use crate::orchestrate::optimizer::{OptimizerPolicy, ProposalEvidence};
use crate::orchestrate::planner::{self, PlanBrief};
use crate::orchestrate::platforms::money::Currency;
use crate::store::campaigns::CampaignRow;
use crate::store::orchestration::{ActionRow, AdSetRow, AgentRunRow};

/// Longest schedule a plan covers, in days.
pub const MAX_PLAN_DAYS: i64 = 366;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/campaigns/plan", post(plan))
        .route("/api/campaigns/{id}/plan", get(read_plan))
        .route("/api/campaigns/{id}/runs", get(runs))
        .route("/api/campaigns/{id}/optimize", post(run_optimizer))
        .route("/api/campaigns/{id}/optimizer", get(optimizer_status))
        .route("/api/campaigns/{id}/actions", get(actions))
        .route("/api/campaigns/{id}/policy", put(policy))
        .route("/api/actions/{id}/approve", post(approve))
        .route("/api/actions/{id}/reject", post(reject))
}

/// Longest brand name, in characters.
pub const MAX_BRAND_CHARS: usize = 60;
/// Benefits a brief lists at most.
pub const MAX_BENEFITS: usize = 3;
/// Longest benefit, in characters.
pub const MAX_BENEFIT_CHARS: usize = 60;
/// Longest offer, in characters.
pub const MAX_OFFER_CHARS: usize = 80;
/// Interests a brief lists at most.
pub const MAX_INTERESTS: usize = 10;
/// Longest interest, in characters.
pub const MAX_INTEREST_CHARS: usize = 40;

/// A brief for the planner. Its texts are the plan's facts: the campaign, ad sets and concepts
/// are named from `brand`, `product`, `benefits` and `offer`; the audiences are `audience`,
/// `countries`, `age_min`, `age_max` and `interests`; the model's phrases may state nothing
/// (no name, number or date) the brief does not.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// The brand's name (1-60 characters). Without it the campaign is named from `product`.
    pub brand: Option<String>,
    /// What is advertised (1-500 characters).
    pub product: String,
    /// 1 to 3 short phrases (2-60 characters each): what the product does for its buyers.
    #[serde(default)]
    pub benefits: Vec<String>,
    /// The offer, e.g. "Free shipping on 2 bags" (up to 80 characters).
    pub offer: Option<String>,
    /// Who the ads are for, in words (up to 300 characters).
    #[serde(default)]
    pub audience: String,
    /// Interests to target (up to 10, 2-40 characters each).
    #[serde(default)]
    pub interests: Vec<String>,
    /// The brand kit the creatives use, stored with the draft campaign (as its brief's `brand`):
    /// `primary`, `secondary`, `text` (#RRGGBB), `font`, `logo_asset_id`, `product_asset_id`.
    #[schema(value_type = Option<Object>)]
    pub brand_kit: Option<Value>,
    /// awareness, traffic, engagement, leads, app_promotion or sales.
    pub objective: String,
    pub currency: String,
    /// Over the whole schedule, a decimal string or a number.
    pub total_budget: Amount,
    pub start_date: String,
    pub end_date: String,
    /// meta, google, tiktok; or `["sandbox"]` alone, for a plan that is only rehearsed (any plan
    /// can be rehearsed in the sandbox when it is deployed).
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

/// A list of short phrases: at most `max_items`, each 2 to `max_chars` characters, none twice.
fn phrases(
    field: &str,
    items: Vec<String>,
    max_items: usize,
    max_chars: usize,
) -> Result<Vec<String>, ApiError> {
    if items.len() > max_items {
        return Err(ApiError::bad_request(format!(
            "{field}: {} items, the limit is {max_items}",
            items.len()
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item = text(&format!("{field}[{i}]"), item, 2, max_chars)?;
        if out.iter().any(|o| o.eq_ignore_ascii_case(&item)) {
            return Err(ApiError::bad_request(format!(
                "{field}[{i}]: `{item}` is listed twice"
            )));
        }
        out.push(item);
    }
    Ok(out)
}

/// The brand kit as the creatives take it: known keys only, colours as #RRGGBB, ids and the
/// font name short.
fn brand_kit(kit: Value) -> Result<Value, ApiError> {
    let Some(fields) = kit.as_object() else {
        return Err(ApiError::bad_request("brand_kit: must be an object"));
    };
    for (key, value) in fields {
        let ok = match key.as_str() {
            "primary" | "secondary" | "text" => value.as_str().is_some_and(|c| {
                c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|h| h.is_ascii_hexdigit())
            }),
            "font" | "logo_asset_id" | "product_asset_id" => {
                value.is_null() || value.as_str().is_some_and(|v| v.len() <= 100)
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "brand_kit.{key}: unknown (primary, secondary, text, font, logo_asset_id, \
                     product_asset_id)"
                )));
            }
        };
        if !ok {
            return Err(ApiError::bad_request(format!(
                "brand_kit.{key}: a colour is #RRGGBB, a name or id at most 100 characters"
            )));
        }
    }
    Ok(kit)
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
            if p == "sandbox" && self.platforms.len() > 1 {
                return Err(ApiError::bad_request(format!(
                    "platforms[{i}]: the sandbox rehearses the whole plan and takes no share of \
                     its budget; plan on the real platforms and choose the sandbox when \
                     deploying (or plan on [\"sandbox\"] alone)"
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
        let brand_kit = self.brand_kit.map(brand_kit).transpose()?;
        let optional = |field: &str, value: Option<String>, max: usize| {
            value
                .filter(|v| !v.trim().is_empty())
                .map(|v| text(field, &v, 1, max))
                .transpose()
        };
        Ok(PlanBrief {
            brand: optional("brand", self.brand, MAX_BRAND_CHARS)?,
            product: text("product", &self.product, 1, 500)?,
            benefits: phrases("benefits", self.benefits, MAX_BENEFITS, MAX_BENEFIT_CHARS)?,
            offer: optional("offer", self.offer, MAX_OFFER_CHARS)?,
            interests: phrases(
                "interests",
                self.interests,
                MAX_INTERESTS,
                MAX_INTEREST_CHARS,
            )?,
            brand_kit,
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

/// A `campaign.plan` job, accepted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlanAccepted {
    /// The job that plans the campaign; its result names the draft campaign.
    pub job_id: String,
    /// Where the job's progress and result are read (`/api/jobs/{job_id}`).
    pub status_url: String,
    /// The planner's seed (the one given, or a random one): the same brief and seed plan the
    /// same campaign.
    pub seed: u64,
}

/// Plans a campaign from a brief: a `campaign.plan` job (202). Its result names the draft
/// campaign; the plan, its tool-call trace and the ad sets are stored with it.
#[utoipa::path(post, path = "/api/campaigns/plan", tag = "campaigns", request_body = PlanRequest,
    responses((status = 202, description = "The job", body = PlanAccepted), (status = 400, body = super::ErrorBody),
        (status = 503, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn plan(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidJson(body): ValidJson<PlanRequest>,
) -> Result<(StatusCode, Json<PlanAccepted>), ApiError> {
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
        Json(PlanAccepted {
            status_url: format!("/api/jobs/{}", submitted.job.id),
            job_id: submitted.job.id,
            seed: brief.seed,
        }),
    ))
}

async fn campaign_of(state: &AppState, owner: &str, id: &str) -> Result<CampaignRow, ApiError> {
    state
        .store
        .get_campaign(owner, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no campaign {id:?}")))
}

/// One ad set of a planned campaign.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdSetView {
    pub id: String,
    /// meta, google, tiktok or sandbox.
    pub platform: String,
    pub name: String,
    /// `{countries, age_min, age_max, description}`.
    #[schema(value_type = Object)]
    pub targeting: Value,
    /// The daily budget in millionths of the campaign's currency.
    pub daily_budget_micros: i64,
    pub status: String,
    pub version: i64,
}

impl From<&AdSetRow> for AdSetView {
    fn from(a: &AdSetRow) -> Self {
        AdSetView {
            id: a.id.clone(),
            platform: a.platform.clone(),
            name: a.name.clone(),
            targeting: a.targeting.clone(),
            daily_budget_micros: a.daily_budget_micros,
            status: a.status.clone(),
            version: a.version,
        }
    }
}

/// A campaign's plan and the ad sets made from it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignPlanView {
    pub campaign_id: String,
    /// The plan as the planner stored it (schedule, channels, audiences, concepts, KPIs).
    #[schema(value_type = Object)]
    pub plan: Value,
    /// The campaign's ad sets.
    pub ad_sets: Vec<AdSetView>,
}

/// The plan a campaign was made from (404 when it was not planned).
#[utoipa::path(get, path = "/api/campaigns/{id}/plan", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "The plan", body = CampaignPlanView), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn read_plan(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<CampaignPlanView>, ApiError> {
    let campaign = campaign_of(&state, &principal.owner_id, &id).await?;
    let plan = state
        .store
        .campaign_plan(&principal.owner_id, &campaign.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("campaign {id} has no plan")))?;
    let ad_sets = state.store.list_ad_sets(&principal.owner_id, &id).await?;
    Ok(Json(CampaignPlanView {
        campaign_id: id,
        plan,
        ad_sets: ad_sets.iter().map(AdSetView::from).collect(),
    }))
}

/// One agent run with its recorded tool calls.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentRunView {
    pub id: String,
    /// `planner` or `optimizer`.
    pub agent: String,
    pub seed: i64,
    pub status: String,
    /// What the agent was given.
    #[schema(value_type = Object)]
    pub input: Value,
    /// Every tool call and its result, in order.
    #[schema(value_type = Vec<Object>)]
    pub trace: Value,
    /// What the agent answered; null until it has.
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    /// Why the run failed; null unless it did.
    pub error: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

impl From<&AgentRunRow> for AgentRunView {
    fn from(r: &AgentRunRow) -> Self {
        AgentRunView {
            id: r.id.clone(),
            agent: r.agent.clone(),
            seed: r.seed,
            status: r.status.clone(),
            input: r.input.clone(),
            trace: r.trace.clone(),
            output: r.output.clone(),
            error: r.error.clone(),
            created_at: r.created_at,
        }
    }
}

/// A campaign's agent runs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentRunList {
    /// Oldest first.
    pub runs: Vec<AgentRunView>,
}

/// Every agent run of a campaign (planner, optimizer) with its recorded tool calls.
#[utoipa::path(get, path = "/api/campaigns/{id}/runs", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "The runs", body = AgentRunList), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn runs(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<AgentRunList>, ApiError> {
    campaign_of(&state, &principal.owner_id, &id).await?;
    let runs = state
        .store
        .list_agent_runs(&principal.owner_id, &id)
        .await?;
    Ok(Json(AgentRunList {
        runs: runs.iter().map(AgentRunView::from).collect(),
    }))
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

/// An action the optimizer proposed, and what became of it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActionView {
    pub id: String,
    pub campaign_id: String,
    /// The optimizer run that proposed it.
    pub run_id: String,
    /// `pause_creative`, `scale_winner` or `shift_budget`.
    pub kind: String,
    /// The action's arguments (which creative, which ad set, how much).
    #[schema(value_type = Object)]
    pub params: Value,
    /// Why the optimizer proposed it, with the numbers.
    pub reason: String,
    /// The numbers behind `reason` (also in `params.evidence`); null for actions proposed
    /// before they were recorded.
    pub evidence: Option<ProposalEvidence>,
    /// `proposed`, `applied`, `rejected` or `failed`.
    pub status: String,
    /// What applying it did on the platforms; null until it was applied or failed.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it was approved or rejected (milliseconds since the Unix epoch); null until then.
    pub decided_at: Option<i64>,
}

impl From<&ActionRow> for ActionView {
    fn from(a: &ActionRow) -> Self {
        ActionView {
            id: a.id.clone(),
            campaign_id: a.campaign_id.clone(),
            run_id: a.run_id.clone(),
            kind: a.kind.clone(),
            params: a.params.clone(),
            reason: a.reason.clone(),
            evidence: serde_json::from_value(a.params["evidence"].clone()).ok(),
            status: a.status.clone(),
            result: a.result.clone(),
            created_at: a.created_at,
            decided_at: a.decided_at,
        }
    }
}

/// The optimizer run as `POST /api/campaigns/{id}/optimize` answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OptimizerRunView {
    pub id: String,
    /// Every tool call and its result (the evidence), in order.
    #[schema(value_type = Vec<Object>)]
    pub trace: Value,
    /// What the optimizer concluded; null when it concluded nothing.
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
}

/// An optimizer run and the actions it proposed (or applied, on auto-apply).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OptimizeResult {
    pub run: OptimizerRunView,
    pub actions: Vec<ActionView>,
    /// The metric the creatives and platforms were judged on: the campaign objective's
    /// (`roas` for sales once revenue is synced, else `cpa`; `ctr` for traffic, awareness and
    /// engagement; `cpa` for leads and app promotion).
    pub metric: ObjectiveMetric,
    /// Why nothing was proposed, in words and numbers (e.g. "leader 'C2' (ROAS 0.64x) at 71%
    /// chance to be best; proposals start at 95% ..."); null when something was.
    pub no_proposal_reason: Option<String>,
}

/// Runs the optimizer on the campaign's synced metrics: the run (with its evidence) and the
/// proposed actions (applied at once when the campaign's policy is auto-apply).
#[utoipa::path(post, path = "/api/campaigns/{id}/optimize", tag = "campaigns", params(("id" = String, Path)),
    request_body = OptimizeRequest,
    responses((status = 201, description = "The run and its actions", body = OptimizeResult), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn run_optimizer(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<OptimizeRequest>,
) -> Result<(StatusCode, Json<OptimizeResult>), ApiError> {
    let campaign = campaign_of(&state, &principal.owner_id, &id).await?;
    let policy = body.policy()?;
    let done = optimize(&state.orchestrator, &principal.owner_id, &campaign, &policy)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        Json(OptimizeResult {
            run: OptimizerRunView {
                id: done.run.id,
                trace: done.run.trace,
                output: done.run.output,
            },
            actions: done.actions.iter().map(ActionView::from).collect(),
            metric: done.metric,
            no_proposal_reason: done.no_proposal_reason,
        }),
    ))
}

impl OptimizeRequest {
    /// The default policy with the thresholds given, each checked.
    fn policy(&self) -> Result<OptimizerPolicy, ApiError> {
        let mut policy = OptimizerPolicy::default();
        if let Some(d) = self.min_days {
            if !(1..=90).contains(&d) {
                return Err(ApiError::bad_request(format!(
                    "min_days: {d} is outside 1..=90"
                )));
            }
            policy.min_days = d;
        }
        if let Some(s) = self.min_spend {
            if !(s.is_finite() && s >= 0.0) {
                return Err(ApiError::bad_request(
                    "min_spend: must be a finite number, 0 or more",
                ));
            }
            policy.min_spend = s;
        }
        if let Some(p) = self.pause_below {
            if !(0.0..=0.5).contains(&p) {
                return Err(ApiError::bad_request(format!(
                    "pause_below: {p} is outside 0..=0.5"
                )));
            }
            policy.pause_below = p;
        }
        policy.seed = self.seed.unwrap_or(policy.seed);
        Ok(policy)
    }
}

/// What the optimizer would propose now, from the synced metrics, under the default policy.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OptimizerStatus {
    pub campaign_id: String,
    /// `roas`, `cpa` or `ctr`, as in `OptimizeResult`.
    pub metric: ObjectiveMetric,
    /// What a run now would propose (nothing is recorded): kind, params (with `evidence`) and
    /// reason of each.
    #[schema(value_type = Vec<Object>)]
    pub proposals: Value,
    /// Why a run now would propose nothing; null when it would propose something.
    pub no_proposal_reason: Option<String>,
    /// The policy the status was computed under (the default one).
    #[schema(value_type = Object)]
    pub policy: Value,
}

/// The optimizer's view of the campaign now, without recording a run: the metric, what it
/// would propose, or why nothing (no synced metrics, too few days, the leader's probability
/// under the threshold).
#[utoipa::path(get, path = "/api/campaigns/{id}/optimizer", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "The optimizer's status", body = OptimizerStatus), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn optimizer_status(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<OptimizerStatus>, ApiError> {
    let campaign = campaign_of(&state, &principal.owner_id, &id).await?;
    let policy = OptimizerPolicy::default();
    let evaluation = evaluate(&state.store, &principal.owner_id, &campaign, &policy)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let decision = evaluation.decision;
    Ok(Json(OptimizerStatus {
        campaign_id: id,
        metric: decision.metric,
        proposals: json!(decision.proposals),
        no_proposal_reason: decision.no_proposal_reason,
        policy: json!(policy),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ActionQuery {
    /// proposed, applied, rejected or failed.
    pub status: Option<String>,
}

/// A campaign's actions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActionList {
    /// Oldest first.
    pub actions: Vec<ActionView>,
}

/// The campaign's actions, oldest first.
#[utoipa::path(get, path = "/api/campaigns/{id}/actions", tag = "campaigns",
    params(("id" = String, Path), ActionQuery),
    responses((status = 200, description = "The actions", body = ActionList), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn actions(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidQuery(query): ValidQuery<ActionQuery>,
) -> Result<Json<ActionList>, ApiError> {
    campaign_of(&state, &principal.owner_id, &id).await?;
    if let Some(s) = &query.status {
        one_of("status", s, &["proposed", "applied", "rejected", "failed"])?;
    }
    let rows = state
        .store
        .list_actions(&principal.owner_id, &id, query.status.as_deref())
        .await?;
    Ok(Json(ActionList {
        actions: rows.iter().map(ActionView::from).collect(),
    }))
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
    responses((status = 200, description = "The decided action", body = ActionView), (status = 404, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<ActionView>, ApiError> {
    let action = proposed(&state, &principal.owner_id, &id).await?;
    let decided = apply_action(&state.orchestrator, &action)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(ActionView::from(&decided)))
}

/// Rejects a proposed action; nothing changes on the platforms.
#[utoipa::path(post, path = "/api/actions/{id}/reject", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, description = "The decided action", body = ActionView), (status = 404, body = super::ErrorBody),
        (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn reject(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<ActionView>, ApiError> {
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
    Ok(Json(ActionView::from(&row)))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    /// Apply the optimizer's actions without approval.
    pub auto_apply: bool,
}

/// A campaign's optimizer policy.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyView {
    pub campaign_id: String,
    /// The optimizer's actions are applied without approval.
    pub auto_apply: bool,
}

/// Sets the campaign's optimizer policy.
#[utoipa::path(put, path = "/api/campaigns/{id}/policy", tag = "campaigns", params(("id" = String, Path)),
    request_body = PolicyRequest,
    responses((status = 200, description = "The policy", body = PolicyView), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn policy(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<PolicyRequest>,
) -> Result<Json<PolicyView>, ApiError> {
    if !state
        .store
        .set_campaign_auto_apply(&principal.owner_id, &id, body.auto_apply)
        .await?
    {
        return Err(ApiError::NotFound(format!("no campaign {id:?}")));
    }
    Ok(Json(PolicyView {
        campaign_id: id,
        auto_apply: body.auto_apply,
    }))
}

/// A platform name the request already checked against `PLATFORMS`.
fn platform_of(name: &str) -> crate::orchestrate::Platform {
    crate::orchestrate::Platform::from_name(name).unwrap_or(crate::orchestrate::Platform::Sandbox)
}

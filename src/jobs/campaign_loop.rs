//! The campaign loop's jobs and the actions they share with the API: `campaign.plan` (the
//! planner agent -> a draft campaign with its ad sets, in one transaction), `campaign.deploy`
//! (idempotent push to an ad platform, see [`super::deploy`]), `campaign.sync` (the platform's
//! daily rows into the metrics table; on the sandbox, simulated days first) and the optimizer's
//! proposals and their application ([`optimize`], [`apply_action`]). Every outcome is
//! published to the owner's event stream.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::deploy::{DeployError, DeployInput, deploy, set_creative_delivery, sync_metrics};
use super::platform_clients::Platforms;
use super::{JobContext, JobError, JobHandler, JobService, SubmitRequest};
use crate::events::EventBus;
use crate::orchestrate::analytics::bandit::Observation;
use crate::orchestrate::llm::TextBackend;
use crate::orchestrate::optimizer::{self, AdSetBudget, ArmSeries, OptimizerPolicy};
use crate::orchestrate::planner::{self, PlanBrief, PlannerTools};
use crate::orchestrate::platforms::{Budget, DateRange, Micros, ObjectKind, parse_iso_date};
use crate::store::assets::AssetStore;
use crate::store::campaigns::CampaignRow;
use crate::store::orchestration::{ActionRow, AdSetRow, AgentRunRow, DeploymentRow, MetricFilter};
use crate::store::{Store, now_ms};

/// The lane of jobs that need the text model.
pub const TEXT_LANE: &str = "text";
/// The lane of jobs that need an image (diffusion) model.
pub const IMAGE_LANE: &str = "image";

/// Days one sandbox sync may simulate.
pub const MAX_SYNC_DAYS: u32 = 90;

/// What the loop's jobs and routes share.
pub struct Orchestrator {
    pub store: Store,
    pub assets: AssetStore,
    pub platforms: Platforms,
    pub events: EventBus,
    /// The planner's model: this process's text engine or a remote server.
    pub text: Option<TextBackend>,
    /// Set once the job service exists (the planner's preview tools submit jobs).
    pub jobs: OnceLock<JobService>,
}

impl Orchestrator {
    pub fn new(
        store: Store,
        assets: AssetStore,
        events: EventBus,
        text: Option<TextBackend>,
        platforms: Platforms,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            assets,
            platforms,
            events,
            text,
            jobs: OnceLock::new(),
        })
    }

    /// Registers the loop's job kinds.
    pub fn register(self: &Arc<Self>, registry: &mut super::JobRegistry) {
        registry.register(Arc::new(PlanJob(self.clone())));
        registry.register(Arc::new(DeployJob(self.clone())));
        registry.register(Arc::new(SyncJob(self.clone())));
    }

    async fn publish(&self, owner: &str, kind: &str, data: Value) {
        if let Err(e) = self.events.publish(owner, kind, data).await {
            tracing::warn!(error = %e, kind, "publishing an event failed");
        }
    }
}

/// A stable id derived from a job id and a tag: a retried attempt writes the same rows.
pub fn derived_id(base: &str, tag: &str) -> String {
    let d = Sha256::digest(format!("{base}/{tag}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid().to_string()
}

fn fatal(e: impl std::fmt::Display) -> JobError {
    JobError::Fatal(e.to_string())
}

fn deploy_error(e: DeployError) -> JobError {
    if e.is_retryable() {
        JobError::Retryable(e.to_string())
    } else {
        JobError::Fatal(e.to_string())
    }
}

// ---- campaign.plan -------------------------------------------------------------------------

struct PlanJob(Arc<Orchestrator>);

/// The planner's tools for one owner.
struct OwnerTools<'a> {
    orch: &'a Orchestrator,
    owner: String,
    job_id: String,
}

#[async_trait]
impl PlannerTools for OwnerTools<'_> {
    async fn read_past_results(&self) -> Result<Value, String> {
        past_results(&self.orch.store, &self.owner).await
    }

    async fn render_images(&self, platform: &str, copy: &Value) -> Result<Value, String> {
        self.preview("creative.render", image_preview(platform, copy))
            .await
    }

    async fn render_video(&self, _platform: &str, copy: &Value) -> Result<Value, String> {
        self.preview("video.render", video_preview(copy)).await
    }
}

/// The planner's copy as the compositor takes it (fields the model left null dropped).
fn preview_copy(copy: &Value) -> Value {
    let mut out = json!({"headline": copy["headline"], "body": copy["primary_text"],
        "cta": copy["call_to_action"]});
    if let Some(fields) = out.as_object_mut() {
        fields.retain(|_, v| !v.is_null());
    }
    out
}

/// The brand of previews: the compositor's default colours.
fn preview_brand() -> Value {
    json!({"primary": "#1A73E8", "secondary": "#0B1F3A"})
}

/// A `creative.render` payload: one image of the platform's main format.
fn image_preview(platform: &str, copy: &Value) -> Value {
    let format = match platform {
        "google" => "google_display_square",
        "tiktok" => "tiktok_in_feed",
        _ => "meta_feed_square",
    };
    json!({"copy": preview_copy(copy), "brand": preview_brand(), "formats": [format],
        "output": "jpeg"})
}

/// A `video.render` payload: a short, small 9:16 ad-template video.
fn video_preview(copy: &Value) -> Value {
    json!({"copy": preview_copy(copy), "brand": preview_brand(), "formats": ["tiktok_in_feed"],
        "seconds": 6, "fps": 24, "scale": 0.25})
}

impl OwnerTools<'_> {
    /// Submits a preview render; a refusal is the tool's answer (recorded in the trace), not
    /// the end of the plan.
    async fn preview(&self, kind: &str, payload: Value) -> Result<Value, String> {
        let jobs = self
            .orch
            .jobs
            .get()
            .ok_or("the job service is not running")?;
        let submitted = jobs
            .submit(SubmitRequest {
                owner_id: self.owner.clone(),
                owner_is_admin: false,
                kind: kind.into(),
                payload,
                idempotency_key: Some(format!("plan-preview/{}/{kind}", self.job_id)),
                priority: 0,
                max_attempts: None,
            })
            .await;
        Ok(match submitted {
            Ok(submitted) => json!({"job_id": submitted.job.id, "kind": kind}),
            Err(e) => json!({"kind": kind, "error": e.to_string()}),
        })
    }
}

/// Per platform totals of the owner's synced metrics (units of currency for spend).
pub async fn past_results(store: &Store, owner: &str) -> Result<Value, String> {
    let rows = store
        .list_metrics(
            owner,
            &MetricFilter {
                limit: 100_000,
                ..MetricFilter::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut out: BTreeMap<String, [f64; 4]> = BTreeMap::new();
    for r in rows {
        let e = out.entry(r.platform.clone()).or_default();
        e[0] += r.spend_micros as f64 / 1e6;
        e[1] += r.impressions as f64;
        e[2] += r.clicks as f64;
        e[3] += r.conversions;
    }
    Ok(Value::Object(
        out.into_iter()
            .map(|(p, t)| {
                (p, json!({"spend": t[0], "impressions": t[1], "clicks": t[2], "conversions": t[3]}))
            })
            .collect(),
    ))
}

#[async_trait]
impl JobHandler for PlanJob {
    fn kind(&self) -> &'static str {
        "campaign.plan"
    }

    fn lane(&self, _payload: &Value) -> &'static str {
        TEXT_LANE
    }

    fn describe(&self) -> &'static str {
        "the planner agent: a brief in, a validated plan and a draft campaign with its ad sets out"
    }

    fn validate(&self, payload: &Value) -> Result<(), String> {
        serde_json::from_value::<PlanBrief>(payload.clone())
            .map(|_| ())
            .map_err(|e| format!("payload: {e}"))
    }

    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let orch = &self.0;
        let brief: PlanBrief = serde_json::from_value(ctx.job.payload.clone()).map_err(fatal)?;
        let owner = ctx.job.owner_id.clone();
        let campaign_id = derived_id(&ctx.job.id, "campaign");
        if let Some(existing) = orch
            .store
            .get_campaign(&owner, &campaign_id)
            .await
            .map_err(fatal)?
        {
            // An earlier attempt stored it: the job's outcome is that campaign.
            let plan = orch
                .store
                .campaign_plan(&owner, &existing.id)
                .await
                .map_err(fatal)?;
            return Ok(json!({"campaign_id": existing.id, "plan": plan}));
        }
        let text = orch.text.as_ref().ok_or_else(|| {
            fatal("no text model: load one (`adforge models pull smollm2-135m-instruct`) or give --inference-url")
        })?;
        ctx.progress(0.05, "planning").await?;
        let tools = OwnerTools {
            orch,
            owner: owner.clone(),
            job_id: ctx.job.id.clone(),
        };
        let now = now_ms();
        let outcome = match planner::plan(text, &tools, &brief).await {
            Ok(outcome) => outcome,
            Err(e) => {
                let run = AgentRunRow {
                    id: derived_id(&ctx.job.id, &format!("failed-run-{}", ctx.job.attempts)),
                    owner_id: owner.clone(),
                    campaign_id: None,
                    agent: "planner".into(),
                    seed: brief.seed as i64,
                    input: json!(brief),
                    trace: json!([]),
                    output: None,
                    status: "failed".into(),
                    error: Some(e.to_string()),
                    created_at: now,
                };
                let _ = orch.store.insert_agent_run(&run).await;
                return Err(fatal(e));
            }
        };
        ctx.progress(0.9, "storing the plan").await?;
        let plan = outcome.plan;
        let campaign = CampaignRow {
            id: campaign_id.clone(),
            owner_id: owner.clone(),
            name: plan["name"]
                .as_str()
                .unwrap_or("Planned campaign")
                .to_string(),
            objective: brief.objective.clone(),
            status: "draft".into(),
            currency: brief.currency.clone(),
            daily_budget_micros: plan["daily_budget_micros"].as_i64().unwrap_or(0),
            start_date: brief.start_date.clone(),
            end_date: Some(brief.end_date.clone()),
            platforms: brief.platforms.clone(),
            brief: Some(json!({"product": brief.product, "audience": brief.audience,
                "landing_url": brief.landing_url, "countries": brief.countries})),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let ad_sets: Vec<AdSetRow> = plan["channels"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, c)| AdSetRow {
                id: derived_id(&ctx.job.id, &format!("ad-set-{i}")),
                owner_id: owner.clone(),
                campaign_id: campaign_id.clone(),
                platform: c["platform"].as_str().unwrap_or_default().to_string(),
                name: c["audience"]["name"]
                    .as_str()
                    .unwrap_or("Audience")
                    .to_string(),
                targeting: c["audience"].clone(),
                daily_budget_micros: c["daily_budget_micros"].as_i64().unwrap_or(0),
                status: "active".into(),
                version: 1,
                created_at: now + i as i64,
                updated_at: now,
            })
            .collect();
        let run = AgentRunRow {
            id: derived_id(&ctx.job.id, "run"),
            owner_id: owner.clone(),
            campaign_id: Some(campaign_id.clone()),
            agent: "planner".into(),
            seed: brief.seed as i64,
            input: json!({"brief": brief, "model": outcome.model}),
            trace: json!(outcome.trace),
            output: Some(plan.clone()),
            status: "succeeded".into(),
            error: None,
            created_at: now,
        };
        orch.store
            .insert_planned_campaign(&campaign, &plan, &ad_sets, &run)
            .await
            .map_err(|e| JobError::Retryable(e.to_string()))?;
        orch.publish(
            &owner,
            "campaign.planned",
            json!({"campaign_id": campaign_id, "run_id": run.id}),
        )
        .await;
        Ok(
            json!({"campaign_id": campaign_id, "run_id": run.id, "plan": plan,
            "trace": outcome.trace}),
        )
    }
}

// ---- campaign.deploy -----------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployPayload {
    pub deployment_id: String,
}

struct DeployJob(Arc<Orchestrator>);

impl Orchestrator {
    async fn deployment(&self, ctx: &JobContext, id: &str) -> Result<DeploymentRow, JobError> {
        self.store
            .get_deployment(&ctx.job.owner_id, id)
            .await
            .map_err(|e| JobError::Retryable(e.to_string()))?
            .ok_or_else(|| fatal(format!("deployment {id} no longer exists")))
    }

    async fn set_status(
        &self,
        d: &DeploymentRow,
        status: &str,
        error: Option<&str>,
        job: Option<&str>,
    ) {
        if let Err(e) = self
            .store
            .set_deployment_status(&d.owner_id, &d.id, status, error, job, now_ms())
            .await
        {
            tracing::warn!(error = %e, "recording a deployment's status failed");
        }
        self.publish(&d.owner_id, "deployment.updated", json!({"deployment_id": d.id,
            "campaign_id": d.campaign_id, "platform": d.platform, "status": status, "error": error}))
            .await;
    }

    /// The client of a deployment's platform.
    pub async fn client(
        &self,
        d: &DeploymentRow,
    ) -> Result<Arc<dyn crate::orchestrate::platforms::AdPlatform>, DeployError> {
        let campaign = self
            .store
            .get_campaign(&d.owner_id, &d.campaign_id)
            .await?
            .ok_or_else(|| DeployError::NotReady("campaign: it no longer exists".into()))?;
        self.platforms.client(d, &campaign).await
    }
}

#[async_trait]
impl JobHandler for DeployJob {
    fn kind(&self) -> &'static str {
        "campaign.deploy"
    }

    fn describe(&self) -> &'static str {
        "push a campaign's ad sets and ready creatives to an ad platform (idempotent)"
    }

    fn validate(&self, payload: &Value) -> Result<(), String> {
        serde_json::from_value::<DeployPayload>(payload.clone())
            .map(|_| ())
            .map_err(|e| format!("payload: {e}"))
    }

    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let orch = &self.0;
        let payload: DeployPayload =
            serde_json::from_value(ctx.job.payload.clone()).map_err(fatal)?;
        let d = orch.deployment(ctx, &payload.deployment_id).await?;
        orch.set_status(&d, "deploying", None, Some(&ctx.job.id))
            .await;
        let result = async {
            let input = DeployInput::load(&orch.store, &d).await?;
            let client = orch.client(&d).await?;
            deploy(
                &orch.store,
                &orch.assets,
                client.as_ref(),
                &d,
                &input,
                Some(ctx),
            )
            .await
        }
        .await;
        match result {
            Ok(value) => {
                orch.set_status(&d, "active", None, None).await;
                Ok(value)
            }
            Err(e) if e.is_retryable() => Err(deploy_error(e)),
            Err(e) => {
                orch.set_status(&d, "failed", Some(&e.to_string()), None)
                    .await;
                Err(deploy_error(e))
            }
        }
    }
}

// ---- campaign.sync -------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncPayload {
    pub deployment_id: String,
    /// Sandbox only: days to simulate first (1 to 90, default 1).
    pub days: Option<u32>,
}

struct SyncJob(Arc<Orchestrator>);

#[async_trait]
impl JobHandler for SyncJob {
    fn kind(&self) -> &'static str {
        "campaign.sync"
    }

    fn describe(&self) -> &'static str {
        "read a deployment's daily metrics from its platform (sandbox: simulate days first)"
    }

    fn validate(&self, payload: &Value) -> Result<(), String> {
        let p: SyncPayload =
            serde_json::from_value(payload.clone()).map_err(|e| format!("payload: {e}"))?;
        match p.days {
            Some(d) if d == 0 || d > MAX_SYNC_DAYS => {
                Err(format!("payload.days: {d} is outside 1..={MAX_SYNC_DAYS}"))
            }
            _ => Ok(()),
        }
    }

    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let orch = &self.0;
        let p: SyncPayload = serde_json::from_value(ctx.job.payload.clone()).map_err(fatal)?;
        let d = orch.deployment(ctx, &p.deployment_id).await?;
        if d.status != "active" && d.status != "paused" {
            return Err(fatal(format!(
                "deployment {} is {}: deploy it before syncing",
                d.id, d.status
            )));
        }
        let campaign = orch
            .store
            .get_campaign(&d.owner_id, &d.campaign_id)
            .await
            .map_err(fatal)?
            .ok_or_else(|| fatal("campaign: it no longer exists"))?;
        let since = parse_iso_date(&campaign.start_date).map_err(fatal)?;
        let until = if d.platform == "sandbox" {
            let sandbox = orch.platforms.existing_sandbox(&d.id).ok_or_else(|| {
                fatal("the sandbox of this deployment is gone (the server restarted): redeploy")
            })?;
            // A retried attempt must not simulate the days again: the days done are recorded
            // under the job's id in the ledger.
            let key = format!("sync:{}", ctx.job.id);
            if orch
                .store
                .ledger_get(&d.id, "sync", &key)
                .await
                .map_err(fatal)?
                .is_none()
            {
                let n = p.days.unwrap_or(1);
                for day in 0..n {
                    if ctx.cancellation().is_cancelled() {
                        return Err(JobError::Cancelled);
                    }
                    sandbox.advance_day().map_err(fatal)?;
                    ctx.progress(
                        0.8 * f64::from(day + 1) / f64::from(n),
                        &format!("simulated day {}/{n}", day + 1),
                    )
                    .await?;
                }
                let today =
                    crate::orchestrate::platforms::iso_date(sandbox.today().map_err(fatal)?);
                orch.store
                    .ledger_put(&d, "sync", &key, &today, now_ms())
                    .await
                    .map_err(fatal)?;
            }
            sandbox.today().map_err(fatal)? - time::Duration::days(1)
        } else {
            time::OffsetDateTime::now_utc().date()
        };
        if until < since {
            return Ok(
                json!({"rows": 0, "since": campaign.start_date, "note": "nothing delivered yet"}),
            );
        }
        let client = orch.client(&d).await.map_err(deploy_error)?;
        let rows = sync_metrics(&orch.store, client.as_ref(), &d, DateRange { since, until })
            .await
            .map_err(deploy_error)?;
        let range = json!({"since": crate::orchestrate::platforms::iso_date(since),
            "until": crate::orchestrate::platforms::iso_date(until)});
        orch.publish(
            &d.owner_id,
            "metrics.synced",
            json!({"deployment_id": d.id,
            "campaign_id": d.campaign_id, "rows": rows.len(), "range": range}),
        )
        .await;
        Ok(json!({"rows": rows.len(), "range": range}))
    }
}

// ---- the optimizer -------------------------------------------------------------------------

/// Runs the optimizer over a campaign's metrics: records the run and its proposals (applied at
/// once when the campaign's policy says so). Returns (run, actions).
pub async fn optimize(
    orch: &Orchestrator,
    owner: &str,
    campaign: &CampaignRow,
    policy: &OptimizerPolicy,
) -> Result<(AgentRunRow, Vec<ActionRow>), DeployError> {
    let store = &orch.store;
    let metrics = store
        .list_metrics(
            owner,
            &MetricFilter {
                campaign_id: Some(campaign.id.clone()),
                limit: 200_000,
                ..MetricFilter::default()
            },
        )
        .await?;
    let creatives = store
        .list_creatives(
            owner,
            &crate::store::creatives::CreativeFilter {
                campaign_id: Some(campaign.id.clone()),
                limit: 500,
                ..Default::default()
            },
        )
        .await?;
    let mut arms: BTreeMap<(String, String), ArmSeries> = BTreeMap::new();
    for c in &creatives {
        arms.insert(
            (c.platform.clone(), c.id.clone()),
            ArmSeries {
                creative_id: c.id.clone(),
                platform: c.platform.clone(),
                active: c.status != "paused" && c.status != "rejected",
                days: BTreeMap::new(),
            },
        );
    }
    for m in &metrics {
        let Some(creative) = &m.creative_id else {
            continue;
        };
        let Some(arm) = arms.get_mut(&(m.platform.clone(), creative.clone())) else {
            continue;
        };
        let e = arm.days.entry(m.day.clone()).or_insert(Observation {
            spend: 0.0,
            impressions: 0,
            clicks: 0,
            conversions: 0,
        });
        e.spend += m.spend_micros as f64 / 1e6;
        e.impressions += m.impressions as u64;
        e.clicks += m.clicks as u64;
        e.conversions += m.conversions.round() as u64;
    }
    let ad_sets: Vec<AdSetBudget> = store
        .list_ad_sets(owner, &campaign.id)
        .await?
        .into_iter()
        .map(|a| AdSetBudget {
            min_daily_micros: planner::min_daily_units(&a.platform) * 1_000_000,
            ad_set_id: a.id,
            platform: a.platform,
            daily_budget_micros: a.daily_budget_micros,
        })
        .collect();
    let arms: Vec<ArmSeries> = arms.into_values().collect();
    let decision = optimizer::decide(&arms, &ad_sets, policy)
        .map_err(|e| DeployError::NotReady(e.to_string()))?;
    let now = now_ms();
    let run = AgentRunRow {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: owner.to_string(),
        campaign_id: Some(campaign.id.clone()),
        agent: "optimizer".into(),
        seed: policy.seed as i64,
        input: json!({"policy": policy, "metric_rows": metrics.len(), "creatives": creatives.len()}),
        trace: json!(decision.evidence),
        output: Some(json!(decision.proposals)),
        status: "succeeded".into(),
        error: None,
        created_at: now,
    };
    store.insert_agent_run(&run).await?;
    let auto = store.campaign_auto_apply(owner, &campaign.id).await?;
    let mut actions = Vec::new();
    for (i, p) in decision.proposals.iter().enumerate() {
        let action = ActionRow {
            id: uuid::Uuid::now_v7().to_string(),
            owner_id: owner.to_string(),
            campaign_id: campaign.id.clone(),
            run_id: run.id.clone(),
            kind: p.kind.to_string(),
            params: p.params.clone(),
            reason: p.reason.clone(),
            status: "proposed".into(),
            result: None,
            created_at: now + i as i64,
            decided_at: None,
        };
        store.insert_action(&action).await?;
        orch.publish(
            owner,
            "action.proposed",
            json!({"action_id": action.id,
            "campaign_id": campaign.id, "kind": action.kind, "reason": action.reason}),
        )
        .await;
        let action = if auto {
            apply_action(orch, &action).await?
        } else {
            action
        };
        actions.push(action);
    }
    Ok((run, actions))
}

/// Applies a proposed action on the platforms and in the store; returns it as decided.
pub async fn apply_action(
    orch: &Orchestrator,
    action: &ActionRow,
) -> Result<ActionRow, DeployError> {
    let owner = &action.owner_id;
    let store = &orch.store;
    let deployments = store
        .list_deployments(owner, Some(&action.campaign_id), 100, 0)
        .await?;
    let outcome: Result<Value, DeployError> = async {
        match action.kind.as_str() {
            "pause_creative" | "scale_winner" => {
                let platform = action.params["platform"].as_str().unwrap_or_default();
                let to_pause: Vec<String> = if action.kind == "pause_creative" {
                    vec![
                        action.params["creative_id"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    ]
                } else {
                    action.params["pause"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                };
                let mut paused_ads = Vec::new();
                for d in deployments.iter().filter(|d| d.platform == platform) {
                    let client = orch.client(d).await?;
                    for creative in &to_pause {
                        paused_ads.extend(
                            set_creative_delivery(store, client.as_ref(), d, creative, false)
                                .await?,
                        );
                    }
                }
                for creative in &to_pause {
                    if let Some(mut row) = store.get_creative(owner, creative).await? {
                        let expected = row.version;
                        row.status = "paused".into();
                        row.updated_at = now_ms();
                        store.update_creative(&row, expected).await?;
                    }
                }
                Ok(json!({"paused_creatives": to_pause, "paused_ads": paused_ads}))
            }
            "shift_budget" => {
                let mut changed = Vec::new();
                for b in action.params["budgets"].as_array().into_iter().flatten() {
                    let ad_set = b["ad_set_id"].as_str().unwrap_or_default();
                    let micros = b["daily_budget_micros"].as_i64().unwrap_or(0);
                    let platform = b["platform"].as_str().unwrap_or_default();
                    for d in deployments.iter().filter(|d| d.platform == platform) {
                        if let Some(external) = store.ledger_get(&d.id, "ad_set", ad_set).await? {
                            let client = orch.client(d).await?;
                            client
                                .update_budget(
                                    ObjectKind::AdSet,
                                    &external,
                                    Budget::Daily(Micros(micros)),
                                )
                                .await?;
                        }
                    }
                    store
                        .set_ad_set_budget(owner, ad_set, micros, now_ms())
                        .await?;
                    changed.push(json!({"ad_set_id": ad_set, "daily_budget_micros": micros}));
                }
                Ok(json!({"budgets": changed}))
            }
            other => Err(DeployError::NotReady(format!(
                "kind: unknown action `{other}`"
            ))),
        }
    }
    .await;
    let (status, result) = match outcome {
        Ok(result) => ("applied", result),
        Err(e) => ("failed", json!({"error": e.to_string()})),
    };
    store
        .decide_action(owner, &action.id, status, Some(&result), now_ms())
        .await?;
    orch.publish(
        owner,
        &format!("action.{status}"),
        json!({"action_id": action.id,
        "campaign_id": action.campaign_id, "kind": action.kind, "result": result}),
    )
    .await;
    Ok(store
        .get_action(owner, &action.id)
        .await?
        .unwrap_or_else(|| action.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_payloads_are_valid_render_jobs() {
        let copy =
            json!({"headline": "Cold brew", "primary_text": "Smooth", "call_to_action": null});
        for platform in ["meta", "google", "tiktok", "sandbox"] {
            let payload: super::super::creatives::RenderPayload =
                serde_json::from_value(image_preview(platform, &copy)).unwrap();
            payload.check().unwrap();
        }
        let video: super::super::videos::VideoPayload =
            serde_json::from_value(video_preview(&copy)).unwrap();
        video.check(10_000).unwrap();
    }
}

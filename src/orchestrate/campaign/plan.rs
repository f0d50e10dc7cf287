//! `campaign.plan`: the planner agent with the owner's tools (past results, preview renders)
//! -> a draft campaign with its ad sets and the agent's run, inserted in one transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::jobs::{JobContext, JobError, JobHandler, Lane, SubmitRequest};
use crate::orchestrate::Platform;
use crate::orchestrate::planner::{self, PlanBrief, PlannerTools};
use crate::store::campaigns::CampaignRow;
use crate::store::orchestration::{AdSetRow, AgentRunRow, MetricFilter};
use crate::store::{Store, now_ms};

use super::{Orchestrator, derived_id, fatal};

// ---- campaign.plan -------------------------------------------------------------------------

pub(super) struct PlanJob(pub(super) Arc<Orchestrator>);

/// The planner's tools for one owner.
struct OwnerTools<'a> {
    orch: &'a Orchestrator,
    owner: String,
    job_id: String,
    /// The brief's currency: only earlier campaigns in it count as past results.
    currency: String,
    ctx: &'a JobContext,
}

#[async_trait]
impl PlannerTools for OwnerTools<'_> {
    async fn read_past_results(&self) -> Result<Value, String> {
        past_results(&self.orch.store, &self.owner, &self.currency).await
    }

    async fn render_images(&self, platform: Platform, copy: &Value) -> Result<Value, String> {
        self.preview("creative.render", image_preview(platform, copy))
            .await
    }

    async fn render_video(&self, _platform: Platform, copy: &Value) -> Result<Value, String> {
        self.preview("video.render", video_preview(copy)).await
    }

    async fn progress(&self, done: usize, total: usize, message: &str) {
        // Planning is 5% to 90% of the job; storing the plan the rest.
        let fraction = 0.05 + 0.85 * done as f64 / total.max(1) as f64;
        let _ = self.ctx.progress(fraction, message).await;
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
pub fn image_preview(platform: Platform, copy: &Value) -> Value {
    let format = match platform {
        Platform::Google => "google_display_square",
        Platform::Tiktok => "tiktok_in_feed",
        Platform::Meta | Platform::Sandbox => "meta_feed_square",
    };
    json!({"copy": preview_copy(copy), "brand": preview_brand(), "formats": [format],
        "output": "jpeg"})
}

/// A `video.render` payload: a short, small 9:16 ad-template video.
pub fn video_preview(copy: &Value) -> Value {
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

/// The brief as the draft campaign keeps it: the texts the creatives are written from, the
/// targeting, and the brand kit under `brand` (the shape the studio reads).
fn stored_brief(brief: &PlanBrief) -> Value {
    let mut stored = json!({"product": brief.product, "audience": brief.audience,
        "landing_url": brief.landing_url, "countries": brief.countries,
        "brand_name": brief.brand, "benefits": brief.benefits, "offer": brief.offer,
        "interests": brief.interests, "age_min": brief.age_min, "age_max": brief.age_max});
    if let Some(kit) = &brief.brand_kit {
        stored["brand"] = kit.clone();
    }
    stored
}

/// Per platform totals of the owner's synced metrics of campaigns in `currency` (units of it
/// for spend): spends in other currencies do not add up with it.
pub async fn past_results(store: &Store, owner: &str, currency: &str) -> Result<Value, String> {
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
    let mut currency_of: BTreeMap<String, bool> = BTreeMap::new();
    for r in &rows {
        if !currency_of.contains_key(&r.campaign_id) {
            let same = store
                .get_campaign(owner, &r.campaign_id)
                .await
                .map_err(|e| e.to_string())?
                .is_some_and(|c| c.currency == currency);
            currency_of.insert(r.campaign_id.clone(), same);
        }
    }
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| currency_of.get(&r.campaign_id).copied().unwrap_or(false))
        .collect();
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

    fn lane(&self, _payload: &Value) -> Lane {
        Lane::Text
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
        let tools = OwnerTools {
            orch,
            owner: owner.clone(),
            job_id: ctx.job.id.clone(),
            currency: brief.currency.clone(),
            ctx,
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
        let plan_json = json!(plan);
        let campaign = CampaignRow {
            id: campaign_id.clone(),
            owner_id: owner.clone(),
            name: Some(plan.name.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "Planned campaign".to_string()),
            objective: brief.objective.clone(),
            status: "draft".into(),
            currency: brief.currency.clone(),
            daily_budget_micros: plan.daily_budget_micros,
            start_date: brief.start_date.clone(),
            end_date: Some(brief.end_date.clone()),
            platforms: brief
                .platforms
                .iter()
                .map(|p| p.name().to_string())
                .collect(),
            brief: Some(stored_brief(&brief)),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let ad_sets: Vec<AdSetRow> = plan
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| AdSetRow {
                id: derived_id(&ctx.job.id, &format!("ad-set-{i}")),
                owner_id: owner.clone(),
                campaign_id: campaign_id.clone(),
                platform: c.platform.name().to_string(),
                name: c
                    .audience
                    .name
                    .clone()
                    .unwrap_or_else(|| planner::compose::ad_set_name(&brief, c.platform)),
                targeting: json!(c.audience),
                daily_budget_micros: c.daily_budget_micros,
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
            output: Some(plan_json.clone()),
            status: "succeeded".into(),
            error: None,
            created_at: now,
        };
        orch.store
            .insert_planned_campaign(&campaign, &plan_json, &ad_sets, &run)
            .await
            .map_err(|e| JobError::Retryable(e.to_string()))?;
        orch.publish(
            &owner,
            "campaign.planned",
            json!({"campaign_id": campaign_id, "run_id": run.id}),
        )
        .await;
        Ok(
            json!({"campaign_id": campaign_id, "run_id": run.id, "plan": plan_json,
            "trace": outcome.trace}),
        )
    }
}

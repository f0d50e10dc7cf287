//! The optimizer over a campaign's synced metrics ([`evaluate`]: the decision alone, for the
//! status route; [`optimize`]: a recorded run and its proposals, applied at once under an
//! auto-apply policy) and the application of an approved proposal ([`apply_action`]), shared by
//! the jobs and the API.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::orchestrate::deploy::{DeployError, set_creative_delivery};
use crate::orchestrate::objective::ObjectiveMetric;
use crate::orchestrate::optimizer::{
    self, AdSetBudget, ArmSeries, Decision, OptimizerPolicy, Scope,
};
use crate::orchestrate::planner::{self};
use crate::orchestrate::platforms::{Budget, Micros, ObjectKind};
use crate::store::campaigns::CampaignRow;
use crate::store::creatives::CreativeRow;
use crate::store::orchestration::{ActionRow, AgentRunRow, MetricFilter, MetricRow};
use crate::store::{Store, now_ms};

use super::Orchestrator;

// ---- the optimizer -------------------------------------------------------------------------

/// What the optimizer concludes from a campaign's synced metrics, before anything is recorded.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The proposals, the evidence, the metric and, without proposals, why.
    pub decision: Decision,
    pub metric_rows: usize,
    pub creatives: usize,
}

/// A recorded optimizer run: the run, its actions, and the decision's metric and reason.
#[derive(Debug, Clone)]
pub struct Optimized {
    pub run: AgentRunRow,
    pub actions: Vec<ActionRow>,
    pub metric: ObjectiveMetric,
    /// Why nothing was proposed; `None` when something was.
    pub no_proposal_reason: Option<String>,
}

/// The campaign's creatives as arms, each with its synced days. Rows are matched to creatives
/// by id alone (a sandbox rehearsal reports a creative of `meta` under the sandbox deployment),
/// and grouped by the creative's own platform, the one its ad set is planned on.
fn arms_of(creatives: &[CreativeRow], metrics: &[MetricRow]) -> Vec<ArmSeries> {
    let mut arms: BTreeMap<&str, ArmSeries> = creatives
        .iter()
        .map(|c| {
            let arm = ArmSeries {
                creative_id: c.id.clone(),
                name: if c.name.trim().is_empty() {
                    c.id.clone()
                } else {
                    c.name.clone()
                },
                platform: c.platform.clone(),
                active: c.status != "paused" && c.status != "rejected",
                days: BTreeMap::new(),
            };
            (c.id.as_str(), arm)
        })
        .collect();
    for m in metrics {
        let arm = m.creative_id.as_deref().and_then(|c| arms.get_mut(c));
        if let Some(arm) = arm {
            arm.days.entry(m.day.clone()).or_default().add_row(m);
        }
    }
    arms.into_values().collect()
}

/// Reads the campaign's metrics, creatives and ad sets and decides; records nothing. The
/// metric is the objective's ([`ObjectiveMetric::choose`]), ROAS for sales once revenue is
/// synced.
pub async fn evaluate(
    store: &Store,
    owner: &str,
    campaign: &CampaignRow,
    policy: &OptimizerPolicy,
) -> Result<Evaluation, DeployError> {
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
    let ad_sets: Vec<AdSetBudget> = store
        .list_ad_sets(owner, &campaign.id)
        .await?
        .into_iter()
        .map(|a| AdSetBudget {
            min_daily_micros: planner::min_daily_units(
                crate::orchestrate::Platform::copy_platform_of(&a.platform),
            ) * 1_000_000,
            ad_set_id: a.id,
            platform: a.platform,
            daily_budget_micros: a.daily_budget_micros,
        })
        .collect();
    let scope = Scope {
        metric: ObjectiveMetric::choose(
            &campaign.objective,
            metrics.iter().any(|m| m.revenue_micros > 0),
        ),
        currency: &campaign.currency,
    };
    let decision = optimizer::decide(&arms_of(&creatives, &metrics), &ad_sets, policy, scope)
        .map_err(|e| DeployError::NotReady(e.to_string()))?;
    Ok(Evaluation {
        decision,
        metric_rows: metrics.len(),
        creatives: creatives.len(),
    })
}

/// Runs the optimizer over a campaign's metrics: records the run and its proposals (applied at
/// once when the campaign's policy says so).
pub async fn optimize(
    orch: &Orchestrator,
    owner: &str,
    campaign: &CampaignRow,
    policy: &OptimizerPolicy,
) -> Result<Optimized, DeployError> {
    let store = &orch.store;
    let Evaluation {
        decision,
        metric_rows,
        creatives,
    } = evaluate(store, owner, campaign, policy).await?;
    let now = now_ms();
    let run = AgentRunRow {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: owner.to_string(),
        campaign_id: Some(campaign.id.clone()),
        agent: "optimizer".into(),
        seed: policy.seed as i64,
        input: json!({"policy": policy, "metric_rows": metric_rows, "creatives": creatives,
            "metric": decision.metric, "no_proposal_reason": decision.no_proposal_reason}),
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
    Ok(Optimized {
        run,
        actions,
        metric: decision.metric,
        no_proposal_reason: decision.no_proposal_reason,
    })
}

/// Whether deployment `d` delivers `platform`'s ad sets: its own platform's deployment, or a
/// sandbox rehearsal (which holds every platform's ad sets and ads).
fn delivers(d: &crate::store::orchestration::DeploymentRow, platform: &str) -> bool {
    d.platform == platform || d.platform == crate::orchestrate::Platform::Sandbox.name()
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
                for d in deployments.iter().filter(|d| delivers(d, platform)) {
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
                    for d in deployments.iter().filter(|d| delivers(d, platform)) {
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

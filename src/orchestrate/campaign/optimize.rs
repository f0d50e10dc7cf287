//! The optimizer over a campaign's synced metrics ([`optimize`]: a recorded run and its
//! proposals, applied at once under an auto-apply policy) and the application of an approved
//! proposal ([`apply_action`]), shared by the jobs and the API.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::orchestrate::analytics::bandit::Observation;
use crate::orchestrate::deploy::{DeployError, set_creative_delivery};
use crate::orchestrate::optimizer::{self, AdSetBudget, ArmSeries, OptimizerPolicy};
use crate::orchestrate::planner::{self};
use crate::orchestrate::platforms::{Budget, Micros, ObjectKind};
use crate::store::campaigns::CampaignRow;
use crate::store::now_ms;
use crate::store::orchestration::{ActionRow, AgentRunRow, MetricFilter};

use super::Orchestrator;

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
            min_daily_micros: planner::min_daily_units(
                crate::orchestrate::Platform::copy_platform_of(&a.platform),
            ) * 1_000_000,
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

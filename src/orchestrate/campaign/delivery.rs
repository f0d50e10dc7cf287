//! `campaign.deploy` (the ledger-first idempotent push of [`crate::orchestrate::deploy`]) and
//! `campaign.sync` (the platform's daily rows into the metrics table; on the sandbox, simulated
//! days first).

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::jobs::{JobContext, JobError, JobHandler};
use crate::orchestrate::Platform;
use crate::orchestrate::deploy::{DeployError, DeployInput, deploy, sync_metrics};
use crate::orchestrate::platforms::{DateRange, parse_iso_date};
use crate::store::now_ms;
use crate::store::orchestration::DeploymentRow;

use super::{MAX_SYNC_DAYS, Orchestrator, deploy_error, fatal};

// ---- campaign.deploy -----------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployPayload {
    pub deployment_id: String,
}

pub(super) struct DeployJob(pub(super) Arc<Orchestrator>);

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

pub(super) struct SyncJob(pub(super) Arc<Orchestrator>);

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
        let end = campaign
            .end_date
            .as_deref()
            .map(parse_iso_date)
            .transpose()
            .map_err(fatal)?;
        let mut after_end = 0_u32;
        let until = if d.platform == Platform::Sandbox.name() {
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
                    if end.is_some_and(|end| sandbox.today().is_ok_and(|today| today > end)) {
                        after_end += 1;
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
        // The sandbox's last simulated day, or today on a real platform (still delivering).
        let sandbox = d.platform == Platform::Sandbox.name();
        let ended = end.is_some_and(|end| until > end || (sandbox && until == end));
        // Nothing is delivered after the end date: the range stops there.
        let until = end.map_or(until, |end| until.min(end));
        let rows = sync_metrics(&orch.store, client.as_ref(), &d, DateRange { since, until })
            .await
            .map_err(deploy_error)?;
        let range = json!({"since": crate::orchestrate::platforms::iso_date(since),
            "until": crate::orchestrate::platforms::iso_date(until)});
        if ended
            && super::follow_delivery(&orch.store, &d.owner_id, &d.campaign_id, "ended")
                .await
                .map_err(fatal)?
        {
            orch.publish(
                &d.owner_id,
                "campaign.updated",
                json!({"campaign_id": d.campaign_id, "status": "ended"}),
            )
            .await;
        }
        orch.publish(
            &d.owner_id,
            "metrics.synced",
            json!({"deployment_id": d.id,
            "campaign_id": d.campaign_id, "rows": rows.len(), "range": range}),
        )
        .await;
        let note = match (end, after_end) {
            (Some(end), 1..) => Some(format!(
                "no delivery after the end date {}: {after_end} of the {} simulated days fall \
                 after it",
                crate::orchestrate::platforms::iso_date(end),
                p.days.unwrap_or(1)
            )),
            (Some(end), 0) if ended => Some(format!(
                "the schedule ended on {}",
                crate::orchestrate::platforms::iso_date(end)
            )),
            _ => None,
        };
        Ok(
            json!({"rows": rows.len(), "range": range, "days_after_end": after_end,
            "campaign_ended": ended, "note": note}),
        )
    }
}

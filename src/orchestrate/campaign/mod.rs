//! The campaign loop's jobs and the actions they share with the API: `campaign.plan` (the
//! planner agent -> a draft campaign with its ad sets, in one transaction), `campaign.deploy`
//! (idempotent push to an ad platform, see [`super::deploy`]), `campaign.sync` (the platform's
//! daily rows into the metrics table; on the sandbox, simulated days first) and the optimizer's
//! proposals and their application ([`optimize`], [`apply_action`]). Every outcome is
//! published to the owner's event stream.

use std::sync::{Arc, OnceLock};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::deploy::DeployError;
use super::platforms::clients::Platforms;
use crate::events::EventBus;
use crate::jobs::{JobError, JobService};
use crate::orchestrate::llm::TextBackend;
use crate::store::Store;
use crate::store::assets::AssetStore;

mod delivery;
mod optimize;
mod plan;

pub use delivery::{DeployPayload, SyncPayload};
pub use optimize::{Evaluation, Optimized, apply_action, evaluate, optimize};
pub use plan::{image_preview, past_results, video_preview};

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
    pub fn register(self: &Arc<Self>, registry: &mut crate::jobs::JobRegistry) {
        registry.register(Arc::new(plan::PlanJob(self.clone())));
        registry.register(Arc::new(delivery::DeployJob(self.clone())));
        registry.register(Arc::new(delivery::SyncJob(self.clone())));
    }

    pub(crate) async fn publish(&self, owner: &str, kind: &str, data: Value) {
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

pub(crate) fn fatal(e: impl std::fmt::Display) -> JobError {
    JobError::Fatal(e.to_string())
}

pub(crate) fn deploy_error(e: DeployError) -> JobError {
    if e.is_retryable() {
        JobError::Retryable(e.to_string())
    } else {
        JobError::Fatal(e.to_string())
    }
}

/// Sets a campaign's status to follow its delivery (`active`, `paused`, `ended`), unless it is
/// archived or already there; retried on a concurrent edit. Answers whether it changed.
pub async fn follow_delivery(
    store: &Store,
    owner: &str,
    campaign_id: &str,
    status: &str,
) -> Result<bool, crate::store::StoreError> {
    use crate::store::campaigns::Versioned;
    for _ in 0..3 {
        let Some(mut row) = store.get_campaign(owner, campaign_id).await? else {
            return Ok(false);
        };
        if row.status == status || row.status == "archived" || row.status == "ended" {
            return Ok(false);
        }
        let version = row.version;
        row.status = status.to_string();
        row.updated_at = crate::store::now_ms();
        match store.update_campaign(&row, version).await? {
            Versioned::Done(_) => return Ok(true),
            Versioned::Stale { .. } => continue,
            Versioned::NotFound => return Ok(false),
        }
    }
    Ok(false)
}

//! The job kinds built into the server. Later engines register theirs (renders, deployments)
//! the same way, through [`super::JobRegistry::register`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{JobContext, JobError, JobHandler, JobRegistry};
use crate::engine::registry::{ModelRegistry, PullOutcome, RegistryError};
use crate::store::assets::AssetStore;

/// The registry of the kinds a server or worker runs by default.
pub fn builtin(models: Arc<ModelRegistry>, assets: AssetStore) -> JobRegistry {
    let mut registry = JobRegistry::new();
    registry.register(Arc::new(ModelPull { models }));
    registry.register(Arc::new(super::analytics::MmmJob { assets }));
    registry
}

/// `model.pull`: `{"model": NAME}` fetches, verifies and installs a model into the cache.
pub struct ModelPull {
    models: Arc<ModelRegistry>,
}

impl ModelPull {
    fn model_name(payload: &Value) -> Result<&str, String> {
        let object = payload
            .as_object()
            .ok_or_else(|| "payload: must be a JSON object like {\"model\": NAME}".to_string())?;
        if let Some(extra) = object.keys().find(|k| k.as_str() != "model") {
            return Err(format!(
                "payload.{extra}: unknown field (only `model` is accepted)"
            ));
        }
        object
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| "payload.model: required, a model name string".to_string())
    }
}

#[async_trait]
impl JobHandler for ModelPull {
    fn kind(&self) -> &'static str {
        "model.pull"
    }

    fn describe(&self) -> &'static str {
        "fetch, verify and install a model from its manifest's sources"
    }

    fn admin_only(&self) -> bool {
        true
    }

    fn validate(&self, payload: &Value) -> Result<(), String> {
        let name = Self::model_name(payload)?;
        self.models
            .get(name)
            .map(|_| ())
            .map_err(|e| format!("payload.model: {e}"))
    }

    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let name = Self::model_name(&ctx.job.payload)
            .map_err(JobError::Fatal)?
            .to_string();
        let models = self.models.clone();
        let cancelled = Arc::new(AtomicBool::new(false));
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(f64, String)>(64);
        let flag = cancelled.clone();
        let pull = tokio::task::spawn_blocking(move || {
            let progress = |fraction: f64, message: &str| {
                let _ = tx.try_send((fraction, message.to_string()));
            };
            models.pull(&name, &progress, &flag)
        });
        let token = ctx.cancellation().clone();
        let watcher = tokio::spawn(async move {
            token.cancelled().await;
            cancelled.store(true, Ordering::Relaxed);
        });
        while let Some((fraction, message)) = rx.recv().await {
            ctx.progress(fraction, &message).await?;
        }
        watcher.abort();
        let outcome = pull
            .await
            .map_err(|e| JobError::Fatal(format!("pull task failed: {e}")))?;
        match outcome {
            Ok(PullOutcome::AlreadyInstalled) => Ok(json!({"installed": true, "source": null})),
            Ok(PullOutcome::Installed { source }) => {
                Ok(json!({"installed": true, "source": source}))
            }
            Err(RegistryError::Cancelled) => Err(JobError::Cancelled),
            Err(e @ RegistryError::AllSourcesFailed { .. }) => {
                Err(JobError::Retryable(e.to_string()))
            }
            Err(e) => Err(JobError::Fatal(e.to_string())),
        }
    }
}

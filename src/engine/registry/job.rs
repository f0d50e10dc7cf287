//! `model.pull`, the model registry's job kind: fetch, verify and install a model into the
//! cache with progress. Registered by `app::builtin_kinds`.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::engine::registry::{ModelRegistry, PullOutcome, RegistryError};
use crate::jobs::{JobContext, JobError, JobHandler};

/// `model.pull`: `{"model": NAME}` fetches, verifies and installs a model into the cache.
pub struct ModelPull {
    models: Arc<ModelRegistry>,
}

impl ModelPull {
    pub fn new(models: Arc<ModelRegistry>) -> Self {
        Self { models }
    }

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
        let outcome = ctx
            .run_blocking("pull", move |report, cancelled| {
                let progress = |fraction: f64, message: &str| report(fraction, message.into());
                models.pull(&name, &progress, cancelled)
            })
            .await?;
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

//! Loading the models a role serves at start: the text engine, the embedding model and the
//! image engines, each only when configured and installed (otherwise a warning that says what
//! to do, and the routes that need it answer 503).

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{EmbedArgs, ImageArgs, TextArgs};
use crate::engine::ModelRegistry;
use crate::engine::embed::{EmbedLimits, EmbedService};
use crate::engine::text::{EngineLimits, TextService};
use crate::scheduler::BatchLimits;

use super::AppError;

/// The directory of model `name` when it is configured, known and installed; `None` with a
/// warning saying what to do otherwise (the routes it serves answer 503 meanwhile).
fn installed_model(
    models: &ModelRegistry,
    name: &str,
    routes: &str,
) -> Option<(crate::engine::registry::Manifest, PathBuf)> {
    if name.is_empty() {
        return None;
    }
    let manifest = match models.get(name) {
        Ok(manifest) => manifest,
        Err(e) => {
            tracing::warn!(error = %e, "model not loaded: {routes} answer 503");
            return None;
        }
    };
    if !models.status(manifest, false).installed {
        tracing::warn!(
            model = %name,
            "model not installed: {routes} answer 503 until `adforge models pull {name}` and a restart"
        );
        return None;
    }
    Some((manifest.clone(), models.model_dir(&manifest.name)))
}

/// Runs a blocking model load off the async runtime.
async fn load_blocking<T: Send + 'static>(
    what: &str,
    load: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(load)
        .await
        .map_err(|e| AppError::Io {
            context: format!("loading the {what} model"),
            source: std::io::Error::other(e),
        })
}

/// Loads the configured text model when it is installed; `None` (with a warning) when not.
pub async fn load_text_model(
    models: &ModelRegistry,
    args: &TextArgs,
) -> Result<Option<TextService>, AppError> {
    let Some((manifest, dir)) = installed_model(models, &args.text_model, "/v1 text routes") else {
        return Ok(None);
    };
    // A GGUF file, or a Hugging Face checkpoint (config.json and safetensors) in the directory.
    let path = match manifest.files.iter().find(|f| f.path.ends_with(".gguf")) {
        Some(file) => dir.join(&file.path),
        None if manifest
            .files
            .iter()
            .any(|f| f.path.ends_with(".safetensors")) =>
        {
            dir
        }
        None => {
            tracing::warn!(model = %args.text_model, "text model has no GGUF or safetensors file; not loaded");
            return Ok(None);
        }
    };
    let name = args.text_model.clone();
    let limits = EngineLimits {
        batch: BatchLimits {
            max_batch: usize::from(args.max_batch),
            ..BatchLimits::default()
        },
        queue: args.text_queue.max(1),
        max_running: usize::from(args.max_batch),
    };
    let max_context = args.max_context;
    load_blocking("text", move || {
        TextService::load(&name, &path, limits, max_context)
    })
    .await?
    .map(Some)
    .map_err(|source| AppError::Text {
        model: args.text_model.clone(),
        source,
    })
}

/// Loads the configured embedding model when it is installed; `None` (with a warning) when not.
pub async fn load_embed_model(
    models: &ModelRegistry,
    args: &EmbedArgs,
) -> Result<Option<EmbedService>, AppError> {
    let Some((_, dir)) = installed_model(models, &args.embed_model, "/v1/embeddings") else {
        return Ok(None);
    };
    let name = args.embed_model.clone();
    let limits = EmbedLimits {
        queue: args.embed_queue.max(1),
        max_batch: usize::from(args.embed_batch),
        ..EmbedLimits::default()
    };
    load_blocking("embedding", move || EmbedService::load(&name, &dir, limits))
        .await?
        .map(Some)
        .map_err(|source| AppError::Embed {
            model: args.embed_model.clone(),
            source,
        })
}

/// Loads the configured image model when it is installed, and starts its engine; none (with a
/// warning) when not.
pub async fn load_image_models(
    models: &ModelRegistry,
    args: &ImageArgs,
) -> Result<crate::engine::image::engine::ImageEngines, AppError> {
    use crate::engine::image::engine::{
        EngineLimits as ImageEngineLimits, ImageEngine, ImageEngines,
    };
    let engines = ImageEngines::default();
    let Some((_, dir)) = installed_model(
        models,
        &args.image_model,
        "/v1/images/generations and edits",
    ) else {
        return Ok(engines);
    };
    let name = args.image_model.clone();
    let model = load_blocking("image", move || {
        crate::engine::image::pipeline::DiffusionModel::load(&name, &dir, &candle_core::Device::Cpu)
    })
    .await?
    .map_err(|e| AppError::Io {
        context: format!("loading the image model {}", args.image_model),
        source: std::io::Error::other(e.to_string()),
    })?;
    let limits = ImageEngineLimits {
        max_requests: args.image_queue.max(1),
        max_rows: usize::from(args.image_batch_rows),
    };
    engines.insert(ImageEngine::start(Arc::new(model), limits));
    Ok(engines)
}

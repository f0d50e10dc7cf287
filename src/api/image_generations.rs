//! Diffusion over HTTP: `POST /v1/images/generations` (OpenAI's shape, with adforge's
//! extensions: model, seed, steps, guidance, negative_prompt, scheduler), `POST
//! /v1/images/edits` (img2img: a base64 input image and a strength) and `GET /v1/capabilities`
//! (what is loaded and the limits). Requests are validated here into `GenerationRequest`s with
//! errors that name the field and the limit; the engine batches and runs them. With no image
//! model loaded both routes answer 503 saying how to install one.

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{InferenceAuth, ValidJson};
use super::images::decode_base64_image;
use super::{ApiError, AppState};
use crate::engine::image::engine::{GenerationRequest, ImageEngine, ImageEngineError};
use crate::engine::image::pipeline::{ImageParams, ModelDefaults, PipelineError};
use crate::engine::image::schedulers::SchedulerKind;
use crate::media::compositor::{OutputFormat, encode};

/// What one generation request may ask for.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct ImageLimits {
    /// Largest width or height in pixels.
    pub max_side: u32,
    pub max_steps: u32,
    /// Images per request (`n`).
    pub max_n: u32,
    pub max_prompt_chars: usize,
    pub max_guidance: f64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_side: 1024,
            max_steps: 50,
            max_n: 4,
            max_prompt_chars: 2000,
            max_guidance: 30.0,
        }
    }
}

/// Body of this route: a base64 input image for edits (up to the largest side).
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/images/generations", post(generations))
        .route(
            "/v1/images/edits",
            post(edits).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/v1/capabilities", get(capabilities))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageGenerationRequest {
    pub prompt: String,
    /// Images to make, 1..=limit (default 1).
    pub n: Option<u32>,
    /// `WIDTHxHEIGHT`, multiples of 8 (default: the model's native size).
    pub size: Option<String>,
    /// `b64_json` (default). `url` is not served here: stored images come from
    /// `POST /api/creatives/render`.
    pub response_format: Option<String>,
    /// Image model (default: the first loaded).
    pub model: Option<String>,
    /// Same seed, same image, alone or co-batched (default: random, returned).
    pub seed: Option<u64>,
    pub steps: Option<u32>,
    /// Classifier-free guidance; 1 or less turns it off (default: the model's).
    pub guidance: Option<f64>,
    pub negative_prompt: Option<String>,
    /// `ddim`, `euler`, `euler_ancestral` or `dpm_plus_plus2m`.
    #[schema(value_type = Option<String>)]
    pub scheduler: Option<SchedulerKind>,
    /// Ignored (OpenAI compatibility).
    pub quality: Option<String>,
    pub user: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageEditRequest {
    /// The input image, base64 PNG, JPEG or WebP; resized to `size`.
    pub image: String,
    /// How much of the schedule runs from the noised input, 0 < strength <= 1 (default 0.6).
    pub strength: Option<f64>,
    #[serde(flatten)]
    #[schema(inline)]
    pub generation: ImageGenerationRequest,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImageGenerationResponse {
    pub created: u64,
    pub model: String,
    pub seed: u64,
    pub data: Vec<GeneratedImageData>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratedImageData {
    /// PNG with the generation parameters (and seed) in its text chunks.
    pub b64_json: String,
    pub seed: u64,
    pub index: u32,
    pub revised_prompt: Option<String>,
}

fn no_model() -> ApiError {
    ApiError::ModelNotLoaded(
        "no image model is installed: run `adforge models pull sd-turbo` (or sd-1.5, sd-2.1, sdxl, sdxl-turbo) where the Hugging Face hub is reachable, then restart with --image-model NAME".into(),
    )
}

fn engine_error(e: ImageEngineError) -> ApiError {
    match e {
        ImageEngineError::Busy(n) => ApiError::TooManyRequests(format!(
            "the image engine is full ({n} requests in progress); retry shortly"
        )),
        ImageEngineError::Cancelled | ImageEngineError::Stopped => ApiError::Unavailable {
            what: "the image engine",
            detail: e.to_string(),
        },
        // A request the pipeline finds invalid is the client's; a failing model is ours.
        ImageEngineError::Pipeline(PipelineError::Invalid(message)) => {
            ApiError::bad_request(message)
        }
        ImageEngineError::Pipeline(other) => ApiError::Internal(other.to_string()),
    }
}

fn parse_size(size: &str, multiple: u32, max_side: u32) -> Result<(u32, u32), ApiError> {
    let bad =
        || ApiError::bad_request(format!("size: `{size}` is not WIDTHxHEIGHT (e.g. 512x512)"));
    let (w, h) = size.split_once('x').ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    for (name, value) in [("width", w), ("height", h)] {
        if value == 0 || value % multiple != 0 {
            return Err(ApiError::bad_request(format!(
                "size: {name} {value} is not a positive multiple of {multiple}"
            )));
        }
        if value > max_side {
            return Err(ApiError::bad_request(format!(
                "size: {name} {value} is above the limit of {max_side}"
            )));
        }
    }
    Ok((w, h))
}

/// Checks every field against the limits and the model, and fills in the defaults.
fn validate(
    body: &ImageGenerationRequest,
    engine: &ImageEngine,
    limits: &ImageLimits,
) -> Result<GenerationRequest, ApiError> {
    let model = engine.model();
    let defaults: ModelDefaults = model.defaults;
    if body.prompt.trim().is_empty() {
        return Err(ApiError::bad_request("prompt: must not be empty"));
    }
    for (field, text) in [
        ("prompt", Some(&body.prompt)),
        ("negative_prompt", body.negative_prompt.as_ref()),
    ] {
        if let Some(text) = text
            && text.chars().count() > limits.max_prompt_chars
        {
            return Err(ApiError::bad_request(format!(
                "{field}: {} characters is above the limit of {}",
                text.chars().count(),
                limits.max_prompt_chars
            )));
        }
    }
    if let Some(format) = &body.response_format
        && format != "b64_json"
    {
        return Err(ApiError::bad_request(format!(
            "response_format: `{format}` is not served here; use b64_json (stored images: POST /api/creatives/render)"
        )));
    }
    let n = body.n.unwrap_or(1);
    if n == 0 || n > limits.max_n {
        return Err(ApiError::bad_request(format!(
            "n: {n} is outside 1..={}",
            limits.max_n
        )));
    }
    let (width, height) = match &body.size {
        Some(size) => parse_size(size, model.size_multiple(), limits.max_side)?,
        None => (
            defaults.width.min(limits.max_side),
            defaults.height.min(limits.max_side),
        ),
    };
    let steps = body
        .steps
        .unwrap_or_else(|| defaults.steps.min(limits.max_steps));
    if steps == 0 || steps > limits.max_steps {
        return Err(ApiError::bad_request(format!(
            "steps: {steps} is outside 1..={}",
            limits.max_steps
        )));
    }
    let guidance = body.guidance.unwrap_or(defaults.guidance);
    if !guidance.is_finite() || !(0.0..=limits.max_guidance).contains(&guidance) {
        return Err(ApiError::bad_request(format!(
            "guidance: {guidance} is outside 0..={}",
            limits.max_guidance
        )));
    }
    let rows = (n as usize) * if guidance > 1.0 { 2 } else { 1 };
    if rows > engine.limits().max_rows {
        return Err(ApiError::bad_request(format!(
            "n: {n} images{} take {rows} UNet rows, above the engine's {} per step",
            if guidance > 1.0 { " with guidance" } else { "" },
            engine.limits().max_rows
        )));
    }
    Ok(GenerationRequest {
        prompt: body.prompt.clone(),
        negative_prompt: body.negative_prompt.clone().unwrap_or_default(),
        params: ImageParams {
            width,
            height,
            steps,
            guidance,
            scheduler: body.scheduler.unwrap_or(defaults.scheduler),
            seed: body.seed.unwrap_or_else(rand::random),
            strength: 1.0,
        },
        n,
        init_image: None,
        preview_every: 0,
    })
}

fn engine_for(
    state: &AppState,
    model: Option<&str>,
) -> Result<std::sync::Arc<ImageEngine>, ApiError> {
    match (state.image.get(model), model) {
        (Some(engine), _) => Ok(engine),
        (None, Some(name)) if !state.image.names().is_empty() => {
            Err(ApiError::bad_request(format!(
                "model: `{name}` is not loaded (loaded: {})",
                state.image.names().join(", ")
            )))
        }
        _ => Err(no_model()),
    }
}

async fn run(
    engine: &ImageEngine,
    request: GenerationRequest,
) -> Result<Json<ImageGenerationResponse>, ApiError> {
    let seed = request.params.seed;
    let metadata = vec![
        ("prompt".to_string(), request.prompt.clone()),
        (
            "negative_prompt".to_string(),
            request.negative_prompt.clone(),
        ),
        ("model".to_string(), engine.model().name.clone()),
        ("seed".to_string(), seed.to_string()),
        ("steps".to_string(), request.params.steps.to_string()),
        ("guidance".to_string(), request.params.guidance.to_string()),
        (
            "scheduler".to_string(),
            format!("{:?}", request.params.scheduler),
        ),
        (
            "size".to_string(),
            format!("{}x{}", request.params.width, request.params.height),
        ),
        ("strength".to_string(), request.params.strength.to_string()),
        ("software".to_string(), "adforge".to_string()),
    ];
    // The ticket lives in this future: a client that disconnects drops it, which cancels the
    // request before its next step.
    let ticket = engine.submit(request).map_err(engine_error)?;
    let images = ticket.wait().await.map_err(engine_error)?;
    let mut data = Vec::with_capacity(images.len());
    for image in images {
        let mut meta: Vec<(&str, &str)> = metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let index = image.index.to_string();
        meta.push(("image_index", &index));
        let rgba = image::DynamicImage::ImageRgb8(image.image).into_rgba8();
        let png = encode(&rgba, OutputFormat::Png, &meta)
            .map_err(|e| ApiError::Internal(format!("encoding a generated image: {e}")))?;
        data.push(GeneratedImageData {
            b64_json: base64::engine::general_purpose::STANDARD.encode(png),
            seed: image.seed,
            index: image.index,
            revised_prompt: None,
        });
    }
    Ok(Json(ImageGenerationResponse {
        created: (crate::store::now_ms() / 1000) as u64,
        model: engine.model().name.clone(),
        seed,
        data,
    }))
}

/// Generates images from a prompt.
#[utoipa::path(post, path = "/v1/images/generations", tag = "inference", request_body = ImageGenerationRequest,
    responses((status = 200, body = ImageGenerationResponse), (status = 400, body = super::ErrorBody),
        (status = 429, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub async fn generations(
    State(state): State<AppState>,
    _auth: InferenceAuth,
    ValidJson(body): ValidJson<ImageGenerationRequest>,
) -> Result<Json<ImageGenerationResponse>, ApiError> {
    let engine = engine_for(&state, body.model.as_deref())?;
    let request = validate(&body, &engine, &state.image_limits)?;
    run(&engine, request).await
}

/// img2img: an input image re-imagined from a prompt; `strength` sets how far.
#[utoipa::path(post, path = "/v1/images/edits", tag = "inference", request_body = ImageEditRequest,
    responses((status = 200, body = ImageGenerationResponse), (status = 400, body = super::ErrorBody),
        (status = 429, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub async fn edits(
    State(state): State<AppState>,
    _auth: InferenceAuth,
    ValidJson(body): ValidJson<ImageEditRequest>,
) -> Result<Json<ImageGenerationResponse>, ApiError> {
    let engine = engine_for(&state, body.generation.model.as_deref())?;
    let mut request = validate(&body.generation, &engine, &state.image_limits)?;
    let strength = body.strength.unwrap_or(0.6);
    if !(strength > 0.0 && strength <= 1.0) {
        return Err(ApiError::bad_request(format!(
            "strength: {strength} is outside (0, 1]"
        )));
    }
    let run_steps = (f64::from(request.params.steps) * strength).floor();
    if run_steps < 1.0 {
        return Err(ApiError::bad_request(format!(
            "strength: {strength} of {} steps runs no step; raise strength or steps",
            request.params.steps
        )));
    }
    let max_pixels = u64::from(state.image_limits.max_side).pow(2);
    let input = decode_base64_image("image", &body.image, max_pixels)?;
    let (w, h) = (request.params.width, request.params.height);
    request.init_image = Some(
        input
            .resize_exact(w, h, image::imageops::FilterType::Lanczos3)
            .into_rgb8(),
    );
    request.params.strength = strength;
    run(&engine, request).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Capabilities {
    pub image_models: Vec<ImageModelInfo>,
    pub schedulers: Vec<String>,
    pub image_limits: ImageLimits,
    pub text_model: Option<String>,
    pub embedding_model: Option<String>,
    pub upscale_scales: Vec<u32>,
    pub formats: Vec<&'static str>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImageModelInfo {
    pub name: String,
    pub sdxl: bool,
    pub defaults: ModelDefaults,
    /// Width and height must be multiples of this.
    pub size_multiple: u32,
    /// Requests in the engine now, and the most it admits.
    pub in_flight: usize,
    pub max_requests: usize,
    pub max_rows_per_step: usize,
}

/// What this server can do: loaded models, schedulers, sizes and limits.
#[utoipa::path(get, path = "/v1/capabilities", tag = "inference",
    responses((status = 200, body = Capabilities)))]
pub async fn capabilities(
    State(state): State<AppState>,
    _auth: InferenceAuth,
) -> Json<Capabilities> {
    let image_models = state
        .image
        .names()
        .iter()
        .filter_map(|name| state.image.get(Some(name)))
        .map(|engine| ImageModelInfo {
            name: engine.model().name.clone(),
            sdxl: engine.model().is_sdxl(),
            defaults: engine.model().defaults,
            size_multiple: engine.model().size_multiple(),
            in_flight: engine.in_flight(),
            max_requests: engine.limits().max_requests,
            max_rows_per_step: engine.limits().max_rows,
        })
        .collect();
    Json(Capabilities {
        image_models,
        schedulers: ["ddim", "euler", "euler_ancestral", "dpm_plus_plus2m"]
            .map(String::from)
            .to_vec(),
        image_limits: state.image_limits,
        text_model: state.text.as_ref().map(|t| t.name.clone()),
        embedding_model: state.embed.as_ref().map(|e| e.name.clone()),
        upscale_scales: crate::engine::image::upscale::SCALES.to_vec(),
        formats: crate::media::formats::ids(),
    })
}

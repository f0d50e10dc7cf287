//! `POST /api/creatives/render`: copy (or a brief) + images + brand kit + formats in, a
//! `creative.render` job out (202 with its Location). Input images arrive base64, are decoded
//! and stored as assets of the caller first (so the job payload holds ids, not megabytes), and
//! the copy is laid out at every format before the job is accepted: text that cannot fit at the
//! minimum size is a 400 naming the format and the layer, not a failed job later.

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{Auth, ValidJson};
use super::images::decode_base64_image;
use super::jobs::{JobView, accepted, check_payload_size};
use super::{ApiError, AppState};
use crate::jobs::SubmitRequest;
use crate::media::compositor::{Fit, OutputFormat, encode};
use crate::store::now_ms;
use crate::studio::creatives::check_fit;
use crate::studio::creatives::{
    BackgroundKind, BrandSpec, CreativeCopy, RenderBrief, RenderPayload,
};

/// Body of this route: three base64 images.
const MAX_BODY_BYTES: usize = 24 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/creatives/render",
        post(render).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreativeRenderRequest {
    pub copy: Option<CreativeCopy>,
    /// Used when `copy` is absent: the text model writes the copy.
    pub brief: Option<RenderBrief>,
    #[serde(default)]
    pub background: BackgroundKind,
    pub background_prompt: Option<String>,
    /// Base64 PNG, JPEG or WebP (for `background: image`).
    pub background_image: Option<String>,
    /// Base64 PNG, JPEG or WebP.
    pub product_image: Option<String>,
    pub product_fit: Option<Fit>,
    /// Base64 PNG, JPEG or WebP (transparency kept).
    pub logo: Option<String>,
    pub brand: BrandSpec,
    /// Ids from the format table (`GET /v1/capabilities` lists them).
    pub formats: Vec<String>,
    /// png (default), jpeg or webp.
    pub output: Option<String>,
    pub seed: Option<u64>,
    /// Queue priority, as for `POST /api/jobs` (higher first).
    pub priority: Option<i64>,
}

/// Renders a creative at every requested format as a job (`creative.render`); its result lists
/// each format's asset (`/api/assets/{id}/content`), thumbnail and layer placement.
#[utoipa::path(post, path = "/api/creatives/render", tag = "generate", request_body = CreativeRenderRequest,
    responses((status = 202, body = JobView), (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn render(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidJson(body): ValidJson<CreativeRenderRequest>,
) -> Result<Response, ApiError> {
    let upload_id = format!("upload-{}", uuid::Uuid::now_v7());
    let mut payload = RenderPayload {
        copy: body.copy,
        brief: body.brief,
        background: body.background,
        background_prompt: body.background_prompt,
        // Checked as present now; the asset ids replace these after the uploads below.
        background_image: body.background_image.as_ref().map(|_| String::new()),
        product_image: body.product_image.as_ref().map(|_| String::new()),
        product_fit: body.product_fit,
        logo: body.logo.as_ref().map(|_| String::new()),
        brand: body.brand,
        formats: body.formats,
        output: body.output,
        seed: Some(body.seed.unwrap_or_else(rand::random)),
    };
    payload.check().map_err(ApiError::bad_request)?;
    if payload.background == BackgroundKind::Generated && state.image.get(None).is_none() {
        return Err(ApiError::ModelNotLoaded(
            "background: `generated` needs an image model: run `adforge models pull sd-turbo` and restart with --image-model sd-turbo".into(),
        ));
    }
    if payload.copy.is_none() && state.text.is_none() {
        return Err(ApiError::bad_request(
            "copy: required when no text model is loaded (a brief alone needs one)",
        ));
    }
    let priority = body.priority.unwrap_or(0);
    if !(-100..=100).contains(&priority) {
        return Err(ApiError::bad_request(format!(
            "priority: {priority} is outside -100..=100"
        )));
    }
    // Decode (refusing what does not decode), then store as the caller's assets.
    let mut decoded = Vec::new();
    for (field, value) in [
        ("background_image", &body.background_image),
        ("product_image", &body.product_image),
        ("logo", &body.logo),
    ] {
        let Some(value) = value else { continue };
        let image = decode_base64_image(field, value, crate::studio::inputs::MAX_INPUT_PIXELS)?;
        let png = encode(&image.to_rgba8(), OutputFormat::Png, &[])
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let row = state
            .assets
            .put(
                &principal.owner_id,
                &upload_id,
                &format!("{field}.png"),
                "image/png",
                &png,
                now_ms(),
            )
            .await
            .map_err(|e| ApiError::bad_request(format!("{field}: {e}")))?;
        let id = row.id;
        match field {
            "background_image" => payload.background_image = Some(id),
            "product_image" => payload.product_image = Some(id),
            _ => payload.logo = Some(id),
        }
        decoded.push((field, image));
    }
    if let Some(copy) = payload.copy.clone() {
        let (compositor, checked) = (state.compositor.clone(), payload.clone());
        tokio::task::spawn_blocking(move || check_fit(&compositor, &checked, copy, decoded))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(ApiError::bad_request)?;
    }
    let value = serde_json::to_value(&payload).map_err(|e| ApiError::Internal(e.to_string()))?;
    check_payload_size(&state, &value, "body")?;
    let submitted = state
        .jobs
        .submit(SubmitRequest {
            owner_id: principal.owner_id.clone(),
            owner_is_admin: principal.is_admin,
            kind: "creative.render".into(),
            payload: value,
            idempotency_key: None,
            priority,
            max_attempts: None,
        })
        .await?;
    Ok(accepted(submitted))
}

//! `/api/generate*`: creatives from a product brief. `POST /api/generate` turns a campaign's
//! brief into a whole creative set (a `creative.set` job: copy variants per platform, images at
//! every format, a video per vertical format, stored as the campaign's creatives);
//! `POST /api/generate/copy` answers with n ad-copy variants within a platform's limits.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{Auth, ValidJson};
use super::{ApiError, AppState};
use crate::engine::embed::EmbedError;
use crate::engine::text::TextEngineError;
use crate::jobs::SubmitRequest;
use crate::orchestrate::Platform;
use crate::orchestrate::copy::{CopyBrief, CopyError, CopySet, generate_copy};
use crate::studio::creative_set::CreativeSetPayload;

/// Variants in one request.
pub const MAX_VARIANTS: usize = 8;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyRequest {
    /// What is advertised (1-500 characters).
    pub product: String,
    /// Who it is for (up to 300 characters).
    #[serde(default)]
    pub audience: String,
    /// Voice of the copy, e.g. "playful" (up to 60 characters; default "friendly").
    pub tone: Option<String>,
    pub platform: Platform,
    /// Language to write in (default English).
    pub language: Option<String>,
    /// Variants wanted (1-8, default 3).
    pub n: Option<usize>,
    /// Same seed, same variants.
    pub seed: Option<u64>,
}

fn text_field(name: &str, value: &str, min: usize, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(ApiError::bad_request(format!(
            "{name}: {chars} characters is outside {min}..={max}"
        )));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::bad_request(format!(
            "{name}: control characters are not allowed"
        )));
    }
    Ok(value.to_string())
}

impl CopyRequest {
    fn validate(self) -> Result<CopyBrief, ApiError> {
        let n = self.n.unwrap_or(3);
        if !(1..=MAX_VARIANTS).contains(&n) {
            return Err(ApiError::bad_request(format!(
                "n: {n} is outside 1..={MAX_VARIANTS}"
            )));
        }
        Ok(CopyBrief {
            product: text_field("product", &self.product, 1, 500)?,
            audience: text_field("audience", &self.audience, 0, 300)?,
            tone: text_field("tone", self.tone.as_deref().unwrap_or("friendly"), 1, 60)?,
            platform: self.platform,
            language: text_field(
                "language",
                self.language.as_deref().unwrap_or("English"),
                1,
                40,
            )?,
            n,
            seed: self.seed.unwrap_or_else(rand::random),
        })
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/generate", post(generate_set))
        .route("/api/generate/copy", post(generate_copy_route))
}

/// A campaign's whole creative set from its brief, as a `creative.set` job (202 with the job and
/// its `Location`; follow it at `/api/jobs/{id}/events`). The campaign, the formats and every
/// asset id are checked first: a refused request leaves no job. An `Idempotency-Key` header
/// replays the first submission.
#[utoipa::path(post, path = "/api/generate", tag = "generate", request_body = CreativeSetPayload,
    responses((status = 202, description = "The creative-set job", body = super::jobs::JobView),
        (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody), (status = 503, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn generate_set(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    ValidJson(body): ValidJson<CreativeSetPayload>,
) -> Result<Response, ApiError> {
    let owner = &principal.owner_id;
    let campaign = state
        .store
        .get_campaign(owner, &body.campaign_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no campaign {:?}", body.campaign_id)))?;
    body.check(&campaign.platforms)
        .map_err(ApiError::bad_request)?;
    for (field, id) in [
        ("logo", &body.logo),
        ("product_image", &body.product_image),
        ("background_image", &body.background_image),
    ] {
        let Some(id) = id else { continue };
        if state.assets.get(owner, id).await?.is_none() {
            return Err(ApiError::bad_request(format!(
                "{field}: no asset {id:?} (upload it with POST /api/assets)"
            )));
        }
    }
    let planned = state
        .store
        .campaign_plan(owner, &campaign.id)
        .await?
        .is_some();
    // An API node has no model of its own: the workers' text models write the copy.
    if !planned && state.orchestrator.text.is_none() && state.role != crate::config::Role::Api {
        return Err(ApiError::ModelNotLoaded(
            "campaign_id: the campaign has no plan to take copy from and no text model is loaded: \
             install one with `adforge models pull smollm2-135m-instruct` (or give --inference-url) and restart"
                .into(),
        ));
    }
    let idempotency_key = super::jobs::idempotency_header(&headers)?;
    let payload = serde_json::to_value(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
    super::jobs::check_payload_size(&state, &payload, "body")?;
    let submitted = state
        .jobs
        .submit(SubmitRequest {
            owner_id: owner.clone(),
            owner_is_admin: principal.is_admin,
            kind: "creative.set".into(),
            payload,
            idempotency_key,
            priority: 0,
            max_attempts: None,
        })
        .await?;
    Ok(super::jobs::accepted(submitted))
}

/// Ad copy for a platform: n distinct variants (headline, primary text, description, call to
/// action), each within the platform's limits, decoded under a JSON schema.
#[utoipa::path(post, path = "/api/generate/copy", tag = "generate", request_body = CopyRequest,
    responses((status = 200, body = CopySet),
        (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 429, body = super::ErrorBody), (status = 503, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn generate_copy_route(
    State(state): State<AppState>,
    Auth(_principal): Auth,
    ValidJson(body): ValidJson<CopyRequest>,
) -> Result<Json<CopySet>, ApiError> {
    let brief = body.validate()?;
    let text = state.text.as_ref().ok_or_else(|| {
        ApiError::ModelNotLoaded(
            "no text model is loaded on this server: install one with `adforge models pull smollm2-135m-instruct` and restart".into(),
        )
    })?;
    let set = generate_copy(text, state.embed.as_ref(), &brief)
        .await
        .map_err(|e| match e {
            CopyError::Engine(TextEngineError::QueueFull(_))
            | CopyError::Embed(EmbedError::QueueFull(_)) => {
                ApiError::TooManyRequests(e.to_string())
            }
            other => ApiError::Internal(other.to_string()),
        })?;
    Ok(Json(set))
}

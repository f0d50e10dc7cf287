//! `/v1/videos`: submit a video render (a spec, or copy or a brief for the ad template) as a
//! `video.render` job, read it, cancel it, and fetch each format's MP4, poster and preview.
//! Progress (frames, fps, ETA) streams on `/v1/videos/{id}/events` (the job's event stream).
//!
//! Everything that can be refused is refused before the job exists: the payload's fields and
//! limits, every asset (it must be the caller's and decode as what it is used for) and, when the
//! copy is known, the layout of every clip at every format (a text that cannot fit).

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::extract::{Auth, ValidJson, ValidQuery};
use super::jobs::{JobView, accepted, cancel_job, check_payload_size, get_job, job_events};
use super::{ApiError, AppState};
use crate::jobs::SubmitRequest;
use crate::media::decoder;
use crate::media::timeline::spec::{AssetKind, AssetUse};
use crate::media::timeline::{self, Inputs};
use crate::studio::inputs::MAX_INPUT_PIXELS;
use crate::studio::videos::VideoPayload;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/videos", post(create))
        .route("/v1/videos/{id}", get(get_job).delete(cancel_job))
        .route("/v1/videos/{id}/events", get(job_events))
        .route("/v1/videos/{id}/content", get(content))
}

/// Renders a video at each requested format as a `video.render` job. Give a `spec`; or `copy`
/// (or a `brief` for the text model) for the ad template; or `generate` for text-to-video
/// (Text2Video-Zero) on the loaded image model (503 when none is loaded). Images, videos and audio are asset
/// ids from `POST /api/assets`.
#[utoipa::path(post, path = "/v1/videos", tag = "videos", request_body = VideoPayload,
    responses((status = 202, body = JobView), (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidJson(payload): ValidJson<VideoPayload>,
) -> Result<Response, ApiError> {
    let valid = payload
        .check(state.max_video_frames)
        .map_err(ApiError::bad_request)?;
    if let Some(generate) = &payload.generate {
        let engine = state.image.get(payload.model.as_deref()).ok_or_else(|| {
            ApiError::ModelNotLoaded(
                "generate: no image model is loaded: run `adforge models pull sd-turbo` and restart with --image-model sd-turbo".into(),
            )
        })?;
        generate
            .params(engine.model(), payload.seed.unwrap_or(0))
            .map_err(ApiError::bad_request)?;
        if generate.interpolate.is_some() && state.rife_dir.is_none() {
            return Err(ApiError::ModelNotLoaded(
                "generate.interpolate: the rife-3.9 model is not installed: run `adforge models pull rife-3.9`".into(),
            ));
        }
        return submit(&state, &principal, &payload).await;
    }
    if payload.spec.is_none() && payload.copy.is_none() && state.text.is_none() {
        return Err(ApiError::bad_request(
            "copy: required when no text model is loaded (a brief alone needs one)",
        ));
    }
    let spec = valid
        .spec
        .clone()
        .or_else(|| payload.copy.clone().map(|copy| payload.template(copy)));
    // Template assets are named by the payload's fields, a spec's by their paths in it.
    let uses = match &valid.spec {
        Some(spec) => spec
            .assets()
            .into_iter()
            .map(|u| AssetUse {
                field: format!("spec.{}", u.field),
                ..u
            })
            .collect(),
        None => template_assets(&payload),
    };
    let inputs = check_assets(&state, &principal.owner_id, uses).await?;
    if let Some(spec) = spec {
        if spec.interpolate.is_some() && state.rife_dir.is_none() {
            return Err(ApiError::ModelNotLoaded(
                "spec.interpolate: the rife-3.9 model is not installed: run `adforge models pull rife-3.9`"
                    .into(),
            ));
        }
        let compositor = state.compositor.clone();
        let formats = valid.formats.clone();
        tokio::task::spawn_blocking(move || {
            formats.iter().try_for_each(|format| {
                timeline::check_layout(&spec, format, &inputs, &compositor)
                    .map_err(|e| ApiError::bad_request(format!("formats: {}: {e}", format.id)))
            })
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    }
    submit(&state, &principal, &payload).await
}

async fn submit(
    state: &AppState,
    principal: &crate::auth::Principal,
    payload: &VideoPayload,
) -> Result<Response, ApiError> {
    let value = serde_json::to_value(payload).map_err(|e| ApiError::Internal(e.to_string()))?;
    check_payload_size(state, &value, "body")?;
    let submitted = state
        .jobs
        .submit(SubmitRequest {
            owner_id: principal.owner_id.clone(),
            owner_is_admin: principal.is_admin,
            kind: "video.render".into(),
            payload: value,
            idempotency_key: None,
            priority: 0,
            max_attempts: None,
        })
        .await?;
    Ok(accepted(submitted))
}

/// The assets the ad template will use.
fn template_assets(payload: &VideoPayload) -> Vec<AssetUse> {
    [
        ("logo", &payload.logo, AssetKind::Image),
        ("product_image", &payload.product_image, AssetKind::Image),
        (
            "background_image",
            &payload.background_image,
            AssetKind::Image,
        ),
        ("audio", &payload.audio, AssetKind::Audio),
    ]
    .into_iter()
    .filter_map(|(field, id, kind)| {
        id.as_ref().map(|id| AssetUse {
            field: field.into(),
            id: id.clone(),
            kind,
        })
    })
    .collect()
}

/// Every asset must be the caller's and decode as what it is used for.
async fn check_assets(
    state: &AppState,
    owner: &str,
    uses: Vec<AssetUse>,
) -> Result<Inputs, ApiError> {
    let mut located = Vec::with_capacity(uses.len());
    for asset in uses {
        let row = state.assets.get(owner, &asset.id).await?.ok_or_else(|| {
            ApiError::bad_request(format!("{}: no asset {:?} of yours", asset.field, asset.id))
        })?;
        located.push((asset, std::path::PathBuf::from(row.path)));
    }
    tokio::task::spawn_blocking(move || {
        let mut inputs = Inputs::default();
        for (AssetUse { field, id, kind }, path) in located {
            let refuse = |e: &dyn std::fmt::Display| {
                ApiError::bad_request(format!(
                    "{field}: asset {id} does not decode as {kind:?}: {e}"
                ))
            };
            match kind {
                AssetKind::Image => {
                    let bytes = std::fs::read(&path).map_err(|e| refuse(&e))?;
                    let decoded = adforge_input::image::decode(&bytes, MAX_INPUT_PIXELS)
                        .map_err(|e| ApiError::bad_request(format!("{field}: asset {id} {e}")))?;
                    inputs.images.insert(id, decoded);
                }
                AssetKind::Video => {
                    decoder::probe(&path).map_err(|e| refuse(&e))?;
                    let mut video =
                        decoder::VideoDecoder::open(&path, 16, 16).map_err(|e| refuse(&e))?;
                    video.next_frame().map_err(|e| refuse(&e))?;
                    inputs.videos.insert(id, path);
                }
                AssetKind::Audio => {
                    decoder::probe_audio(&path).map_err(|e| refuse(&e))?;
                    inputs.audio = Some(path);
                }
            }
        }
        Ok(inputs)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ContentQuery {
    /// The format id (default: the first rendered).
    pub format: Option<String>,
    /// video (default), poster or preview.
    pub variant: Option<String>,
}

/// One format's MP4 (ranges supported), JPEG poster or preview of a finished render.
#[utoipa::path(get, path = "/v1/videos/{id}/content", tag = "videos",
    params(("id" = String, Path), ContentQuery),
    responses((status = 200, description = "The file"), (status = 206, description = "Part of the MP4"),
        (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn content(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidQuery(query): ValidQuery<ContentQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = state
        .store
        .get_job(Some(&principal.owner_id), &id)
        .await?
        .filter(|job| job.kind == "video.render")
        .ok_or_else(|| ApiError::NotFound(format!("no video job with id {id:?}")))?;
    let videos = job
        .result
        .as_ref()
        .and_then(|r| r.get("videos"))
        .and_then(|v| v.as_array())
        .ok_or_else(|| ApiError::Conflict {
            code: "not_ready",
            message: format!(
                "video job {id} is {}; it has no files yet",
                job.state.as_str()
            ),
        })?;
    let by_format: HashMap<&str, &serde_json::Value> = videos
        .iter()
        .filter_map(|v| Some((v.get("format")?.as_str()?, v)))
        .collect();
    let format = query
        .format
        .as_deref()
        .or_else(|| videos.first()?.get("format")?.as_str())
        .unwrap_or_default();
    let entry = by_format.get(format).ok_or_else(|| {
        let known: Vec<&str> = by_format.keys().copied().collect();
        ApiError::NotFound(format!(
            "format: `{format}` was not rendered by job {id} (rendered: {})",
            known.join(", ")
        ))
    })?;
    let variant = query.variant.as_deref().unwrap_or("video");
    if !["video", "poster", "preview"].contains(&variant) {
        return Err(ApiError::bad_request(format!(
            "variant: `{variant}` is not one of video, poster, preview"
        )));
    }
    let asset = entry
        .get(variant)
        .and_then(|v| v.as_str())
        .ok_or_else(|| ApiError::NotFound(format!("job {id} made no {variant} for {format}")))?;
    let row = super::assets::find(&state, &principal.owner_id, asset).await?;
    super::assets::serve(&state, &row, &headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_assets_name_their_fields() {
        let payload: VideoPayload = serde_json::from_value(serde_json::json!({
            "copy": {"headline": "Hi"}, "formats": ["meta_reels"], "logo": "L", "audio": "A"
        }))
        .unwrap();
        let uses = template_assets(&payload);
        assert_eq!(uses.len(), 2);
        assert_eq!(
            (uses[0].field.as_str(), uses[1].kind),
            ("logo", AssetKind::Audio)
        );
    }
}

//! `POST /v1/images/upscale`: an image in (base64 PNG, JPEG or WebP), the ESRGAN-slim upscale
//! out in the shape of OpenAI's image responses (`data[].b64_json`). Synchronous, so bounded:
//! at most 512 x 512 input pixels and 4096 x 4096 output pixels; one upscale computes at a
//! time and a few wait (429 beyond).

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{InferenceAuth, ValidJson};
use super::{ApiError, AppState};
use crate::engine::image::ImageServiceError;
use crate::engine::image::upscale::SCALES;

/// Input pixels (width x height) accepted.
pub const MAX_UPSCALE_INPUT_PIXELS: u64 = 512 * 512;
/// Output side accepted.
pub const MAX_OUTPUT_SIDE: u64 = 4096;
/// Body size of this route: a base64 image of the largest input.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/images/upscale",
        post(upscale).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpscaleRequest {
    /// The image, base64 (PNG, JPEG or WebP); a `data:image/...;base64,` prefix is accepted.
    pub image: String,
    /// 2, 3, 4 or 8 (default 2).
    pub scale: Option<u32>,
    /// `png` (default), `jpeg` or `webp` (lossless).
    pub output_format: Option<String>,
    /// Input pixels per tile side, 16..=512 (default 128): memory, not the result, changes.
    pub tile: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UpscaleResponse {
    pub created: u64,
    pub data: Vec<UpscaledImage>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UpscaledImage {
    pub b64_json: String,
    pub width: u32,
    pub height: u32,
    pub scale: u32,
    pub output_format: String,
}

/// Upscales one image with ESRGAN-slim.
#[utoipa::path(post, path = "/v1/images/upscale", tag = "inference", request_body = UpscaleRequest,
    responses((status = 200, body = UpscaleResponse), (status = 400, body = super::ErrorBody),
        (status = 429, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub async fn upscale(
    State(state): State<AppState>,
    _auth: InferenceAuth,
    ValidJson(body): ValidJson<UpscaleRequest>,
) -> Result<Json<UpscaleResponse>, ApiError> {
    let scale = body.scale.unwrap_or(2);
    if !SCALES.contains(&scale) {
        return Err(ApiError::bad_request(format!(
            "scale: {scale} is not one of 2, 3, 4, 8"
        )));
    }
    let tile = body.tile.unwrap_or(128);
    if !(16..=512).contains(&tile) {
        return Err(ApiError::bad_request(format!(
            "tile: {tile} is outside 16..=512"
        )));
    }
    let format = match body.output_format.as_deref().unwrap_or("png") {
        "png" => image::ImageFormat::Png,
        "jpeg" => image::ImageFormat::Jpeg,
        "webp" => image::ImageFormat::WebP,
        other => {
            return Err(ApiError::bad_request(format!(
                "output_format: `{other}` is not one of png, jpeg, webp"
            )));
        }
    };
    let input = decode_base64_image("image", &body.image, MAX_UPSCALE_INPUT_PIXELS)?;
    let (width, height) = (input.width(), input.height());
    let side = u64::from(width.max(height)) * u64::from(scale);
    if side > MAX_OUTPUT_SIDE {
        return Err(ApiError::bad_request(format!(
            "scale: {width}x{height} x{scale} gives a side of {side}, above the limit of {MAX_OUTPUT_SIDE}"
        )));
    }
    let output = state
        .upscale
        .upscale(input, scale, tile)
        .await
        .map_err(|e| match e {
            ImageServiceError::Busy => ApiError::TooManyRequests(e.to_string()),
            ImageServiceError::NotInstalled => ApiError::ModelNotLoaded(e.to_string()),
            ImageServiceError::Upscale(e) => ApiError::Internal(e.to_string()),
        })?;
    let output = if format == image::ImageFormat::Jpeg {
        image::DynamicImage::ImageRgb8(output.to_rgb8())
    } else {
        output
    };
    let mut encoded = std::io::Cursor::new(Vec::new());
    output
        .write_to(&mut encoded, format)
        .map_err(|e| ApiError::Internal(format!("encoding the result: {e}")))?;
    Ok(Json(UpscaleResponse {
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        data: vec![UpscaledImage {
            b64_json: base64::engine::general_purpose::STANDARD.encode(encoded.into_inner()),
            width: output.width(),
            height: output.height(),
            scale,
            output_format: body.output_format.unwrap_or_else(|| "png".into()),
        }],
    }))
}

/// Decodes a base64 image field (PNG, JPEG or WebP; a `data:image/...;base64,` prefix is
/// accepted), refusing more than `max_pixels` before the pixels are decoded.
pub(crate) fn decode_base64_image(
    field: &str,
    value: &str,
    max_pixels: u64,
) -> Result<image::DynamicImage, ApiError> {
    adforge_input::image::decode_base64(value, max_pixels)
        .map_err(|e| ApiError::bad_request(format!("{field}: {e}")))
}

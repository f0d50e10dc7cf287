//! `POST /api/assets` (upload an image, video or audio file: streamed to disk, hashed, stored as
//! the caller's asset), `GET /api/assets/{id}` (what a stored file is) and
//! `GET /api/assets/{id}/content` (its bytes, streamed, with range requests so a browser can
//! seek in a video; the checksum is the ETag), for the owner only.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::extract::{Auth, ValidQuery};
use super::{ApiError, AppState};
use crate::store::assets::AssetRow;
use crate::store::now_ms;

/// Largest upload, bytes.
pub const MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;
/// The content types an upload may have.
pub const UPLOAD_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/webp",
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "audio/mpeg",
    "audio/wav",
    "audio/x-wav",
    "audio/aac",
    "audio/mp4",
    "audio/ogg",
    "audio/flac",
    "font/ttf",
    "font/otf",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/assets", post(upload))
        .route("/api/assets/{id}", get(asset))
        .route("/api/assets/{id}/content", get(content))
        .route("/api/assets/{id}/url", get(download_url))
}

pub(super) async fn find(state: &AppState, owner: &str, id: &str) -> Result<AssetRow, ApiError> {
    state
        .assets
        .get(owner, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no asset {id}")))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name: letters, digits, `.`, `_` and `-`.
    pub name: String,
}

/// Uploads a file as the body (its `Content-Type` one of the image, video, audio and font types
/// adforge reads). It is checked for what it claims before it is stored (400 naming the
/// problem): an image must decode in the format named, within 8192 x 8192 pixels and 20 MB; a
/// font must parse; a video or audio file must start with its container's signature.
#[utoipa::path(post, path = "/api/assets", tag = "assets", params(UploadQuery),
    request_body(content = Vec<u8>, description = "The file", content_type = "application/octet-stream"),
    responses((status = 201, body = AssetRow), (status = 400, body = super::ErrorBody),
        (status = 413, body = super::ErrorBody), (status = 415, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidQuery(query): ValidQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !UPLOAD_TYPES.contains(&content_type.as_str()) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type: `{content_type}` is not one of {}",
            UPLOAD_TYPES.join(", ")
        )));
    }
    let upload_id = format!("upload-{}", uuid::Uuid::now_v7());
    let scratch = state.assets.scratch_dir(&upload_id);
    let internal = |e: std::io::Error| ApiError::Internal(format!("writing an upload: {e}"));
    tokio::fs::create_dir_all(&scratch)
        .await
        .map_err(internal)?;
    let path = scratch.join("upload");
    let written = stream_to_file(body, &path).await;
    let checked = match written {
        Ok(0) => Err(ApiError::bad_request("body: the file is empty")),
        Ok(n) => {
            let (kind, file) = (content_type.clone(), path.clone());
            tokio::task::spawn_blocking(move || {
                crate::studio::inputs::check_upload(&kind, &file, n)
            })
            .await
            .map_err(|e| ApiError::Internal(format!("checking an upload: {e}")))?
            .map(|()| n)
            .map_err(ApiError::bad_request)
        }
        Err(e) => Err(e),
    };
    let stored = match checked {
        Ok(_) => state
            .assets
            .put_file(
                &principal.owner_id,
                &upload_id,
                &query.name,
                &content_type,
                &path,
                now_ms(),
            )
            .await
            .map_err(|e| ApiError::bad_request(format!("name: {e}"))),
        Err(e) => Err(e),
    };
    let _ = tokio::fs::remove_dir_all(&scratch).await;
    Ok((StatusCode::CREATED, Json(stored?)).into_response())
}

/// Writes the request body to `path` as it arrives; the number of bytes.
async fn stream_to_file(body: Body, path: &std::path::Path) -> Result<u64, ApiError> {
    let internal = |e: std::io::Error| ApiError::Internal(format!("writing an upload: {e}"));
    let mut file = tokio::fs::File::create(path).await.map_err(internal)?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("body: reading it failed: {e}")))?;
        written += chunk.len() as u64;
        // The raw body is not under the router's body limit: count it here.
        if written > MAX_UPLOAD_BYTES as u64 {
            return Err(ApiError::PayloadTooLarge {
                limit: MAX_UPLOAD_BYTES,
            });
        }
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    Ok(written)
}

/// A stored file's name, type, size and SHA-256.
#[utoipa::path(get, path = "/api/assets/{id}", tag = "assets",
    params(("id" = String, Path)),
    responses((status = 200, body = AssetRow), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn asset(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<AssetRow>, ApiError> {
    Ok(Json(find(&state, &principal.owner_id, &id).await?))
}

/// A stored file's bytes; `Range: bytes=A-B` gets 206 with that part.
#[utoipa::path(get, path = "/api/assets/{id}/content", tag = "assets",
    params(("id" = String, Path)),
    responses((status = 200, description = "The file"), (status = 206, description = "Part of the file"),
        (status = 404, body = super::ErrorBody), (status = 416, description = "Range outside the file")),
    security(("api_key" = [])))]
pub async fn content(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let row = find(&state, &principal.owner_id, &id).await?;
    serve(&state, &row, &headers).await
}

/// Streams an asset's bytes (from disk or the bucket), honouring a single `bytes=` range.
pub(super) async fn serve(
    state: &AppState,
    row: &AssetRow,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let size = row.bytes.max(0) as u64;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, size));
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, size),
        Some(Some((start, end))) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Some(None) => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(response);
        }
    };
    let stream = state
        .assets
        .stream_range(row, start, len)
        .await
        .map_err(|e| asset_error(&row.id, e))?;
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let mut set = |name, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, row.content_type.clone());
    set(header::ETAG, format!("\"{}\"", row.sha256));
    set(header::CONTENT_LENGTH, len.to_string());
    set(header::ACCEPT_RANGES, "bytes".into());
    if status == StatusCode::PARTIAL_CONTENT {
        set(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", start + len - 1),
        );
    }
    Ok(response)
}

/// A failure to read an asset's bytes: 503 while the bucket is throttling or unreachable.
fn asset_error(id: &str, e: crate::store::assets::AssetError) -> ApiError {
    use crate::store::assets::AssetError;
    match e {
        AssetError::Object(e) if e.is_transient() => ApiError::Unavailable {
            what: "the object store",
            detail: e.to_string(),
        },
        e => ApiError::Internal(format!("reading asset {id}: {e}")),
    }
}

/// A link that downloads the asset for `ttl_secs`: a presigned URL of the bucket when the
/// asset is in one, else this server's content route (which needs the caller's credentials).
#[utoipa::path(get, path = "/api/assets/{id}/url", tag = "assets", params(("id" = String, Path),
    ("ttl_secs" = Option<u64>, Query, description = "60 to 86400, default 900")),
    responses((status = 200, body = AssetUrl),
        (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn download_url(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidQuery(query): ValidQuery<UrlQuery>,
) -> Result<Json<AssetUrl>, ApiError> {
    let row = find(&state, &principal.owner_id, &id).await?;
    let ttl = query.ttl_secs.unwrap_or(900);
    if !(60..=86_400).contains(&ttl) {
        return Err(ApiError::bad_request(format!(
            "ttl_secs: {ttl} is outside 60..=86400"
        )));
    }
    let presigned = state
        .assets
        .presign(&row, std::time::Duration::from_secs(ttl))
        .await
        .map_err(|e| asset_error(&row.id, e))?;
    Ok(Json(match presigned {
        Some(url) => AssetUrl {
            url,
            expires_in: Some(ttl),
            presigned: true,
        },
        None => AssetUrl {
            url: format!("/api/assets/{}/content", row.id),
            expires_in: None,
            presigned: false,
        },
    }))
}

/// Where an asset can be downloaded.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AssetUrl {
    /// A presigned bucket URL, or this server's `/api/assets/{id}/content` (which needs the
    /// caller's credentials) when the bytes are on local disk.
    pub url: String,
    /// Seconds the presigned URL stays valid; null for the server's own route.
    pub expires_in: Option<u64>,
    pub presigned: bool,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UrlQuery {
    pub ttl_secs: Option<u64>,
}

/// `bytes=A-B`, `bytes=A-` or `bytes=-N` within a file of `size` bytes: the inclusive range,
/// or `None` when it is malformed, has several parts or lies outside the file.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = match (a.is_empty(), b.is_empty()) {
        (true, false) => {
            let n: u64 = b.parse().ok()?;
            (size.saturating_sub(n), size - 1)
        }
        (false, true) => (a.parse().ok()?, size - 1),
        (false, false) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(size - 1)),
        (true, true) => return None,
    };
    (start <= end && start < size).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_are_read_as_http_says() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-2", 100), None);
        assert_eq!(parse_range("bytes=0-1,4-5", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}

//! `GET /api/assets/{id}` (what a stored file is) and `GET /api/assets/{id}/content` (its
//! bytes, with its content type and checksum as the ETag), for the owner only.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::extract::Auth;
use super::{ApiError, AppState};
use crate::store::assets::AssetRow;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/assets/{id}", get(asset))
        .route("/api/assets/{id}/content", get(content))
}

async fn find(state: &AppState, owner: &str, id: &str) -> Result<AssetRow, ApiError> {
    state
        .assets
        .get(owner, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no asset {id}")))
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

/// A stored file's bytes.
#[utoipa::path(get, path = "/api/assets/{id}/content", tag = "assets",
    params(("id" = String, Path)),
    responses((status = 200, description = "The file"), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn content(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = find(&state, &principal.owner_id, &id).await?;
    let bytes = tokio::fs::read(&row.path)
        .await
        .map_err(|e| ApiError::Internal(format!("reading asset {id}: {e}")))?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&row.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", row.sha256)) {
        headers.insert(header::ETAG, v);
    }
    Ok(response)
}

//! `/api/creatives`: the campaign's creatives (copy and rendered assets by format, as
//! `POST /api/generate` stores them), listed by campaign, platform and status with a cursor,
//! read with their version as the ETag, edited with `If-Match` (428 without, 412 when stale:
//! name, status, and copy checked against the platform's character limits), and deleted.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::campaigns::{PLATFORMS, if_match, one_of};
use super::extract::{Auth, ValidJson, ValidQuery};
use super::{ApiError, AppState, paging};
use crate::orchestrate::Platform;
use crate::orchestrate::copy::{CopyLimits, CopyVariant};
use crate::store::campaigns::Versioned;
use crate::store::creatives::{CreativeFilter, CreativeRow};
use crate::store::now_ms;

pub const STATUSES: &[&str] = &[
    "draft",
    "rendering",
    "ready",
    "approved",
    "paused",
    "rejected",
];
/// Most creatives one page lists.
pub const MAX_PAGE: i64 = 100;
/// Longest creative name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/creatives", get(list))
        .route(
            "/api/creatives/{id}",
            get(read).patch(update).delete(remove),
        )
        .route("/api/creatives/{id}/regenerate", post(regenerate))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreativeView {
    pub id: String,
    pub campaign_id: String,
    pub platform: String,
    pub name: String,
    /// `{headline, primary_text, description, call_to_action}`.
    #[schema(value_type = Object)]
    pub copy: Value,
    /// Format id (`video:<format>`, `poster:<format>`, `thumb:<format>`) -> asset id; the bytes
    /// are at `/api/assets/{id}/content`.
    #[schema(value_type = Object)]
    pub assets: Value,
    pub status: String,
    pub job_id: Option<String>,
    /// Send it back in `If-Match` to update.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<CreativeRow> for CreativeView {
    fn from(r: CreativeRow) -> Self {
        CreativeView {
            id: r.id,
            campaign_id: r.campaign_id,
            platform: r.platform,
            name: r.name,
            copy: r.copy,
            assets: r.assets,
            status: r.status,
            job_id: r.job_id,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CreativeQuery {
    pub campaign_id: Option<String>,
    pub platform: Option<String>,
    pub status: Option<String>,
    /// 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreativePage {
    pub creatives: Vec<CreativeView>,
    pub next_cursor: Option<String>,
}

/// Fields to change; absent fields stay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreativePatch {
    pub name: Option<String>,
    /// draft, ready, approved, paused or rejected.
    pub status: Option<String>,
    pub copy: Option<CopyVariant>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no creative {id:?}"))
}

fn with_etag(status: StatusCode, row: CreativeRow) -> Response {
    let etag = format!("\"{}\"", row.version);
    let mut response = (status, Json(CreativeView::from(row))).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// The copy fits the platform's character limits (each field named in the error).
pub fn check_copy(platform: &str, copy: &CopyVariant) -> Result<(), ApiError> {
    let limits = CopyLimits::of(Platform::copy_platform_of(platform));
    for f in &limits.fields {
        let value = match f.field {
            "headline" => &copy.headline,
            "primary_text" => &copy.primary_text,
            _ => &copy.description,
        };
        let n = value.trim().chars().count();
        if n < f.min_chars || n > f.max_chars {
            return Err(ApiError::bad_request(format!(
                "copy.{}: {n} characters is outside {platform}'s limit of {}..={}",
                f.field, f.min_chars, f.max_chars
            )));
        }
    }
    if copy.call_to_action.trim().is_empty() || copy.call_to_action.chars().count() > 30 {
        return Err(ApiError::bad_request(
            "copy.call_to_action: 1 to 30 characters",
        ));
    }
    Ok(())
}

/// The caller's creatives, newest first.
#[utoipa::path(get, path = "/api/creatives", tag = "campaigns", params(CreativeQuery),
    responses((status = 200, body = CreativePage), (status = 400, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidQuery(q): ValidQuery<CreativeQuery>,
) -> Result<Json<CreativePage>, ApiError> {
    let limit = paging::limit(q.limit, 20, MAX_PAGE)?;
    if let Some(p) = &q.platform {
        one_of("platform", p, PLATFORMS)?;
    }
    if let Some(s) = &q.status {
        one_of("status", s, STATUSES)?;
    }
    let before = paging::cursor(q.cursor.as_deref())?;
    let filter = CreativeFilter {
        campaign_id: q.campaign_id,
        platform: q.platform,
        status: q.status,
        limit: limit + 1,
        before,
    };
    let mut rows = state
        .store
        .list_creatives(&principal.owner_id, &filter)
        .await?;
    let next_cursor = paging::next_cursor(&mut rows, limit, |r| (r.created_at, &r.id));
    Ok(Json(CreativePage {
        creatives: rows.into_iter().map(CreativeView::from).collect(),
        next_cursor,
    }))
}

/// One creative; its version is the ETag.
#[utoipa::path(get, path = "/api/creatives/{id}", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, body = CreativeView), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn read(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = state
        .store
        .get_creative(&principal.owner_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(with_etag(StatusCode::OK, row))
}

/// Edits a creative's name, status or copy (`If-Match` required).
#[utoipa::path(patch, path = "/api/creatives/{id}", tag = "campaigns", params(("id" = String, Path)),
    request_body = CreativePatch,
    responses((status = 200, body = CreativeView), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody), (status = 412, body = super::ErrorBody),
        (status = 428, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    ValidJson(patch): ValidJson<CreativePatch>,
) -> Result<Response, ApiError> {
    let mut row = state
        .store
        .get_creative(&principal.owner_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let expected = if_match(&headers)?.ok_or_else(|| {
        ApiError::PreconditionRequired(
            "If-Match header: required; send the ETag of your last read".into(),
        )
    })?;
    if let Some(name) = patch.name {
        let n = name.trim().chars().count();
        if n == 0 || n > MAX_NAME_CHARS {
            return Err(ApiError::bad_request(format!(
                "name: {n} characters; 1 to {MAX_NAME_CHARS} allowed"
            )));
        }
        row.name = name.trim().to_string();
    }
    if let Some(status) = patch.status {
        one_of("status", &status, STATUSES)?;
        row.status = status;
    }
    if let Some(copy) = patch.copy {
        check_copy(&row.platform, &copy)?;
        row.copy = serde_json::to_value(&copy).map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    row.updated_at = now_ms();
    match state.store.update_creative(&row, expected).await? {
        Versioned::Done(row) => Ok(with_etag(StatusCode::OK, row)),
        Versioned::Stale { current } => Err(ApiError::PreconditionFailed(format!(
            "creative {id} is at version {current}, not {expected}: read it again and reapply your change"
        ))),
        Versioned::NotFound => Err(not_found(&id)),
    }
}

/// Deletes a creative (with `If-Match`, only at that version).
#[utoipa::path(delete, path = "/api/creatives/{id}", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = super::ErrorBody),
        (status = 412, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let expected = if_match(&headers)?;
    match state
        .store
        .delete_creative(&principal.owner_id, &id, expected)
        .await?
    {
        Versioned::Done(()) => Ok(StatusCode::NO_CONTENT),
        Versioned::Stale { current } => Err(ApiError::PreconditionFailed(format!(
            "creative {id} is at version {current}, not {}",
            expected.unwrap_or(0)
        ))),
        Versioned::NotFound => Err(not_found(&id)),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateRequest {
    /// Voice of the new copy (default "friendly").
    pub tone: Option<String>,
    /// Fix the draw (default: a new one per request).
    pub seed: Option<u64>,
}

/// Makes one creative again (new copy from the text model, every format it has rendered
/// again) as a `creative.set` job; the row is updated in place when it finishes.
#[utoipa::path(post, path = "/api/creatives/{id}/regenerate", tag = "generate",
    params(("id" = String, Path)), request_body = RegenerateRequest,
    responses((status = 202, description = "The job", body = super::jobs::JobView),
        (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn regenerate(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<RegenerateRequest>,
) -> Result<Response, ApiError> {
    let row = state
        .store
        .get_creative(&principal.owner_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let payload = serde_json::json!({"campaign_id": row.campaign_id, "regenerate": row.id,
        "tone": body.tone, "seed": body.seed});
    let submitted = state
        .jobs
        .submit(crate::jobs::SubmitRequest {
            owner_id: principal.owner_id.clone(),
            owner_is_admin: principal.is_admin,
            kind: "creative.set".into(),
            payload,
            idempotency_key: None,
            priority: 0,
            max_attempts: None,
        })
        .await?;
    Ok(super::jobs::accepted(submitted))
}

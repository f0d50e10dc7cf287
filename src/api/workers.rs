//! `GET /api/workers`: the workers that announced themselves within the last seconds (id, host,
//! device, loaded models, lanes, capacity, jobs running, inference URL), for operators.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::extract::Auth;
use super::{ApiError, AppState};
use crate::store::workers::WorkerRow;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/workers", get(list))
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WorkerList {
    pub workers: Vec<WorkerRow>,
    /// What this process is: all, api or worker.
    pub role: String,
}

/// Live workers, most recently seen first.
#[utoipa::path(get, path = "/api/workers", tag = "ops",
    responses((status = 200, body = WorkerList)), security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(_principal): Auth,
) -> Result<Json<WorkerList>, ApiError> {
    let workers = crate::jobs::heartbeat::live_workers(&state.store).await?;
    let role = serde_json::to_value(state.role)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(Json(WorkerList { workers, role }))
}

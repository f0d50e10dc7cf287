//! `POST /api/analytics/mmm` (a marketing-mix model fitted as a job: dataset in, model and
//! charts out) and `POST /api/analytics/mmm/{job_id}/allocate` (the budget allocator on a
//! fitted model).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Auth, ValidJson};
use super::jobs::{JobView, accepted, check_payload_size};
use super::{ApiError, AppState};
use crate::jobs::SubmitRequest;
use crate::orchestrate::analytics::mmm::job::MmmRequest;
use crate::orchestrate::analytics::mmm::{Allocation, MmmFit, allocate, evaluate};
use crate::store::JobState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/analytics/mmm", post(submit_mmm))
        .route(
            "/api/analytics/mmm/{job_id}/allocate",
            post(allocate_budget),
        )
}

/// Fits a marketing-mix model as a job (`analytics.mmm`): 202 with the job; its result holds
/// the model (channels' ROAS, marginal ROAS, shares, response curves, the Pareto front) and
/// the ids of its charts (`/api/assets/{id}/content`). Bad datasets are refused here with the
/// field named: missing dates, non-finite values, fewer rows than parameters, a channel with
/// no spend.
#[utoipa::path(post, path = "/api/analytics/mmm", tag = "analytics", request_body = MmmRequest,
    responses((status = 202, body = JobView), (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn submit_mmm(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidJson(body): ValidJson<MmmRequest>,
) -> Result<Response, ApiError> {
    let payload = serde_json::to_value(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
    check_payload_size(&state, &payload, "data")?;
    MmmRequest::parse(&payload)
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.field, e.problem)))?;
    let submitted = state
        .jobs
        .submit(SubmitRequest {
            owner_id: principal.owner_id.clone(),
            owner_is_admin: principal.is_admin,
            kind: "analytics.mmm".into(),
            payload,
            idempotency_key: None,
            priority: 0,
            max_attempts: None,
        })
        .await?;
    Ok(accepted(submitted))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocateRequest {
    /// Budget per period (per week for weekly data, per day for daily).
    pub total_budget: f64,
    /// [low, high] spend per period by channel; default half to twice its mean spend.
    #[serde(default)]
    pub bounds: BTreeMap<String, [f64; 2]>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AllocateResponse {
    pub allocation: Allocation,
    /// The data's mean split, scaled to the same total, for comparison.
    pub historical: Allocation,
    /// allocation.total_response / historical.total_response - 1.
    pub uplift: f64,
}

/// The split of a budget per period across channels that maximises the fitted model's
/// response, within per-channel bounds, beside the data's own split at the same total.
#[utoipa::path(post, path = "/api/analytics/mmm/{job_id}/allocate", tag = "analytics",
    request_body = AllocateRequest,
    params(("job_id" = String, Path, description = "A succeeded analytics.mmm job")),
    responses((status = 200, body = AllocateResponse), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody), (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn allocate_budget(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(job_id): Path<String>,
    ValidJson(body): ValidJson<AllocateRequest>,
) -> Result<Json<AllocateResponse>, ApiError> {
    let job = state
        .store
        .get_job(Some(&principal.owner_id), &job_id)
        .await?
        .filter(|j| j.kind == "analytics.mmm")
        .ok_or_else(|| ApiError::NotFound(format!("no analytics.mmm job {job_id}")))?;
    if job.state != JobState::Succeeded {
        return Err(ApiError::Conflict {
            code: "job_not_finished",
            message: format!(
                "job {job_id} is {}: allocate once it has succeeded",
                job.state.as_str()
            ),
        });
    }
    let fit: MmmFit = job
        .result
        .as_ref()
        .and_then(|r| serde_json::from_value(r["fit"].clone()).ok())
        .ok_or_else(|| ApiError::Internal(format!("job {job_id} has no readable model")))?;
    let channels = &fit.model.channels;
    for name in body.bounds.keys() {
        if !channels.iter().any(|c| &c.name == name) {
            return Err(ApiError::bad_request(format!(
                "bounds.{name}: not a channel of the model"
            )));
        }
    }
    let responses: Vec<_> = channels.iter().map(|c| c.response.clone()).collect();
    let bounds: Vec<(f64, f64)> = channels
        .iter()
        .map(|c| {
            body.bounds
                .get(&c.name)
                .map_or((0.5 * c.mean_spend, 2.0 * c.mean_spend), |b| (b[0], b[1]))
        })
        .collect();
    let bad = |e: crate::orchestrate::analytics::AnalyticsError| {
        ApiError::bad_request(format!("{}: {}", e.field, e.problem))
    };
    let allocation = allocate(&responses, body.total_budget, &bounds).map_err(bad)?;
    let mean_total: f64 = channels.iter().map(|c| c.mean_spend).sum();
    let scaled: Vec<f64> = channels
        .iter()
        .map(|c| c.mean_spend / mean_total * body.total_budget)
        .collect();
    let historical = evaluate(&responses, &scaled, 0.0);
    let uplift = if historical.total_response > 0.0 {
        allocation.total_response / historical.total_response - 1.0
    } else {
        0.0
    };
    Ok(Json(AllocateResponse {
        allocation,
        historical,
        uplift,
    }))
}

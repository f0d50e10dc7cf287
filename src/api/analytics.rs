//! `/api/analytics/*`: experiment statistics. `POST /api/analytics/abtest` takes conversion
//! counts (and optionally per-unit values) for a control and its variants and answers every
//! statistic of `orchestrate::analytics` at once.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};

use super::extract::{Auth, ValidJson};
use super::{ApiError, AppState};
pub use crate::orchestrate::experiments::{AbTestRequest, AbTestStatistics};
use crate::orchestrate::experiments::{ExperimentError, compute};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/analytics/abtest", post(abtest))
}

/// Every statistic for a control and its variants: rates and relative lift; the two-proportion
/// z-test, chi-square (Yates), Fisher's exact test, with Holm and Benjamini-Hochberg adjusted
/// p-values across variants; Wilson and Newcombe intervals; the Bayesian probability to beat
/// control, expected loss and credible interval; a sample-ratio-mismatch check; and, when
/// per-unit values are given, Welch's t and Mann-Whitney U.
#[utoipa::path(post, path = "/api/analytics/abtest", tag = "analytics", request_body = AbTestRequest,
    responses((status = 200, description = "The statistics per variant", body = AbTestStatistics),
        (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn abtest(
    State(_state): State<AppState>,
    Auth(_principal): Auth,
    ValidJson(body): ValidJson<AbTestRequest>,
) -> Result<Json<AbTestStatistics>, ApiError> {
    // CPU work: off the async runtime, so other requests are answered meanwhile.
    tokio::task::spawn_blocking(move || compute(&body))
        .await
        .map_err(|e| ApiError::Internal(format!("the statistics task failed: {e}")))?
        .map(|statistics| Json(AbTestStatistics(statistics)))
        .map_err(ApiError::from)
}

impl From<ExperimentError> for ApiError {
    fn from(err: ExperimentError) -> Self {
        match err {
            ExperimentError::Invalid(message) => ApiError::bad_request(message),
            ExperimentError::NotFound(message) => ApiError::NotFound(message),
            ExperimentError::Conflict { code, message } => ApiError::Conflict { code, message },
            ExperimentError::Store(e) => e.into(),
            ExperimentError::Internal(message) => ApiError::Internal(message),
        }
    }
}

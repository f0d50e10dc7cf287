//! `/api/analytics/*`: experiment statistics. `POST /api/analytics/abtest` takes conversion
//! counts (and optionally per-unit values) for a control and its variants and answers every
//! statistic of `orchestrate::analytics` at once.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::extract::{Auth, ValidJson};
use super::{ApiError, AppState};
pub use crate::orchestrate::experiments::AbTestRequest;
use crate::orchestrate::experiments::{ExperimentError, compute};

/// Every statistic of a control and its variants, as `orchestrate::experiments::compute`
/// answers it: `control` (`name`, `rate`, `rate_interval`, `credible_interval`), `variants`
/// (per variant: `name`, `rate`, `lift`, `difference_interval`, `rate_interval`, `z_test` with
/// Holm and Benjamini-Hochberg adjusted p-values, `chi_square_yates`, `fisher`, `bayes`, and
/// with per-unit values `welch` and `mann_whitney`), `sample_ratio_mismatch` and `confidence`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct AbTestStatistics(pub Value);

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

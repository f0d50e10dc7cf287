//! `ApiError`: every failure the API returns, with its HTTP status and a stable machine-readable
//! code, rendered as `{"error": {"code": "...", "message": "..."}}`. Details of 5xx errors go to
//! the log, not to the client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::jobs::{QueueError, SubmitError};
use crate::store::StoreError;

/// Seconds a client is told to wait when a dependency is down or the server is busy.
const RETRY_AFTER_SECS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed or invalid input; the message names the field and the limit.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A conditional write named a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A write that must be conditional came without its condition.
    #[error("{0}")]
    PreconditionRequired(String),
    /// A dependency (database, queue) is unreachable: try again later.
    #[error("{what} is unavailable; retry later")]
    Unavailable { what: &'static str, detail: String },
    #[error("the request took longer than {0} seconds")]
    Timeout(u64),
    /// A bounded queue is full: retry after a moment.
    #[error("{0}")]
    TooManyRequests(String),
    /// The caller went past its rate limit: retry after `retry_after_secs`.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The route needs a model this server has not loaded.
    #[error("{0}")]
    ModelNotLoaded(String),
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_request`, `unknown_field`, `not_found`, ...
    pub code: String,
    /// For people: names the field and the limit where there is one.
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: "invalid_request",
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            Self::Unavailable { .. } | Self::Timeout(_) | Self::ModelNotLoaded(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::TooManyRequests(_) | Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } | Self::Conflict { code, .. } => code,
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PreconditionFailed(_) => "version_mismatch",
            Self::PreconditionRequired(_) => "if_match_required",
            Self::Unavailable { .. } => "unavailable",
            Self::Timeout(_) => "timeout",
            Self::TooManyRequests(_) => "too_many_requests",
            Self::RateLimited { .. } => "rate_limited",
            Self::ModelNotLoaded(_) => "model_not_loaded",
            Self::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Internal(detail) => tracing::error!(%detail, "internal error"),
            Self::Unavailable { what, detail } => {
                tracing::warn!(%what, %detail, "dependency unavailable")
            }
            _ => {}
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.to_string(),
            },
        };
        let mut response = (status, Json(body)).into_response();
        let retry_after = match &self {
            Self::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ if status == StatusCode::SERVICE_UNAVAILABLE
                || status == StatusCode::TOO_MANY_REQUESTS =>
            {
                Some(u64::from(RETRY_AFTER_SECS))
            }
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        if err.is_unavailable() {
            Self::Unavailable {
                what: "the database",
                detail: err.to_string(),
            }
        } else {
            Self::Internal(err.to_string())
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(err: QueueError) -> Self {
        match err {
            QueueError::Store(e) => e.into(),
            QueueError::Unavailable(detail) => Self::Unavailable {
                what: "the job queue",
                detail,
            },
            QueueError::Protocol(detail) => Self::Internal(detail),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(err: SubmitError) -> Self {
        match err {
            SubmitError::UnknownKind { .. } => Self::BadRequest {
                code: "unknown_job_kind",
                message: format!("kind: {err}"),
            },
            SubmitError::Forbidden(_) => Self::Forbidden(err.to_string()),
            SubmitError::InvalidPayload(_) => Self::BadRequest {
                code: "invalid_payload",
                message: err.to_string(),
            },
            SubmitError::IdempotencyConflict(_) => Self::Conflict {
                code: "idempotency_key_reused",
                message: err.to_string(),
            },
            SubmitError::Queue(e) => e.into(),
            SubmitError::Store(e) => e.into(),
        }
    }
}

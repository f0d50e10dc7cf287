//! Extractors that turn raw requests into typed input or an [`ApiError`] that names the field:
//! JSON bodies, query strings, and the caller of `/api/*` routes (API key or session token,
//! within its rate limit).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
use crate::auth::{self, Principal, jwt};

/// A JSON body deserialized into `T` (which should deny unknown fields).
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection, state.limits.max_body_bytes)),
        }
    }
}

fn json_rejection(rejection: JsonRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge { limit };
    }
    let text = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => {
            let detail = text
                .split_once("target type: ")
                .map_or(text.as_str(), |(_, d)| d)
                .to_string();
            let code = if detail.contains("unknown field") {
                "unknown_field"
            } else {
                "invalid_field"
            };
            ApiError::BadRequest {
                code,
                message: detail,
            }
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::BadRequest {
            code: "malformed_json",
            message: format!("body is not valid JSON: {text}"),
        },
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
            "send the body as JSON with content-type: application/json".into(),
        ),
        _ => ApiError::bad_request(text),
    }
}

/// A query string deserialized into `T`.
pub struct ValidQuery<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for ValidQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    let text = rejection.body_text();
    let detail = text
        .split_once("query string: ")
        .map_or(text.as_str(), |(_, d)| d);
    ApiError::BadRequest {
        code: "invalid_query",
        message: format!("query: {detail}"),
    }
}

/// The caller of an `/api/*` route, from `Authorization: Bearer KEY` or `X-API-Key: KEY` (an
/// API key) or `Authorization: Bearer JWT` (a user's session from `/api/auth/login`). Each
/// caller (key or user) is held to its rate limit here.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let headers = &parts.headers;
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let from_cookie = presented.is_none();
        let presented = match presented {
            Some(presented) => presented,
            None => match session_cookie(headers) {
                Some(token) => {
                    csrf_guard(parts)?;
                    token
                }
                None => {
                    return Err(ApiError::Unauthorized(
                        "missing API key: send `Authorization: Bearer KEY` or `X-API-Key: KEY`"
                            .into(),
                    ));
                }
            },
        };
        if from_cookie && !jwt::looks_like_jwt(presented) {
            return Err(ApiError::Unauthorized(
                "the session cookie is not a session token: sign in again".into(),
            ));
        }
        let (principal, caller) = if jwt::looks_like_jwt(presented) {
            let principal = session_principal(state, presented).await?;
            let caller = format!("user:{}", principal.user_id.as_deref().unwrap_or_default());
            (principal, caller)
        } else {
            let Some(principal) = auth::authenticate(&state.store, presented).await? else {
                return Err(ApiError::Unauthorized("invalid or revoked API key".into()));
            };
            let caller = format!("key:{}", principal.key_id.as_deref().unwrap_or_default());
            (principal, caller)
        };
        state
            .auth
            .rate_limiter
            .check(&caller, std::time::Instant::now())
            .map_err(|limited| ApiError::RateLimited {
                message: limited.to_string(),
                retry_after_secs: limited.retry_after_secs,
            })?;
        Ok(Self(principal))
    }
}

/// The dashboard's session cookie (set by `/api/auth/login`, HttpOnly and SameSite=Strict).
pub const SESSION_COOKIE: &str = "adforge_session";
/// The header a cookie-authenticated request that changes something must carry (a page of
/// another site cannot set it without a CORS preflight, which this server never grants).
pub const CSRF_HEADER: &str = "x-requested-with";

/// The session token in the `Cookie` header, if any.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// A cookie-authenticated request other than GET/HEAD/OPTIONS must say `X-Requested-With:
/// adforge`: a form or script of another site sends the cookie but not that header.
fn csrf_guard(parts: &Parts) -> Result<(), ApiError> {
    use axum::http::Method;
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let sent = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("adforge"));
    if sent {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "X-Requested-With header: `adforge` is required on requests that change something \
             when the session is a cookie (a guard against cross-site requests)"
                .into(),
        ))
    }
}

/// The principal of a session token: its user's owner, while the user exists and is enabled.
async fn session_principal(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let now_secs = crate::store::now_ms() / 1000;
    let claims = jwt::verify(&state.auth.jwt_key, token, now_secs)
        .map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    let user = state.store.user_by_id(&claims.sub).await?;
    match user {
        Some(user) if user.disabled_at.is_none() => Ok(Principal {
            owner_id: user.owner_id,
            key_id: None,
            is_admin: user.role == "admin",
            user_id: Some(user.id),
        }),
        Some(_) => Err(ApiError::Unauthorized(
            "user is disabled: its session tokens are refused".into(),
        )),
        None => Err(ApiError::Unauthorized(
            "the user of this token no longer exists".into(),
        )),
    }
}

/// The caller of a `/v1/*` inference route. Like `/api/*` it takes an API key, except while the
/// server listens on loopback and no key was configured (as Ollama does): then these routes are
/// open and whatever key a client sends (the `openai` client always sends one) is not checked.
pub struct InferenceAuth;

impl FromRequestParts<AppState> for InferenceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.inference_open {
            return Ok(Self);
        }
        Auth::from_request_parts(parts, state).await?;
        Ok(Self)
    }
}

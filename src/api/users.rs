//! Sign-in and the keys of an owner: `/api/auth/login` (a session token for email and
//! password, also set as the dashboard's HttpOnly, SameSite=Strict cookie), `/api/auth/logout`, `/api/auth/setup` (the first admin, with the one-time setup token printed on
//! start), `/api/users` (admins add users, each with an owner of its own unless told otherwise),
//! `/api/users/me`, and `/api/keys` (API keys shown once, listed by prefix, revoked by id).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::{Auth, ValidJson};
use super::{ApiError, AppState};
use crate::auth::users::{self, ROLES, SignInError};
use crate::auth::{self, Principal};
use crate::store::{ApiKeyRow, UserRow, now_ms};

/// Longest key name, in characters.
pub const MAX_KEY_NAME_CHARS: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/setup", post(setup))
        .route("/api/users", post(create_user))
        .route("/api/users/me", get(me))
        .route("/api/keys", get(list_keys).post(create_key))
        .route("/api/keys/{id}", delete(revoke_key))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    pub owner_id: String,
    pub email: String,
    /// admin or member.
    pub role: String,
    pub created_at: i64,
}

impl From<UserRow> for UserView {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            owner_id: row.owner_id,
            email: row.email,
            role: row.role,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// A JWT (HS256): send it as `Authorization: Bearer TOKEN`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Unix ms when the token stops working.
    pub expires_at: i64,
    pub user: UserView,
}

fn sign_in_error(err: SignInError) -> ApiError {
    match err {
        SignInError::WrongCredentials => ApiError::Unauthorized(err.to_string()),
        SignInError::SetupOver => ApiError::Conflict {
            code: "setup_over",
            message: err.to_string(),
        },
        SignInError::SetupTokenRefused => ApiError::Unauthorized(err.to_string()),
        SignInError::Invalid(message) => ApiError::bad_request(message),
        SignInError::Auth(auth::AuthError::Store(e)) => e.into(),
        SignInError::Auth(e) => ApiError::Internal(e.to_string()),
    }
}

/// Signs in with email and password.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse),
              (status = 401, description = "Wrong email or password (the same answer for both)", body = super::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<LoginRequest>,
) -> Result<Response, ApiError> {
    // Password guessing is held to the same limit per email as requests per caller.
    let email = req.email.trim().to_lowercase();
    state
        .auth
        .rate_limiter
        .check(&format!("login:{email}"), std::time::Instant::now())
        .map_err(|limited| ApiError::RateLimited {
            message: format!("sign-in attempts for this email: {limited}"),
            retry_after_secs: limited.retry_after_secs,
        })?;
    let session = users::login(&state.store, &state.auth, &req.email, &req.password)
        .await
        .map_err(sign_in_error)?;
    let max_age = (session.claims.exp - crate::store::now_ms() / 1000).max(0);
    let cookie = session_cookie(&session.token, max_age);
    let mut response = Json(LoginResponse {
        token: session.token,
        token_type: "Bearer",
        expires_at: session.claims.exp * 1000,
        user: session.user.into(),
    })
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// The `Set-Cookie` value of a session (or, with an empty token and 0, of its removal).
fn session_cookie(token: &str, max_age_secs: i64) -> String {
    format!(
        "{}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}",
        super::extract::SESSION_COOKIE
    )
}

/// Signs out of the dashboard: the session cookie is removed. (A session token is a signed,
/// self-contained JWT: copies of it stay valid until they expire.)
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 204, description = "The session cookie is cleared")))]
pub async fn logout() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&session_cookie("", 0)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// The token printed once on first start.
    pub setup_token: String,
    pub email: String,
    /// At least 12 characters.
    pub password: String,
}

/// Creates the first admin user with the one-time setup token (only while no user exists).
#[utoipa::path(post, path = "/api/auth/setup", tag = "auth", request_body = SetupRequest,
    responses((status = 201, body = UserView),
              (status = 401, description = "Unknown, used or expired setup token", body = super::ErrorBody),
              (status = 409, description = "A user exists already", body = super::ErrorBody)))]
pub async fn setup(
    State(state): State<AppState>,
    ValidJson(req): ValidJson<SetupRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let user = users::setup_first_admin(&state.store, &req.setup_token, &req.email, &req.password)
        .await
        .map_err(sign_in_error)?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    /// At least 12 characters.
    pub password: String,
    /// admin or member.
    pub role: String,
    /// Put the user in the caller's owner instead of a new one of its own.
    #[serde(default)]
    pub same_owner: bool,
}

fn admin_only(principal: &Principal) -> Result<(), ApiError> {
    if principal.is_admin {
        return Ok(());
    }
    Err(ApiError::Forbidden("only admins may add users".into()))
}

/// Adds a user (admins only). Each new user gets an owner (a tenant) of its own unless
/// `same_owner` is true.
#[utoipa::path(post, path = "/api/users", tag = "auth", request_body = NewUser,
    responses((status = 201, body = UserView),
              (status = 403, description = "The caller is not an admin", body = super::ErrorBody),
              (status = 409, description = "The email is taken", body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidJson(req): ValidJson<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    admin_only(&principal)?;
    let email = users::normalize_email(&req.email).map_err(ApiError::bad_request)?;
    users::check_new_password(&req.password).map_err(ApiError::bad_request)?;
    if !ROLES.contains(&req.role.as_str()) {
        return Err(ApiError::bad_request(format!(
            "role: `{}` is not one of {}",
            req.role,
            ROLES.join(", ")
        )));
    }
    if state.store.user_by_email(&email).await?.is_some() {
        return Err(email_taken(&email));
    }
    let now = now_ms();
    let owner_id = if req.same_owner {
        principal.owner_id.clone()
    } else {
        let owner_id = uuid::Uuid::now_v7().to_string();
        state.store.ensure_owner(&owner_id, &email, now).await?;
        owner_id
    };
    let user = UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id,
        email,
        password_hash: users::hash_password(req.password)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?,
        role: req.role,
        created_at: now,
        disabled_at: None,
    };
    if !state.store.insert_user(&user).await? {
        return Err(email_taken(&user.email));
    }
    Ok((StatusCode::CREATED, Json(user.into())))
}

fn email_taken(email: &str) -> ApiError {
    ApiError::Conflict {
        code: "email_taken",
        message: format!("email: `{email}` belongs to a user already"),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeView {
    pub owner_id: String,
    pub is_admin: bool,
    /// The API key the request came with, if it came with one.
    pub key_id: Option<String>,
    /// The signed-in user, for a session token.
    pub user: Option<UserView>,
}

/// Who the caller is.
#[utoipa::path(get, path = "/api/users/me", tag = "auth",
    responses((status = 200, body = MeView)), security(("api_key" = [])))]
pub async fn me(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<MeView>, ApiError> {
    let user = match &principal.user_id {
        Some(id) => state.store.user_by_id(id).await?.map(UserView::from),
        None => None,
    };
    Ok(Json(MeView {
        owner_id: principal.owner_id,
        is_admin: principal.is_admin,
        key_id: principal.key_id,
        user,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for, 1 to 100 characters.
    pub name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    pub id: String,
    pub name: String,
    /// The key itself. Shown this once; only its hash is kept.
    pub key: String,
    /// Its first characters, as `GET /api/keys` lists it.
    pub prefix: String,
    pub created_at: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

/// Makes an API key for the caller's owner, with the caller's rights.
#[utoipa::path(post, path = "/api/keys", tag = "auth", request_body = NewKey,
    responses((status = 201, body = CreatedKey)), security(("api_key" = [])))]
pub async fn create_key(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidJson(req): ValidJson<NewKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let name = req.name.trim().to_string();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_KEY_NAME_CHARS {
        return Err(ApiError::bad_request(format!(
            "name: {chars} characters; 1 to {MAX_KEY_NAME_CHARS} allowed"
        )));
    }
    let key = auth::generate_key();
    let row = ApiKeyRow {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: principal.owner_id,
        name,
        prefix: auth::display_prefix(key.expose()),
        is_admin: principal.is_admin,
        created_at: now_ms(),
        revoked_at: None,
    };
    if !state
        .store
        .insert_api_key(&row, &auth::hash_key(key.expose()))
        .await?
    {
        return Err(ApiError::Internal("a new random key collided".into()));
    }
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            id: row.id,
            name: row.name,
            key: key.expose().to_string(),
            prefix: row.prefix,
            created_at: row.created_at,
        }),
    ))
}

/// The caller's owner's API keys, newest first (never the keys themselves).
#[utoipa::path(get, path = "/api/keys", tag = "auth",
    responses((status = 200, body = KeyList)), security(("api_key" = [])))]
pub async fn list_keys(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<KeyList>, ApiError> {
    let keys = state.store.list_api_keys(&principal.owner_id).await?;
    Ok(Json(KeyList {
        keys: keys
            .into_iter()
            .map(|k| KeyView {
                id: k.id,
                name: k.name,
                prefix: k.prefix,
                created_at: k.created_at,
                revoked_at: k.revoked_at,
            })
            .collect(),
    }))
}

/// Revokes one of the caller's owner's API keys.
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "auth",
    params(("id" = String, Path, description = "Key id")),
    responses((status = 204), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn revoke_key(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state
        .store
        .revoke_api_key(&principal.owner_id, &id, now_ms())
        .await?
    {
        return Ok(StatusCode::NO_CONTENT);
    }
    Err(ApiError::NotFound(format!("no API key {id}")))
}

//! `/api/platforms/{platform}/connections`: an owner's ad accounts on Meta, Google and TikTok.
//! A connection names the account, its currency and time zone and the ids a creative needs
//! (Meta page, TikTok identity, Google customer); its tokens are sealed at rest and never
//! answered back. Connecting an account again replaces its tokens and fields in place.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::{Auth, ValidJson};
use super::{ApiError, AppState};
use crate::auth::PlatformCredentials;
use crate::orchestrate::Platform;
use crate::orchestrate::platforms::money::Currency;
use crate::secret::Secret;
use crate::store::{ConnectionRow, now_ms};

pub const CONNECTION_PLATFORMS: &[&str] = &crate::orchestrate::Platform::CONNECTABLE_NAMES;
/// Longest id field (account, page, identity, customer), in characters.
pub const MAX_ID_CHARS: usize = 64;
/// Longest token or secret, in bytes.
pub const MAX_SECRET_BYTES: usize = 4096;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/platforms/{platform}/connections",
            get(list).post(connect),
        )
        .route("/api/platforms/{platform}/connections/{id}", delete(remove))
        .route(
            "/api/platforms/{platform}/connections/{id}/test",
            post(test),
        )
}

/// An ad account to connect, with its tokens.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConnection {
    /// The platform's account id (Meta without `act_`, Google the customer id, TikTok the
    /// advertiser id).
    pub account_id: String,
    /// ISO 4217, the account's currency.
    pub currency: String,
    /// IANA name, the account's time zone (e.g. Europe/Berlin): its reporting days.
    pub time_zone: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix ms when the access token expires.
    pub token_expires_at: Option<i64>,
    /// Meta only: for `appsecret_proof`.
    pub app_secret: Option<String>,
    /// Meta only, required: the page the ads speak as.
    pub page_id: Option<String>,
    /// TikTok only, required: the identity the ads speak as.
    pub identity_id: Option<String>,
    /// Google only, required: the customer id (digits; dashes are dropped).
    pub customer_id: Option<String>,
    /// Google only, required.
    pub developer_token: Option<String>,
    /// Google only: the manager account acting for the customer.
    pub login_customer_id: Option<String>,
}

/// A connection as listed: no token or secret, ever.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    pub id: String,
    pub platform: String,
    pub account_id: String,
    pub currency: String,
    pub time_zone: String,
    pub page_id: Option<String>,
    pub identity_id: Option<String>,
    pub customer_id: Option<String>,
    pub login_customer_id: Option<String>,
    /// Unix ms when the access token expires, where known.
    pub token_expires_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<ConnectionRow> for ConnectionView {
    fn from(row: ConnectionRow) -> Self {
        Self {
            id: row.id,
            platform: row.platform,
            account_id: row.account_id,
            currency: row.currency,
            time_zone: row.time_zone,
            page_id: row.page_id,
            identity_id: row.identity_id,
            customer_id: row.customer_id,
            login_customer_id: row.login_customer_id,
            token_expires_at: row.token_expires_at,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionList {
    pub connections: Vec<ConnectionView>,
}

fn platform(name: &str) -> Result<Platform, ApiError> {
    Platform::CONNECTABLE
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "platform: `{name}` is not one of {}",
                CONNECTION_PLATFORMS.join(", ")
            ))
        })
}

/// A trimmed id of 1 to [`MAX_ID_CHARS`] letters, digits, `_` or `-`.
fn id_field(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_ID_CHARS {
        return Err(ApiError::bad_request(format!(
            "{field}: {chars} characters; 1 to {MAX_ID_CHARS} allowed"
        )));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ApiError::bad_request(format!(
            "{field}: `{value}` may hold only letters, digits, `_` and `-`"
        )));
    }
    Ok(value.to_string())
}

fn required(field: &str, platform: &str, value: &Option<String>) -> Result<String, ApiError> {
    match value {
        Some(value) => id_field(field, value),
        None => Err(ApiError::bad_request(format!(
            "{field}: required for {platform} connections"
        ))),
    }
}

fn only_for(field: &str, owner: &str, platform: &str, given: bool) -> Result<(), ApiError> {
    if given && owner != platform {
        return Err(ApiError::bad_request(format!(
            "{field}: only {owner} connections take it, not {platform}"
        )));
    }
    Ok(())
}

fn secret(field: &str, value: &str) -> Result<Secret, ApiError> {
    if value.trim().is_empty() || value.len() > MAX_SECRET_BYTES {
        return Err(ApiError::bad_request(format!(
            "{field}: {} bytes; 1 to {MAX_SECRET_BYTES} allowed",
            value.trim().len()
        )));
    }
    Ok(Secret::new(value.trim()))
}

fn digits(field: &str, value: &str) -> Result<String, ApiError> {
    let digits: String = value.chars().filter(|c| *c != '-').collect();
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(format!(
            "{field}: `{value}` is not a customer id (digits, dashes allowed)"
        )));
    }
    Ok(digits)
}

/// The checked fields of a connection, and its secrets.
fn check(
    platform: Platform,
    req: &NewConnection,
) -> Result<(ConnectionFields, PlatformCredentials), ApiError> {
    let account_id = id_field("account_id", &req.account_id)?;
    let currency = Currency::from_code(&req.currency)
        .map_err(|e| ApiError::bad_request(format!("currency: {e}")))?;
    let time_zone = req.time_zone.trim();
    if time_zone.is_empty() || jiff::tz::TimeZone::get(time_zone).is_err() {
        return Err(ApiError::bad_request(format!(
            "time_zone: `{time_zone}` is not an IANA time zone name (like Europe/Berlin)"
        )));
    }
    let name = platform.name();
    let meta = Platform::Meta.name();
    let (tiktok, google) = (Platform::Tiktok.name(), Platform::Google.name());
    only_for("app_secret", meta, name, req.app_secret.is_some())?;
    only_for("page_id", meta, name, req.page_id.is_some())?;
    only_for("identity_id", tiktok, name, req.identity_id.is_some())?;
    only_for("customer_id", google, name, req.customer_id.is_some())?;
    only_for(
        "developer_token",
        google,
        name,
        req.developer_token.is_some(),
    )?;
    only_for(
        "login_customer_id",
        google,
        name,
        req.login_customer_id.is_some(),
    )?;
    if let Some(at) = req.token_expires_at
        && at <= 0
    {
        return Err(ApiError::bad_request(
            "token_expires_at: unix milliseconds, more than 0",
        ));
    }
    let mut fields = ConnectionFields {
        account_id,
        currency: currency.code().to_string(),
        time_zone: time_zone.to_string(),
        page_id: None,
        identity_id: None,
        customer_id: None,
        login_customer_id: None,
    };
    let mut credentials = PlatformCredentials {
        access_token: secret("access_token", &req.access_token)?,
        refresh_token: req
            .refresh_token
            .as_deref()
            .map(|t| secret("refresh_token", t))
            .transpose()?,
        app_secret: req
            .app_secret
            .as_deref()
            .map(|t| secret("app_secret", t))
            .transpose()?,
        developer_token: None,
    };
    match platform {
        Platform::Meta => fields.page_id = Some(required("page_id", name, &req.page_id)?),
        Platform::Tiktok => {
            fields.identity_id = Some(required("identity_id", name, &req.identity_id)?)
        }
        Platform::Google | Platform::Sandbox => {
            let customer = required("customer_id", name, &req.customer_id)?;
            fields.customer_id = Some(digits("customer_id", &customer)?);
            fields.login_customer_id = req
                .login_customer_id
                .as_deref()
                .map(|id| digits("login_customer_id", id))
                .transpose()?;
            let Some(developer_token) = &req.developer_token else {
                return Err(ApiError::bad_request(
                    "developer_token: required for google connections",
                ));
            };
            credentials.developer_token = Some(secret("developer_token", developer_token)?);
        }
    }
    Ok((fields, credentials))
}

struct ConnectionFields {
    account_id: String,
    currency: String,
    time_zone: String,
    page_id: Option<String>,
    identity_id: Option<String>,
    customer_id: Option<String>,
    login_customer_id: Option<String>,
}

/// Connects an ad account (or replaces the tokens of one connected before). Tokens are
/// sealed at rest and never returned.
#[utoipa::path(post, path = "/api/platforms/{platform}/connections", tag = "platforms",
    params(("platform" = String, Path, description = "meta, google or tiktok")),
    request_body = NewConnection,
    responses((status = 201, description = "Connected", body = ConnectionView),
              (status = 200, description = "Connected again: tokens and fields replaced", body = ConnectionView),
              (status = 400, description = "A field is missing or invalid; the message names it", body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn connect(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(platform_name): Path<String>,
    ValidJson(req): ValidJson<NewConnection>,
) -> Result<(StatusCode, Json<ConnectionView>), ApiError> {
    let platform = platform(&platform_name)?;
    let (fields, credentials) = check(platform, &req)?;
    let owner_id = principal.owner_id;
    let (secret_ciphertext, secret_key_id) = state.auth.secrets.seal_credentials(
        &owner_id,
        platform.name(),
        &fields.account_id,
        &credentials,
    );
    let now = now_ms();
    let row = ConnectionRow {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id,
        platform: platform.to_string(),
        account_id: fields.account_id,
        currency: fields.currency,
        time_zone: fields.time_zone,
        page_id: fields.page_id,
        identity_id: fields.identity_id,
        customer_id: fields.customer_id,
        login_customer_id: fields.login_customer_id,
        secret_ciphertext,
        secret_key_id,
        token_expires_at: req.token_expires_at,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    if state.store.insert_connection(&row).await? {
        return Ok((StatusCode::CREATED, Json(row.into())));
    }
    let existing = state
        .store
        .connection_by_account(&row.owner_id, platform.name(), &row.account_id)
        .await?
        .ok_or_else(|| ApiError::Conflict {
            code: "connection_changed",
            message: "account_id: the connection was deleted meanwhile; send it again".into(),
        })?;
    let replaced = ConnectionRow {
        id: existing.id,
        version: existing.version + 1,
        created_at: existing.created_at,
        ..row
    };
    if !state
        .store
        .update_connection(&replaced, existing.version)
        .await?
    {
        return Err(ApiError::Conflict {
            code: "connection_changed",
            message: "account_id: the connection changed meanwhile; send it again".into(),
        });
    }
    Ok((StatusCode::OK, Json(replaced.into())))
}

/// The caller's owner's connections to `platform`, newest first, without secrets.
#[utoipa::path(get, path = "/api/platforms/{platform}/connections", tag = "platforms",
    params(("platform" = String, Path, description = "meta, google or tiktok")),
    responses((status = 200, body = ConnectionList)), security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(platform_name): Path<String>,
) -> Result<Json<ConnectionList>, ApiError> {
    let platform = platform(&platform_name)?;
    let rows = state
        .store
        .list_connections(&principal.owner_id, platform.name())
        .await?;
    Ok(Json(ConnectionList {
        connections: rows.into_iter().map(ConnectionView::from).collect(),
    }))
}

/// Deletes one of the caller's owner's connections (and its sealed tokens).
#[utoipa::path(delete, path = "/api/platforms/{platform}/connections/{id}", tag = "platforms",
    params(("platform" = String, Path, description = "meta, google or tiktok"),
           ("id" = String, Path, description = "Connection id")),
    responses((status = 204), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((platform_name, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let platform = platform(&platform_name)?;
    if state
        .store
        .delete_connection(&principal.owner_id, platform.name(), &id)
        .await?
    {
        return Ok(StatusCode::NO_CONTENT);
    }
    Err(ApiError::NotFound(format!("no {platform} connection {id}")))
}

/// Whether a connection works: the platform was asked for the account's delivery of yesterday.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionTest {
    pub ok: bool,
    /// What the platform answered, in words (the error when it refused).
    pub message: String,
}

/// Tests a connection with a read-only call the platform answers only for valid credentials
/// (yesterday's insights of the account); 200 with `ok: false` and the platform's error when
/// it refuses.
#[utoipa::path(post, path = "/api/platforms/{platform}/connections/{id}/test", tag = "platforms",
    params(("platform" = String, Path, description = "meta, google or tiktok"),
           ("id" = String, Path, description = "Connection id")),
    responses((status = 200, description = "The result", body = ConnectionTest),
        (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn test(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((platform_name, id)): Path<(String, String)>,
) -> Result<Json<ConnectionTest>, ApiError> {
    let platform = platform(&platform_name)?;
    let row = state
        .store
        .get_connection(&principal.owner_id, &id)
        .await?
        .filter(|r| r.platform == platform.name())
        .ok_or_else(|| ApiError::NotFound(format!("no {platform} connection {id}")))?;
    let answer = state.orchestrator.platforms.test_connection(&row).await;
    Ok(Json(match answer {
        Ok(message) => ConnectionTest { ok: true, message },
        Err(message) => ConnectionTest { ok: false, message },
    }))
}

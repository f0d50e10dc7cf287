//! `/api/webhooks/{meta,tiktok,google}`: deliveries from the ad platforms. No API key: each
//! delivery is authenticated by its platform's signature or token ([`adforge_input::webhook`]) before
//! anything is read from it. A verified delivery's object ids are resolved to their owners
//! through the deployments' ledger; the delivery is recorded and each owner gets one
//! `webhook.<platform>` event, in one transaction. A refused delivery leaves nothing behind.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::extract::ValidQuery;
use super::{ApiError, AppState};
use crate::store::events::{NewEvent, NewWebhookDelivery};
use adforge_input::webhook::{Change, Platform, WebhookError, body_sha256, changes};

/// Largest webhook body accepted, in bytes.
pub const MAX_WEBHOOK_BODY: usize = 256 * 1024;
/// Longest `hub.challenge` echoed.
const MAX_CHALLENGE_LEN: usize = 256;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/webhooks/meta",
            get(meta_handshake).post(meta_delivery),
        )
        .route("/api/webhooks/tiktok", post(tiktok_delivery))
        .route("/api/webhooks/google", post(google_delivery))
        .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BODY))
}

impl From<WebhookError> for ApiError {
    fn from(err: WebhookError) -> Self {
        match err {
            WebhookError::NotConfigured(_) => Self::NotFound(err.to_string()),
            WebhookError::MissingHeader(_)
            | WebhookError::MalformedHeader { .. }
            | WebhookError::SignatureMismatch(_)
            | WebhookError::Stale { .. }
            | WebhookError::TokenMismatch => Self::Unauthorized(err.to_string()),
            WebhookError::VerifyTokenMismatch => Self::Forbidden(err.to_string()),
            WebhookError::HandshakeMode(_) | WebhookError::BadBody(_) => Self::BadRequest {
                code: "invalid_webhook",
                message: err.to_string(),
            },
            WebhookError::TooManyObjects { .. } => Self::BadRequest {
                code: "too_many_objects",
                message: err.to_string(),
            },
        }
    }
}

/// Meta's subscription handshake.
#[derive(Debug, Deserialize, IntoParams)]
pub struct MetaHandshake {
    /// Must be `subscribe`.
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    pub mode: Option<String>,
    /// Must equal `ADFORGE_META_VERIFY_TOKEN`.
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    /// Answered verbatim.
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

/// What a verified delivery became.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryReceipt {
    /// Hex SHA-256 of the body, as recorded.
    pub delivery: String,
    /// Owners whose objects the delivery named (each got one event).
    pub owners: usize,
    /// Object ids that no deployment knows (recorded without an owner).
    pub unmatched_ids: Vec<String>,
}

/// Meta's verification request: answers `hub.challenge` as plain text when `hub.verify_token`
/// matches the configured token.
#[utoipa::path(get, path = "/api/webhooks/meta", tag = "webhooks", params(MetaHandshake),
    responses((status = 200, description = "The challenge, verbatim", body = String, content_type = "text/plain"),
        (status = 400, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
        (status = 404, description = "Meta webhooks are not configured", body = super::ErrorBody)))]
pub async fn meta_handshake(
    State(state): State<AppState>,
    ValidQuery(query): ValidQuery<MetaHandshake>,
) -> Result<Response, ApiError> {
    let challenge = query.challenge.unwrap_or_default();
    if challenge.is_empty() || challenge.len() > MAX_CHALLENGE_LEN {
        return Err(ApiError::BadRequest {
            code: "invalid_webhook",
            message: format!(
                "hub.challenge: must be 1 to {MAX_CHALLENGE_LEN} characters, got {}",
                challenge.len()
            ),
        });
    }
    let answer = state.webhooks.keys().meta_handshake(
        query.mode.as_deref(),
        query.verify_token.as_deref(),
        &challenge,
    )?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        answer.to_string(),
    )
        .into_response())
}

/// A Meta change delivery, signed with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app
/// secret, raw body)>`. Each owner whose ad, ad set, campaign or account the entries name gets
/// one `webhook.meta` event.
#[utoipa::path(post, path = "/api/webhooks/meta", tag = "webhooks",
    request_body(content = Object, description = "Meta's `{object, entry: [{id, time, changes}]}`"),
    params(("X-Hub-Signature-256" = String, Header, description = "sha256=<hex HMAC-SHA256 of the body>")),
    responses((status = 200, body = DeliveryReceipt), (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody), (status = 404, body = super::ErrorBody),
        (status = 413, body = super::ErrorBody)))]
pub async fn meta_delivery(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DeliveryReceipt>, ApiError> {
    state.webhooks.keys().check_configured(Platform::Meta)?;
    let signature = header_text(&headers, "x-hub-signature-256");
    let body = body_bytes(body)?;
    state.webhooks.keys().verify_meta(signature, &body)?;
    deliver(&state, Platform::Meta, "x-hub-signature-256", &body).await
}

/// A TikTok delivery, signed with `TikTok-Signature: t=<unix seconds>,s=<hex HMAC-SHA256(secret,
/// "<t>.<raw body>")>` (adforge's scheme, modelled on TikTok's signed callbacks); timestamps
/// more than 300 seconds from the server's clock are refused.
#[utoipa::path(post, path = "/api/webhooks/tiktok", tag = "webhooks",
    request_body(content = Object, description = "JSON naming ad_id, adgroup_id, campaign_id, advertiser_id"),
    params(("TikTok-Signature" = String, Header, description = "t=<unix seconds>,s=<hex HMAC>")),
    responses((status = 200, body = DeliveryReceipt), (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody), (status = 404, body = super::ErrorBody),
        (status = 413, body = super::ErrorBody)))]
pub async fn tiktok_delivery(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DeliveryReceipt>, ApiError> {
    state.webhooks.keys().check_configured(Platform::Tiktok)?;
    let signature = header_text(&headers, "tiktok-signature");
    let body = body_bytes(body)?;
    let now = crate::store::now_ms() / 1000;
    state.webhooks.keys().verify_tiktok(signature, &body, now)?;
    deliver(&state, Platform::Tiktok, "tiktok-signature", &body).await
}

/// A Google Ads change, delivered Pub/Sub-push style (`{"message": {"data": base64 JSON}}`)
/// with `Authorization: Bearer <ADFORGE_GOOGLE_WEBHOOK_TOKEN>`. Google Ads has no webhooks of
/// its own: a relay the user runs publishes the changes.
#[utoipa::path(post, path = "/api/webhooks/google", tag = "webhooks",
    request_body(content = Object, description = "A Pub/Sub push message"),
    responses((status = 200, body = DeliveryReceipt), (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody), (status = 404, body = super::ErrorBody),
        (status = 413, body = super::ErrorBody)))]
pub async fn google_delivery(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DeliveryReceipt>, ApiError> {
    state.webhooks.keys().check_configured(Platform::Google)?;
    state
        .webhooks
        .keys()
        .verify_google(header_text(&headers, "authorization"))?;
    let body = body_bytes(body)?;
    deliver(&state, Platform::Google, "bearer", &body).await
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit: MAX_WEBHOOK_BODY,
            }
        } else {
            ApiError::bad_request(format!("body: {}", rejection.body_text()))
        }
    })
}

/// Resolves a verified delivery's object ids to owners, then records it and publishes one
/// event per owner, all in one transaction.
async fn deliver(
    state: &AppState,
    platform: Platform,
    verified: &str,
    body: &[u8],
) -> Result<Json<DeliveryReceipt>, ApiError> {
    let changes = changes(platform, body)?;
    let sha = body_sha256(body);
    let (by_owner, unmatched) = resolve(state, platform, changes).await?;
    let delivery = |owner_id: Option<String>, ids: Vec<String>| NewWebhookDelivery {
        platform: platform.name().to_string(),
        owner_id,
        verified: verified.to_string(),
        body_sha256: sha.clone(),
        object_ids: ids,
    };
    let mut deliveries = Vec::new();
    let mut events = Vec::new();
    for (owner_id, (ids, values)) in &by_owner {
        let ids: Vec<String> = ids.iter().cloned().collect();
        deliveries.push(delivery(Some(owner_id.clone()), ids.clone()));
        events.push(NewEvent {
            owner_id: owner_id.clone(),
            kind: format!("webhook.{}", platform.name()),
            data: json!({"platform": platform.name(), "delivery": sha, "object_ids": ids,
                         "changes": values}),
        });
    }
    let unmatched: Vec<String> = unmatched.into_iter().collect();
    if !unmatched.is_empty() || by_owner.is_empty() {
        deliveries.push(delivery(None, unmatched.clone()));
    }
    state.events.record_webhook(&deliveries, &events).await?;
    tracing::info!(platform = platform.name(), owners = by_owner.len(), unmatched = unmatched.len(), delivery = %sha, "webhook delivery recorded");
    Ok(Json(DeliveryReceipt {
        delivery: sha,
        owners: by_owner.len(),
        unmatched_ids: unmatched,
    }))
}

/// Per owner: the object ids of theirs that the delivery names and the changes naming them;
/// and the ids that no deployment knows.
type Resolved = (
    BTreeMap<String, (BTreeSet<String>, Vec<Value>)>,
    BTreeSet<String>,
);

async fn resolve(
    state: &AppState,
    platform: Platform,
    changes: Vec<Change>,
) -> Result<Resolved, ApiError> {
    let mut owners_of: BTreeMap<String, Option<String>> = BTreeMap::new();
    for id in changes.iter().flat_map(|c| c.ids.iter()) {
        if !owners_of.contains_key(id) {
            let owner = state.store.owner_of_external(platform.name(), id).await?;
            owners_of.insert(id.clone(), owner);
        }
    }
    let mut by_owner: BTreeMap<String, (BTreeSet<String>, Vec<Value>)> = BTreeMap::new();
    let mut unmatched = BTreeSet::new();
    for change in changes {
        let mut owners = BTreeSet::new();
        for id in &change.ids {
            match owners_of.get(id).cloned().flatten() {
                Some(owner) => {
                    by_owner
                        .entry(owner.clone())
                        .or_default()
                        .0
                        .insert(id.clone());
                    owners.insert(owner);
                }
                None => {
                    unmatched.insert(id.clone());
                }
            }
        }
        for owner in owners {
            by_owner
                .entry(owner)
                .or_default()
                .1
                .push(change.value.clone());
        }
    }
    Ok((by_owner, unmatched))
}

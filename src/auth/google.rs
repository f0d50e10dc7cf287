//! Google OAuth access tokens live about an hour: [`google_refresh`] trades a connection's
//! refresh token for a new access token when the current one expires within five minutes, and
//! stores it sealed, version-checked (when another process refreshed first, its row is taken).

use serde::Deserialize;

use super::crypto::{CryptoError, SecretBox};
use crate::secret::Secret;
use crate::store::{ConnectionRow, Store, StoreError, now_ms};

/// Tokens that expire within this many milliseconds are refreshed.
pub const REFRESH_MARGIN_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("connection {0} is not a google connection")]
    NotGoogle(String),
    #[error("connection {0} has no refresh token: connect the account again")]
    NoRefreshToken(String),
    #[error("google token endpoint unreachable: {0}")]
    Http(#[from] reqwest::Error),
    #[error("google token endpoint refused the refresh ({status}): {body}")]
    Refused { status: u16, body: String },
    #[error("google token endpoint answered without access_token: {0}")]
    BadAnswer(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("connection {0} was deleted during the refresh")]
    Deleted(String),
    #[error("connection {0} kept changing during the refresh; try again")]
    Contended(String),
}

/// Where and as whom to refresh Google tokens.
#[derive(Debug, Clone)]
pub struct GoogleOAuth {
    /// `https://oauth2.googleapis.com/token` in production.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Secret,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<i64>,
    refresh_token: Option<String>,
}

/// Refresh attempts when other writers keep changing the row meanwhile.
const ATTEMPTS: usize = 3;

fn due(row: &ConnectionRow, now: i64) -> bool {
    row.token_expires_at
        .is_some_and(|expires_at| expires_at - now <= REFRESH_MARGIN_MS)
}

/// The connection with an access token good for at least five more minutes: `row` itself when
/// its token is not about to expire (or has no known expiry), else refreshed and stored.
pub async fn google_refresh(
    http: &reqwest::Client,
    oauth: &GoogleOAuth,
    store: &Store,
    secrets: &SecretBox,
    row: &ConnectionRow,
) -> Result<ConnectionRow, RefreshError> {
    if row.platform != adforge_input::platform::Platform::Google.name() {
        return Err(RefreshError::NotGoogle(row.id.clone()));
    }
    let mut current = row.clone();
    for _ in 0..ATTEMPTS {
        if !due(&current, now_ms()) {
            return Ok(current);
        }
        let refreshed = refreshed_row(http, oauth, secrets, &current).await?;
        if store
            .update_connection_secret(&refreshed, current.version)
            .await?
        {
            return Ok(refreshed);
        }
        // Another writer got there first (a refresh elsewhere, or rotation): read its row.
        current = store
            .get_connection(&row.owner_id, &row.id)
            .await?
            .ok_or_else(|| RefreshError::Deleted(row.id.clone()))?;
    }
    Err(RefreshError::Contended(row.id.clone()))
}

/// `row` with a new access token from the token endpoint, sealed, at the next version.
async fn refreshed_row(
    http: &reqwest::Client,
    oauth: &GoogleOAuth,
    secrets: &SecretBox,
    row: &ConnectionRow,
) -> Result<ConnectionRow, RefreshError> {
    let mut credentials = secrets.open_credentials(row)?;
    let Some(refresh_token) = credentials.refresh_token.clone() else {
        return Err(RefreshError::NoRefreshToken(row.id.clone()));
    };
    let response = http
        .post(&oauth.token_url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("client_id", oauth.client_id.as_str()),
            ("client_secret", oauth.client_secret.expose()),
        ])
        .send()
        .await?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        return Err(RefreshError::Refused {
            status: status.as_u16(),
            body: body.chars().take(300).collect(),
        });
    }
    let answer: TokenAnswer =
        serde_json::from_str(&body).map_err(|e| RefreshError::BadAnswer(e.to_string()))?;
    let Some(access_token) = answer.access_token else {
        return Err(RefreshError::BadAnswer("no access_token field".into()));
    };
    credentials.access_token = Secret::new(access_token);
    if let Some(rotated) = answer.refresh_token {
        credentials.refresh_token = Some(Secret::new(rotated));
    }
    let (ciphertext, kid) =
        secrets.seal_credentials(&row.owner_id, &row.platform, &row.account_id, &credentials);
    let now = now_ms();
    Ok(ConnectionRow {
        secret_ciphertext: ciphertext,
        secret_key_id: kid,
        token_expires_at: answer
            .expires_in
            .map(|secs| now.saturating_add(secs.saturating_mul(1000))),
        version: row.version + 1,
        updated_at: now,
        ..row.clone()
    })
}

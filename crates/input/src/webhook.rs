//! Webhooks in: each platform's shared secret, the checks that authenticate a delivery, and the
//! object ids a delivery names. Pure: no HTTP types and no SQL (the API reads the request and
//! records the delivery; this module decides whether to believe it and what it is about).
//!
//! - Meta signs each delivery with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret,
//!   raw body)>` and verifies the endpoint with a `hub.challenge` handshake (PLATFORMS.md).
//! - TikTok: adforge's own scheme, modelled on TikTok's signed callbacks (PLATFORMS.md records no
//!   TikTok webhook facts): `TikTok-Signature: t=<unix seconds>,s=<hex HMAC-SHA256(secret,
//!   "<t>.<raw body>")>`. The timestamp is inside the signed text, and one more than
//!   [`MAX_CLOCK_SKEW_SECS`] from the server's clock is refused, so a captured delivery cannot be
//!   replayed later.
//! - Google Ads has no webhooks. Changes arrive as Pub/Sub push deliveries (a relay of the
//!   user's, e.g. a Cloud Function watching the change history) authenticated by
//!   `Authorization: Bearer <token>`.
//!
//! Every comparison with a secret runs in constant time. A platform without a configured secret
//! accepts nothing.

use std::collections::BTreeSet;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How far a TikTok signature's timestamp may be from the server's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
/// Most distinct object ids one delivery may name.
pub const MAX_OBJECT_IDS: usize = 500;
/// Keys whose values are ad platform object ids, at any depth of a delivery.
const ID_KEYS: &[&str] = &[
    "ad_id",
    "adset_id",
    "ad_set_id",
    "adgroup_id",
    "ad_group_id",
    "campaign_id",
    "creative_id",
    "video_id",
    "image_id",
    "image_hash",
    "account_id",
    "ad_account_id",
    "advertiser_id",
    "customer_id",
    "adId",
    "adGroupId",
    "campaignId",
    "customerId",
    "resourceName",
    "resource_name",
];
/// How deep into a delivery's JSON ids are looked for.
const MAX_DEPTH: usize = 8;
/// Longest string taken as an object id.
const MAX_ID_LEN: usize = 256;

/// The shared secrets of each platform's webhooks, borrowed from the server's configuration; a
/// platform without one is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct Secrets<'a> {
    /// Meta app secret: deliveries must carry its `X-Hub-Signature-256`.
    pub meta_app_secret: Option<&'a str>,
    /// The token Meta's subscription handshake must present as `hub.verify_token`.
    pub meta_verify_token: Option<&'a str>,
    /// Key of the `TikTok-Signature` HMAC.
    pub tiktok_webhook_secret: Option<&'a str>,
    /// Bearer token that Google Ads change deliveries (Pub/Sub push) must present.
    pub google_webhook_token: Option<&'a str>,
}

pub use crate::platform::Platform;

/// The variable that configures a platform's webhook secret (the sandbox has none).
fn secret_env(platform: Platform) -> &'static str {
    match platform {
        Platform::Meta => "ADFORGE_META_APP_SECRET",
        Platform::Tiktok => "ADFORGE_TIKTOK_WEBHOOK_SECRET",
        Platform::Google => "ADFORGE_GOOGLE_WEBHOOK_TOKEN",
        Platform::Sandbox => "nothing: the sandbox sends no webhooks",
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("webhooks for {} are not configured: set {}", .0.name(), secret_env(*.0))]
    NotConfigured(Platform),
    #[error("missing {0} header: deliveries must be signed")]
    MissingHeader(&'static str),
    #[error("{header} header: expected {expected}")]
    MalformedHeader {
        header: &'static str,
        expected: &'static str,
    },
    #[error("{0} header: signature does not match the body")]
    SignatureMismatch(&'static str),
    #[error(
        "TikTok-Signature header: timestamp {timestamp} is {skew} seconds from the server's clock; \
         more than {MAX_CLOCK_SKEW_SECS} is refused as a possible replay"
    )]
    Stale { timestamp: i64, skew: i64 },
    #[error("Authorization header: bearer token does not match")]
    TokenMismatch,
    #[error("hub.verify_token does not match the configured verify token")]
    VerifyTokenMismatch,
    #[error("hub.mode: expected \"subscribe\", got {0:?}")]
    HandshakeMode(String),
    #[error("body: {0}")]
    BadBody(String),
    #[error("body: names {count} object ids; a delivery may name at most {MAX_OBJECT_IDS}")]
    TooManyObjects { count: usize },
}

/// One change a delivery carries, and the object ids it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub ids: BTreeSet<String>,
    /// The change as the platform sent it (a Meta entry, a TikTok body, a decoded Pub/Sub
    /// message).
    pub value: Value,
}

impl<'s> Secrets<'s> {
    fn secret(&self, platform: Platform) -> Result<&'s str, WebhookError> {
        match platform {
            Platform::Meta => self.meta_app_secret,
            Platform::Tiktok => self.tiktok_webhook_secret,
            Platform::Google => self.google_webhook_token,
            Platform::Sandbox => None,
        }
        .ok_or(WebhookError::NotConfigured(platform))
    }

    /// Refuses at once, before reading a body, a platform that has no secret.
    pub fn check_configured(&self, platform: Platform) -> Result<(), WebhookError> {
        self.secret(platform).map(|_| ())
    }

    /// Meta's subscription handshake: the challenge to answer when mode and token are right.
    pub fn meta_handshake<'a>(
        &self,
        mode: Option<&str>,
        verify_token: Option<&str>,
        challenge: &'a str,
    ) -> Result<&'a str, WebhookError> {
        let expected = self
            .meta_verify_token
            .ok_or(WebhookError::NotConfigured(Platform::Meta))?;
        if mode != Some("subscribe") {
            return Err(WebhookError::HandshakeMode(
                mode.unwrap_or_default().to_string(),
            ));
        }
        let presented = verify_token.unwrap_or_default();
        if !same_secret(presented.as_bytes(), expected.as_bytes()) {
            return Err(WebhookError::VerifyTokenMismatch);
        }
        Ok(challenge)
    }

    /// Checks `X-Hub-Signature-256` against the raw body.
    pub fn verify_meta(&self, header: Option<&str>, body: &[u8]) -> Result<(), WebhookError> {
        const HEADER: &str = "X-Hub-Signature-256";
        let secret = self.secret(Platform::Meta)?;
        let header = header.ok_or(WebhookError::MissingHeader(HEADER))?;
        let signature = header
            .trim()
            .strip_prefix("sha256=")
            .and_then(|hex_sig| hex::decode(hex_sig).ok())
            .ok_or(WebhookError::MalformedHeader {
                header: HEADER,
                expected: "sha256=<hex HMAC-SHA256 of the body>",
            })?;
        verify_hmac(secret, &[body], &signature, HEADER)
    }

    /// Checks `TikTok-Signature` against the raw body and the clock (`now` in unix seconds).
    pub fn verify_tiktok(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), WebhookError> {
        const HEADER: &str = "TikTok-Signature";
        let secret = self.secret(Platform::Tiktok)?;
        let header = header.ok_or(WebhookError::MissingHeader(HEADER))?;
        let malformed = WebhookError::MalformedHeader {
            header: HEADER,
            expected: "t=<unix seconds>,s=<hex HMAC-SHA256 of \"<t>.<body>\">",
        };
        let mut timestamp = None;
        let mut signature = None;
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", t)) => timestamp = Some(t),
                Some(("s", s)) => signature = Some(s),
                _ => {}
            }
        }
        let (Some(t), Some(s)) = (timestamp, signature) else {
            return Err(malformed);
        };
        let (Ok(timestamp), Ok(signature)) = (t.parse::<i64>(), hex::decode(s)) else {
            return Err(malformed);
        };
        verify_hmac(secret, &[t.as_bytes(), b".", body], &signature, HEADER)?;
        let skew = (now - timestamp).saturating_abs();
        if skew > MAX_CLOCK_SKEW_SECS {
            return Err(WebhookError::Stale { timestamp, skew });
        }
        Ok(())
    }

    /// Checks the `Authorization: Bearer` token of a Google Ads change delivery.
    pub fn verify_google(&self, authorization: Option<&str>) -> Result<(), WebhookError> {
        let token = self.secret(Platform::Google)?;
        let presented = authorization
            .ok_or(WebhookError::MissingHeader("Authorization"))?
            .strip_prefix("Bearer ")
            .ok_or(WebhookError::MalformedHeader {
                header: "Authorization",
                expected: "Bearer <token>",
            })?;
        if same_secret(presented.trim().as_bytes(), token.as_bytes()) {
            Ok(())
        } else {
            Err(WebhookError::TokenMismatch)
        }
    }
}

/// HMAC-SHA256 of the concatenated `parts` under `secret`, compared in constant time.
fn verify_hmac(
    secret: &str,
    parts: &[&[u8]],
    signature: &[u8],
    header: &'static str,
) -> Result<(), WebhookError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| WebhookError::SignatureMismatch(header))?;
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(signature)
        .map_err(|_| WebhookError::SignatureMismatch(header))
}

/// Equal secrets, compared in time that depends on neither value nor length: both are hashed
/// first, then every byte of the digests is compared.
fn same_secret(presented: &[u8], expected: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(presented), Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Hex SHA-256 of a body: the delivery's name in the record.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The changes of a delivery, each with the object ids it names.
pub fn changes(platform: Platform, body: &[u8]) -> Result<Vec<Change>, WebhookError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| WebhookError::BadBody(format!("not valid JSON: {e}")))?;
    let changes = match platform {
        Platform::Meta => meta_changes(json)?,
        Platform::Tiktok => vec![change_of(json)],
        Platform::Google => vec![google_change(json)?],
        Platform::Sandbox => {
            return Err(WebhookError::BadBody(
                "the sandbox sends no webhooks".into(),
            ));
        }
    };
    let count = changes
        .iter()
        .flat_map(|c| c.ids.iter())
        .collect::<BTreeSet<_>>()
        .len();
    if count > MAX_OBJECT_IDS {
        return Err(WebhookError::TooManyObjects { count });
    }
    Ok(changes)
}

/// Meta: `{"object": ..., "entry": [{"id": ..., "time": ..., "changes": [{"field", "value"}]}]}`;
/// one change per entry, naming the entry's id and the ids in its changes' values.
fn meta_changes(json: Value) -> Result<Vec<Change>, WebhookError> {
    let object = json.get("object").cloned().unwrap_or(Value::Null);
    let Some(Value::Array(entries)) = json.get("entry").cloned() else {
        return Err(WebhookError::BadBody(
            "entry: must be an array of changed objects".into(),
        ));
    };
    Ok(entries
        .into_iter()
        .map(|entry| {
            let mut change = change_of(entry.clone());
            if let Some(id) = entry.get("id").and_then(id_text) {
                change.ids.insert(id);
            }
            change.value = serde_json::json!({"object": object, "entry": entry});
            change
        })
        .collect())
}

/// Google (Pub/Sub push): `{"message": {"data": "<base64 JSON>", "attributes": {...},
/// "messageId": ...}, "subscription": ...}`; the decoded data and the attributes name the ids.
fn google_change(json: Value) -> Result<Change, WebhookError> {
    let message = json
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| WebhookError::BadBody("message: must be a Pub/Sub message object".into()))?;
    let data = match message.get("data").and_then(Value::as_str) {
        Some(encoded) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| WebhookError::BadBody(format!("message.data: not base64: {e}")))?;
            serde_json::from_slice(&bytes).map_err(|e| {
                WebhookError::BadBody(format!("message.data: not base64 of JSON: {e}"))
            })?
        }
        None => Value::Null,
    };
    let value = serde_json::json!({
        "message_id": message.get("messageId").cloned().unwrap_or(Value::Null),
        "attributes": message.get("attributes").cloned().unwrap_or(Value::Null),
        "data": data,
    });
    Ok(change_of(value))
}

fn change_of(value: Value) -> Change {
    let mut ids = BTreeSet::new();
    collect_ids(&value, 0, &mut ids);
    Change { ids, value }
}

fn collect_ids(value: &Value, depth: usize, ids: &mut BTreeSet<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if ID_KEYS.contains(&key.as_str())
                    && let Some(id) = id_text(child)
                {
                    ids.insert(id);
                }
                collect_ids(child, depth + 1, ids);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_ids(item, depth + 1, ids);
            }
        }
        _ => {}
    }
}

/// An id as text: a non-empty string of at most 256 characters, or an integer.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() && s.len() <= MAX_ID_LEN => Some(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

/// `sha256=<hex>` for `body` under `secret`: what Meta sends (tests and tools sign with it).
pub fn meta_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac_sha256(secret, &[body])))
}

/// `t=<t>,s=<hex>` for `body` at unix second `t` under `secret`.
pub fn tiktok_signature(secret: &str, t: i64, body: &[u8]) -> String {
    let t_text = t.to_string();
    let digest = hmac_sha256(secret, &[t_text.as_bytes(), b".", body]);
    format!("t={t},s={}", hex::encode(digest))
}

fn hmac_sha256(secret: &str, parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return Vec::new();
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets<'static> {
        Secrets {
            meta_app_secret: Some("app-secret"),
            meta_verify_token: Some("verify-me"),
            tiktok_webhook_secret: Some("tt-secret"),
            google_webhook_token: Some("g-token"),
        }
    }

    #[test]
    fn meta_signature_matches_a_known_hmac() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            meta_signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn meta_deliveries_need_the_right_signature() {
        let s = secrets();
        let body = br#"{"entry":[]}"#;
        let good = meta_signature("app-secret", body);
        assert_eq!(s.verify_meta(Some(&good), body), Ok(()));
        assert_eq!(
            s.verify_meta(None, body),
            Err(WebhookError::MissingHeader("X-Hub-Signature-256"))
        );
        let forged = meta_signature("other", body);
        assert_eq!(
            s.verify_meta(Some(&forged), body),
            Err(WebhookError::SignatureMismatch("X-Hub-Signature-256"))
        );
        assert_eq!(
            s.verify_meta(Some(&good), br#"{"entry":[1]}"#),
            Err(WebhookError::SignatureMismatch("X-Hub-Signature-256"))
        );
        assert!(matches!(
            s.verify_meta(Some("md5=abc"), body),
            Err(WebhookError::MalformedHeader { .. })
        ));
    }

    #[test]
    fn unconfigured_platforms_accept_nothing() {
        let none = Secrets::default();
        let body = b"{}";
        assert_eq!(
            none.verify_meta(Some(&meta_signature("", body)), body),
            Err(WebhookError::NotConfigured(Platform::Meta))
        );
        assert_eq!(
            none.verify_google(Some("Bearer ")),
            Err(WebhookError::NotConfigured(Platform::Google))
        );
        assert_eq!(
            none.verify_tiktok(Some(&tiktok_signature("", 10, body)), body, 10),
            Err(WebhookError::NotConfigured(Platform::Tiktok))
        );
        assert_eq!(
            WebhookError::NotConfigured(Platform::Tiktok).to_string(),
            "webhooks for tiktok are not configured: set ADFORGE_TIKTOK_WEBHOOK_SECRET"
        );
    }

    #[test]
    fn handshake_echoes_the_challenge_for_the_right_token() {
        let s = secrets();
        assert_eq!(
            s.meta_handshake(Some("subscribe"), Some("verify-me"), "1158201444"),
            Ok("1158201444")
        );
        assert_eq!(
            s.meta_handshake(Some("subscribe"), Some("nope"), "1"),
            Err(WebhookError::VerifyTokenMismatch)
        );
        assert!(matches!(
            s.meta_handshake(Some("unsubscribe"), Some("verify-me"), "1"),
            Err(WebhookError::HandshakeMode(_))
        ));
    }

    #[test]
    fn tiktok_signatures_are_checked_and_fresh() {
        let s = secrets();
        let body = br#"{"ad_id":"7"}"#;
        let now = 1_700_000_000;
        let good = tiktok_signature("tt-secret", now - 10, body);
        assert_eq!(s.verify_tiktok(Some(&good), body, now), Ok(()));
        let stale = tiktok_signature("tt-secret", now - 301, body);
        assert_eq!(
            s.verify_tiktok(Some(&stale), body, now),
            Err(WebhookError::Stale {
                timestamp: now - 301,
                skew: 301
            })
        );
        // The timestamp is signed: moving it breaks the signature.
        let moved = good.replace(&format!("t={}", now - 10), &format!("t={now}"));
        assert_eq!(
            s.verify_tiktok(Some(&moved), body, now),
            Err(WebhookError::SignatureMismatch("TikTok-Signature"))
        );
        assert!(matches!(
            s.verify_tiktok(Some("s=00"), body, now),
            Err(WebhookError::MalformedHeader { .. })
        ));
    }

    #[test]
    fn google_bearer_token_is_compared() {
        let s = secrets();
        assert_eq!(s.verify_google(Some("Bearer g-token")), Ok(()));
        assert_eq!(
            s.verify_google(Some("Bearer g-tokem")),
            Err(WebhookError::TokenMismatch)
        );
        assert_eq!(
            s.verify_google(None),
            Err(WebhookError::MissingHeader("Authorization"))
        );
    }

    #[test]
    fn meta_entries_name_their_objects() {
        let body = serde_json::json!({"object": "ad_account", "entry": [
            {"id": "act_1", "time": 1, "changes": [{"field": "ads", "value": {"ad_id": 42, "campaign_id": "c9", "note_id": "x"}}]},
            {"id": "act_2", "changes": []}
        ]});
        let changes = changes(Platform::Meta, body.to_string().as_bytes()).unwrap();
        assert_eq!(changes.len(), 2);
        let ids: Vec<&str> = changes[0].ids.iter().map(String::as_str).collect();
        assert_eq!(ids, ["42", "act_1", "c9"]);
        assert_eq!(changes[0].value["object"], "ad_account");
        assert_eq!(
            changes[1].ids.iter().collect::<Vec<_>>(),
            [&"act_2".to_string()]
        );
        assert!(matches!(
            super::changes(Platform::Meta, br#"{"entry": 3}"#),
            Err(WebhookError::BadBody(_))
        ));
    }

    #[test]
    fn google_messages_are_decoded() {
        let data = base64::engine::general_purpose::STANDARD
            .encode(br#"{"resourceName":"customers/1/campaigns/2"}"#);
        let body =
            serde_json::json!({"message": {"data": data, "messageId": "m1"}, "subscription": "s"});
        let changes = changes(Platform::Google, body.to_string().as_bytes()).unwrap();
        assert!(changes[0].ids.contains("customers/1/campaigns/2"));
        let bad = serde_json::json!({"message": {"data": "***"}});
        assert!(matches!(
            super::changes(Platform::Google, bad.to_string().as_bytes()),
            Err(WebhookError::BadBody(_))
        ));
    }

    #[test]
    fn deliveries_naming_too_many_objects_are_refused() {
        let ads: Vec<Value> = (0..=MAX_OBJECT_IDS)
            .map(|i| serde_json::json!({"ad_id": i}))
            .collect();
        let body = serde_json::json!({"ads": ads});
        assert_eq!(
            changes(Platform::Tiktok, body.to_string().as_bytes()),
            Err(WebhookError::TooManyObjects {
                count: MAX_OBJECT_IDS + 1
            })
        );
    }
}

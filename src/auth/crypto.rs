//! Platform credentials at rest: [`SecretBox`] seals them with AES-256-GCM under the active key
//! and opens them under whichever configured key sealed them, and [`rotate`] re-seals every
//! connection under the active key, row by row and version-checked, so a server keeps serving
//! while it runs.
//!
//! Keys come from `ADFORGE_SECRET_KEYS="kid1:BASE64_32_BYTES,kid2:..."`; the first is the active
//! key, the others only open. A sealed value is `v1:<kid>:<base64(nonce || ciphertext)>` with a
//! random 96-bit nonce; the additional data is `owner_id|platform|account_id`, so a ciphertext
//! copied into another owner's or account's row does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::store::{ConnectionRow, Store, StoreError, now_ms};

const FORMAT: &str = "v1";
const NONCE_BYTES: usize = 12;
const KEY_BYTES: usize = 32;
/// Rows re-sealed per read during rotation.
const ROTATE_BATCH: i64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("secret keys: `{0}` is not `KID:BASE64` (expected a list like `k2:BASE64,k1:BASE64`)")]
    BadSpec(String),
    #[error("secret key {kid}: decodes to {len} bytes; AES-256 needs {KEY_BYTES}")]
    BadKeyLength { kid: String, len: usize },
    #[error("secret key id {0:?} is listed twice")]
    DuplicateKid(String),
    #[error("no secret key is configured")]
    NoKeys,
    #[error(
        "sealed with key {0:?}, which is not configured: add it to ADFORGE_SECRET_KEYS \
         (after the active key) until rotation has re-sealed every row"
    )]
    UnknownKid(String),
    #[error("sealed value is not in the `v1:KID:BASE64` format")]
    BadFormat,
    #[error("sealed value does not open: wrong key, or it belongs to another row")]
    Open,
    #[error("sealed credentials are not valid JSON: {0}")]
    Json(String),
}

/// One AES-256 key and its id.
struct SealingKey {
    kid: String,
    cipher: Aes256Gcm,
}

/// The configured secret keys; the first seals, all open.
pub struct SecretBox {
    keys: Vec<SealingKey>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("SecretBox").field("kids", &kids).finish()
    }
}

/// A connection's secrets in the clear. Sealed together as one JSON blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformCredentials {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// Meta: for `appsecret_proof`.
    pub app_secret: Option<Secret>,
    /// Google Ads.
    pub developer_token: Option<Secret>,
}

#[derive(Serialize, Deserialize)]
struct SealedCredentials {
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    developer_token: Option<String>,
}

/// The additional data that binds a sealed value to its row.
pub fn connection_aad(owner_id: &str, platform: &str, account_id: &str) -> String {
    format!("{owner_id}|{platform}|{account_id}")
}

impl SecretBox {
    /// From `kid1:BASE64,kid2:BASE64` (standard base64 of 32 bytes each); the first is active.
    pub fn from_spec(spec: &str) -> Result<Self, CryptoError> {
        let mut keys: Vec<SealingKey> = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (kid, encoded) = entry
                .split_once(':')
                .filter(|(kid, _)| !kid.is_empty())
                .ok_or_else(|| CryptoError::BadSpec(entry.chars().take(12).collect()))?;
            let bytes = STANDARD
                .decode(encoded.trim())
                .map_err(|_| CryptoError::BadSpec(format!("{kid}:...")))?;
            if bytes.len() != KEY_BYTES {
                return Err(CryptoError::BadKeyLength {
                    kid: kid.to_string(),
                    len: bytes.len(),
                });
            }
            if keys.iter().any(|k| k.kid == kid) {
                return Err(CryptoError::DuplicateKid(kid.to_string()));
            }
            keys.push(SealingKey {
                kid: kid.to_string(),
                cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
            });
        }
        if keys.is_empty() {
            return Err(CryptoError::NoKeys);
        }
        Ok(Self { keys })
    }

    /// A new random key as a one-entry spec, `kid:BASE64`.
    pub fn generate_spec(kid: &str) -> Secret {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Secret::new(format!("{kid}:{}", STANDARD.encode(bytes)))
    }

    /// The id of the key that seals.
    pub fn active_kid(&self) -> &str {
        &self.keys[0].kid
    }

    /// Seals `plaintext` under the active key, bound to `aad`. Returns the stored form.
    pub fn seal(&self, aad: &str, plaintext: &[u8]) -> String {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: aad.as_bytes(),
        };
        // AES-GCM encryption fails only for inputs beyond 64 GiB.
        let ciphertext = key
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("{FORMAT}:{}:{}", key.kid, STANDARD.encode(blob))
    }

    /// The key id a stored value was sealed under.
    pub fn kid_of(stored: &str) -> Result<&str, CryptoError> {
        let mut parts = stored.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(FORMAT), Some(kid), Some(_)) => Ok(kid),
            _ => Err(CryptoError::BadFormat),
        }
    }

    /// Opens a stored value sealed under any configured key, bound to `aad`.
    pub fn open(&self, aad: &str, stored: &str) -> Result<Vec<u8>, CryptoError> {
        let kid = Self::kid_of(stored)?;
        let encoded = &stored[FORMAT.len() + kid.len() + 2..];
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| CryptoError::UnknownKid(kid.to_string()))?;
        let blob = STANDARD
            .decode(encoded)
            .map_err(|_| CryptoError::BadFormat)?;
        if blob.len() < NONCE_BYTES {
            return Err(CryptoError::BadFormat);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_BYTES);
        let payload = Payload {
            msg: ciphertext,
            aad: aad.as_bytes(),
        };
        key.cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| CryptoError::Open)
    }

    /// Seals a connection's secrets for the row of (owner, platform, account). Returns the
    /// stored form and the key id it was sealed under.
    pub fn seal_credentials(
        &self,
        owner_id: &str,
        platform: &str,
        account_id: &str,
        credentials: &PlatformCredentials,
    ) -> (String, String) {
        let expose = |s: &Option<Secret>| s.as_ref().map(|s| s.expose().to_string());
        let blob = SealedCredentials {
            access_token: credentials.access_token.expose().to_string(),
            refresh_token: expose(&credentials.refresh_token),
            app_secret: expose(&credentials.app_secret),
            developer_token: expose(&credentials.developer_token),
        };
        // Four strings always serialize.
        let json = serde_json::to_vec(&blob).unwrap_or_default();
        let aad = connection_aad(owner_id, platform, account_id);
        (self.seal(&aad, &json), self.active_kid().to_string())
    }

    /// The secrets of a stored connection, in the clear.
    pub fn open_credentials(
        &self,
        row: &ConnectionRow,
    ) -> Result<PlatformCredentials, CryptoError> {
        let aad = connection_aad(&row.owner_id, &row.platform, &row.account_id);
        let json = self.open(&aad, &row.secret_ciphertext)?;
        let blob: SealedCredentials =
            serde_json::from_slice(&json).map_err(|e| CryptoError::Json(e.to_string()))?;
        Ok(PlatformCredentials {
            access_token: Secret::new(blob.access_token),
            refresh_token: blob.refresh_token.map(Secret::new),
            app_secret: blob.app_secret.map(Secret::new),
            developer_token: blob.developer_token.map(Secret::new),
        })
    }
}

/// What a rotation pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RotateReport {
    /// Rows now sealed under the active key.
    pub rotated: u64,
    /// Rows another writer changed meanwhile (that writer sealed them under the active key).
    pub skipped_changed: u64,
    /// Rows that did not open (their key is not configured, or they are damaged); named in
    /// the log and left as they are.
    pub failed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Re-seals every connection not under the active key. Each row is read, opened, sealed again
/// and written back only if its version is unchanged, so requests and token refreshes go on
/// meanwhile. `stop` is checked between rows.
pub async fn rotate(
    store: &Store,
    secrets: &SecretBox,
    stop: &tokio_util::sync::CancellationToken,
) -> Result<RotateReport, RotateError> {
    let mut report = RotateReport::default();
    let mut after = String::new();
    loop {
        let rows = store
            .connections_not_sealed_under(secrets.active_kid(), &after, ROTATE_BATCH)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(report);
        };
        after = last.id.clone();
        for row in rows {
            if stop.is_cancelled() {
                return Ok(report);
            }
            let credentials = match secrets.open_credentials(&row) {
                Ok(credentials) => credentials,
                Err(e) => {
                    tracing::warn!(connection = %row.id, error = %e, "cannot re-seal connection");
                    report.failed += 1;
                    continue;
                }
            };
            let (ciphertext, kid) = secrets.seal_credentials(
                &row.owner_id,
                &row.platform,
                &row.account_id,
                &credentials,
            );
            let resealed = ConnectionRow {
                secret_ciphertext: ciphertext,
                secret_key_id: kid,
                updated_at: now_ms(),
                ..row.clone()
            };
            if store
                .update_connection_secret(&resealed, row.version)
                .await?
            {
                report.rotated += 1;
            } else {
                report.skipped_changed += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kid: &str, byte: u8) -> String {
        format!("{kid}:{}", STANDARD.encode([byte; KEY_BYTES]))
    }

    #[test]
    fn seals_open_and_bind_their_row() {
        let secrets = SecretBox::from_spec(&spec("a", 1)).unwrap();
        let sealed = secrets.seal("o1|meta|123", b"token");
        assert!(sealed.starts_with("v1:a:"), "{sealed}");
        assert!(!sealed.contains("token"));
        assert_eq!(secrets.open("o1|meta|123", &sealed).unwrap(), b"token");
        // Another row's additional data: the tag does not verify.
        assert!(matches!(
            secrets.open("o2|meta|123", &sealed),
            Err(CryptoError::Open)
        ));
        // A fresh nonce each time.
        assert_ne!(secrets.seal("x", b"token"), secrets.seal("x", b"token"));
    }

    #[test]
    fn old_keys_open_and_unknown_keys_are_named() {
        let old = SecretBox::from_spec(&spec("a", 1)).unwrap();
        let sealed = old.seal("aad", b"t");
        let both = SecretBox::from_spec(&format!("{},{}", spec("b", 2), spec("a", 1))).unwrap();
        assert_eq!(both.active_kid(), "b");
        assert_eq!(both.open("aad", &sealed).unwrap(), b"t");
        let only_b = SecretBox::from_spec(&spec("b", 2)).unwrap();
        let err = only_b.open("aad", &sealed).unwrap_err();
        assert!(matches!(&err, CryptoError::UnknownKid(kid) if kid == "a"));
        assert!(err.to_string().contains("\"a\""), "{err}");
    }

    #[test]
    fn bad_specs_say_why() {
        assert!(matches!(SecretBox::from_spec(""), Err(CryptoError::NoKeys)));
        assert!(matches!(
            SecretBox::from_spec("nokey"),
            Err(CryptoError::BadSpec(_))
        ));
        assert!(matches!(
            SecretBox::from_spec(&format!("k:{}", STANDARD.encode([0u8; 16]))),
            Err(CryptoError::BadKeyLength { len: 16, .. })
        ));
        assert!(matches!(
            SecretBox::from_spec(&format!("{},{}", spec("a", 1), spec("a", 2))),
            Err(CryptoError::DuplicateKid(_))
        ));
        let generated = SecretBox::generate_spec("local");
        assert!(SecretBox::from_spec(generated.expose()).is_ok());
    }
}

//! Who a request acts for, and the secrets that prove it: API keys (generation, hashing,
//! lookup, the admin key installed on first start), users with argon2 passwords ([`password`],
//! [`users`]), JWT sessions ([`jwt`]), per-caller rate limits ([`ratelimit`]), platform
//! credentials sealed at rest ([`crypto`]) and Google token refresh ([`google`]).
//! [`AuthSettings`] gathers what the HTTP layer needs; the extractor lives in `api::extract`.
//! Keys are 190-bit random strings, so a plain SHA-256 is the right hash for them (no
//! stretching needed); passwords get argon2id. Only hashes are stored.

pub mod crypto;
pub mod google;
pub mod jwt;
pub mod password;
pub mod ratelimit;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use sha2::{Digest, Sha256};

use crate::secret::Secret;
use crate::store::{ApiKeyRow, Store, StoreError, now_ms};

pub use crypto::{CryptoError, PlatformCredentials, SecretBox};
pub use google::{GoogleOAuth, RefreshError, google_refresh};
pub use ratelimit::{RateLimit, RateLimiter};
pub use users::{bootstrap_first_user, login, setup_first_admin};

/// The owner of the keys made on first start.
pub const ADMIN_OWNER_ID: &str = "admin";
const KEY_PREFIX: &str = "adf_";
/// Keys shorter than this are refused (an `ADFORGE_API_KEY` like "test" would be guessable).
pub const MIN_KEY_LEN: usize = 16;

/// Who a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub owner_id: String,
    /// The API key used; `None` for a user's session and for the keyless loopback access of
    /// inference routes.
    pub key_id: Option<String>,
    /// The signed-in user, for a session token.
    pub user_id: Option<String>,
    pub is_admin: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("ADFORGE_API_KEY must be at least {MIN_KEY_LEN} characters")]
    KeyTooShort,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ADFORGE_JWT_SECRET: {0}")]
    Jwt(#[from] jwt::JwtError),
    #[error("ADFORGE_SECRET_KEYS: {0}")]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    #[error("{0}")]
    InvalidAdmin(String),
    #[error("password hashing thread failed: {0}")]
    Task(String),
    #[error("{context}: {source}")]
    KeyFile {
        context: String,
        source: std::io::Error,
    },
}

/// A new random key: `adf_` and 32 base-62 characters.
pub fn generate_key() -> Secret {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let body: String = (0..32)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    Secret::new(format!("{KEY_PREFIX}{body}"))
}

/// Hex SHA-256 of a key, as stored.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The first characters of a key, safe to show in lists.
pub fn display_prefix(key: &str) -> String {
    key.chars().take(8).collect()
}

/// The principal a presented key belongs to, if it is a live key.
pub async fn authenticate(store: &Store, presented: &str) -> Result<Option<Principal>, StoreError> {
    Ok(store
        .find_api_key(&hash_key(presented))
        .await?
        .map(|k| Principal {
            owner_id: k.owner_id,
            key_id: Some(k.key_id),
            user_id: None,
            is_admin: k.is_admin,
        }))
}

/// Makes sure an admin key exists. With `configured`, that key is installed (idempotently).
/// Without it and with no live key at all, a key is generated and returned so the caller can
/// show it once; it cannot be recovered later.
pub async fn bootstrap_admin_key(
    store: &Store,
    configured: Option<&Secret>,
) -> Result<Option<Secret>, AuthError> {
    let now = now_ms();
    store.ensure_owner(ADMIN_OWNER_ID, "admin", now).await?;
    let (key, generated) = match configured {
        Some(key) if key.expose().len() < MIN_KEY_LEN => return Err(AuthError::KeyTooShort),
        Some(key) => (key.clone(), false),
        None if store.count_live_api_keys().await? > 0 => return Ok(None),
        None => (generate_key(), true),
    };
    let row = ApiKeyRow {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: ADMIN_OWNER_ID.to_string(),
        name: if generated {
            "first-start"
        } else {
            "ADFORGE_API_KEY"
        }
        .to_string(),
        prefix: display_prefix(key.expose()),
        is_admin: true,
        created_at: now,
        revoked_at: None,
    };
    store.insert_api_key(&row, &hash_key(key.expose())).await?;
    Ok(generated.then_some(key))
}

/// What the HTTP layer needs to authenticate callers and guard their secrets.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    pub jwt_key: Arc<jwt::JwtKey>,
    /// How long a session token from `/api/auth/login` is valid.
    pub token_lifetime: Duration,
    pub secrets: Arc<SecretBox>,
    pub rate_limiter: Arc<RateLimiter>,
}

/// What the command line says of keys, sessions and rate limits, resolved by `config`.
#[derive(Clone, Debug)]
pub struct AuthOptions {
    /// HMAC key of session tokens; `None`: the key kept in DATA_DIR/jwt.key.
    pub jwt_secret: Option<Secret>,
    /// Keys that seal platform credentials; `None`: the key kept in DATA_DIR/secret.key.
    pub secret_keys: Option<Secret>,
    pub token_lifetime: Duration,
    pub rate_limit: RateLimit,
}

/// Most callers whose rate-limit buckets are kept at once.
pub const MAX_RATE_BUCKETS: usize = 100_000;

impl AuthSettings {
    pub fn new(
        jwt_key: jwt::JwtKey,
        token_lifetime: Duration,
        secrets: SecretBox,
        limit: RateLimit,
    ) -> Self {
        Self {
            jwt_key: Arc::new(jwt_key),
            token_lifetime,
            secrets: Arc::new(secrets),
            rate_limiter: Arc::new(RateLimiter::new(limit, MAX_RATE_BUCKETS)),
        }
    }

    /// From the resolved options (`config::AuthArgs::options`); keys not given are read from
    /// (or first made in) `data_dir`.
    pub fn from_options(args: &AuthOptions, data_dir: &Path) -> Result<Self, AuthError> {
        let jwt_key = match &args.jwt_secret {
            Some(secret) => jwt::JwtKey::new(secret.expose().as_bytes().to_vec())?,
            None => {
                let encoded = key_file(&data_dir.join("jwt.key"), || {
                    let mut bytes = [0u8; 32];
                    rand::rng().fill(&mut bytes);
                    Secret::new(hex::encode(bytes))
                })?;
                jwt::JwtKey::new(encoded.expose().as_bytes().to_vec())?
            }
        };
        Ok(Self::new(
            jwt_key,
            args.token_lifetime,
            secret_box(args.secret_keys.as_ref(), data_dir)?,
            args.rate_limit,
        ))
    }
}

/// The keys that seal platform credentials: `ADFORGE_SECRET_KEYS`, or the key kept in
/// DATA_DIR/secret.key (made on first start).
pub fn secret_box(keys: Option<&Secret>, data_dir: &Path) -> Result<SecretBox, AuthError> {
    let spec = match keys {
        Some(spec) => spec.clone(),
        None => key_file(&data_dir.join("secret.key"), || {
            SecretBox::generate_spec("local")
        })?,
    };
    Ok(SecretBox::from_spec(spec.expose())?)
}

/// The contents of the key file at `path`; on first use, `make`'s value is written there,
/// readable by this user only.
fn key_file(path: &PathBuf, make: impl FnOnce() -> Secret) -> Result<Secret, AuthError> {
    let failed = |what: &str| {
        let context = format!("{what} {}", path.display());
        move |source| AuthError::KeyFile { context, source }
    };
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok(Secret::new(text.trim())),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed("reading")(e)),
        Err(_) => {}
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed("creating the folder of"))?;
    }
    let value = make();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(failed("creating"))?;
    std::io::Write::write_all(&mut file, value.expose().as_bytes()).map_err(failed("writing"))?;
    tracing::info!(path = %path.display(), "created a new random key file; keep it with the data (and back it up)");
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k").join("secret.key");
        let first = key_file(&path, || Secret::new("one")).unwrap();
        let again = key_file(&path, || Secret::new("two")).unwrap();
        assert_eq!((first.expose(), again.expose()), ("one", "one"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn keys_are_random_and_hash_stably() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert!(a.expose().starts_with("adf_") && a.expose().len() == 36);
        assert_eq!(hash_key("abc"), hash_key("abc"));
        // sha256("abc"), the FIPS 180-2 test vector.
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

//! API keys: generation, hashing and lookup, and the admin key installed on first start.
//! Keys are 160-bit random strings, so a plain SHA-256 is the right hash (no password
//! stretching needed); only the hash is stored. The HTTP extractor lives in `api::auth`.

use rand::Rng;
use sha2::{Digest, Sha256};

use crate::config::Secret;
use crate::store::{ApiKeyRow, Store, StoreError, now_ms};

/// The owner of the keys made on first start.
pub const ADMIN_OWNER_ID: &str = "admin";
const KEY_PREFIX: &str = "adf_";
/// Keys shorter than this are refused (an `ADFORGE_API_KEY` like "test" would be guessable).
pub const MIN_KEY_LEN: usize = 16;

/// Who a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub owner_id: String,
    /// `None` for the keyless loopback access of inference routes.
    pub key_id: Option<String>,
    pub is_admin: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("ADFORGE_API_KEY must be at least {MIN_KEY_LEN} characters")]
    KeyTooShort,
    #[error(transparent)]
    Store(#[from] StoreError),
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

#[cfg(test)]
mod tests {
    use super::*;

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

//! Owners and their API keys. Only a key's SHA-256 is stored (keys are looked up by it), with
//! the key's first characters as a prefix to show; the secret itself is shown once, when made.

use sqlx::Row;

use super::{Store, StoreResult};

/// The owner a presented key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub key_id: String,
    pub owner_id: String,
    pub is_admin: bool,
    pub hash: String,
}

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub prefix: String,
    pub is_admin: bool,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl Store {
    /// Creates the owner if it does not exist yet.
    pub async fn ensure_owner(&self, id: &str, name: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO owners (id, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(name)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Stores a key (its hash). Returns false when a key with this hash already exists.
    pub async fn insert_api_key(&self, key: &ApiKeyRow, hash: &str) -> StoreResult<bool> {
        let inserted = sqlx::query(
            "INSERT INTO api_keys (id, owner_id, name, prefix, hash, is_admin, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&key.id)
        .bind(&key.owner_id)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(hash)
        .bind(i64::from(key.is_admin))
        .bind(key.created_at)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    /// The live (not revoked) key whose SHA-256 is `hash`.
    pub async fn find_api_key(&self, hash: &str) -> StoreResult<Option<KeyOwner>> {
        let row = sqlx::query(
            "SELECT id, owner_id, is_admin, hash FROM api_keys \
             WHERE hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(KeyOwner {
                key_id: row.try_get("id")?,
                owner_id: row.try_get("owner_id")?,
                is_admin: row.try_get::<i64, _>("is_admin")? != 0,
                hash: row.try_get("hash")?,
            })
        })
        .transpose()
    }

    /// Number of live keys; zero on a fresh install.
    pub async fn count_live_api_keys(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// The owner's keys (live and revoked), newest first; never their hashes.
    pub async fn list_api_keys(&self, owner_id: &str) -> StoreResult<Vec<ApiKeyRow>> {
        let rows = sqlx::query(
            "SELECT id, owner_id, name, prefix, is_admin, created_at, revoked_at FROM api_keys \
             WHERE owner_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(owner_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ApiKeyRow {
                    id: row.try_get("id")?,
                    owner_id: row.try_get("owner_id")?,
                    name: row.try_get("name")?,
                    prefix: row.try_get("prefix")?,
                    is_admin: row.try_get::<i64, _>("is_admin")? != 0,
                    created_at: row.try_get("created_at")?,
                    revoked_at: row.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Revokes the owner's key `id` (idempotently). Returns false when the owner has no such key.
    pub async fn revoke_api_key(&self, owner_id: &str, id: &str, now: i64) -> StoreResult<bool> {
        let found = sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) \
             WHERE id = $2 AND owner_id = $3",
        )
        .bind(now)
        .bind(id)
        .bind(owner_id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(found == 1)
    }
}

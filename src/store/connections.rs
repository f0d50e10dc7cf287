//! Ad-platform connections: an owner's account on Meta, Google or TikTok with its currency, time
//! zone and the ids a creative needs, and its tokens as one sealed blob (`secret_ciphertext`,
//! sealed under the key `secret_key_id`; sealing is `auth::crypto`'s). Every query an API route
//! makes is scoped to the owner; the rotation scan alone reads across owners. Writes are
//! version-checked, so a key rotation and a token refresh never overwrite each other.

use sqlx::Row;

use super::{Store, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRow {
    pub id: String,
    pub owner_id: String,
    /// `meta`, `google` or `tiktok`.
    pub platform: String,
    pub account_id: String,
    /// ISO 4217, upper case.
    pub currency: String,
    /// An IANA time zone name: the account's reporting days.
    pub time_zone: String,
    /// Meta: the page the ads speak as.
    pub page_id: Option<String>,
    /// TikTok: the identity the ads speak as.
    pub identity_id: Option<String>,
    /// Google: the customer (digits only) and the manager acting for it.
    pub customer_id: Option<String>,
    pub login_customer_id: Option<String>,
    /// `v1:<kid>:<base64(nonce || ciphertext)>`.
    pub secret_ciphertext: String,
    pub secret_key_id: String,
    /// Unix ms when the access token expires, where the platform said.
    pub token_expires_at: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `$head`, every column in table order, then `$tail`: one static SQL string.
macro_rules! with_columns {
    ($head:literal, $tail:literal) => {
        concat!(
            $head,
            "id, owner_id, platform, account_id, currency, time_zone, page_id, identity_id, \
             customer_id, login_customer_id, secret_ciphertext, secret_key_id, token_expires_at, \
             version, created_at, updated_at",
            $tail
        )
    };
}

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<ConnectionRow> {
    Ok(ConnectionRow {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        platform: row.try_get("platform")?,
        account_id: row.try_get("account_id")?,
        currency: row.try_get("currency")?,
        time_zone: row.try_get("time_zone")?,
        page_id: row.try_get("page_id")?,
        identity_id: row.try_get("identity_id")?,
        customer_id: row.try_get("customer_id")?,
        login_customer_id: row.try_get("login_customer_id")?,
        secret_ciphertext: row.try_get("secret_ciphertext")?,
        secret_key_id: row.try_get("secret_key_id")?,
        token_expires_at: row.try_get("token_expires_at")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Stores a new connection. Returns false when the owner has this platform account already.
    pub async fn insert_connection(&self, row: &ConnectionRow) -> StoreResult<bool> {
        let inserted = sqlx::query(with_columns!(
            "INSERT INTO platform_connections (",
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (owner_id, platform, account_id) DO NOTHING"
        ))
        .bind(&row.id)
        .bind(&row.owner_id)
        .bind(&row.platform)
        .bind(&row.account_id)
        .bind(&row.currency)
        .bind(&row.time_zone)
        .bind(row.page_id.as_deref())
        .bind(row.identity_id.as_deref())
        .bind(row.customer_id.as_deref())
        .bind(row.login_customer_id.as_deref())
        .bind(&row.secret_ciphertext)
        .bind(&row.secret_key_id)
        .bind(row.token_expires_at)
        .bind(row.version)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    /// Writes every field of `row` but its id, owner, platform, account and creation time, if
    /// the stored version is `expected`; the version becomes `expected + 1`. Returns whether
    /// it wrote.
    pub async fn update_connection(&self, row: &ConnectionRow, expected: i64) -> StoreResult<bool> {
        let written = sqlx::query(
            "UPDATE platform_connections SET currency = $1, time_zone = $2, page_id = $3, \
             identity_id = $4, customer_id = $5, login_customer_id = $6, secret_ciphertext = $7, \
             secret_key_id = $8, token_expires_at = $9, version = $10, updated_at = $11 \
             WHERE id = $12 AND owner_id = $13 AND version = $14",
        )
        .bind(&row.currency)
        .bind(&row.time_zone)
        .bind(row.page_id.as_deref())
        .bind(row.identity_id.as_deref())
        .bind(row.customer_id.as_deref())
        .bind(row.login_customer_id.as_deref())
        .bind(&row.secret_ciphertext)
        .bind(&row.secret_key_id)
        .bind(row.token_expires_at)
        .bind(expected + 1)
        .bind(row.updated_at)
        .bind(&row.id)
        .bind(&row.owner_id)
        .bind(expected)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(written == 1)
    }

    /// Replaces only the sealed secret (and the token expiry) if the stored version is
    /// `expected`; the version becomes `expected + 1`. Returns whether it wrote.
    pub async fn update_connection_secret(
        &self,
        row: &ConnectionRow,
        expected: i64,
    ) -> StoreResult<bool> {
        let written = sqlx::query(
            "UPDATE platform_connections SET secret_ciphertext = $1, secret_key_id = $2, \
             token_expires_at = $3, version = $4, updated_at = $5 \
             WHERE id = $6 AND owner_id = $7 AND version = $8",
        )
        .bind(&row.secret_ciphertext)
        .bind(&row.secret_key_id)
        .bind(row.token_expires_at)
        .bind(expected + 1)
        .bind(row.updated_at)
        .bind(&row.id)
        .bind(&row.owner_id)
        .bind(expected)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(written == 1)
    }

    pub async fn get_connection(
        &self,
        owner_id: &str,
        id: &str,
    ) -> StoreResult<Option<ConnectionRow>> {
        let row = sqlx::query(with_columns!(
            "SELECT ",
            " FROM platform_connections WHERE id = $1 AND owner_id = $2"
        ))
        .bind(id)
        .bind(owner_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The owner's connection to this platform account.
    pub async fn connection_by_account(
        &self,
        owner_id: &str,
        platform: &str,
        account_id: &str,
    ) -> StoreResult<Option<ConnectionRow>> {
        let row = sqlx::query(with_columns!(
            "SELECT ",
            " FROM platform_connections \
             WHERE owner_id = $1 AND platform = $2 AND account_id = $3"
        ))
        .bind(owner_id)
        .bind(platform)
        .bind(account_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The owner's connections to `platform`, newest first.
    pub async fn list_connections(
        &self,
        owner_id: &str,
        platform: &str,
    ) -> StoreResult<Vec<ConnectionRow>> {
        let rows = sqlx::query(with_columns!(
            "SELECT ",
            " FROM platform_connections WHERE owner_id = $1 AND platform = $2 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(owner_id)
        .bind(platform)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The owner's newest connection to `platform`: the account a deployment uses.
    pub async fn platform_connection(
        &self,
        owner_id: &str,
        platform: &str,
    ) -> StoreResult<Option<ConnectionRow>> {
        let row = sqlx::query(with_columns!(
            "SELECT ",
            " FROM platform_connections WHERE owner_id = $1 AND platform = $2 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        ))
        .bind(owner_id)
        .bind(platform)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Deletes the owner's connection `id` to `platform`. Returns whether one was deleted.
    pub async fn delete_connection(
        &self,
        owner_id: &str,
        platform: &str,
        id: &str,
    ) -> StoreResult<bool> {
        let deleted = sqlx::query(
            "DELETE FROM platform_connections WHERE id = $1 AND owner_id = $2 AND platform = $3",
        )
        .bind(id)
        .bind(owner_id)
        .bind(platform)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(deleted == 1)
    }

    /// For key rotation, across owners: up to `limit` connections sealed under any key but
    /// `active_kid`, with ids after `after_id`, in id order.
    pub async fn connections_not_sealed_under(
        &self,
        active_kid: &str,
        after_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<ConnectionRow>> {
        let rows = sqlx::query(with_columns!(
            "SELECT ",
            " FROM platform_connections WHERE secret_key_id <> $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        ))
        .bind(active_kid)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }
}

//! Creative rows: one ad's copy and its rendered assets (by format), linked to a campaign and a
//! platform. Listing is by campaign, newest first, by a (created_at, id) cursor; writes are
//! version-checked like campaigns. Every query is scoped to the owner.

use serde_json::Value;
use sqlx::Row;

use super::campaigns::Versioned;
use super::{Store, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq)]
pub struct CreativeRow {
    pub id: String,
    pub owner_id: String,
    pub campaign_id: String,
    /// meta, google, tiktok or sandbox.
    pub platform: String,
    pub name: String,
    /// `{headline, primary_text, description, call_to_action}`.
    pub copy: Value,
    /// Format id (or `video:<format id>`) -> asset id.
    pub assets: Value,
    /// `draft`, `rendering`, `ready`, `approved`, `paused`, `rejected`.
    pub status: String,
    /// The job that made it, if any.
    pub job_id: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct CreativeFilter {
    pub campaign_id: Option<String>,
    pub platform: Option<String>,
    pub status: Option<String>,
    pub limit: i64,
    pub before: Option<(i64, String)>,
}

macro_rules! creative_columns {
    ($head:literal, $tail:literal) => {
        concat!(
            $head,
            "id, owner_id, campaign_id, platform, name, copy, assets, status, job_id, version, \
             created_at, updated_at",
            $tail
        )
    };
}

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<CreativeRow> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("creative row: {e}"));
    let copy: String = row.try_get("copy")?;
    let assets: String = row.try_get("assets")?;
    Ok(CreativeRow {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        campaign_id: row.try_get("campaign_id")?,
        platform: row.try_get("platform")?,
        name: row.try_get("name")?,
        copy: serde_json::from_str(&copy).map_err(corrupt)?,
        assets: serde_json::from_str(&assets).map_err(corrupt)?,
        status: row.try_get("status")?,
        job_id: row.try_get("job_id")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Inserts a creative; false when a creative with this id exists already (a retried job
    /// writes the same ids).
    pub async fn insert_creative(&self, row: &CreativeRow) -> StoreResult<bool> {
        let done = sqlx::query(creative_columns!(
            "INSERT INTO creatives (",
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (id) DO NOTHING"
        ))
        .bind(&row.id)
        .bind(&row.owner_id)
        .bind(&row.campaign_id)
        .bind(&row.platform)
        .bind(&row.name)
        .bind(row.copy.to_string())
        .bind(row.assets.to_string())
        .bind(&row.status)
        .bind(row.job_id.as_deref())
        .bind(row.version)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn get_creative(&self, owner_id: &str, id: &str) -> StoreResult<Option<CreativeRow>> {
        let row = sqlx::query(creative_columns!(
            "SELECT ",
            " FROM creatives WHERE id = $1 AND owner_id = $2"
        ))
        .bind(id)
        .bind(owner_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The owner's creatives, newest first.
    pub async fn list_creatives(
        &self,
        owner_id: &str,
        filter: &CreativeFilter,
    ) -> StoreResult<Vec<CreativeRow>> {
        let (before_at, before_id) = match &filter.before {
            Some((at, id)) => (Some(*at), Some(id.as_str())),
            None => (None, None),
        };
        let rows = sqlx::query(creative_columns!(
            "SELECT ",
            " FROM creatives WHERE owner_id = $1 \
             AND ($2 IS NULL OR campaign_id = $2) \
             AND ($3 IS NULL OR platform = $3) \
             AND ($4 IS NULL OR status = $4) \
             AND ($5 IS NULL OR created_at < $5 OR (created_at = $5 AND id < $6)) \
             ORDER BY created_at DESC, id DESC LIMIT $7"
        ))
        .bind(owner_id)
        .bind(filter.campaign_id.as_deref())
        .bind(filter.platform.as_deref())
        .bind(filter.status.as_deref())
        .bind(before_at)
        .bind(before_id)
        .bind(filter.limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Writes name, copy, assets and status if the stored version is `expected`.
    pub async fn update_creative(
        &self,
        row: &CreativeRow,
        expected: i64,
    ) -> StoreResult<Versioned<CreativeRow>> {
        let result = sqlx::query(
            "UPDATE creatives SET name = $1, copy = $2, assets = $3, status = $4, version = $5, \
             updated_at = $6 WHERE id = $7 AND owner_id = $8 AND version = $9",
        )
        .bind(&row.name)
        .bind(row.copy.to_string())
        .bind(row.assets.to_string())
        .bind(&row.status)
        .bind(expected + 1)
        .bind(row.updated_at)
        .bind(&row.id)
        .bind(&row.owner_id)
        .bind(expected)
        .execute(self.pool())
        .await?;
        if result.rows_affected() == 1 {
            return Ok(Versioned::Done(CreativeRow {
                version: expected + 1,
                ..row.clone()
            }));
        }
        Ok(match self.get_creative(&row.owner_id, &row.id).await? {
            Some(current) => Versioned::Stale {
                current: current.version,
            },
            None => Versioned::NotFound,
        })
    }

    /// Deletes a creative (at `expected` when given).
    pub async fn delete_creative(
        &self,
        owner_id: &str,
        id: &str,
        expected: Option<i64>,
    ) -> StoreResult<Versioned<()>> {
        let result = sqlx::query(
            "DELETE FROM creatives WHERE id = $1 AND owner_id = $2 AND ($3 IS NULL OR version = $3)",
        )
        .bind(id)
        .bind(owner_id)
        .bind(expected)
        .execute(self.pool())
        .await?;
        if result.rows_affected() == 1 {
            return Ok(Versioned::Done(()));
        }
        Ok(match self.get_creative(owner_id, id).await? {
            Some(current) => Versioned::Stale {
                current: current.version,
            },
            None => Versioned::NotFound,
        })
    }
}

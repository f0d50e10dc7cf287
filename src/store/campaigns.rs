//! Campaign rows: insert, read, list (newest first, by a (created_at, id) cursor, filtered by
//! status and platform), and version-checked update and delete. Every query is scoped to the
//! owner. Validation is the API's; this module stores what it is given.

use sqlx::Row;

use super::{Store, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRow {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub objective: String,
    pub status: String,
    pub currency: String,
    pub daily_budget_micros: i64,
    pub start_date: String,
    pub end_date: Option<String>,
    /// Platform names.
    pub platforms: Vec<String>,
    pub brief: Option<serde_json::Value>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Filters for listing campaigns.
#[derive(Debug, Clone, Default)]
pub struct CampaignFilter {
    pub status: Option<String>,
    pub platform: Option<String>,
    pub limit: i64,
    /// Only campaigns strictly older than this (created_at, id) pair.
    pub before: Option<(i64, String)>,
}

/// What a version-checked write found.
#[derive(Debug, Clone, PartialEq)]
pub enum Versioned<T> {
    Done(T),
    /// The row is at another version now.
    Stale {
        current: i64,
    },
    NotFound,
}

/// `$head`, the columns in table order, then `$tail`: one static SQL string.
macro_rules! with_columns {
    ($head:literal, $tail:literal) => {
        concat!(
            $head,
            "id, owner_id, name, objective, status, currency, daily_budget_micros, start_date, \
             end_date, platforms, brief, version, created_at, updated_at",
            $tail
        )
    };
}

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<CampaignRow> {
    let platforms: String = row.try_get("platforms")?;
    let brief: Option<String> = row.try_get("brief")?;
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("campaign row: {e}"));
    Ok(CampaignRow {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        name: row.try_get("name")?,
        objective: row.try_get("objective")?,
        status: row.try_get("status")?,
        currency: row.try_get("currency")?,
        daily_budget_micros: row.try_get("daily_budget_micros")?,
        start_date: row.try_get("start_date")?,
        end_date: row.try_get("end_date")?,
        platforms: serde_json::from_str(&platforms).map_err(corrupt)?,
        brief: brief
            .map(|b| serde_json::from_str(&b))
            .transpose()
            .map_err(corrupt)?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

impl Store {
    pub async fn insert_campaign(&self, row: &CampaignRow) -> StoreResult<()> {
        let mut conn = self.pool().acquire().await?;
        insert_campaign_in(&mut conn, row).await
    }

    pub async fn get_campaign(&self, owner_id: &str, id: &str) -> StoreResult<Option<CampaignRow>> {
        let row = sqlx::query(with_columns!(
            "SELECT ",
            " FROM campaigns WHERE id = $1 AND owner_id = $2"
        ))
        .bind(id)
        .bind(owner_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The owner's campaigns, newest first.
    pub async fn list_campaigns(
        &self,
        owner_id: &str,
        filter: &CampaignFilter,
    ) -> StoreResult<Vec<CampaignRow>> {
        let (before_at, before_id) = match &filter.before {
            Some((at, id)) => (Some(*at), Some(id.as_str())),
            None => (None, None),
        };
        let platform = filter.platform.as_ref().map(|p| format!("%\"{p}\"%"));
        let rows = sqlx::query(with_columns!(
            "SELECT ",
            " FROM campaigns WHERE owner_id = $1 \
             AND ($2 IS NULL OR status = $2) \
             AND ($3 IS NULL OR platforms LIKE $3) \
             AND ($4 IS NULL OR created_at < $4 OR (created_at = $4 AND id < $5)) \
             ORDER BY created_at DESC, id DESC LIMIT $6"
        ))
        .bind(owner_id)
        .bind(filter.status.as_deref())
        .bind(platform.as_deref())
        .bind(before_at)
        .bind(before_id)
        .bind(filter.limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Writes `row` (its fields, not its id or owner) if the stored version is `expected`; the
    /// version becomes `expected + 1`.
    pub async fn update_campaign(
        &self,
        row: &CampaignRow,
        expected: i64,
    ) -> StoreResult<Versioned<CampaignRow>> {
        let result = sqlx::query(
            "UPDATE campaigns SET name = $1, objective = $2, status = $3, currency = $4, \
             daily_budget_micros = $5, start_date = $6, end_date = $7, platforms = $8, \
             brief = $9, version = $10, updated_at = $11 \
             WHERE id = $12 AND owner_id = $13 AND version = $14",
        )
        .bind(&row.name)
        .bind(&row.objective)
        .bind(&row.status)
        .bind(&row.currency)
        .bind(row.daily_budget_micros)
        .bind(&row.start_date)
        .bind(row.end_date.as_deref())
        .bind(json(&row.platforms))
        .bind(row.brief.as_ref().map(json))
        .bind(expected + 1)
        .bind(row.updated_at)
        .bind(&row.id)
        .bind(&row.owner_id)
        .bind(expected)
        .execute(self.pool())
        .await?;
        if result.rows_affected() == 1 {
            return Ok(Versioned::Done(CampaignRow {
                version: expected + 1,
                ..row.clone()
            }));
        }
        self.stale_or_missing(&row.owner_id, &row.id).await
    }

    /// Deletes the campaign if it is at version `expected` (any version when `None`).
    pub async fn delete_campaign(
        &self,
        owner_id: &str,
        id: &str,
        expected: Option<i64>,
    ) -> StoreResult<Versioned<()>> {
        let result = sqlx::query(
            "DELETE FROM campaigns WHERE id = $1 AND owner_id = $2 AND ($3 IS NULL OR version = $3)",
        )
        .bind(id)
        .bind(owner_id)
        .bind(expected)
        .execute(self.pool())
        .await?;
        if result.rows_affected() == 1 {
            return Ok(Versioned::Done(()));
        }
        self.stale_or_missing(owner_id, id).await
    }

    async fn stale_or_missing<T>(&self, owner_id: &str, id: &str) -> StoreResult<Versioned<T>> {
        Ok(match self.get_campaign(owner_id, id).await? {
            Some(current) => Versioned::Stale {
                current: current.version,
            },
            None => Versioned::NotFound,
        })
    }
}

/// Inserts a campaign on a connection (or inside a transaction).
pub(crate) async fn insert_campaign_in(
    conn: &mut sqlx::AnyConnection,
    row: &CampaignRow,
) -> StoreResult<()> {
    sqlx::query(with_columns!(
        "INSERT INTO campaigns (",
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(&row.id)
    .bind(&row.owner_id)
    .bind(&row.name)
    .bind(&row.objective)
    .bind(&row.status)
    .bind(&row.currency)
    .bind(row.daily_budget_micros)
    .bind(&row.start_date)
    .bind(row.end_date.as_deref())
    .bind(json(&row.platforms))
    .bind(row.brief.as_ref().map(json))
    .bind(row.version)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

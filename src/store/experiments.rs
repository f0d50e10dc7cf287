//! Experiments recorded against a campaign: their counts as JSON, as the client sent them
//! (validated by the API), read back whole for the campaign's summary.

use sqlx::Row;

use super::{Store, StoreResult};

#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentRow {
    pub id: String,
    pub owner_id: String,
    pub campaign_id: String,
    pub name: String,
    pub data: serde_json::Value,
    pub created_at: i64,
}

/// Experiments of one campaign at most (the summary reads them all).
pub const MAX_EXPERIMENTS_PER_CAMPAIGN: i64 = 100;

impl Store {
    pub async fn insert_experiment(&self, row: &ExperimentRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO experiments (id, owner_id, campaign_id, name, data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.id)
        .bind(&row.owner_id)
        .bind(&row.campaign_id)
        .bind(&row.name)
        .bind(row.data.to_string())
        .bind(row.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn count_experiments(&self, owner_id: &str, campaign_id: &str) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM experiments WHERE owner_id = $1 AND campaign_id = $2",
        )
        .bind(owner_id)
        .bind(campaign_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }

    /// A campaign's experiments, oldest first.
    pub async fn campaign_experiments(
        &self,
        owner_id: &str,
        campaign_id: &str,
    ) -> StoreResult<Vec<ExperimentRow>> {
        let rows = sqlx::query(
            "SELECT id, owner_id, campaign_id, name, data, created_at FROM experiments \
             WHERE owner_id = $1 AND campaign_id = $2 ORDER BY created_at, id LIMIT $3",
        )
        .bind(owner_id)
        .bind(campaign_id)
        .bind(MAX_EXPERIMENTS_PER_CAMPAIGN)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let data: String = row.try_get("data")?;
                Ok(ExperimentRow {
                    id: row.try_get("id")?,
                    owner_id: row.try_get("owner_id")?,
                    campaign_id: row.try_get("campaign_id")?,
                    name: row.try_get("name")?,
                    data: serde_json::from_str(&data)
                        .map_err(|e| super::StoreError::Corrupt(e.to_string()))?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}

//! Deployments of a campaign to a platform, and their ledger of platform ids (what makes a
//! deployment idempotent).

use sqlx::Row;

use super::*;
use crate::store::{Store, StoreResult};

impl Store {
    // ---- deployments -------------------------------------------------------------------

    /// Creates the deployment of a campaign to a platform, or returns the existing one (one
    /// per campaign and platform). The bool is true when it was created now.
    pub async fn create_or_get_deployment(
        &self,
        row: &DeploymentRow,
    ) -> StoreResult<(DeploymentRow, bool)> {
        let done = sqlx::query(concat!(
            "INSERT INTO deployments (", cols!(deployment), ") VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (campaign_id, platform) DO NOTHING"
        ))
        .bind(&row.id)
        .bind(&row.owner_id)
        .bind(&row.campaign_id)
        .bind(&row.platform)
        .bind(&row.status)
        .bind(row.job_id.as_deref())
        .bind(row.error.as_deref())
        .bind(row.version)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(self.pool())
        .await?;
        let created = done.rows_affected() == 1;
        let existing = sqlx::query(concat!(
            "SELECT ",
            cols!(deployment),
            " FROM deployments WHERE campaign_id = $1 AND platform = $2 \
             AND owner_id = $3"
        ))
        .bind(&row.campaign_id)
        .bind(&row.platform)
        .bind(&row.owner_id)
        .fetch_one(self.pool())
        .await?;
        Ok((deployment_from(&existing)?, created))
    }

    pub async fn get_deployment(
        &self,
        owner_id: &str,
        id: &str,
    ) -> StoreResult<Option<DeploymentRow>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            cols!(deployment),
            " FROM deployments WHERE id = $1 AND owner_id = $2"
        ))
        .bind(id)
        .bind(owner_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(deployment_from).transpose()
    }

    /// The owner's deployments, newest first, optionally of one campaign.
    pub async fn list_deployments(
        &self,
        owner_id: &str,
        campaign_id: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<DeploymentRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            cols!(deployment),
            " FROM deployments WHERE owner_id = $1 \
             AND ($2 IS NULL OR campaign_id = $2) ORDER BY created_at DESC, id DESC \
             LIMIT $3 OFFSET $4"
        ))
        .bind(owner_id)
        .bind(campaign_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(deployment_from).collect()
    }

    /// Sets a deployment's status (and error, and job), bumping its version.
    pub async fn set_deployment_status(
        &self,
        owner_id: &str,
        id: &str,
        status: &str,
        error: Option<&str>,
        job_id: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE deployments SET status = $1, error = $2, job_id = COALESCE($3, job_id), \
             version = version + 1, updated_at = $4 WHERE id = $5 AND owner_id = $6",
        )
        .bind(status)
        .bind(error)
        .bind(job_id)
        .bind(now)
        .bind(id)
        .bind(owner_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a deployment record (not the platform's objects) with its ledger and metrics.
    pub async fn delete_deployment(&self, owner_id: &str, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        for statement in [
            "DELETE FROM metrics WHERE deployment_id = $1 AND owner_id = $2",
            "DELETE FROM deployment_objects WHERE deployment_id = $1 AND owner_id = $2",
        ] {
            sqlx::query(statement)
                .bind(id)
                .bind(owner_id)
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query("DELETE FROM deployments WHERE id = $1 AND owner_id = $2")
            .bind(id)
            .bind(owner_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- the ledger --------------------------------------------------------------------

    /// The platform id recorded for (deployment, kind, local id), if that object was made.
    pub async fn ledger_get(
        &self,
        deployment_id: &str,
        kind: &str,
        local_id: &str,
    ) -> StoreResult<Option<String>> {
        let row = sqlx::query(
            "SELECT external_id FROM deployment_objects WHERE deployment_id = $1 AND kind = $2 \
             AND local_id = $3",
        )
        .bind(deployment_id)
        .bind(kind)
        .bind(local_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| r.try_get("external_id").map_err(StoreError::from))
            .transpose()
    }

    /// Records a platform id. The first record wins: the id stored is returned.
    pub async fn ledger_put(
        &self,
        deployment: &DeploymentRow,
        kind: &str,
        local_id: &str,
        external_id: &str,
        now: i64,
    ) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO deployment_objects (deployment_id, owner_id, platform, kind, local_id, \
             external_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (deployment_id, kind, local_id) DO NOTHING",
        )
        .bind(&deployment.id)
        .bind(&deployment.owner_id)
        .bind(&deployment.platform)
        .bind(kind)
        .bind(local_id)
        .bind(external_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(self
            .ledger_get(&deployment.id, kind, local_id)
            .await?
            .unwrap_or_else(|| external_id.to_string()))
    }

    /// Every object of a deployment, in the order they were made.
    pub async fn ledger(&self, owner_id: &str, deployment_id: &str) -> StoreResult<Vec<LedgerRow>> {
        let rows = sqlx::query(
            "SELECT kind, local_id, external_id FROM deployment_objects WHERE deployment_id = $1 \
             AND owner_id = $2 ORDER BY created_at, kind, local_id",
        )
        .bind(deployment_id)
        .bind(owner_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LedgerRow {
                    kind: r.try_get("kind")?,
                    local_id: r.try_get("local_id")?,
                    external_id: r.try_get("external_id")?,
                })
            })
            .collect()
    }
}

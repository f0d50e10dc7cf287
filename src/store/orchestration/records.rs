//! What the loop records as it runs: daily metrics per ad, agent runs (planner, optimizer) and
//! the actions they propose, with their decisions.

use serde_json::Value;

use super::*;
use crate::store::{Store, StoreResult};

impl Store {
    // ---- metrics -----------------------------------------------------------------------

    /// Writes ad-days (a later sync of the same day replaces the row: platforms revise).
    pub async fn upsert_metrics(&self, rows: &[MetricRow], now: i64) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        for m in rows {
            sqlx::query(concat!(
                "INSERT INTO metrics (",
                cols!(metric),
                ", updated_at) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (deployment_id, ad_external_id, day) DO UPDATE SET \
                 impressions = $8, clicks = $9, spend_micros = $10, conversions = $11, \
                 revenue_micros = $12, updated_at = $13"
            ))
            .bind(&m.deployment_id)
            .bind(&m.ad_external_id)
            .bind(&m.day)
            .bind(&m.owner_id)
            .bind(&m.campaign_id)
            .bind(m.creative_id.as_deref())
            .bind(&m.platform)
            .bind(m.impressions)
            .bind(m.clicks)
            .bind(m.spend_micros)
            .bind(m.conversions)
            .bind(m.revenue_micros)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The owner's ad-days, by day then ad.
    pub async fn list_metrics(
        &self,
        owner_id: &str,
        f: &MetricFilter,
    ) -> StoreResult<Vec<MetricRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            cols!(metric),
            " FROM metrics WHERE owner_id = $1 \
             AND ($2 IS NULL OR campaign_id = $2) AND ($3 IS NULL OR deployment_id = $3) \
             AND ($4 IS NULL OR creative_id = $4) AND ($5 IS NULL OR day >= $5) \
             AND ($6 IS NULL OR day <= $6) ORDER BY day, ad_external_id LIMIT $7 OFFSET $8"
        ))
        .bind(owner_id)
        .bind(f.campaign_id.as_deref())
        .bind(f.deployment_id.as_deref())
        .bind(f.creative_id.as_deref())
        .bind(f.from.as_deref())
        .bind(f.to.as_deref())
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(metric_from).collect()
    }

    // ---- agent runs and actions --------------------------------------------------------

    pub async fn insert_agent_run(&self, run: &AgentRunRow) -> StoreResult<()> {
        let mut conn = self.pool().acquire().await?;
        insert_run(&mut conn, run).await
    }

    pub async fn list_agent_runs(
        &self,
        owner_id: &str,
        campaign_id: &str,
    ) -> StoreResult<Vec<AgentRunRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            cols!(run),
            " FROM agent_runs WHERE owner_id = $1 AND campaign_id = $2 \
             ORDER BY created_at, id"
        ))
        .bind(owner_id)
        .bind(campaign_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(run_from).collect()
    }

    pub async fn insert_action(&self, a: &ActionRow) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO actions (",
            cols!(action),
            ") VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&a.id)
        .bind(&a.owner_id)
        .bind(&a.campaign_id)
        .bind(&a.run_id)
        .bind(&a.kind)
        .bind(a.params.to_string())
        .bind(&a.reason)
        .bind(&a.status)
        .bind(a.result.as_ref().map(Value::to_string))
        .bind(a.created_at)
        .bind(a.decided_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn get_action(&self, owner_id: &str, id: &str) -> StoreResult<Option<ActionRow>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            cols!(action),
            " FROM actions WHERE id = $1 AND owner_id = $2"
        ))
        .bind(id)
        .bind(owner_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(action_from).transpose()
    }

    pub async fn list_actions(
        &self,
        owner_id: &str,
        campaign_id: &str,
        status: Option<&str>,
    ) -> StoreResult<Vec<ActionRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            cols!(action),
            " FROM actions WHERE owner_id = $1 AND campaign_id = $2 \
             AND ($3 IS NULL OR status = $3) ORDER BY created_at, id"
        ))
        .bind(owner_id)
        .bind(campaign_id)
        .bind(status)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(action_from).collect()
    }

    /// Moves a proposed action to `status` (only from `proposed`: a decision is made once).
    pub async fn decide_action(
        &self,
        owner_id: &str,
        id: &str,
        status: &str,
        result: Option<&Value>,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE actions SET status = $1, result = $2, decided_at = $3 \
             WHERE id = $4 AND owner_id = $5 AND status = 'proposed'",
        )
        .bind(status)
        .bind(result.map(Value::to_string))
        .bind(now)
        .bind(id)
        .bind(owner_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

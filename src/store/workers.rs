//! The worker registry: every `adforge worker` upserts its row (models, lanes, capacity, jobs
//! running, the URL of its inference API) on each heartbeat. A worker whose row has not been
//! seen for a while is gone: its jobs come back through their expired leases, and the API node
//! stops sending it inference requests.

use serde_json::Value;
use sqlx::Row;

use super::{Store, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct WorkerRow {
    pub id: String,
    /// Base URL of its inference API, if it serves one.
    pub url: Option<String>,
    pub host: String,
    /// `cpu`, or `cuda:N`.
    pub device: String,
    pub models: Vec<String>,
    pub lanes: Vec<String>,
    pub capacity: i64,
    pub running: i64,
    pub started_at: i64,
    pub last_seen: i64,
}

fn list(text: &str) -> StoreResult<Vec<String>> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("worker row: {e}")))?;
    Ok(value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect())
}

fn from_row(row: &sqlx::any::AnyRow) -> StoreResult<WorkerRow> {
    Ok(WorkerRow {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        host: row.try_get("host")?,
        device: row.try_get("device")?,
        models: list(&row.try_get::<String, _>("models")?)?,
        lanes: list(&row.try_get::<String, _>("lanes")?)?,
        capacity: row.try_get("capacity")?,
        running: row.try_get("running")?,
        started_at: row.try_get("started_at")?,
        last_seen: row.try_get("last_seen")?,
    })
}

impl Store {
    /// Records a worker's heartbeat (its row is made on the first).
    pub async fn heartbeat(&self, w: &WorkerRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO workers (id, url, host, device, models, lanes, capacity, running, \
             started_at, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (id) DO UPDATE SET url = excluded.url, host = excluded.host, \
             device = excluded.device, models = excluded.models, lanes = excluded.lanes, \
             capacity = excluded.capacity, running = excluded.running, \
             last_seen = excluded.last_seen",
        )
        .bind(&w.id)
        .bind(w.url.as_deref())
        .bind(&w.host)
        .bind(&w.device)
        .bind(serde_json::json!(w.models).to_string())
        .bind(serde_json::json!(w.lanes).to_string())
        .bind(w.capacity)
        .bind(w.running)
        .bind(w.started_at)
        .bind(w.last_seen)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every worker seen at or after `seen_after`, most recently seen first.
    pub async fn list_workers(&self, seen_after: i64) -> StoreResult<Vec<WorkerRow>> {
        let rows = sqlx::query(
            "SELECT id, url, host, device, models, lanes, capacity, running, started_at, \
             last_seen FROM workers WHERE last_seen >= $1 ORDER BY last_seen DESC, id LIMIT 1000",
        )
        .bind(seen_after)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// A worker leaving (on shutdown).
    pub async fn remove_worker(&self, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM workers WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Forgets workers not seen since `before`.
    pub async fn prune_workers(&self, before: i64) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM workers WHERE last_seen < $1")
            .bind(before)
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}

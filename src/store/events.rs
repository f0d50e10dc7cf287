//! Event rows (the window `/api/events` replays from), verified webhook deliveries, and the
//! lookup from an ad platform's object id to the owner that deployed it.
//!
//! Ids of events increase in commit order on both backends, so a reader that has seen id N
//! never later finds a smaller id appear: SQLite has one writer at a time, and on PostgreSQL
//! every insert takes a transaction-scoped advisory lock before it draws its id and holds it to
//! commit. The same PostgreSQL transaction sends `pg_notify` on [`NOTIFY_CHANNEL`], which
//! listeners in every process receive at commit, in commit order.

use serde_json::Value;
use sqlx::Row;

use super::{Backend, Store, StoreError, StoreResult};

/// The PostgreSQL channel that carries the newest event id of each committed publish.
pub const NOTIFY_CHANNEL: &str = "adforge_events";

/// A PostgreSQL connection that LISTENs on [`NOTIFY_CHANNEL`] (its own connection, outside
/// the pool), for the event bus's fan-out between processes.
pub struct EventListener(sqlx::postgres::PgListener);

impl EventListener {
    /// Connects to `url` and starts listening.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen(NOTIFY_CHANNEL).await?;
        Ok(Self(listener))
    }

    /// The next notification's payload (an event id); `None` when the connection dropped and
    /// came back (notifications may have been lost meanwhile).
    pub async fn next(&mut self) -> StoreResult<Option<String>> {
        Ok(self.0.try_recv().await?.map(|n| n.payload().to_string()))
    }
}

/// The advisory lock key that orders event inserts on PostgreSQL ("adforge" + 0x01).
const ORDER_LOCK_KEY: i64 = 0x6164_666f_7267_6501;

/// An event to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub owner_id: String,
    pub kind: String,
    pub data: Value,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub id: i64,
    pub owner_id: String,
    pub kind: String,
    pub data: Value,
    pub created_at: i64,
}

/// A verified webhook delivery, as recorded for one owner (or for no owner: the object ids that
/// no deployment knows).
#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhookDelivery {
    pub platform: String,
    pub owner_id: Option<String>,
    /// How the delivery was authenticated, e.g. `x-hub-signature-256`.
    pub verified: String,
    /// Hex SHA-256 of the raw body: the same delivery sent twice has the same value.
    pub body_sha256: String,
    pub object_ids: Vec<String>,
}

/// A recorded webhook delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDeliveryRow {
    pub id: String,
    pub platform: String,
    pub owner_id: Option<String>,
    pub verified: String,
    pub body_sha256: String,
    pub object_ids: Vec<String>,
    pub received_at: i64,
}

/// How many events a pruning pass may keep and delete.
#[derive(Debug, Clone, Copy)]
pub struct PruneLimits {
    /// Newest events kept per owner.
    pub keep_per_owner: i64,
    /// Events (and webhook deliveries) older than this unix ms time go.
    pub older_than: i64,
    /// Most rows one DELETE statement removes.
    pub batch: i64,
}

fn event_from_row(row: &sqlx::any::AnyRow) -> StoreResult<EventRow> {
    let data: String = row.try_get("data")?;
    Ok(EventRow {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        kind: row.try_get("kind")?,
        data: serde_json::from_str(&data)
            .map_err(|e| StoreError::Corrupt(format!("event row: {e}")))?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Stores `events` and `deliveries` in one transaction (all or nothing) and returns the
    /// events with their ids, in id order. On PostgreSQL the commit notifies [`NOTIFY_CHANNEL`].
    pub async fn insert_events(
        &self,
        events: &[NewEvent],
        deliveries: &[NewWebhookDelivery],
        now: i64,
    ) -> StoreResult<Vec<EventRow>> {
        let mut tx = self.pool().begin().await?;
        if self.backend() == Backend::Postgres {
            // Functions in FROM: the Any driver cannot decode a `void` column.
            sqlx::query("SELECT 1 AS locked FROM pg_advisory_xact_lock($1)")
                .bind(ORDER_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
        }
        for delivery in deliveries {
            sqlx::query(
                "INSERT INTO webhook_deliveries \
                 (id, platform, owner_id, verified, body_sha256, object_ids, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&delivery.platform)
            .bind(delivery.owner_id.as_deref())
            .bind(&delivery.verified)
            .bind(&delivery.body_sha256)
            .bind(serde_json::Value::from(delivery.object_ids.clone()).to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let mut rows = Vec::with_capacity(events.len());
        for event in events {
            let row = sqlx::query(
                "INSERT INTO events (owner_id, kind, data, created_at) VALUES ($1, $2, $3, $4) \
                 RETURNING id",
            )
            .bind(&event.owner_id)
            .bind(&event.kind)
            .bind(event.data.to_string())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            rows.push(EventRow {
                id: row.try_get("id")?,
                owner_id: event.owner_id.clone(),
                kind: event.kind.clone(),
                data: event.data.clone(),
                created_at: now,
            });
        }
        if self.backend() == Backend::Postgres
            && let Some(last) = rows.last()
        {
            sqlx::query("SELECT 1 AS sent FROM pg_notify($1, $2)")
                .bind(NOTIFY_CHANNEL)
                .bind(last.id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(rows)
    }

    /// Events of `owner_id` with ids above `after` and created at or after `since` (unix ms),
    /// oldest first, at most `limit`.
    pub async fn owner_events_after(
        &self,
        owner_id: &str,
        after: i64,
        since: i64,
        limit: i64,
    ) -> StoreResult<Vec<EventRow>> {
        let rows = sqlx::query(
            "SELECT id, owner_id, kind, data, created_at FROM events \
             WHERE owner_id = $1 AND id > $2 AND created_at >= $3 ORDER BY id LIMIT $4",
        )
        .bind(owner_id)
        .bind(after)
        .bind(since)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Events of every owner with ids above `after`, oldest first, at most `limit`.
    pub async fn events_after(&self, after: i64, limit: i64) -> StoreResult<Vec<EventRow>> {
        let rows = sqlx::query(
            "SELECT id, owner_id, kind, data, created_at FROM events \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// The newest event id (0 when there is none).
    pub async fn max_event_id(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0) AS newest FROM events")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("newest")?)
    }

    /// The id just before the `keep` newest events of `owner_id` (those are its window), or
    /// None when it has `keep` events or fewer.
    pub async fn owner_window_start(&self, owner_id: &str, keep: i64) -> StoreResult<Option<i64>> {
        let row = sqlx::query(
            "SELECT id FROM events WHERE owner_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2",
        )
        .bind(owner_id)
        .bind(keep)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    /// One bounded pruning pass: events past the age or beyond the newest `keep_per_owner` of
    /// their owner, and deliveries past the age. At most `batch` rows per statement and 100
    /// owners per pass; returns how many rows went (call again while it returns a full batch).
    pub async fn prune_events(&self, limits: PruneLimits) -> StoreResult<u64> {
        let mut removed = sqlx::query(
            "DELETE FROM events WHERE id IN \
             (SELECT id FROM events WHERE created_at < $1 ORDER BY id LIMIT $2)",
        )
        .bind(limits.older_than)
        .bind(limits.batch)
        .execute(self.pool())
        .await?
        .rows_affected();
        removed += sqlx::query(
            "DELETE FROM webhook_deliveries WHERE id IN \
             (SELECT id FROM webhook_deliveries WHERE received_at < $1 LIMIT $2)",
        )
        .bind(limits.older_than)
        .bind(limits.batch)
        .execute(self.pool())
        .await?
        .rows_affected();
        let crowded = sqlx::query(
            "SELECT owner_id FROM events GROUP BY owner_id HAVING COUNT(*) > $1 LIMIT 100",
        )
        .bind(limits.keep_per_owner)
        .fetch_all(self.pool())
        .await?;
        for row in crowded {
            let owner_id: String = row.try_get("owner_id")?;
            let Some(cutoff) = self
                .owner_window_start(&owner_id, limits.keep_per_owner)
                .await?
            else {
                continue;
            };
            removed += sqlx::query(
                "DELETE FROM events WHERE id IN (SELECT id FROM events \
                 WHERE owner_id = $1 AND id <= $2 ORDER BY id LIMIT $3)",
            )
            .bind(&owner_id)
            .bind(cutoff)
            .bind(limits.batch)
            .execute(self.pool())
            .await?
            .rows_affected();
        }
        Ok(removed)
    }

    /// The owner of the object `external_id` that a deployment created on `platform`.
    pub async fn owner_of_external(
        &self,
        platform: &str,
        external_id: &str,
    ) -> StoreResult<Option<String>> {
        let row = sqlx::query(
            "SELECT owner_id FROM deployment_objects \
             WHERE platform = $1 AND external_id = $2 LIMIT 1",
        )
        .bind(platform)
        .bind(external_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("owner_id")).transpose()?)
    }

    /// Recorded deliveries whose body had this SHA-256, oldest first.
    pub async fn webhook_deliveries_by_body(
        &self,
        body_sha256: &str,
    ) -> StoreResult<Vec<WebhookDeliveryRow>> {
        let rows = sqlx::query(
            "SELECT id, platform, owner_id, verified, body_sha256, object_ids, received_at \
             FROM webhook_deliveries WHERE body_sha256 = $1 ORDER BY received_at, id",
        )
        .bind(body_sha256)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let ids: String = row.try_get("object_ids")?;
                Ok(WebhookDeliveryRow {
                    id: row.try_get("id")?,
                    platform: row.try_get("platform")?,
                    owner_id: row.try_get("owner_id")?,
                    verified: row.try_get("verified")?,
                    body_sha256: row.try_get("body_sha256")?,
                    object_ids: serde_json::from_str(&ids)
                        .map_err(|e| StoreError::Corrupt(format!("webhook delivery row: {e}")))?,
                    received_at: row.try_get("received_at")?,
                })
            })
            .collect()
    }

    /// How many webhook deliveries are recorded (all platforms).
    pub async fn count_webhook_deliveries(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM webhook_deliveries")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }
}

//! Updates out: what changed for an owner (deployments, metric syncs, proposed actions, webhook
//! deliveries), published once and fanned out to the owner's `/api/events` streams.
//!
//! First slice: an in-process broadcast with increasing ids. The stored window (replay after
//! `Last-Event-ID`) and PostgreSQL LISTEN/NOTIFY arrive with the `/api/events` route.

use serde::Serialize;
use serde_json::Value;

use crate::store::{Store, StoreError, now_ms};

/// Events a slow subscriber may lag behind before it misses some.
pub const CHANNEL_CAPACITY: usize = 1024;

/// One update for one owner.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Increasing across the whole server.
    pub id: i64,
    #[serde(skip)]
    pub owner_id: String,
    /// e.g. `deployment.updated`, `metrics.synced`, `action.proposed`.
    pub kind: String,
    pub data: Value,
    pub created_at: i64,
}

/// Publishes events and hands out subscriptions.
#[derive(Clone)]
pub struct EventBus {
    store: Store,
    tx: tokio::sync::broadcast::Sender<Event>,
    next_id: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl EventBus {
    pub fn new(store: Store) -> Self {
        let (tx, _) = tokio::sync::broadcast::channel(CHANNEL_CAPACITY);
        Self {
            store,
            tx,
            next_id: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(1)),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Publishes an event for `owner_id`; returns its id.
    pub async fn publish(
        &self,
        owner_id: &str,
        kind: &str,
        data: Value,
    ) -> Result<i64, StoreError> {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = self.tx.send(Event {
            id,
            owner_id: owner_id.to_string(),
            kind: kind.to_string(),
            data,
            created_at: now_ms(),
        });
        Ok(id)
    }

    /// Every event published from now on (callers filter by owner).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

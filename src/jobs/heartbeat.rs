//! A worker's heartbeat: every few seconds its row in the registry (`store::workers`) is
//! rewritten with what it has loaded, its lanes, its capacity and the jobs it runs now. The API
//! node lists live workers from it (`/api/workers`) and proxies inference to them. A worker that
//! stops beating is left out after [`STALE_AFTER`]; its running jobs return through their
//! expired leases like any crashed worker's. On a clean shutdown the row is removed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::workers::WorkerRow;
use crate::store::{Store, now_ms};

/// Between two heartbeats.
pub const EVERY: Duration = Duration::from_secs(3);
/// A worker not seen for this long is taken for gone.
pub const STALE_AFTER: Duration = Duration::from_secs(15);
/// Rows of workers gone this long are deleted.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What a worker announces.
pub struct Announce {
    pub id: String,
    pub url: Option<String>,
    pub device: String,
    pub models: Vec<String>,
    pub lanes: Vec<String>,
    pub capacity: i64,
    /// Jobs running now (the worker's own counter).
    pub running: Arc<AtomicUsize>,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}

/// Beats until `shutdown`, then removes the row.
pub async fn run(store: Store, announce: Announce, shutdown: CancellationToken) {
    let started_at = now_ms();
    let host = host_name();
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let row = WorkerRow {
            id: announce.id.clone(),
            url: announce.url.clone(),
            host: host.clone(),
            device: announce.device.clone(),
            models: announce.models.clone(),
            lanes: announce.lanes.clone(),
            capacity: announce.capacity,
            running: announce.running.load(Ordering::SeqCst) as i64,
            started_at,
            last_seen: now_ms(),
        };
        if let Err(e) = store.heartbeat(&row).await {
            tracing::warn!(error = %e, "heartbeat not recorded; retrying");
        }
        let _ = store
            .prune_workers(now_ms() - FORGET_AFTER.as_millis() as i64)
            .await;
    }
    if let Err(e) = store.remove_worker(&announce.id).await {
        tracing::warn!(error = %e, "could not remove this worker from the registry");
    }
}

/// The workers seen within [`STALE_AFTER`].
pub async fn live_workers(store: &Store) -> Result<Vec<WorkerRow>, crate::store::StoreError> {
    store
        .list_workers(now_ms() - STALE_AFTER.as_millis() as i64)
        .await
}

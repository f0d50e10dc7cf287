//! Updates out: what changed for an owner (deployments, metric syncs, proposed actions, webhook
//! deliveries), published once and fanned out to the owner's `/api/events` streams.
//!
//! Every event is a row first (`store::events`): its id is the row id, increasing in commit
//! order. Then it is fanned out in process through one broadcast channel:
//! - on SQLite, by [`EventBus::publish`] itself, under a lock that keeps broadcasts in id order
//!   (SQLite serves one process: a worker on another machine needs PostgreSQL);
//! - on PostgreSQL, by a listener task (one per bus, started by the first subscription) that
//!   hears `pg_notify` from any process, loads the rows after the last id it broadcast and
//!   broadcasts them, so each event goes out once, in order, whichever process published it.
//!   The listener reconnects with backoff and catches up from the store after a gap.
//!
//! A [`Subscription`] replays the stored rows after the client's last id, then follows the
//! broadcast, skipping what it has seen; a subscriber that lags past the channel's buffer goes
//! back to the store. The stored window is the newest [`EventSettings::max_per_owner`] events of
//! each owner, at most [`EventSettings::max_age`] old, pruned in bounded batches by a periodic
//! task. This module knows nothing of HTTP.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::store::events::{
    EventListener, EventRow, NOTIFY_CHANNEL, NewEvent, NewWebhookDelivery, PruneLimits,
};
use crate::store::{Backend, Store, StoreError, now_ms};

/// Events a slow subscriber may lag behind before it goes back to the store.
pub const CHANNEL_CAPACITY: usize = 1024;
/// Rows one replay or catch-up query reads.
const PAGE: i64 = 500;
/// Bounds of the listener's reconnect backoff.
const LISTEN_BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));
/// Most pruning statements one periodic pass runs before it waits for the next tick.
const PRUNE_ROUNDS: usize = 20;

/// One update for one owner.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Increasing across the whole server, in commit order.
    pub id: i64,
    #[serde(skip)]
    pub owner_id: String,
    /// e.g. `deployment.updated`, `metrics.synced`, `action.proposed`, `webhook.meta`.
    pub kind: String,
    pub data: Value,
    pub created_at: i64,
}

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Self {
        Self {
            id: row.id,
            owner_id: row.owner_id,
            kind: row.kind,
            data: row.data,
            created_at: row.created_at,
        }
    }
}

/// The stored window and the limits on subscribers.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// Newest events kept per owner (replayable after a reconnect).
    pub max_per_owner: i64,
    /// Oldest event kept.
    pub max_age: Duration,
    /// Open subscriptions one owner may hold; one more is refused.
    pub max_streams_per_owner: usize,
    /// How often pruning runs.
    pub prune_every: Duration,
    /// Most rows one pruning statement deletes.
    pub prune_batch: i64,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            max_per_owner: 10_000,
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_streams_per_owner: 16,
            prune_every: Duration::from_secs(60),
            prune_batch: 1_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "this owner already has {limit} open event streams, the limit; close one before opening another"
    )]
    TooManyStreams { limit: usize },
    #[error("the event bus closed")]
    Closed,
}

/// Publishes events and hands out subscriptions. Cheap to clone; its background tasks stop when
/// the last clone (and the last subscription) is dropped.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    settings: EventSettings,
    tx: broadcast::Sender<Event>,
    /// SQLite: insert and broadcast happen under this lock, so broadcasts follow id order.
    order: tokio::sync::Mutex<()>,
    /// PostgreSQL: set once the listener task runs.
    listener: tokio::sync::OnceCell<()>,
    pruner: std::sync::Once,
    /// Open subscriptions per owner.
    streams: Mutex<HashMap<String, usize>>,
    stop: CancellationToken,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl EventBus {
    pub fn new(store: Store) -> Self {
        Self::with_settings(store, EventSettings::default())
    }

    pub fn with_settings(store: Store, settings: EventSettings) -> Self {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self {
            inner: Arc::new(Inner {
                store,
                settings,
                tx,
                order: tokio::sync::Mutex::new(()),
                listener: tokio::sync::OnceCell::new(),
                pruner: std::sync::Once::new(),
                streams: Mutex::new(HashMap::new()),
                stop: CancellationToken::new(),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn settings(&self) -> &EventSettings {
        &self.inner.settings
    }

    /// Publishes an event for `owner_id`; returns its id once it is stored.
    pub async fn publish(
        &self,
        owner_id: &str,
        kind: &str,
        data: Value,
    ) -> Result<i64, StoreError> {
        let event = NewEvent {
            owner_id: owner_id.to_string(),
            kind: kind.to_string(),
            data,
        };
        let ids = self.insert(&[event], &[]).await?;
        ids.first()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("an event insert returned no id".into()))
    }

    /// Records verified webhook deliveries and publishes their events in one transaction:
    /// either all of it is stored (and published) or none.
    pub async fn record_webhook(
        &self,
        deliveries: &[NewWebhookDelivery],
        events: &[NewEvent],
    ) -> Result<Vec<i64>, StoreError> {
        self.insert(events, deliveries).await
    }

    async fn insert(
        &self,
        events: &[NewEvent],
        deliveries: &[NewWebhookDelivery],
    ) -> Result<Vec<i64>, StoreError> {
        self.start_pruner();
        let store = &self.inner.store;
        if store.backend() == Backend::Postgres {
            // The listener of every process broadcasts it after commit.
            let rows = store.insert_events(events, deliveries, now_ms()).await?;
            return Ok(rows.iter().map(|r| r.id).collect());
        }
        let _order = self.inner.order.lock().await;
        let rows = store.insert_events(events, deliveries, now_ms()).await?;
        let ids = rows.iter().map(|r| r.id).collect();
        for row in rows {
            // No receiver is not an error: nobody is listening right now.
            let _ = self.inner.tx.send(row.into());
        }
        Ok(ids)
    }

    /// Every event broadcast in this process from now on, of every owner, without replay. On
    /// PostgreSQL events arrive only once a [`subscribe_from`](Self::subscribe_from) has
    /// started the listener.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.tx.subscribe()
    }

    /// The events of `owner_id` with ids above `after` (those still in the window), then the
    /// live ones, without gaps or duplicates. `None` starts with the next event published.
    pub async fn subscribe_from(
        &self,
        owner_id: &str,
        after: Option<i64>,
    ) -> Result<Subscription, EventError> {
        let slot = self.take_stream_slot(owner_id)?;
        self.start_pruner();
        self.ensure_listener().await?;
        // Receive first, then read the store: whatever commits after the read is broadcast to
        // this receiver, and whatever the receiver also finds in the replay is skipped by id.
        let rx = self.inner.tx.subscribe();
        let store = &self.inner.store;
        let after = match after {
            Some(after) => {
                let window = store
                    .owner_window_start(owner_id, self.inner.settings.max_per_owner)
                    .await?;
                after.max(window.unwrap_or(0)).max(0)
            }
            None => store.max_event_id().await?,
        };
        Ok(Subscription {
            bus: self.clone(),
            owner_id: owner_id.to_string(),
            after,
            rx,
            backlog: VecDeque::new(),
            replaying: true,
            _slot: slot,
        })
    }

    /// Open subscriptions of `owner_id`.
    pub fn open_streams(&self, owner_id: &str) -> usize {
        self.inner
            .streams
            .lock()
            .map(|s| s.get(owner_id).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    fn take_stream_slot(&self, owner_id: &str) -> Result<StreamSlot, EventError> {
        let limit = self.inner.settings.max_streams_per_owner;
        let mut streams = self.inner.streams.lock().map_err(|_| EventError::Closed)?;
        let open = streams.entry(owner_id.to_string()).or_insert(0);
        if *open >= limit {
            return Err(EventError::TooManyStreams { limit });
        }
        *open += 1;
        Ok(StreamSlot {
            inner: Arc::downgrade(&self.inner),
            owner_id: owner_id.to_string(),
        })
    }

    /// One pruning pass, in bounded batches; returns how many rows went.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let settings = &self.inner.settings;
        prune_rounds(&self.inner.store, settings, PRUNE_ROUNDS).await
    }

    fn start_pruner(&self) {
        self.inner.pruner.call_once(|| {
            tokio::spawn(run_pruner(
                self.inner.store.clone(),
                self.inner.settings.clone(),
                self.inner.stop.clone(),
            ));
        });
    }

    /// PostgreSQL: starts the listener once. Its starting point is read before any
    /// subscription's replay, so nothing committed after that replay can be missed.
    async fn ensure_listener(&self) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let Some(url) = store.postgres_url() else {
            return Ok(());
        };
        self.inner
            .listener
            .get_or_try_init(|| async {
                let start = store.max_event_id().await?;
                tokio::spawn(run_listener(
                    url.to_string(),
                    store.clone(),
                    self.inner.tx.clone(),
                    start,
                    self.inner.stop.clone(),
                ));
                Ok::<(), StoreError>(())
            })
            .await?;
        Ok(())
    }
}

/// A place among an owner's open subscriptions, given back on drop.
struct StreamSlot {
    inner: std::sync::Weak<Inner>,
    owner_id: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        if let Ok(mut streams) = inner.streams.lock()
            && let Some(open) = streams.get_mut(&self.owner_id)
        {
            *open = open.saturating_sub(1);
            if *open == 0 {
                streams.remove(&self.owner_id);
            }
        }
    }
}

/// One owner's events in id order: first those stored after the starting id, then live ones.
pub struct Subscription {
    bus: EventBus,
    owner_id: String,
    /// The last id handed out (or skipped as not this owner's).
    after: i64,
    rx: broadcast::Receiver<Event>,
    backlog: VecDeque<Event>,
    /// Reading from the store until a short page says it has caught up.
    replaying: bool,
    _slot: StreamSlot,
}

impl Subscription {
    /// The id of the last event handed out (the starting point before the first).
    pub fn last_id(&self) -> i64 {
        self.after
    }

    /// The next event. Errors from the store leave the subscription usable: call again.
    pub async fn next(&mut self) -> Result<Event, EventError> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                return Ok(event);
            }
            if self.replaying {
                let settings = self.bus.settings();
                let since = now_ms() - settings.max_age.as_millis() as i64;
                let rows = self
                    .bus
                    .store()
                    .owner_events_after(&self.owner_id, self.after, since, PAGE)
                    .await?;
                self.replaying = rows.len() as i64 == PAGE;
                for row in rows {
                    self.after = row.id;
                    self.backlog.push_back(row.into());
                }
                continue;
            }
            match self.rx.recv().await {
                Ok(event) if event.id > self.after && event.owner_id == self.owner_id => {
                    self.after = event.id;
                    return Ok(event);
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, owner = %self.owner_id, "event subscriber lagged; replaying from the store");
                    self.replaying = true;
                }
                Err(broadcast::error::RecvError::Closed) => return Err(EventError::Closed),
            }
        }
    }
}

async fn prune_rounds(
    store: &Store,
    settings: &EventSettings,
    rounds: usize,
) -> Result<u64, StoreError> {
    let limits = PruneLimits {
        keep_per_owner: settings.max_per_owner,
        older_than: now_ms() - settings.max_age.as_millis() as i64,
        batch: settings.prune_batch,
    };
    let mut removed = 0;
    for _ in 0..rounds {
        let n = store.prune_events(limits).await?;
        removed += n;
        if n == 0 {
            break;
        }
    }
    Ok(removed)
}

/// Prunes the window every `prune_every` until `stop`.
async fn run_pruner(store: Store, settings: EventSettings, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(settings.prune_every) => {}
        }
        match prune_rounds(&store, &settings, PRUNE_ROUNDS).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "pruned old events"),
            Err(e) => tracing::warn!(error = %e, "pruning events failed; retrying later"),
        }
    }
}

/// PostgreSQL: LISTENs on the events channel and broadcasts every event with an id above
/// `last`, in order, until `stop`. Reconnects with backoff; after any gap (first connect,
/// reconnect, store error) it reads what it missed from the store before going on.
async fn run_listener(
    url: String,
    store: Store,
    tx: broadcast::Sender<Event>,
    mut last: i64,
    stop: CancellationToken,
) {
    let mut backoff = LISTEN_BACKOFF.0;
    loop {
        let connected = tokio::select! {
            _ = stop.cancelled() => return,
            connected = EventListener::connect(&url) => connected,
        };
        match connected {
            Ok(mut listener) => {
                backoff = LISTEN_BACKOFF.0;
                tracing::debug!(channel = NOTIFY_CHANNEL, "event listener connected");
                if follow(&mut listener, &store, &tx, &mut last, &stop).await {
                    return;
                }
            }
            Err(e) => tracing::warn!(error = %e, "event listener cannot connect; retrying"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(LISTEN_BACKOFF.1);
    }
}

/// Catches up, then broadcasts on each notification. Returns true when `stop` fired, false
/// when the connection or the store failed (the caller reconnects).
async fn follow(
    listener: &mut EventListener,
    store: &Store,
    tx: &broadcast::Sender<Event>,
    last: &mut i64,
    stop: &CancellationToken,
) -> bool {
    loop {
        if let Err(e) = broadcast_after(store, tx, last).await {
            tracing::warn!(error = %e, "event listener cannot read events; reconnecting");
            return false;
        }
        loop {
            let received = tokio::select! {
                _ = stop.cancelled() => return true,
                received = listener.next() => received,
            };
            match received {
                // Already broadcast (a catch-up read it): nothing to do.
                Ok(Some(n)) if n.parse::<i64>().is_ok_and(|id| id <= *last) => {}
                Ok(Some(_)) => break,
                // The connection dropped and came back: notifications may have been lost.
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "event listener lost its connection");
                    return false;
                }
            }
        }
    }
}

/// Broadcasts every stored event above `last`, in id order, advancing `last`.
async fn broadcast_after(
    store: &Store,
    tx: &broadcast::Sender<Event>,
    last: &mut i64,
) -> Result<(), StoreError> {
    loop {
        let rows = store.events_after(*last, PAGE).await?;
        let full = rows.len() as i64 == PAGE;
        for row in rows {
            *last = row.id;
            let _ = tx.send(row.into());
        }
        if !full {
            return Ok(());
        }
    }
}

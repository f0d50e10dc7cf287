//! The job queue: accepting jobs, dispatching them to workers, running them with progress,
//! retries, cancellation and leases.
//!
//! The SQL row in `store` is the record of a job on every backend. A [`JobQueue`] backend only
//! carries job ids to workers: [`embedded::EmbeddedQueue`] polls the store itself (the default:
//! nothing else to run), [`redis::RedisQueue`] uses a Redis Stream with a consumer group, whose
//! pending entries are reclaimed from dead consumers after the visibility timeout. Every claim and
//! every write of a running attempt is fenced by the attempt number in SQL, so a job is run at
//! least once and takes effect exactly once. The reconciler ([`reconcile_once`]) re-enqueues rows
//! the transport may have lost and requeues jobs whose worker stopped renewing its lease.
//!
//! This module holds no SQL (that is `store`'s) and knows nothing of HTTP.

pub mod embedded;
pub mod heartbeat;
pub mod redis;
mod service;
mod worker;

use std::time::Duration;

use async_trait::async_trait;

use crate::scheduler::RetryPolicy;
use crate::store::StoreError;

pub use service::{JobService, SubmitError, SubmitRequest, Submitted};
pub use worker::{
    JobContext, JobError, JobHandler, JobRegistry, Worker, WorkerOptions, reconcile_once,
    run_reconciler,
};

/// A job id handed out by a queue backend, with the backend's own receipt for acknowledging it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub job_id: String,
    /// Redis: the stream and the entry id. Embedded: none.
    pub receipt: Option<Receipt>,
}

/// Where a Redis delivery came from: its lane's stream and the entry id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub stream: String,
    pub entry: String,
}

/// Which workers may run a job: every worker reads `Any`; `Text` and `Image` are read by the
/// workers that have a text or an image (diffusion) model loaded. Stored and sent to the
/// transport by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Jobs that need no particular model.
    Any,
    /// Jobs that need the text model.
    Text,
    /// Jobs that need an image (diffusion) model.
    Image,
}

impl Lane {
    pub const ALL: [Lane; 3] = [Lane::Any, Lane::Text, Lane::Image];

    /// The lane's name in the store and the transport (`any`, `text`, `image`).
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Any => "any",
            Lane::Text => "text",
            Lane::Image => "image",
        }
    }

    /// The transport's names of `lanes`.
    pub fn names(lanes: &[Lane]) -> Vec<String> {
        lanes.iter().map(|l| l.as_str().to_string()).collect()
    }
}

impl std::fmt::Display for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much work waits in a queue backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Dispatched and not yet taken by a worker.
    pub waiting: u64,
    /// Taken by a worker and not yet acknowledged.
    pub in_flight: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("queue protocol error: {0}")]
    Protocol(String),
}

impl QueueError {
    pub fn is_unavailable(&self) -> bool {
        match self {
            QueueError::Unavailable(_) => true,
            QueueError::Store(e) => e.is_unavailable(),
            QueueError::Protocol(_) => false,
        }
    }
}

/// The transport that carries job ids from producers to workers.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// `embedded` or `redis`.
    fn backend(&self) -> &'static str;
    /// Hands a persisted, queued job to the transport, in its lane (`any`, `text`, `image`).
    async fn dispatch(&self, job_id: &str, lane: &str) -> Result<(), QueueError>;
    /// The next job id for `consumer` from `lanes`, waiting up to `wait` (a backend may return
    /// `None` sooner; callers loop). Ids of jobs whose consumer died are handed out again after
    /// the visibility timeout.
    async fn next(
        &self,
        consumer: &str,
        lanes: &[String],
        wait: Duration,
    ) -> Result<Option<Delivery>, QueueError>;
    /// Tells the transport the delivery is still being worked on (resets its visibility timeout).
    async fn touch(&self, consumer: &str, delivery: &Delivery) -> Result<(), QueueError>;
    /// The delivery is done with (finished, failed, or not runnable): forget it.
    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError>;
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<(), QueueError>;
    async fn depth(&self) -> Result<QueueDepth, QueueError>;
}

/// Timing and retry settings shared by producers, workers and the reconciler.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// A running attempt holds its job this long without renewing; then it may be reclaimed.
    pub visibility_timeout: Duration,
    /// Attempts before a job fails for good (a crash of its worker counts as an attempt).
    pub max_attempts: i64,
    pub retry: RetryPolicy,
    /// How often the reconciler runs.
    pub reconcile_every: Duration,
    /// A queued job dispatched longer ago than this and still waiting is dispatched again.
    pub redispatch_after: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(30),
            max_attempts: 3,
            retry: RetryPolicy::default(),
            reconcile_every: Duration::from_secs(2),
            redispatch_after: Duration::from_secs(300),
        }
    }
}

impl QueueSettings {
    /// How often a running attempt renews its lease: a third of the visibility timeout, and at
    /// least once a second so that a cancellation is noticed quickly.
    pub fn renew_every(&self) -> Duration {
        (self.visibility_timeout / 3).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }
}

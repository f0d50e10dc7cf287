//! Accepting and cancelling jobs: the producer side that the API calls.

use std::sync::Arc;

use serde_json::Value;

use super::worker::dispatch_marked;
use super::{JobQueue, JobRegistry, QueueError, QueueSettings};
use crate::store::{JobRow, NewJob, Store, StoreError, now_ms};

/// A job submission after the API parsed it.
#[derive(Debug, Clone)]
pub struct SubmitRequest {
    pub owner_id: String,
    pub owner_is_admin: bool,
    pub kind: String,
    pub payload: Value,
    pub idempotency_key: Option<String>,
    pub priority: i64,
    /// At most the queue's own limit.
    pub max_attempts: Option<i64>,
}

/// An accepted job. `replayed` is true when the idempotency key matched an earlier submission.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub job: JobRow,
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("unknown job kind {kind:?}: expected one of {known}")]
    UnknownKind { kind: String, known: String },
    #[error("job kind {0:?} needs an admin key")]
    Forbidden(String),
    /// The handler's message, which names the field from `payload` down.
    #[error("{0}")]
    InvalidPayload(String),
    #[error("idempotency key {0:?} was already used for a different job (kind or payload differ)")]
    IdempotencyConflict(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Producer-side handle on the job system.
#[derive(Clone)]
pub struct JobService {
    store: Store,
    queue: Arc<dyn JobQueue>,
    registry: JobRegistry,
    settings: QueueSettings,
}

impl JobService {
    pub fn new(
        store: Store,
        queue: Arc<dyn JobQueue>,
        registry: JobRegistry,
        settings: QueueSettings,
    ) -> Self {
        Self {
            store,
            queue,
            registry,
            settings,
        }
    }

    pub fn queue(&self) -> &Arc<dyn JobQueue> {
        &self.queue
    }

    pub fn registry(&self) -> &JobRegistry {
        &self.registry
    }

    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    /// Checks a submission without storing it: a known kind, allowed for this owner, with a
    /// payload its handler accepts.
    pub fn check(&self, request: &SubmitRequest) -> Result<(), SubmitError> {
        let handler = self
            .registry
            .get(&request.kind)
            .ok_or_else(|| SubmitError::UnknownKind {
                kind: request.kind.clone(),
                known: self.registry.kinds().join(", "),
            })?;
        if handler.admin_only() && !request.owner_is_admin {
            return Err(SubmitError::Forbidden(request.kind.clone()));
        }
        handler
            .validate(&request.payload)
            .map_err(SubmitError::InvalidPayload)
    }

    /// Validates and persists a job, then hands it to the queue. The row is committed before
    /// this returns Ok; if the transport fails after that, the reconciler dispatches it later.
    pub async fn submit(&self, request: SubmitRequest) -> Result<Submitted, SubmitError> {
        self.check(&request)?;
        // Refuse early while the transport is down, rather than accept work nobody can take.
        self.queue.ping().await?;
        let lane = self
            .registry
            .get(&request.kind)
            .map_or(super::Lane::Any, |h| h.lane(&request.payload))
            .as_str()
            .to_string();
        let job = NewJob {
            id: uuid::Uuid::now_v7().to_string(),
            owner_id: request.owner_id,
            kind: request.kind,
            payload: request.payload,
            priority: request.priority,
            max_attempts: request
                .max_attempts
                .unwrap_or(self.settings.max_attempts)
                .clamp(1, self.settings.max_attempts.max(1)),
            idempotency_key: request.idempotency_key,
            lane,
        };
        let (row, inserted) = self.store.insert_job(&job, now_ms()).await?;
        if !inserted {
            if row.kind != job.kind || row.payload != job.payload {
                return Err(SubmitError::IdempotencyConflict(
                    job.idempotency_key.unwrap_or_default(),
                ));
            }
            return Ok(Submitted {
                job: row,
                replayed: true,
            });
        }
        if self
            .store
            .mark_dispatched(&row.id, now_ms(), i64::MIN)
            .await?
            && let Err(e) = dispatch_marked(&self.store, self.queue.as_ref(), &row.id).await
        {
            tracing::warn!(job = %row.id, error = %e, "dispatch failed; the reconciler will retry");
        }
        Ok(Submitted {
            job: row,
            replayed: false,
        })
    }

    /// Cancels a queued or running job. `None`: no such job for this owner. Otherwise the row
    /// after the attempt, and whether this call cancelled it (false: it had already finished).
    pub async fn cancel(
        &self,
        owner_id: &str,
        id: &str,
    ) -> Result<Option<(JobRow, bool)>, StoreError> {
        self.store.cancel_job(owner_id, id, now_ms()).await
    }
}

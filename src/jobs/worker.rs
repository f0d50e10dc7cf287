//! Workers: take a delivery, claim its row (the fence), run the kind's handler with a lease
//! keeper beside it, and record the outcome. Also the reconciler that repairs what a crash or a
//! lost transport left behind.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{Delivery, JobQueue, QueueError, QueueSettings};
use crate::store::{ClaimOutcome, JobRow, Store, StoreError, now_ms};

/// Why a handler did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt (a network hiccup, a busy resource).
    #[error("{0}")]
    Retryable(String),
    /// Will fail the same way again (bad input found late, a missing file).
    #[error("{0}")]
    Fatal(String),
    /// The job's cancellation token fired and the handler stopped.
    #[error("cancelled")]
    Cancelled,
}

/// What a handler sees of its job.
pub struct JobContext {
    pub job: JobRow,
    store: Store,
    cancel: CancellationToken,
    /// Prefix of the names this work stores its outputs under: empty for a whole job,
    /// `TAG.` for a stage of a larger one (see [`JobContext::stage`]).
    prefix: String,
    /// The slice of the job's progress this context reports into.
    span: (f64, f64),
}

impl JobContext {
    /// Fires when the job is cancelled, its lease is lost, or the worker shuts down. Long work
    /// checks it between steps and returns [`JobError::Cancelled`].
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Reports progress (clamped to 0..1) with a message. Returns [`JobError::Cancelled`] when
    /// this attempt no longer owns the job, so a handler can simply `?` it.
    pub async fn progress(&self, fraction: f64, message: &str) -> Result<(), JobError> {
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let fraction = self.span.0 + (self.span.1 - self.span.0) * fraction;
        match self
            .store
            .update_progress(&self.job.id, self.job.attempts, fraction, message, now_ms())
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => {
                self.cancel.cancel();
                Err(JobError::Cancelled)
            }
            Err(e) => Err(JobError::Retryable(format!("recording progress: {e}"))),
        }
    }

    /// A stage of this job, for a handler that runs another kind's work as part of its own:
    /// the stage's progress 0..1 fills `span` of the job's, and the names it stores outputs
    /// under start with `tag.` (so two stages never write the same asset). Same row, same
    /// fence, same cancellation.
    pub fn stage(&self, tag: &str, span: (f64, f64)) -> JobContext {
        let width = self.span.1 - self.span.0;
        JobContext {
            job: self.job.clone(),
            store: self.store.clone(),
            cancel: self.cancel.clone(),
            prefix: format!("{}{tag}.", self.prefix),
            span: (
                self.span.0 + width * span.0.clamp(0.0, 1.0),
                self.span.0 + width * span.1.clamp(0.0, 1.0),
            ),
        }
    }

    /// The name an output called `name` is stored under (the stage's prefix added).
    pub fn output_name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Runs `work` on a blocking thread. What it passes to its reporter (fraction, message)
    /// becomes the job's progress; the flag turns true when the job is cancelled, for the work
    /// to check between its steps. `what` names the work in the error if the thread fails.
    pub async fn run_blocking<T, W>(&self, what: &str, work: W) -> Result<T, JobError>
    where
        T: Send + 'static,
        W: FnOnce(&(dyn Fn(f64, String) + Sync), &AtomicBool) -> T + Send + 'static,
    {
        let cancelled = Arc::new(AtomicBool::new(false));
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(f64, String)>(64);
        let flag = cancelled.clone();
        let task = tokio::task::spawn_blocking(move || {
            let report = |fraction: f64, message: String| {
                let _ = tx.try_send((fraction, message));
            };
            work(&report, &flag)
        });
        let token = self.cancel.clone();
        let watcher = tokio::spawn(async move {
            token.cancelled().await;
            cancelled.store(true, Ordering::Relaxed);
        });
        while let Some((fraction, message)) = rx.recv().await {
            if let Err(e) = self.progress(fraction, &message).await {
                watcher.abort();
                return Err(e);
            }
        }
        watcher.abort();
        task.await
            .map_err(|e| JobError::Fatal(format!("{what} task failed: {e}")))
    }
}

/// The code behind one job kind.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The `kind` string clients submit, e.g. `model.pull`.
    fn kind(&self) -> &'static str;
    /// One line for the API docs and errors.
    fn describe(&self) -> &'static str;
    /// The lane a job with this payload needs (`any` unless it must run beside a model).
    fn lane(&self, _payload: &Value) -> super::Lane {
        super::Lane::Any
    }
    /// Only admin keys may submit this kind.
    fn admin_only(&self) -> bool {
        false
    }
    /// Checks a payload before the job is accepted; the error names the field from `payload`
    /// down (`payload.model: ...`) and the limit.
    fn validate(&self, payload: &Value) -> Result<(), String>;
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError>;
}

/// The job kinds this process knows, by name.
#[derive(Clone, Default)]
pub struct JobRegistry {
    handlers: BTreeMap<&'static str, Arc<dyn JobHandler>>,
}

impl JobRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(handler.kind(), handler);
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn JobHandler>> {
        self.handlers.get(kind)
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.handlers.keys().copied().collect()
    }
}

/// How a worker process runs jobs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Names this worker in leases and in the consumer group.
    pub worker_id: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// On shutdown, running jobs get this long to finish before they are cancelled and requeued.
    pub shutdown_grace: Duration,
    pub settings: QueueSettings,
    /// The lanes this worker takes jobs from: `any`, and `text`/`image` when it has those models.
    pub lanes: Vec<String>,
}

#[derive(Clone)]
pub struct Worker {
    store: Store,
    queue: Arc<dyn JobQueue>,
    registry: JobRegistry,
    options: Arc<WorkerOptions>,
    /// Jobs running now (for the heartbeat).
    running: Arc<std::sync::atomic::AtomicUsize>,
}

impl Worker {
    pub fn new(
        store: Store,
        queue: Arc<dyn JobQueue>,
        registry: JobRegistry,
        options: WorkerOptions,
    ) -> Self {
        Self {
            store,
            queue,
            registry,
            options: Arc::new(options),
            running: Arc::default(),
        }
    }

    /// How many jobs this worker runs at this moment.
    pub fn running(&self) -> Arc<std::sync::atomic::AtomicUsize> {
        self.running.clone()
    }

    /// Runs `concurrency` job loops until `shutdown` fires, then lets running jobs finish within
    /// the grace period (after which they are cancelled and requeued) and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut slots = tokio::task::JoinSet::new();
        for slot in 0..self.options.concurrency.max(1) {
            let worker = self.clone();
            let shutdown = shutdown.clone();
            slots.spawn(async move { worker.run_slot(slot, shutdown).await });
        }
        while slots.join_next().await.is_some() {}
        tracing::info!(worker = %self.options.worker_id, "worker stopped");
    }

    async fn run_slot(&self, slot: usize, shutdown: CancellationToken) {
        let consumer = format!("{}-{slot}", self.options.worker_id);
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let next = tokio::select! {
                _ = shutdown.cancelled() => break,
                next = self.queue.next(&consumer, &self.options.lanes, Duration::from_secs(1)) => next,
            };
            match next {
                Ok(Some(delivery)) => {
                    failures = 0;
                    self.running.fetch_add(1, Ordering::SeqCst);
                    let processed = self.process(&consumer, delivery, &shutdown).await;
                    self.running.fetch_sub(1, Ordering::SeqCst);
                    if let Err(e) = processed {
                        tracing::warn!(error = %e, "job bookkeeping failed");
                    }
                }
                Ok(None) => failures = 0,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let pause = Duration::from_millis(200 * u64::from(failures.min(25)));
                    tracing::warn!(error = %e, ?pause, "queue unavailable; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(pause) => {}
                    }
                }
            }
        }
    }

    /// Claims, runs and settles one delivery. The delivery is acknowledged only after the
    /// outcome is in the store.
    pub async fn process(
        &self,
        consumer: &str,
        delivery: Delivery,
        shutdown: &CancellationToken,
    ) -> Result<(), QueueError> {
        let settings = &self.options.settings;
        let now = now_ms();
        let lease_until = now + settings.visibility_timeout.as_millis() as i64;
        let claim = self
            .store
            .claim_job(&delivery.job_id, &self.options.worker_id, now, lease_until)
            .await?;
        let job = match claim {
            ClaimOutcome::Claimed(job) => job,
            ClaimOutcome::NotRunnable | ClaimOutcome::Exhausted(_) => {
                return self.queue.ack(&delivery).await;
            }
        };
        tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, "job started");
        let Some(handler) = self.registry.get(&job.kind).cloned() else {
            let error = format!("no handler for job kind {:?} on this worker", job.kind);
            self.store
                .fail_job(&job.id, job.attempts, &error, now_ms())
                .await?;
            return self.queue.ack(&delivery).await;
        };
        let cancel = CancellationToken::new();
        let ctx = JobContext {
            job,
            store: self.store.clone(),
            cancel: cancel.clone(),
            prefix: String::new(),
            span: (0.0, 1.0),
        };
        // The lease keeper runs inside this future, not as a task of its own: if the worker
        // dies, its lease dies with it and the job is reclaimed.
        let keeper = keep_lease(
            &self.store,
            self.queue.as_ref(),
            consumer,
            &delivery,
            &ctx.job,
            settings,
            &cancel,
        );
        let handler_run = self.run_handler(handler.as_ref(), &ctx, shutdown);
        tokio::pin!(keeper, handler_run);
        let mut keeper_done = false;
        let outcome = loop {
            tokio::select! {
                outcome = &mut handler_run => break outcome,
                () = &mut keeper, if !keeper_done => keeper_done = true,
            }
        };
        self.settle(&ctx.job, outcome).await?;
        self.queue.ack(&delivery).await
    }

    /// Runs the handler; on shutdown it gets the grace period, then its token fires, and if it
    /// still has not returned a little later it is abandoned (and its job requeued).
    async fn run_handler(
        &self,
        handler: &dyn JobHandler,
        ctx: &JobContext,
        shutdown: &CancellationToken,
    ) -> Result<Value, JobError> {
        let grace = self.options.shutdown_grace;
        let cancel = ctx.cancel.clone();
        let watchdog = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
            cancel.cancel();
            tokio::time::sleep(Duration::from_secs(5)).await;
        };
        tokio::select! {
            outcome = handler.run(ctx) => outcome,
            _ = watchdog => Err(JobError::Cancelled),
        }
    }

    async fn settle(
        &self,
        job: &JobRow,
        outcome: Result<Value, JobError>,
    ) -> Result<(), StoreError> {
        let settings = &self.options.settings;
        let now = now_ms();
        let written = match &outcome {
            Ok(result) => {
                self.store
                    .complete_job(&job.id, job.attempts, result, now)
                    .await?
            }
            Err(JobError::Retryable(error)) if job.attempts < job.max_attempts => {
                let seed = job
                    .id
                    .bytes()
                    .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                let delay = settings.retry.delay(job.attempts as u32, seed);
                let reason = format!(
                    "attempt {} failed: {error}; retrying in {:.1}s",
                    job.attempts,
                    delay.as_secs_f64()
                );
                let due = now + delay.as_millis() as i64;
                self.store
                    .requeue_job(&job.id, job.attempts, due, &reason, now)
                    .await?
            }
            Err(JobError::Retryable(error) | JobError::Fatal(error)) => {
                self.store
                    .fail_job(&job.id, job.attempts, error, now)
                    .await?
            }
            Err(JobError::Cancelled) => {
                // A user's cancel already settled the row (the fence makes this a no-op); a
                // shutdown hands the job back for another worker.
                self.store
                    .requeue_job(
                        &job.id,
                        job.attempts,
                        now,
                        "requeued: worker shutting down",
                        now,
                    )
                    .await?
            }
        };
        match (&outcome, written) {
            (Ok(_), true) => tracing::info!(job = %job.id, "job succeeded"),
            (Err(e), true) => tracing::info!(job = %job.id, error = %e, "job settled"),
            (_, false) => {
                tracing::info!(job = %job.id, "attempt fenced off: the job was cancelled or reclaimed")
            }
        }
        Ok(())
    }
}

/// Renews the lease (and the transport's visibility) until dropped; fires `cancel` and returns
/// when the store says this attempt no longer owns the job.
async fn keep_lease(
    store: &Store,
    queue: &dyn JobQueue,
    consumer: &str,
    delivery: &Delivery,
    job: &JobRow,
    settings: &QueueSettings,
    cancel: &CancellationToken,
) {
    let mut tick = tokio::time::interval(settings.renew_every());
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = now_ms();
        let until = now + settings.visibility_timeout.as_millis() as i64;
        match store.renew_lease(&job.id, job.attempts, now, until).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(job = %job.id, "lease lost (cancelled or reclaimed): stopping");
                cancel.cancel();
                return;
            }
            Err(e) => tracing::warn!(job = %job.id, error = %e, "lease renewal failed"),
        }
        if let Err(e) = queue.touch(consumer, delivery).await {
            tracing::warn!(job = %job.id, error = %e, "queue touch failed");
        }
    }
}

/// One pass of repairs: running jobs whose lease expired go back to the queue, and queued jobs
/// that the transport never got (or may have lost) are dispatched again. Returns how many jobs
/// were dispatched.
pub async fn reconcile_once(
    store: &Store,
    queue: &dyn JobQueue,
    settings: &QueueSettings,
) -> Result<usize, QueueError> {
    let now = now_ms();
    let grace = settings.visibility_timeout.as_millis() as i64;
    let requeued = store.requeue_expired_leases(now, grace).await?;
    for id in &requeued {
        tracing::warn!(job = %id, "requeued a job whose worker stopped renewing its lease");
    }
    let stale_before = now - settings.redispatch_after.as_millis() as i64;
    let ids = store.undispatched_job_ids(now, stale_before, 256).await?;
    let mut dispatched = 0;
    for id in &ids {
        if store.mark_dispatched(id, now_ms(), stale_before).await? {
            dispatch_marked(store, queue, id).await?;
            dispatched += 1;
        }
    }
    Ok(dispatched)
}

/// Hands a job that [`Store::mark_dispatched`] returned true for to the transport; on failure
/// the mark is undone so a later reconciler pass tries again.
pub(crate) async fn dispatch_marked(
    store: &Store,
    queue: &dyn JobQueue,
    id: &str,
) -> Result<(), QueueError> {
    let lane = store.job_lane(id).await?;
    if let Err(e) = queue.dispatch(id, &lane).await {
        store.unmark_dispatched(id).await?;
        return Err(e);
    }
    Ok(())
}

/// Runs [`reconcile_once`] every `reconcile_every` until `shutdown` fires.
pub async fn run_reconciler(
    store: Store,
    queue: Arc<dyn JobQueue>,
    settings: QueueSettings,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(settings.reconcile_every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = reconcile_once(&store, queue.as_ref(), &settings).await {
            tracing::warn!(error = %e, "reconciler pass failed");
        }
    }
}

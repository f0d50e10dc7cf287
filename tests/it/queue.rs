//! The job system end to end (submit, dispatch, claim, run, settle), the same test code on each
//! combination of database and queue transport.

use std::sync::Arc;
use std::time::Duration;

use adforge::jobs::{
    JobQueue, JobRegistry, JobService, QueueSettings, SubmitRequest, Worker, WorkerOptions,
    reconcile_once, run_reconciler,
};
use adforge::store::{JobRow, JobState, Store, now_ms};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::{
    QueueKind, StoreKind, TestDb, TestKinds, fast_settings, open_queue, wait_for,
};

macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite_embedded {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::StoreKind::Sqlite, super::QueueKind::Embedded).await })*
        }
        mod postgres_embedded {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::StoreKind::Postgres, super::QueueKind::Embedded).await })*
        }
        mod postgres_redis {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::StoreKind::Postgres, super::QueueKind::Redis).await })*
        }
        mod sqlite_redis {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::StoreKind::Sqlite, super::QueueKind::Redis).await })*
        }
    };
}

on_each_backend!(
    jobs_run_once_each_with_results,
    worker_killed_mid_job_is_reclaimed_and_finished_once,
    restart_keeps_queued_jobs,
    retryable_failures_back_off_then_succeed,
    cancelling_a_running_job_stops_it_at_the_next_step,
    shutdown_requeues_running_jobs,
);

/// A store, a queue and the job service over them.
struct Rig {
    db: TestDb,
    queue: Arc<dyn JobQueue>,
    registry: JobRegistry,
    service: JobService,
    settings: QueueSettings,
    runs: crate::support::RunLog,
    steps: crate::support::RunLog,
}

impl Rig {
    async fn new(store: StoreKind, queue: QueueKind) -> Self {
        crate::support::init_logs();
        let db = TestDb::new(store).await;
        db.store.ensure_owner("o", "o", now_ms()).await.unwrap();
        let settings = fast_settings();
        let queue = open_queue(queue, &db.store, &settings).await;
        let (registry, runs, steps) = TestKinds::registry();
        let service = JobService::new(
            db.store.clone(),
            queue.clone(),
            registry.clone(),
            settings.clone(),
        );
        Self {
            db,
            queue,
            registry,
            service,
            settings,
            runs,
            steps,
        }
    }

    fn store(&self) -> &Store {
        &self.db.store
    }

    async fn submit(&self, kind: &str, payload: Value) -> JobRow {
        self.service
            .submit(SubmitRequest {
                owner_id: "o".into(),
                owner_is_admin: false,
                kind: kind.into(),
                payload,
                idempotency_key: None,
                priority: 0,
                max_attempts: None,
            })
            .await
            .unwrap()
            .job
    }

    fn worker(&self, id: &str, concurrency: usize) -> Worker {
        Worker::new(
            self.store().clone(),
            self.queue.clone(),
            self.registry.clone(),
            WorkerOptions {
                worker_id: id.into(),
                concurrency,
                shutdown_grace: Duration::from_millis(200),
                settings: self.settings.clone(),
                lanes: crate::support::all_lanes(),
            },
        )
    }

    /// Runs a worker and the reconciler until stopped.
    fn spawn_worker(
        &self,
        id: &str,
        concurrency: usize,
    ) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        let stop = CancellationToken::new();
        let worker = self.worker(id, concurrency);
        let reconciler = run_reconciler(
            self.store().clone(),
            self.queue.clone(),
            self.settings.clone(),
            stop.clone(),
        );
        let token = stop.clone();
        let handle = tokio::spawn(async move {
            tokio::join!(worker.run(token), reconciler);
        });
        (stop, handle)
    }

    async fn wait_state(&self, id: &str, state: JobState) -> JobRow {
        let store = self.store().clone();
        wait_for(
            Duration::from_secs(20),
            &format!("job {id} to be {}", state.as_str()),
            || {
                let store = store.clone();
                async move {
                    let job = store.get_job(None, id).await.unwrap().unwrap();
                    (job.state == state).then_some(job)
                }
            },
        )
        .await
    }
}

async fn jobs_run_once_each_with_results(store: StoreKind, queue: QueueKind) {
    let rig = Rig::new(store, queue).await;
    let mut ids = Vec::new();
    for n in 0..12 {
        ids.push(rig.submit("test.double", json!({"n": n})).await.id);
    }
    let (stop, handle) = rig.spawn_worker("w1", 3);
    for (n, id) in ids.iter().enumerate() {
        let job = rig.wait_state(id, JobState::Succeeded).await;
        assert_eq!(job.result, Some(json!({"doubled": 2 * n as i64})));
        assert_eq!(job.attempts, 1);
    }
    stop.cancel();
    handle.await.unwrap();
    let mut runs: Vec<String> = rig
        .runs
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.0.clone())
        .collect();
    runs.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(runs, expected, "every job ran exactly once");
    let depth = rig.queue.depth().await.unwrap();
    assert_eq!(depth.in_flight, 0);
}

async fn worker_killed_mid_job_is_reclaimed_and_finished_once(store: StoreKind, queue: QueueKind) {
    let rig = Rig::new(store, queue).await;
    let job = rig
        .submit("test.steps", json!({"steps": 200, "step_ms": 20}))
        .await;
    // Worker A takes the job and dies mid-way: its task is dropped without acking or settling.
    let (stop_a, handle_a) = rig.spawn_worker("worker-a", 1);
    rig.wait_state(&job.id, JobState::Running).await;
    let store = rig.store().clone();
    let id = job.id.clone();
    wait_for(Duration::from_secs(10), "progress from worker A", || {
        let (store, id) = (store.clone(), id.clone());
        async move { (store.get_job(None, &id).await.unwrap().unwrap().progress > 0.0).then_some(()) }
    })
    .await;
    handle_a.abort();
    let _ = handle_a.await;
    drop(stop_a);
    let steps_by_a = rig.steps.lock().unwrap().len();
    assert!(steps_by_a < 200);
    // Worker B reclaims it after the visibility timeout and finishes it.
    let faster = json!({"steps": 200, "step_ms": 20});
    assert_eq!(job.payload, faster);
    let (stop_b, handle_b) = rig.spawn_worker("worker-b", 1);
    let done = rig.wait_state(&job.id, JobState::Succeeded).await;
    stop_b.cancel();
    handle_b.await.unwrap();
    assert_eq!(done.attempts, 2, "one attempt by A, one by B");
    assert_eq!(done.worker_id.as_deref(), Some("worker-b"));
    assert_eq!(done.result, Some(json!({"steps": 200})));
    let runs = rig.runs.lock().unwrap().clone();
    assert_eq!(runs, vec![(job.id.clone(), 1), (job.id.clone(), 2)]);
    let events = rig
        .store()
        .job_events_after(&job.id, 0, 1000)
        .await
        .unwrap();
    let finished = events
        .iter()
        .filter(|e| e.state == JobState::Succeeded)
        .count();
    assert_eq!(finished, 1, "finished exactly once");
    assert_eq!(rig.queue.depth().await.unwrap().in_flight, 0);
}

async fn restart_keeps_queued_jobs(store: StoreKind, queue: QueueKind) {
    let rig = Rig::new(store, queue).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(rig.submit("test.double", json!({"n": n})).await.id);
    }
    // "Restart": a new pool on the same database, a new queue client on the same stream.
    rig.store().close().await;
    let store = rig.db.reopen().await;
    let queue: Arc<dyn JobQueue> = match queue {
        QueueKind::Embedded => Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(store.clone())),
        QueueKind::Redis => rig.queue.clone(),
    };
    for id in &ids {
        assert_eq!(
            store.get_job(None, id).await.unwrap().unwrap().state,
            JobState::Queued
        );
    }
    let stop = CancellationToken::new();
    let worker = Worker::new(
        store.clone(),
        queue.clone(),
        rig.registry.clone(),
        WorkerOptions {
            worker_id: "after-restart".into(),
            concurrency: 2,
            shutdown_grace: Duration::from_millis(200),
            settings: rig.settings.clone(),
            lanes: crate::support::all_lanes(),
        },
    );
    let handle = tokio::spawn(worker.run(stop.clone()));
    for id in &ids {
        let id = id.clone();
        let store = store.clone();
        wait_for(Duration::from_secs(20), "job after restart", || {
            let (store, id) = (store.clone(), id.clone());
            async move {
                let job = store.get_job(None, &id).await.unwrap().unwrap();
                (job.state == JobState::Succeeded).then_some(())
            }
        })
        .await;
    }
    stop.cancel();
    handle.await.unwrap();
}

async fn retryable_failures_back_off_then_succeed(store: StoreKind, queue: QueueKind) {
    let rig = Rig::new(store, queue).await;
    let job = rig.submit("test.flaky", json!({"fail_times": 2})).await;
    let doomed = rig.submit("test.flaky", json!({"fail_times": 10})).await;
    let (stop, handle) = rig.spawn_worker("w", 2);
    let done = rig.wait_state(&job.id, JobState::Succeeded).await;
    assert_eq!(done.attempts, 3);
    assert_eq!(done.result, Some(json!({"attempt": 3})));
    let failed = rig.wait_state(&doomed.id, JobState::Failed).await;
    assert_eq!(failed.attempts, 3, "max_attempts bounds retries");
    assert!(failed.error.unwrap().contains("flaky failure on attempt 3"));
    stop.cancel();
    handle.await.unwrap();
    let events = rig.store().job_events_after(&job.id, 0, 100).await.unwrap();
    assert!(events.iter().any(|e| e.message.contains("retrying in")));
}

async fn cancelling_a_running_job_stops_it_at_the_next_step(store: StoreKind, queue: QueueKind) {
    let rig = Rig::new(store, queue).await;
    let job = rig
        .submit("test.steps", json!({"steps": 1000, "step_ms": 30}))
        .await;
    let (stop, handle) = rig.spawn_worker("w", 1);
    let store = rig.store().clone();
    let id = job.id.clone();
    wait_for(Duration::from_secs(10), "a few steps", || {
        let (store, id) = (store.clone(), id.clone());
        async move { (store.get_job(None, &id).await.unwrap().unwrap().progress >= 0.003).then_some(()) }
    })
    .await;
    let (row, cancelled) = rig.service.cancel("o", &job.id).await.unwrap().unwrap();
    assert!(cancelled);
    assert_eq!(row.state, JobState::Cancelled);
    let steps_at_cancel = rig.steps.lock().unwrap().len();
    // The handler's next progress report is refused, so it stops within one step.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let steps_after = rig.steps.lock().unwrap().len();
    assert!(
        steps_after <= steps_at_cancel + 1,
        "{steps_at_cancel} -> {steps_after}"
    );
    let job = rig.store().get_job(None, &job.id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(job.result, None);
    stop.cancel();
    handle.await.unwrap();
    assert_eq!(rig.queue.depth().await.unwrap().in_flight, 0);
}

async fn shutdown_requeues_running_jobs(store: StoreKind, queue: QueueKind) {
    let rig = Rig::new(store, queue).await;
    let job = rig.submit("test.block", json!({})).await;
    let (stop, handle) = rig.spawn_worker("w1", 1);
    rig.wait_state(&job.id, JobState::Running).await;
    stop.cancel();
    handle.await.unwrap();
    let requeued = rig.store().get_job(None, &job.id).await.unwrap().unwrap();
    assert_eq!(requeued.state, JobState::Queued);
    assert_eq!(requeued.attempts, 1);
    assert!(requeued.message.contains("shutting down"));
    // The reconciler hands it to the transport again and the next worker picks it up.
    reconcile_once(rig.store(), rig.queue.as_ref(), &rig.settings)
        .await
        .unwrap();
    let (stop, handle) = rig.spawn_worker("w2", 1);
    let running = rig.wait_state(&job.id, JobState::Running).await;
    assert_eq!(
        (running.attempts, running.worker_id.as_deref()),
        (2, Some("w2"))
    );
    rig.service.cancel("o", &job.id).await.unwrap();
    stop.cancel();
    handle.await.unwrap();
}

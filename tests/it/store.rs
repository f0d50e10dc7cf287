//! The repository API, the same test code on SQLite and PostgreSQL.

use adforge::auth;
use adforge::secret::Secret;
use adforge::store::{ClaimOutcome, JobFilter, JobState, NewJob, Store, now_ms};
use serde_json::json;

use crate::support::{StoreKind, TestDb};

on_both_stores!(
    assets_rewrite_in_place_respect_the_quota_and_expire,
    insert_get_and_idempotency,
    queue_position_counts_who_runs_first,
    claims_are_fenced_by_attempt,
    expired_leases_are_reclaimed_until_attempts_run_out,
    cancel_queued_and_running,
    list_pages_and_filters,
    events_are_ordered_and_resumable,
    api_keys_bootstrap_and_authenticate,
    migrations_are_idempotent,
);

async fn owner(store: &Store, id: &str) {
    store.ensure_owner(id, id, now_ms()).await.unwrap();
}

fn new_job(owner: &str, key: Option<&str>) -> NewJob {
    NewJob {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: owner.into(),
        kind: "test.double".into(),
        payload: json!({"n": 21}),
        priority: 0,
        max_attempts: 2,
        idempotency_key: key.map(str::to_string),
        lane: "any".into(),
    }
}

async fn queue_position_counts_who_runs_first(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    owner(store, "o1").await;
    owner(store, "o2").await;
    let t = now_ms();
    let (first, _) = store.insert_job(&new_job("o1", None), t).await.unwrap();
    let (second, _) = store.insert_job(&new_job("o2", None), t + 1).await.unwrap();
    let urgent = NewJob {
        priority: 5,
        ..new_job("o1", None)
    };
    let (urgent, _) = store.insert_job(&urgent, t + 2).await.unwrap();
    assert_eq!(store.queue_position(&urgent).await.unwrap(), 0);
    assert_eq!(store.queue_position(&first).await.unwrap(), 1);
    // Other owners' jobs count: they run first all the same.
    assert_eq!(store.queue_position(&second).await.unwrap(), 2);
}

async fn insert_get_and_idempotency(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    owner(store, "o1").await;
    owner(store, "o2").await;
    let (row, inserted) = store
        .insert_job(&new_job("o1", Some("k1")), now_ms())
        .await
        .unwrap();
    assert!(inserted);
    assert_eq!(row.state, JobState::Queued);
    assert_eq!(row.payload, json!({"n": 21}));
    let again = new_job("o1", Some("k1"));
    let (replayed, inserted) = store.insert_job(&again, now_ms()).await.unwrap();
    assert!(!inserted);
    assert_eq!(replayed.id, row.id);
    // The same key under another owner is another job.
    let (other, inserted) = store
        .insert_job(&new_job("o2", Some("k1")), now_ms())
        .await
        .unwrap();
    assert!(inserted);
    assert_ne!(other.id, row.id);
    // Jobs without keys never collide.
    assert!(
        store
            .insert_job(&new_job("o1", None), now_ms())
            .await
            .unwrap()
            .1
    );
    assert!(
        store
            .insert_job(&new_job("o1", None), now_ms())
            .await
            .unwrap()
            .1
    );
    assert_eq!(
        store.get_job(Some("o1"), &row.id).await.unwrap(),
        Some(row.clone())
    );
    assert_eq!(store.get_job(Some("o2"), &row.id).await.unwrap(), None);
    assert_eq!(store.get_job(None, "no-such-id").await.unwrap(), None);
}

async fn claims_are_fenced_by_attempt(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    owner(store, "o").await;
    let (job, _) = store
        .insert_job(&new_job("o", None), now_ms())
        .await
        .unwrap();
    let now = now_ms();
    let ClaimOutcome::Claimed(claimed) = store
        .claim_job(&job.id, "w1", now, now + 60_000)
        .await
        .unwrap()
    else {
        panic!("first claim must succeed");
    };
    assert_eq!((claimed.state, claimed.attempts), (JobState::Running, 1));
    // A second worker cannot take a job under a live lease.
    assert_eq!(
        store
            .claim_job(&job.id, "w2", now, now + 60_000)
            .await
            .unwrap(),
        ClaimOutcome::NotRunnable
    );
    // Writes from a wrong attempt are refused; the right one lands once.
    assert!(
        !store
            .complete_job(&job.id, 2, &json!({"x": 1}), now)
            .await
            .unwrap()
    );
    assert!(
        store
            .update_progress(&job.id, 1, 0.5, "half", now)
            .await
            .unwrap()
    );
    assert!(
        store
            .complete_job(&job.id, 1, &json!({"doubled": 42}), now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .complete_job(&job.id, 1, &json!({"doubled": 0}), now)
            .await
            .unwrap()
    );
    assert!(!store.fail_job(&job.id, 1, "late", now).await.unwrap());
    let done = store.get_job(None, &job.id).await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.result, Some(json!({"doubled": 42})));
    assert_eq!(done.progress, 1.0);
    assert_eq!(
        store
            .claim_job(&job.id, "w2", now, now + 60_000)
            .await
            .unwrap(),
        ClaimOutcome::NotRunnable
    );
}

async fn expired_leases_are_reclaimed_until_attempts_run_out(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    owner(store, "o").await;
    let (job, _) = store
        .insert_job(&new_job("o", None), now_ms())
        .await
        .unwrap();
    let t0 = now_ms();
    assert!(matches!(
        store.claim_job(&job.id, "w1", t0, t0 + 100).await.unwrap(),
        ClaimOutcome::Claimed(_)
    ));
    assert_eq!(
        store
            .runnable_job_ids(t0 + 50, 10, &crate::support::all_lanes())
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    // After the lease runs out the job is runnable again, and the old attempt is fenced off.
    assert_eq!(
        store
            .runnable_job_ids(t0 + 200, 10, &crate::support::all_lanes())
            .await
            .unwrap(),
        vec![job.id.clone()]
    );
    let ClaimOutcome::Claimed(second) = store
        .claim_job(&job.id, "w2", t0 + 200, t0 + 300)
        .await
        .unwrap()
    else {
        panic!("reclaim must succeed");
    };
    assert_eq!(second.attempts, 2);
    assert!(
        !store
            .renew_lease(&job.id, 1, t0 + 200, t0 + 1000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .complete_job(&job.id, 1, &json!({}), t0 + 200)
            .await
            .unwrap()
    );
    // max_attempts = 2: a third claim after another lost lease fails the job for good.
    match store
        .claim_job(&job.id, "w3", t0 + 400, t0 + 500)
        .await
        .unwrap()
    {
        ClaimOutcome::Exhausted(row) => {
            assert_eq!(row.state, JobState::Failed);
            assert!(row.error.unwrap().contains("gave up after 2 attempts"));
        }
        other => panic!("expected exhaustion, got {other:?}"),
    }
    // The reconciler's sweep requeues expired leases without touching live ones.
    let (live, _) = store
        .insert_job(&new_job("o", None), now_ms())
        .await
        .unwrap();
    let (dead, _) = store
        .insert_job(&new_job("o", None), now_ms())
        .await
        .unwrap();
    let t1 = now_ms();
    store
        .claim_job(&live.id, "w", t1, t1 + 60_000)
        .await
        .unwrap();
    store.claim_job(&dead.id, "w", t1, t1 + 10).await.unwrap();
    let requeued = store.requeue_expired_leases(t1 + 100, 50).await.unwrap();
    assert_eq!(requeued, vec![dead.id.clone()]);
    let dead = store.get_job(None, &dead.id).await.unwrap().unwrap();
    assert_eq!((dead.state, dead.attempts), (JobState::Queued, 1));
}

async fn cancel_queued_and_running(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    owner(store, "o").await;
    let (queued, _) = store
        .insert_job(&new_job("o", None), now_ms())
        .await
        .unwrap();
    let (running, _) = store
        .insert_job(&new_job("o", None), now_ms())
        .await
        .unwrap();
    let now = now_ms();
    store
        .claim_job(&running.id, "w", now, now + 60_000)
        .await
        .unwrap();
    let (row, cancelled) = store
        .cancel_job("o", &queued.id, now)
        .await
        .unwrap()
        .unwrap();
    assert!(cancelled);
    assert_eq!(row.state, JobState::Cancelled);
    let (_, cancelled) = store
        .cancel_job("o", &running.id, now)
        .await
        .unwrap()
        .unwrap();
    assert!(cancelled);
    // The running attempt learns at its next renewal, and cannot write a result.
    assert!(
        !store
            .renew_lease(&running.id, 1, now, now + 1000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .complete_job(&running.id, 1, &json!({}), now)
            .await
            .unwrap()
    );
    // A second cancel finds it finished; another owner finds nothing.
    let (row, cancelled) = store
        .cancel_job("o", &queued.id, now)
        .await
        .unwrap()
        .unwrap();
    assert!(!cancelled);
    assert_eq!(row.state, JobState::Cancelled);
    assert!(
        store
            .cancel_job("someone-else", &queued.id, now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .runnable_job_ids(now + 120_000, 10, &crate::support::all_lanes())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn list_pages_and_filters(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    owner(store, "o").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let (job, _) = store
            .insert_job(&new_job("o", None), 1_000 + i)
            .await
            .unwrap();
        ids.push(job.id);
    }
    let now = now_ms();
    store
        .claim_job(&ids[0], "w", now, now + 60_000)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let filter = JobFilter {
            limit: 3,
            before: before.clone(),
            ..JobFilter::default()
        };
        let page = store.list_jobs("o", &filter).await.unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        before = Some((last.created_at, last.id.clone()));
        seen.extend(page.into_iter().map(|j| j.id));
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    let running = JobFilter {
        state: Some(JobState::Running),
        limit: 10,
        ..JobFilter::default()
    };
    let page = store.list_jobs("o", &running).await.unwrap();
    assert_eq!(
        page.iter().map(|j| &j.id).collect::<Vec<_>>(),
        vec![&ids[0]]
    );
    let other_kind = JobFilter {
        kind: Some("other".into()),
        limit: 10,
        ..JobFilter::default()
    };
    assert!(store.list_jobs("o", &other_kind).await.unwrap().is_empty());
    assert!(
        store
            .list_jobs(
                "nobody",
                &JobFilter {
                    limit: 10,
                    ..JobFilter::default()
                }
            )
            .await
            .unwrap()
            .is_empty()
    );
    let counts = store.count_jobs_by_state().await.unwrap();
    let count = |s: JobState| counts.iter().find(|c| c.state == s).unwrap().count;
    assert_eq!((count(JobState::Queued), count(JobState::Running)), (6, 1));
}

async fn events_are_ordered_and_resumable(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    owner(store, "o").await;
    let (job, _) = store
        .insert_job(&new_job("o", None), now_ms())
        .await
        .unwrap();
    let now = now_ms();
    store
        .claim_job(&job.id, "w", now, now + 60_000)
        .await
        .unwrap();
    for step in 1..=5 {
        store
            .update_progress(&job.id, 1, step as f64 / 5.0, &format!("step {step}"), now)
            .await
            .unwrap();
    }
    store
        .complete_job(&job.id, 1, &json!({}), now)
        .await
        .unwrap();
    let events = store.job_events_after(&job.id, 0, 100).await.unwrap();
    let states: Vec<JobState> = events.iter().map(|e| e.state).collect();
    assert_eq!(states.first(), Some(&JobState::Queued));
    assert_eq!(states.last(), Some(&JobState::Succeeded));
    assert_eq!(events.len(), 1 + 1 + 5 + 1);
    assert!(
        events.windows(2).all(|w| w[0].id < w[1].id),
        "event ids increase"
    );
    let resumed = store
        .job_events_after(&job.id, events[3].id, 100)
        .await
        .unwrap();
    assert_eq!(resumed, events[4..].to_vec());
}

async fn api_keys_bootstrap_and_authenticate(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    let store = &db.store;
    // Fresh install, no configured key: one is generated, once.
    let generated = auth::bootstrap_admin_key(store, None)
        .await
        .unwrap()
        .expect("a generated key");
    assert!(
        auth::bootstrap_admin_key(store, None)
            .await
            .unwrap()
            .is_none()
    );
    let principal = auth::authenticate(store, generated.expose())
        .await
        .unwrap()
        .unwrap();
    assert!(principal.is_admin);
    assert_eq!(principal.owner_id, auth::ADMIN_OWNER_ID);
    // A configured key is installed idempotently; short keys are refused.
    let configured = Secret::new("a-configured-key-of-length-32!!!");
    assert!(
        auth::bootstrap_admin_key(store, Some(&configured))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth::bootstrap_admin_key(store, Some(&configured))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        auth::authenticate(store, configured.expose())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        auth::bootstrap_admin_key(store, Some(&Secret::new("short")))
            .await
            .is_err()
    );
    assert!(
        auth::authenticate(store, "adf_not-a-key")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.count_live_api_keys().await.unwrap(), 2);
}

async fn migrations_are_idempotent(kind: StoreKind) {
    let db = TestDb::new(kind).await;
    db.store.migrate().await.unwrap();
    let reopened = db.reopen().await;
    reopened.migrate().await.unwrap();
    reopened.ping().await.unwrap();
}

async fn assets_rewrite_in_place_respect_the_quota_and_expire(kind: StoreKind) {
    use adforge::store::assets::{AssetError, AssetLimits, AssetStore};
    let db = TestDb::new(kind).await;
    db.store.ensure_owner("o1", "o1", now_ms()).await.unwrap();
    db.store.ensure_owner("o2", "o2", now_ms()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let limits = AssetLimits {
        quota_bytes: 100,
        retention_ms: Some(1000),
    };
    let assets = AssetStore::new(db.store.clone(), dir.path(), limits);
    let first = assets
        .put("o1", "job", "a.svg", "image/svg+xml", &[1; 60], 0)
        .await
        .unwrap();
    // A retry rewrites the same asset: same id, no second copy, the quota not double-counted.
    let again = assets
        .put("o1", "job", "a.svg", "image/svg+xml", &[2; 70], 0)
        .await
        .unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(assets.for_job("o1", "job").await.unwrap().len(), 1);
    assert_eq!(std::fs::read(&again.path).unwrap(), vec![2; 70]);
    let over = assets
        .put("o1", "job", "b.png", "image/png", &[3; 40], 0)
        .await;
    assert!(
        matches!(
            over,
            Err(AssetError::Quota {
                used: 70,
                limit: 100,
                needed: 40,
                ..
            })
        ),
        "{over:?}"
    );
    // Another owner has its own quota and cannot see o1's asset.
    assets
        .put("o2", "job", "b.png", "image/png", &[3; 40], 500)
        .await
        .unwrap();
    assert!(assets.get("o2", &first.id).await.unwrap().is_none());
    // Past the retention (created at 0, now 1500): o1's asset goes, o2's (created at 500) stays.
    assert_eq!(assets.sweep(1500).await.unwrap(), 1);
    assert!(assets.get("o1", &first.id).await.unwrap().is_none());
    assert!(!std::path::Path::new(&again.path).exists());
    assert_eq!(assets.for_job("o2", "job").await.unwrap().len(), 1);
    assert!(matches!(
        assets.put("o1", "job", "../x", "text/plain", b"x", 0).await,
        Err(AssetError::Name(_))
    ));
}

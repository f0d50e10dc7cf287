//! Job rows and their events. The SQL row is the record of a job on every queue backend: the
//! queue transport only carries ids, and every state change here is fenced by the attempt number,
//! so a worker that lost its lease can no longer write.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, StoreResult};

/// The life of a job. `queued -> running -> succeeded | failed`, `running -> queued` on a retry,
/// a lost lease or a graceful shutdown, and `queued | running -> cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown job state {0:?}: expected one of queued, running, succeeded, failed, cancelled")]
pub struct UnknownJobState(pub String);

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

impl std::str::FromStr for JobState {
    type Err = UnknownJobState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownJobState(s.to_string()))
    }
}

/// A job to insert. `payload` is already validated JSON.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: String,
    pub owner_id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub priority: i64,
    pub max_attempts: i64,
    pub idempotency_key: Option<String>,
    /// `any`, or the capability a worker needs to run it (`text`, `image`).
    pub lane: String,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub id: String,
    pub owner_id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub state: JobState,
    pub priority: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub available_at: i64,
    pub lease_until: Option<i64>,
    pub worker_id: Option<String>,
    pub progress: f64,
    pub message: String,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// One progress or state event of a job; `id` increases across all jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEventRow {
    pub id: i64,
    pub job_id: String,
    pub state: JobState,
    pub progress: f64,
    pub message: String,
    pub created_at: i64,
}

/// What claiming a job found.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimOutcome {
    /// The job is now `running` under this worker, with `attempts` already incremented.
    Claimed(JobRow),
    /// The job was not runnable (finished, cancelled, leased by a live worker, not yet due).
    NotRunnable,
    /// The job had used all its attempts: it is now `failed`.
    Exhausted(JobRow),
}

/// Filters for listing jobs, newest first, paged by a `created_at`/`id` cursor.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub kind: Option<String>,
    pub limit: i64,
    /// Only jobs strictly older than this (created_at, id) pair.
    pub before: Option<(i64, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StateCount {
    pub state: JobState,
    pub count: i64,
}

/// How many events are kept per job; older ones are pruned (a reconnecting client may miss
/// progress older than this window, never a state change: the job row holds the final state).
pub const EVENTS_KEPT_PER_JOB: i64 = 256;

/// `SELECT <every job column> FROM jobs <rest>`, as a `&'static str` (sqlx only takes static SQL).
macro_rules! select_jobs {
    ($rest:literal) => {
        concat!(
            "SELECT id, owner_id, kind, payload, state, priority, attempts, max_attempts, \
             available_at, lease_until, worker_id, progress, message, result, error, \
             idempotency_key, created_at, updated_at, started_at, finished_at FROM jobs ",
            $rest
        )
    };
}

fn job_from_row(row: &AnyRow) -> StoreResult<JobRow> {
    let payload: String = row.try_get("payload")?;
    let result: Option<String> = row.try_get("result")?;
    let state: String = row.try_get("state")?;
    Ok(JobRow {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        kind: row.try_get("kind")?,
        payload: parse_json(&payload)?,
        state: state
            .parse()
            .map_err(|e: UnknownJobState| StoreError::Corrupt(e.to_string()))?,
        priority: row.try_get("priority")?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        available_at: row.try_get("available_at")?,
        lease_until: row.try_get("lease_until")?,
        worker_id: row.try_get("worker_id")?,
        progress: row.try_get("progress")?,
        message: row.try_get("message")?,
        result: result.as_deref().map(parse_json).transpose()?,
        error: row.try_get("error")?,
        idempotency_key: row.try_get("idempotency_key")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn parse_json(text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored json: {e}")))
}

fn event_from_row(row: &AnyRow) -> StoreResult<JobEventRow> {
    let state: String = row.try_get("state")?;
    Ok(JobEventRow {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        state: state
            .parse()
            .map_err(|e: UnknownJobState| StoreError::Corrupt(e.to_string()))?,
        progress: row.try_get("progress")?,
        message: row.try_get("message")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Inserts a job in `queued` state, or returns the existing job with the same owner and
    /// idempotency key. The bool is true when this call inserted the row.
    pub async fn insert_job(&self, job: &NewJob, now: i64) -> StoreResult<(JobRow, bool)> {
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO jobs (id, owner_id, kind, payload, state, priority, attempts, max_attempts, \
             available_at, progress, message, idempotency_key, created_at, updated_at, lane) \
             VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, $7, 0, 'queued', $8, $7, $7, $9) \
             ON CONFLICT (owner_id, idempotency_key) DO NOTHING",
        )
        .bind(&job.id)
        .bind(&job.owner_id)
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(job.priority)
        .bind(job.max_attempts)
        .bind(now)
        .bind(job.idempotency_key.as_deref())
        .bind(&job.lane)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let row = if inserted {
            insert_event(&mut tx, &job.id, JobState::Queued, 0.0, "queued", now).await?;
            fetch_job(&mut tx, &job.id).await?
        } else {
            let sql = select_jobs!("WHERE owner_id = $1 AND idempotency_key = $2");
            let row = sqlx::query(sql)
                .bind(&job.owner_id)
                .bind(job.idempotency_key.as_deref())
                .fetch_one(&mut *tx)
                .await?;
            job_from_row(&row)?
        };
        tx.commit().await?;
        Ok((row, inserted))
    }

    /// A job by id; with `owner_id`, only if it belongs to that owner.
    pub async fn get_job(&self, owner_id: Option<&str>, id: &str) -> StoreResult<Option<JobRow>> {
        let sql = select_jobs!("WHERE id = $1 AND ($2 IS NULL OR owner_id = $2)");
        let row = sqlx::query(sql)
            .bind(id)
            .bind(owner_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Jobs of an owner, newest first.
    pub async fn list_jobs(&self, owner_id: &str, filter: &JobFilter) -> StoreResult<Vec<JobRow>> {
        let (before_at, before_id) = match &filter.before {
            Some((at, id)) => (Some(*at), Some(id.as_str())),
            None => (None, None),
        };
        let sql = select_jobs!(
            "WHERE owner_id = $1 \
             AND ($2 IS NULL OR state = $2) AND ($3 IS NULL OR kind = $3) \
             AND ($4 IS NULL OR created_at < $4 OR (created_at = $4 AND id < $5)) \
             ORDER BY created_at DESC, id DESC LIMIT $6"
        );
        let rows = sqlx::query(sql)
            .bind(owner_id)
            .bind(filter.state.map(JobState::as_str))
            .bind(filter.kind.as_deref())
            .bind(before_at)
            .bind(before_id)
            .bind(filter.limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Takes the right to hand a queued job to the queue transport: true when the job is queued
    /// and not yet dispatched (or was dispatched before `stale_before`). Marking happens before
    /// the hand-over so that a worker's later requeue (which clears the mark) always wins.
    pub async fn mark_dispatched(
        &self,
        id: &str,
        now: i64,
        stale_before: i64,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE jobs SET dispatched = 1, updated_at = $2 WHERE id = $1 AND state = 'queued' \
             AND (dispatched = 0 OR updated_at < $3)",
        )
        .bind(id)
        .bind(now)
        .bind(stale_before)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Undoes [`Store::mark_dispatched`] after the hand-over failed, so the reconciler retries.
    pub async fn unmark_dispatched(&self, id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET dispatched = 0 WHERE id = $1 AND state = 'queued'")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Queued jobs a worker would take before `job` (higher priority, or the same priority and
    /// due earlier), across owners: the job's place in the line.
    pub async fn queue_position(&self, job: &JobRow) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS ahead FROM jobs WHERE state = 'queued' AND id <> $1 \
             AND (priority > $2 OR (priority = $2 AND (available_at < $3 \
             OR (available_at = $3 AND created_at < $4))))",
        )
        .bind(&job.id)
        .bind(job.priority)
        .bind(job.available_at)
        .bind(job.created_at)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>("ahead")?)
    }

    /// Ids of jobs a worker could claim now, best first: queued and due, or running with an
    /// expired lease.
    pub async fn runnable_job_ids(
        &self,
        now: i64,
        limit: i64,
        lanes: &[String],
    ) -> StoreResult<Vec<String>> {
        // The lanes as `,any,text,`: a lane matches when `,lane,` is inside (no dynamic IN list).
        let lanes = format!(",{},", lanes.join(","));
        let rows = sqlx::query(
            "SELECT id FROM jobs WHERE ((state = 'queued' AND available_at <= $1) \
             OR (state = 'running' AND lease_until < $1)) \
             AND $3 LIKE '%,' || lane || ',%' \
             ORDER BY priority DESC, available_at, created_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .bind(lanes)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id").map_err(StoreError::from))
            .collect()
    }

    /// The lane a job runs in (`any` for an unknown id).
    pub async fn job_lane(&self, id: &str) -> StoreResult<String> {
        let row = sqlx::query("SELECT lane FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get("lane")?,
            None => "any".into(),
        })
    }

    /// Atomically takes job `id` for `worker_id` until `lease_until`, if it is runnable. The
    /// conditional UPDATE is the fence: of two workers that race for one id, one wins.
    pub async fn claim_job(
        &self,
        id: &str,
        worker_id: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<ClaimOutcome> {
        let mut tx = self.pool().begin().await?;
        let claimed = sqlx::query(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker_id = $2, \
             lease_until = $3, started_at = COALESCE(started_at, $4), updated_at = $4, \
             message = 'running' \
             WHERE id = $1 AND ((state = 'queued' AND available_at <= $4) \
             OR (state = 'running' AND lease_until < $4))",
        )
        .bind(id)
        .bind(worker_id)
        .bind(lease_until)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            tx.rollback().await?;
            return Ok(ClaimOutcome::NotRunnable);
        }
        let job = fetch_job(&mut tx, id).await?;
        if job.attempts > job.max_attempts {
            let error = format!(
                "gave up after {} attempts: the worker running it stopped before finishing",
                job.max_attempts
            );
            sqlx::query(
                "UPDATE jobs SET state = 'failed', attempts = max_attempts, error = $2, \
                 lease_until = NULL, finished_at = $3, updated_at = $3, message = 'failed' \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(&error)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_event(&mut tx, id, JobState::Failed, job.progress, &error, now).await?;
            let job = fetch_job(&mut tx, id).await?;
            tx.commit().await?;
            return Ok(ClaimOutcome::Exhausted(job));
        }
        let message = format!("running (attempt {} of {})", job.attempts, job.max_attempts);
        insert_event(&mut tx, id, JobState::Running, job.progress, &message, now).await?;
        tx.commit().await?;
        Ok(ClaimOutcome::Claimed(job))
    }

    /// Extends the lease of a running attempt. False when the attempt no longer owns the job
    /// (cancelled, or reclaimed after its lease expired): the worker must stop.
    pub async fn renew_lease(
        &self,
        id: &str,
        attempt: i64,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE jobs SET lease_until = $3, updated_at = $4 \
             WHERE id = $1 AND attempts = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(attempt)
        .bind(lease_until)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Progress of a running attempt (0..1 and a message). False when the attempt is fenced off.
    pub async fn update_progress(
        &self,
        id: &str,
        attempt: i64,
        progress: f64,
        message: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let updated = sqlx::query(
            "UPDATE jobs SET progress = $3, message = $4, updated_at = $5 \
             WHERE id = $1 AND attempts = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(attempt)
        .bind(progress)
        .bind(message)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if updated {
            insert_event(&mut tx, id, JobState::Running, progress, message, now).await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    /// Stores the result of a running attempt and marks the job succeeded. False when the
    /// attempt is fenced off: then nothing is written.
    pub async fn complete_job(
        &self,
        id: &str,
        attempt: i64,
        result: &serde_json::Value,
        now: i64,
    ) -> StoreResult<bool> {
        self.finish_attempt(id, attempt, JobState::Succeeded, Some(result), None, now)
            .await
    }

    /// Marks a running attempt failed for good.
    pub async fn fail_job(
        &self,
        id: &str,
        attempt: i64,
        error: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.finish_attempt(id, attempt, JobState::Failed, None, Some(error), now)
            .await
    }

    async fn finish_attempt(
        &self,
        id: &str,
        attempt: i64,
        state: JobState,
        result: Option<&serde_json::Value>,
        error: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let progress = if state == JobState::Succeeded {
            1.0
        } else {
            -1.0
        };
        let updated = sqlx::query(
            "UPDATE jobs SET state = $3, result = $4, error = $5, lease_until = NULL, \
             progress = CASE WHEN $6 >= 0 THEN $6 ELSE progress END, message = $3, \
             finished_at = $7, updated_at = $7 \
             WHERE id = $1 AND attempts = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(attempt)
        .bind(state.as_str())
        .bind(result.map(|r| r.to_string()))
        .bind(error)
        .bind(progress)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if updated {
            let job = fetch_job(&mut tx, id).await?;
            let message = error.unwrap_or(state.as_str());
            insert_event(&mut tx, id, state, job.progress, message, now).await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    /// Puts a running attempt back in the queue, due at `available_at` (a retry with backoff, or
    /// work handed back at shutdown). `dispatched` is cleared so the reconciler hands it to the
    /// queue transport again when it is due.
    pub async fn requeue_job(
        &self,
        id: &str,
        attempt: i64,
        available_at: i64,
        reason: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let updated = sqlx::query(
            "UPDATE jobs SET state = 'queued', available_at = $3, lease_until = NULL, \
             worker_id = NULL, dispatched = 0, error = $4, message = $4, updated_at = $5 \
             WHERE id = $1 AND attempts = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(attempt)
        .bind(available_at)
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if updated {
            let job = fetch_job(&mut tx, id).await?;
            insert_event(&mut tx, id, JobState::Queued, job.progress, reason, now).await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    /// Cancels a queued or running job of `owner_id`. Returns the row after the attempt and
    /// whether this call cancelled it (false: it had already finished). `None`: no such job.
    pub async fn cancel_job(
        &self,
        owner_id: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<Option<(JobRow, bool)>> {
        let mut tx = self.pool().begin().await?;
        let updated = sqlx::query(
            "UPDATE jobs SET state = 'cancelled', lease_until = NULL, message = 'cancelled', \
             finished_at = $3, updated_at = $3 \
             WHERE id = $1 AND owner_id = $2 AND state IN ('queued', 'running')",
        )
        .bind(id)
        .bind(owner_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let sql = select_jobs!("WHERE id = $1 AND owner_id = $2");
        let row = sqlx::query(sql)
            .bind(id)
            .bind(owner_id)
            .fetch_optional(&mut *tx)
            .await?;
        let job = row.as_ref().map(job_from_row).transpose()?;
        if updated && let Some(job) = &job {
            insert_event(
                &mut tx,
                id,
                JobState::Cancelled,
                job.progress,
                "cancelled",
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(job.map(|job| (job, updated)))
    }

    /// Running jobs whose lease ran out more than `grace_ms` ago go back to `queued` (their worker
    /// is gone); returns their ids. The attempt count is kept, so `max_attempts` still bounds them.
    pub async fn requeue_expired_leases(
        &self,
        now: i64,
        grace_ms: i64,
    ) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id, attempts FROM jobs WHERE state = 'running' AND lease_until < $1",
        )
        .bind(now - grace_ms)
        .fetch_all(self.pool())
        .await?;
        let mut requeued = Vec::new();
        for row in rows {
            let id: String = row.try_get("id")?;
            let attempts: i64 = row.try_get("attempts")?;
            let reason = "requeued: the worker's lease expired";
            if self.requeue_job(&id, attempts, now, reason, now).await? {
                requeued.push(id);
            }
        }
        Ok(requeued)
    }

    /// Queued, due jobs that the queue transport may not hold: never dispatched, or dispatched
    /// before `stale_before` and still waiting (the transport may have lost them).
    pub async fn undispatched_job_ids(
        &self,
        now: i64,
        stale_before: i64,
        limit: i64,
    ) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM jobs WHERE state = 'queued' AND available_at <= $1 \
             AND (dispatched = 0 OR updated_at < $2) \
             ORDER BY priority DESC, available_at LIMIT $3",
        )
        .bind(now)
        .bind(stale_before)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id").map_err(StoreError::from))
            .collect()
    }

    /// Number of jobs in each state (all owners), for metrics.
    pub async fn count_jobs_by_state(&self) -> StoreResult<Vec<StateCount>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            .fetch_all(self.pool())
            .await?;
        let mut counts: Vec<StateCount> = JobState::ALL
            .into_iter()
            .map(|state| StateCount { state, count: 0 })
            .collect();
        for row in rows {
            let state: String = row.try_get("state")?;
            let n: i64 = row.try_get("n")?;
            if let Some(slot) = counts.iter_mut().find(|c| c.state.as_str() == state) {
                slot.count = n;
            }
        }
        Ok(counts)
    }

    /// Events of a job with id greater than `after_id`, oldest first.
    pub async fn job_events_after(
        &self,
        job_id: &str,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<JobEventRow>> {
        let rows = sqlx::query(
            "SELECT id, job_id, state, progress, message, created_at FROM job_events \
             WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(job_id)
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(event_from_row).collect()
    }
}

async fn fetch_job(conn: &mut sqlx::AnyConnection, id: &str) -> StoreResult<JobRow> {
    let sql = select_jobs!("WHERE id = $1");
    let row = sqlx::query(sql).bind(id).fetch_one(conn).await?;
    job_from_row(&row)
}

async fn insert_event(
    conn: &mut sqlx::AnyConnection,
    job_id: &str,
    state: JobState,
    progress: f64,
    message: &str,
    now: i64,
) -> StoreResult<()> {
    let row = sqlx::query(
        "INSERT INTO job_events (job_id, state, progress, message, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(job_id)
    .bind(state.as_str())
    .bind(progress)
    .bind(message)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let id: i64 = row.try_get("id")?;
    if id % 32 == 0 {
        sqlx::query(
            "DELETE FROM job_events WHERE job_id = $1 AND id <= (SELECT id FROM job_events \
             WHERE job_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
        )
        .bind(job_id)
        .bind(EVENTS_KEPT_PER_JOB)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

//! `/api/jobs`: submit, list, read, follow (server-sent events) and cancel jobs. Every route
//! needs an API key, and an owner sees only its own jobs.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::extract::{Auth, ValidJson, ValidQuery};
use super::{ApiError, AppState, paging};
use crate::auth::Principal;
use crate::jobs::{SubmitRequest, Submitted};
use crate::store::{JobFilter, JobRow, JobState};

pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
pub const MAX_PAGE: i64 = 200;
/// Most job lines one `POST /api/jobs/batch` may carry.
pub const MAX_BATCH_LINES: usize = 1000;
const DEFAULT_PAGE: i64 = 50;
const PRIORITY_RANGE: std::ops::RangeInclusive<i64> = -100..=100;
/// How often an event stream looks for new events.
const EVENT_POLL: Duration = Duration::from_millis(200);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/jobs", get(list_jobs).post(submit_job))
        .route("/api/jobs/batch", axum::routing::post(submit_batch))
        .route("/api/jobs/{id}", get(get_job).delete(cancel_job))
        .route("/api/jobs/{id}/events", get(job_events))
}

/// A job submission.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJob {
    /// The job kind, e.g. `model.pull`.
    pub kind: String,
    /// Kind-specific input; a JSON object.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Resubmitting with the same key returns the first job instead of making another
    /// (at most 255 characters). The `Idempotency-Key` header works too.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Higher runs first, -100..=100 (default 0).
    #[serde(default)]
    pub priority: Option<i64>,
    /// Attempts before the job fails for good; at most the server's limit.
    #[serde(default)]
    pub max_attempts: Option<i64>,
}

/// A job as the API shows it. Times are RFC 3339.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    pub kind: String,
    pub state: JobState,
    #[schema(value_type = Object)]
    pub payload: Value,
    /// 0..1
    pub progress: f64,
    pub message: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub priority: i64,
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub error: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Queued jobs: how many queued jobs (of any owner) run before this one.
    pub queue_position: Option<i64>,
    /// Running jobs: seconds left, extrapolated from the progress so far.
    pub eta_seconds: Option<f64>,
}

/// Time left of a running job at the rate of its progress so far (none before any progress).
fn eta_seconds(job: &JobRow, now_ms: i64) -> Option<f64> {
    let started = job.started_at?;
    if job.state != JobState::Running || !(job.progress > 0.0 && job.progress < 1.0) {
        return None;
    }
    let elapsed = (now_ms - started).max(0) as f64 / 1000.0;
    Some(elapsed * (1.0 - job.progress) / job.progress)
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

impl From<JobRow> for JobView {
    fn from(job: JobRow) -> Self {
        let eta_seconds = eta_seconds(&job, crate::store::now_ms());
        Self {
            eta_seconds,
            id: job.id,
            kind: job.kind,
            state: job.state,
            payload: job.payload,
            progress: job.progress,
            message: job.message,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            priority: job.priority,
            result: job.result,
            error: job.error,
            idempotency_key: job.idempotency_key,
            created_at: rfc3339(job.created_at),
            updated_at: rfc3339(job.updated_at),
            started_at: job.started_at.map(rfc3339),
            finished_at: job.finished_at.map(rfc3339),
            queue_position: None,
        }
    }
}

/// The `Idempotency-Key` header, when sent.
pub(super) fn idempotency_header(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| ApiError::bad_request("Idempotency-Key header: must be visible ASCII"))
        })
        .transpose()
}

/// Submit a job. It is stored before the 202 is sent.
#[utoipa::path(post, path = "/api/jobs", tag = "jobs", request_body = SubmitJob,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same as `idempotency_key`")),
    responses(
        (status = 202, description = "Accepted (or replayed: header `Idempotency-Replayed: true`)", body = JobView),
        (status = 400, body = super::ErrorBody), (status = 401, body = super::ErrorBody),
        (status = 403, body = super::ErrorBody), (status = 409, body = super::ErrorBody),
        (status = 413, body = super::ErrorBody), (status = 503, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn submit_job(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
    ValidJson(body): ValidJson<SubmitJob>,
) -> Result<Response, ApiError> {
    let header_key = idempotency_header(&headers)?;
    let request = submission(&state, &principal, body, header_key)?;
    let submitted = state.jobs.submit(request).await?;
    Ok(accepted(submitted))
}

/// 202 with the job, its `Location`, and `Idempotency-Replayed: true` for a replay.
pub(super) fn accepted(submitted: Submitted) -> Response {
    let location = format!("/api/jobs/{}", submitted.job.id);
    let mut response = (StatusCode::ACCEPTED, Json(JobView::from(submitted.job))).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, value);
    }
    if submitted.replayed {
        headers.insert("idempotency-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// A job payload within the server's limit, or a 400 naming `field` and the limit.
pub(super) fn check_payload_size(
    state: &AppState,
    payload: &Value,
    field: &str,
) -> Result<(), ApiError> {
    let payload_len = payload.to_string().len();
    if payload_len > state.limits.max_payload_bytes {
        return Err(ApiError::BadRequest {
            code: "payload_too_large",
            message: format!(
                "{field}: {payload_len} bytes of JSON is over the job payload limit of {} bytes",
                state.limits.max_payload_bytes
            ),
        });
    }
    Ok(())
}

/// Checks the fields of one submission against the limits and turns it into a request.
fn submission(
    state: &AppState,
    principal: &Principal,
    body: SubmitJob,
    header_key: Option<String>,
) -> Result<SubmitRequest, ApiError> {
    if !body.payload.is_object() {
        return Err(ApiError::BadRequest {
            code: "invalid_field",
            message: "payload: must be a JSON object".into(),
        });
    }
    check_payload_size(state, &body.payload, "payload")?;
    let idempotency_key = match (body.idempotency_key, header_key) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::bad_request(
                "idempotency_key: differs from the Idempotency-Key header; send one or make them equal",
            ));
        }
        (a, b) => a.or(b),
    };
    if let Some(key) = &idempotency_key
        && (key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN)
    {
        return Err(ApiError::bad_request(format!(
            "idempotency_key: must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters, got {}",
            key.len()
        )));
    }
    let priority = body.priority.unwrap_or(0);
    if !PRIORITY_RANGE.contains(&priority) {
        return Err(ApiError::bad_request(format!(
            "priority: {priority} is outside {}..={}",
            PRIORITY_RANGE.start(),
            PRIORITY_RANGE.end()
        )));
    }
    let limit = state.jobs.settings().max_attempts;
    if let Some(n) = body.max_attempts
        && !(1..=limit).contains(&n)
    {
        return Err(ApiError::bad_request(format!(
            "max_attempts: {n} is outside 1..={limit}"
        )));
    }
    Ok(SubmitRequest {
        owner_id: principal.owner_id.clone(),
        owner_is_admin: principal.is_admin,
        kind: body.kind,
        payload: body.payload,
        idempotency_key,
        priority,
        max_attempts: body.max_attempts,
    })
}

/// The jobs of a batch, in line order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAccepted {
    pub jobs: Vec<JobView>,
    /// How many lines matched an earlier submission through their idempotency key.
    pub replayed: usize,
}

/// Submit many jobs as JSON Lines: one `SubmitJob` object per line (at most 1000 lines; blank
/// lines are skipped). Every line is checked before any job is stored: one bad line refuses the
/// batch, naming the line and the field. Give each line an `idempotency_key` so that a batch
/// re-sent after a failure creates nothing twice.
#[utoipa::path(post, path = "/api/jobs/batch", tag = "jobs",
    request_body(content = String, content_type = "application/x-ndjson",
        description = "JOBS.jsonl: one SubmitJob per line"),
    responses((status = 202, body = BatchAccepted), (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody), (status = 403, body = super::ErrorBody),
        (status = 413, body = super::ErrorBody), (status = 503, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn submit_batch(
    State(state): State<AppState>,
    Auth(principal): Auth,
    body: Result<String, axum::extract::rejection::StringRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit: state.limits.max_body_bytes,
            }
        } else {
            ApiError::bad_request(format!("body: {}", rejection.body_text()))
        }
    })?;
    let lines = adforge_input::jobs_file::numbered_lines(&body);
    if lines.is_empty() || lines.len() > MAX_BATCH_LINES {
        return Err(ApiError::bad_request(format!(
            "body: {} job lines; a batch holds 1 to {MAX_BATCH_LINES}",
            lines.len()
        )));
    }
    let mut requests = Vec::with_capacity(lines.len());
    for (number, line) in lines {
        let at_line = |e: ApiError| match e {
            ApiError::BadRequest { code, message } => ApiError::BadRequest {
                code,
                message: format!("line {number}: {message}"),
            },
            ApiError::Forbidden(message) => {
                ApiError::Forbidden(format!("line {number}: {message}"))
            }
            other => other,
        };
        let job: SubmitJob = serde_json::from_str(line).map_err(|e| {
            at_line(ApiError::BadRequest {
                code: if e.is_syntax() || e.is_eof() {
                    "malformed_json"
                } else {
                    "invalid_field"
                },
                message: e.to_string(),
            })
        })?;
        let request = submission(&state, &principal, job, None).map_err(at_line)?;
        state
            .jobs
            .check(&request)
            .map_err(|e| at_line(ApiError::from(e)))?;
        requests.push(request);
    }
    let mut accepted = BatchAccepted {
        jobs: Vec::with_capacity(requests.len()),
        replayed: 0,
    };
    for request in requests {
        let submitted = state.jobs.submit(request).await?;
        accepted.replayed += usize::from(submitted.replayed);
        accepted.jobs.push(submitted.job.into());
    }
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

/// Filters and paging for listing jobs.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListJobs {
    /// queued, running, succeeded, failed or cancelled.
    pub state: Option<String>,
    pub kind: Option<String>,
    /// 1..=200, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    pub jobs: Vec<JobView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// List the caller's jobs, newest first.
#[utoipa::path(get, path = "/api/jobs", tag = "jobs", params(ListJobs),
    responses((status = 200, body = JobPage), (status = 400, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_jobs(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidQuery(query): ValidQuery<ListJobs>,
) -> Result<Json<JobPage>, ApiError> {
    let job_state = query
        .state
        .as_deref()
        .map(|s| {
            s.parse::<JobState>()
                .map_err(|e| ApiError::bad_request(format!("state: {e}")))
        })
        .transpose()?;
    let limit = paging::limit(query.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let before = paging::cursor(query.cursor.as_deref())?;
    let filter = JobFilter {
        state: job_state,
        kind: query.kind,
        limit: limit + 1,
        before,
    };
    let mut rows = state.store.list_jobs(&principal.owner_id, &filter).await?;
    let next_cursor = paging::next_cursor(&mut rows, limit, |j| (j.created_at, &j.id));
    Ok(Json(JobPage {
        jobs: rows.into_iter().map(JobView::from).collect(),
        next_cursor,
    }))
}

/// One job of the caller.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = JobView), (status = 404, body = super::ErrorBody),
        (status = 401, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_job(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let job = state
        .store
        .get_job(Some(&principal.owner_id), &id)
        .await?
        .ok_or_else(|| no_such_job(&id))?;
    let position = if job.state == JobState::Queued {
        Some(state.store.queue_position(&job).await?)
    } else {
        None
    };
    let mut view = JobView::from(job);
    view.queue_position = position;
    Ok(Json(view))
}

fn no_such_job(id: &str) -> ApiError {
    ApiError::NotFound(format!("no job with id {id:?}"))
}

/// Cancel a queued or running job. A running job stops at its next step.
#[utoipa::path(delete, path = "/api/jobs/{id}", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = JobView), (status = 404, body = super::ErrorBody),
        (status = 409, description = "The job already finished", body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn cancel_job(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let (job, cancelled_now) = state
        .jobs
        .cancel(&principal.owner_id, &id)
        .await?
        .ok_or_else(|| no_such_job(&id))?;
    if !cancelled_now {
        return Err(ApiError::Conflict {
            code: "job_finished",
            message: format!(
                "job {id} already {}; only queued or running jobs can be cancelled",
                job.state.as_str()
            ),
        });
    }
    Ok(Json(job.into()))
}

/// One event of the job event stream (the `data` of each SSE message).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobEvent {
    pub state: JobState,
    pub progress: f64,
    pub message: String,
    pub at: String,
}

/// Progress and state changes as server-sent events (`event: progress` or `event: state`, with
/// increasing ids). Reconnect with `Last-Event-ID` to resume; the stream ends after the job
/// finishes. The last 256 events of a job are kept.
#[utoipa::path(get, path = "/api/jobs/{id}/events", tag = "jobs", params(("id" = String, Path),
        ("Last-Event-ID" = Option<i64>, Header, description = "Resume after this event id")),
    responses((status = 200, description = "text/event-stream of JobEvent", body = JobEvent, content_type = "text/event-stream"),
        (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn job_events(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    state
        .store
        .get_job(Some(&principal.owner_id), &id)
        .await?
        .ok_or_else(|| no_such_job(&id))?;
    let after = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID header: must be an event id (integer)")
                })
        })
        .transpose()?
        .unwrap_or(0);
    Ok(Sse::new(event_stream(state, id, after)).keep_alive(KeepAlive::default()))
}

fn event_stream(
    state: AppState,
    job_id: String,
    after: i64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    struct Cursor {
        state: AppState,
        job_id: String,
        after: i64,
        pending: std::collections::VecDeque<Event>,
        done: bool,
    }
    let cursor = Cursor {
        state,
        job_id,
        after,
        pending: Default::default(),
        done: false,
    };
    futures::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(event) = c.pending.pop_front() {
                return Some((Ok(event), c));
            }
            if c.done || c.state.shutdown.is_cancelled() {
                return None;
            }
            match c.state.store.job_events_after(&c.job_id, c.after, 64).await {
                Ok(rows) if !rows.is_empty() => {
                    for row in rows {
                        c.after = row.id;
                        c.done |= row.state.is_terminal();
                        // Progress reports are `progress`; entering a state is `state`.
                        let kind = if row.state == JobState::Running
                            && !row.message.starts_with("running")
                        {
                            "progress"
                        } else {
                            "state"
                        };
                        let data = JobEvent {
                            state: row.state,
                            progress: row.progress,
                            message: row.message,
                            at: rfc3339(row.created_at),
                        };
                        let event = Event::default()
                            .id(row.id.to_string())
                            .event(kind)
                            .json_data(&data)
                            .unwrap_or_else(|_| Event::default().comment("unserializable event"));
                        c.pending.push_back(event);
                    }
                    continue;
                }
                Ok(_) => {
                    // Nothing new: finished jobs whose events were all sent end the stream.
                    match c.state.store.get_job(None, &c.job_id).await {
                        Ok(Some(job)) if job.state.is_terminal() => return None,
                        Ok(None) => return None,
                        _ => {}
                    }
                }
                Err(e) => tracing::warn!(error = %e, "event stream: store unavailable"),
            }
            tokio::select! {
                _ = c.state.shutdown.cancelled() => return None,
                _ = tokio::time::sleep(EVENT_POLL) => {}
            }
        }
    })
}

//! `adforge render JOBS.jsonl`: a batch of jobs from a file (one `{"kind", "payload",
//! "idempotency_key"?, "priority"?}` per line, as `POST /api/jobs/batch` takes them) run through
//! the same store, queue and workers as the server, in this process, until every job is done.
//!
//! Resumable: each line without its own idempotency key gets one derived from the file's name,
//! the line number and the line's text, so running the same file again after a crash submits
//! nothing twice. Finished jobs are reported as they are; jobs the crashed process was running
//! are reclaimed when their lease runs out and finish once.
//!
//! Every line is checked before any job is stored; one bad line refuses the batch, naming it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::app::{AppError, Core};
use crate::config::{ModelArgs, QueueArgs, StoreArgs, TextArgs, WorkerArgs};
use crate::jobs::{JobService, SubmitRequest};
use crate::store::JobRow;

pub use adforge_input::jobs_file::MAX_LINES;
use adforge_input::jobs_file::{self, JobsFileError};

/// What happened to one line.
#[derive(Debug, Clone, Serialize)]
pub struct LineOutcome {
    pub line: usize,
    pub job_id: String,
    pub kind: String,
    pub state: String,
    /// The job was already submitted by an earlier run of this file.
    pub resumed: bool,
    pub result: Option<Value>,
    pub error: Option<String>,
    /// Files copied to `--out`.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: line {line}: {message}")]
    Line {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path}: {count} job lines; a batch file holds 1 to {MAX_LINES}")]
    Count { path: String, count: usize },
    #[error(transparent)]
    App(#[from] AppError),
    #[error("{0}")]
    Other(String),
}

/// What the command runs with.
pub struct BatchArgs<'a> {
    pub file: &'a Path,
    pub out: Option<&'a Path>,
    pub store: &'a StoreArgs,
    pub queue: &'a QueueArgs,
    pub models: &'a ModelArgs,
    pub worker: &'a WorkerArgs,
    pub text: &'a TextArgs,
}

/// Runs the batch; `report` gets each progress line for people. Returns every line's outcome
/// in line order.
pub async fn run(
    args: BatchArgs<'_>,
    report: &(dyn Fn(&str) + Sync),
) -> Result<Vec<LineOutcome>, BatchError> {
    let path = args.file.display().to_string();
    let text = tokio::fs::read_to_string(args.file)
        .await
        .map_err(|source| BatchError::Read {
            path: path.clone(),
            source,
        })?;
    let mut core = Core::open(args.store, args.queue, args.models, args.worker).await?;
    let text_model = crate::app::load_text_model(&core.models, args.text).await?;
    core.register_all(text_model.as_ref(), args.worker.max_video_frames);
    let owner = crate::auth::ADMIN_OWNER_ID;
    core.store
        .ensure_owner(owner, "admin", crate::store::now_ms())
        .await
        .map_err(|e| BatchError::Other(e.to_string()))?;
    let service = JobService::new(
        core.store.clone(),
        core.queue.clone(),
        core.registry.clone(),
        core.settings.clone(),
    );
    let requests = parse_lines(&path, args.file, &text, &service)?;
    let mut jobs = Vec::with_capacity(requests.len());
    for (line, request) in requests {
        let submitted = service
            .submit(request)
            .await
            .map_err(|e| BatchError::Line {
                path: path.clone(),
                line,
                message: e.to_string(),
            })?;
        jobs.push((line, submitted.job.id, submitted.replayed));
    }
    let resumed = jobs.iter().filter(|j| j.2).count();
    report(&format!(
        "{} jobs from {path} ({resumed} already submitted by an earlier run)",
        jobs.len()
    ));
    let shutdown = CancellationToken::new();
    let worker = WorkerArgs {
        workers: args.worker.workers.max(1),
        ..args.worker.clone()
    };
    let lanes = crate::jobs::Lane::names(&crate::jobs::Lane::ALL);
    let background = core.spawn_background(&worker, lanes, &shutdown);
    let finished = wait_all(&core, &jobs, report).await;
    shutdown.cancel();
    background.join().await;
    let finished = finished?;
    let mut outcomes = Vec::with_capacity(finished.len());
    for ((line, _, resumed), job) in jobs.iter().zip(finished) {
        let files = match args.out {
            Some(out) => copy_outputs(&core, &job, *line, out).await?,
            None => Vec::new(),
        };
        outcomes.push(LineOutcome {
            line: *line,
            job_id: job.id,
            kind: job.kind,
            state: job.state.as_str().to_string(),
            resumed: *resumed,
            result: job.result,
            error: job.error,
            files,
        });
    }
    core.store.close().await;
    Ok(outcomes)
}

/// Every line checked and turned into a request, before anything is stored.
fn parse_lines(
    path: &str,
    file: &Path,
    text: &str,
    service: &JobService,
) -> Result<Vec<(usize, SubmitRequest)>, BatchError> {
    let name = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let lines = jobs_file::parse(text).map_err(|e| match e {
        JobsFileError::Count { count } => BatchError::Count {
            path: path.to_string(),
            count,
        },
        JobsFileError::Line { line, message } => BatchError::Line {
            path: path.to_string(),
            line,
            message,
        },
    })?;
    lines
        .into_iter()
        .map(|parsed| {
            let (line, content, job) = (parsed.number, parsed.text, parsed.job);
            let key = job.idempotency_key.unwrap_or_else(|| {
                let digest = Sha256::digest(format!("{}\n{line}\n{content}", name.display()));
                format!("render-{}", &hex::encode(digest)[..32])
            });
            let request = SubmitRequest {
                owner_id: crate::auth::ADMIN_OWNER_ID.to_string(),
                owner_is_admin: true,
                kind: job.kind,
                payload: job.payload,
                idempotency_key: Some(key),
                priority: job.priority,
                max_attempts: job.max_attempts,
            };
            service.check(&request).map_err(|e| BatchError::Line {
                path: path.to_string(),
                line,
                message: e.to_string(),
            })?;
            Ok((line, request))
        })
        .collect()
}

/// Polls until every job has finished (finished rows are not read again); reports progress
/// every few seconds.
async fn wait_all(
    core: &Core,
    jobs: &[(usize, String, bool)],
    report: &(dyn Fn(&str) + Sync),
) -> Result<Vec<JobRow>, BatchError> {
    let mut last_report = std::time::Instant::now();
    let mut rows: Vec<Option<JobRow>> = vec![None; jobs.len()];
    loop {
        let mut running = Vec::new();
        for ((_, id, _), slot) in jobs.iter().zip(rows.iter_mut()) {
            if slot.as_ref().is_some_and(|r| r.state.is_terminal()) {
                continue;
            }
            let row = core
                .store
                .get_job(None, id)
                .await
                .map_err(|e| BatchError::Other(e.to_string()))?
                .ok_or_else(|| BatchError::Other(format!("job {id} disappeared")))?;
            if !row.state.is_terminal() && row.progress > 0.0 {
                running.push(format!(
                    "{} {:.0}% {}",
                    row.kind,
                    row.progress * 100.0,
                    row.message
                ));
            }
            *slot = Some(row);
        }
        let done = rows
            .iter()
            .flatten()
            .filter(|r| r.state.is_terminal())
            .count();
        if done == rows.len() {
            return Ok(rows.into_iter().flatten().collect());
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            last_report = std::time::Instant::now();
            report(&format!(
                "{done}/{} done; {}",
                rows.len(),
                running.join("; ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Copies a succeeded job's files to `out` as `line0007-NAME`.
async fn copy_outputs(
    core: &Core,
    job: &JobRow,
    line: usize,
    out: &Path,
) -> Result<Vec<PathBuf>, BatchError> {
    let io =
        |e: std::io::Error| BatchError::Other(format!("copying outputs to {}: {e}", out.display()));
    tokio::fs::create_dir_all(out).await.map_err(io)?;
    let rows = core
        .assets
        .for_job(&job.owner_id, &job.id)
        .await
        .map_err(|e| BatchError::Other(e.to_string()))?;
    let mut files = Vec::with_capacity(rows.len());
    for row in rows {
        let target = out.join(format!("line{line:04}-{}", row.name));
        tokio::fs::copy(&row.path, &target).await.map_err(io)?;
        files.push(target);
    }
    Ok(files)
}

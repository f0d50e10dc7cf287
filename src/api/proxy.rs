//! On an API node (`adforge serve --role api`) no model is loaded: every `/v1/*` request is
//! forwarded to a live worker from the heartbeat registry that has the model the request names
//! (`"model"` in its JSON body; any worker for requests that name none), the least busy first,
//! the next one if a worker cannot be reached. The response streams back as it comes (server-
//! sent events included). The worker checks the caller's key itself (it reads the same store).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::config::Role;
use crate::store::workers::WorkerRow;

/// Request headers passed on to the worker.
const FORWARDED: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "cookie",
    "x-api-key",
    "x-request-id",
];
/// Workers tried for one request.
const TRIES: usize = 2;

/// The HTTP client that talks to workers.
#[derive(Clone, Debug)]
pub struct WorkerProxy {
    client: reqwest::Client,
}

impl WorkerProxy {
    pub fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(3))
                .build()
                .unwrap_or_default(),
        }
    }
}

impl Default for WorkerProxy {
    fn default() -> Self {
        Self::new()
    }
}

/// Workers that can answer for `model` (any model when `None`), least busy first.
pub fn candidates(workers: Vec<WorkerRow>, model: Option<&str>) -> Vec<WorkerRow> {
    let mut fit: Vec<WorkerRow> = workers
        .into_iter()
        .filter(|w| w.url.is_some())
        .filter(|w| model.is_none_or(|m| w.models.iter().any(|have| have == m)))
        .collect();
    fit.sort_by(|a, b| {
        let load = |w: &WorkerRow| w.running as f64 / w.capacity.max(1) as f64;
        load(a).total_cmp(&load(b)).then_with(|| a.id.cmp(&b.id))
    });
    fit
}

/// The middleware: `/v1/*` on an API node goes to a worker; everything else passes.
pub async fn forward(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.role != Role::Api || !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    match relay(&state, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn relay(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let limit = state.limits.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit })?;
    let model = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["model"].as_str().map(str::to_string));
    let workers = crate::jobs::heartbeat::live_workers(&state.store).await?;
    let fit = candidates(workers, model.as_deref());
    if fit.is_empty() {
        return Err(ApiError::Unavailable {
            what: "an inference worker",
            detail: match &model {
                Some(m) => format!("no live worker has the model `{m}` loaded"),
                None => "no live worker serves inference".into(),
            },
        });
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |p| p.as_str());
    let mut last_error = String::new();
    for worker in fit.iter().take(TRIES) {
        let base = worker
            .url
            .as_deref()
            .unwrap_or_default()
            .trim_end_matches('/');
        let mut outgoing = state
            .proxy
            .client
            .request(parts.method.clone(), format!("{base}{path}"))
            .body(bytes.clone());
        for name in FORWARDED {
            if let Some(value) = parts.headers.get(*name) {
                outgoing = outgoing.header(*name, value.as_bytes());
            }
        }
        match outgoing.send().await {
            Ok(answer) => return Ok(stream_back(answer, &worker.id)),
            Err(e) => {
                tracing::warn!(worker = %worker.id, error = %e, "worker unreachable; trying the next");
                last_error = e.to_string();
            }
        }
    }
    Err(ApiError::Unavailable {
        what: "an inference worker",
        detail: format!("no worker answered: {last_error}"),
    })
}

/// The worker's answer as this node's response, its body streamed.
fn stream_back(answer: reqwest::Response, worker: &str) -> Response {
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers: Vec<(HeaderName, HeaderValue)> = answer
        .headers()
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                "connection" | "transfer-encoding" | "content-length" | "keep-alive"
            )
        })
        .filter_map(|(name, value)| {
            Some((
                HeaderName::from_bytes(name.as_str().as_bytes()).ok()?,
                HeaderValue::from_bytes(value.as_bytes()).ok()?,
            ))
        })
        .collect();
    let mut response = Response::new(Body::from_stream(answer.bytes_stream()));
    *response.status_mut() = status;
    for (name, value) in headers {
        response.headers_mut().insert(name, value);
    }
    if let Ok(value) = HeaderValue::from_str(worker) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-adforge-worker"), value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(id: &str, models: &[&str], running: i64, url: bool) -> WorkerRow {
        WorkerRow {
            id: id.into(),
            url: url.then(|| format!("http://{id}")),
            host: "h".into(),
            device: "cpu".into(),
            models: models.iter().map(|m| m.to_string()).collect(),
            lanes: vec!["any".into()],
            capacity: 2,
            running,
            started_at: 0,
            last_seen: 0,
        }
    }

    #[test]
    fn workers_with_the_model_are_chosen_least_busy_first() {
        let all = vec![
            worker("a", &["smollm2"], 2, true),
            worker("b", &["smollm2", "minilm"], 0, true),
            worker("c", &["minilm"], 0, true),
            worker("d", &["smollm2"], 0, false),
        ];
        let ids = |v: Vec<WorkerRow>| v.into_iter().map(|w| w.id).collect::<Vec<_>>();
        assert_eq!(ids(candidates(all.clone(), Some("smollm2"))), ["b", "a"]);
        assert_eq!(
            ids(candidates(all.clone(), Some("nothing"))),
            Vec::<String>::new()
        );
        assert_eq!(ids(candidates(all, None)), ["b", "c", "a"]);
    }
}

//! `/health` (the process answers), `/ready` (store, queue, device and models, each reported)
//! and `/metrics` (Prometheus text).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use super::AppState;
use crate::engine::registry::Task;
use crate::telemetry::{Gauge, peak_rss_bytes};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: String,
    pub version: String,
}

/// Liveness: the process is up and serving HTTP.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Check {
    pub ok: bool,
    /// `sqlite`, `postgres`, `embedded` or `redis`.
    pub backend: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How long `/ready` waits for each dependency: a readiness probe must answer quickly even
/// while a dependency hangs (its connection pool would wait seconds for a connection).
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

impl Check {
    /// `ping` bounded by [`CHECK_TIMEOUT`]: its error, or a timeout, is the check's error.
    async fn within<E: std::fmt::Display>(
        backend: String,
        ping: impl std::future::Future<Output = Result<(), E>>,
    ) -> Self {
        let error = match tokio::time::timeout(CHECK_TIMEOUT, ping).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
        };
        Self {
            ok: error.is_none(),
            backend,
            error,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ModelReadiness {
    pub name: String,
    pub task: Task,
    pub architecture: String,
    /// Pulled by default (the README's first command installs these).
    pub default: bool,
    /// All files present in the model cache with their recorded sizes.
    pub installed: bool,
    /// Weights in memory, serving requests.
    pub loaded: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` when the store and the queue answer, else `not_ready`.
    pub status: String,
    pub store: Check,
    pub queue: Check,
    /// The device models run on, the GPUs seen, and the SIMD features compiled in.
    #[schema(value_type = Object)]
    pub device: serde_json::Value,
    pub models: Vec<ModelReadiness>,
}

/// Readiness: 200 when the store and the queue answer; 503 with Retry-After otherwise.
#[utoipa::path(get, path = "/ready", tag = "ops", responses(
    (status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn ready(State(state): State<AppState>) -> Response {
    let (store, queue) = tokio::join!(
        Check::within(state.store.backend().name().into(), state.store.ping()),
        Check::within(
            state.jobs.queue().backend().to_string(),
            state.jobs.queue().ping()
        ),
    );
    let models = state
        .models
        .manifests()
        .iter()
        .map(|m| {
            let status = state.models.status(m, false);
            let loaded = state.text.as_ref().is_some_and(|t| t.name == status.name)
                || state.embed.as_ref().is_some_and(|e| e.name == status.name);
            ModelReadiness {
                name: status.name,
                task: status.task,
                architecture: status.architecture,
                default: status.default,
                installed: status.installed,
                loaded,
            }
        })
        .collect();
    let ok = store.ok && queue.ok;
    let body = Readiness {
        status: if ok { "ready" } else { "not_ready" }.into(),
        store,
        queue,
        device: serde_json::to_value(state.device.as_ref()).unwrap_or_default(),
        models,
    };
    let mut response = Json(body).into_response();
    if !ok {
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

/// Prometheus metrics: requests and latency per route, queue depth, jobs by state.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses(
    (status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut gauges = Vec::new();
    let backend = state.jobs.queue().backend().to_string();
    let up = |ok: bool| if ok { 1.0 } else { 0.0 };
    match state.jobs.queue().depth().await {
        Ok(depth) => {
            gauges.push(Gauge {
                name: "adforge_queue_depth",
                help: "Job ids in the queue transport: waiting for a worker, or taken and unacknowledged.",
                labels: vec![("backend", backend.clone()), ("stage", "waiting".into())],
                value: depth.waiting as f64,
            });
            gauges.push(Gauge {
                name: "adforge_queue_depth",
                help: "",
                labels: vec![("backend", backend.clone()), ("stage", "in_flight".into())],
                value: depth.in_flight as f64,
            });
        }
        Err(e) => tracing::warn!(error = %e, "queue depth unavailable for metrics"),
    }
    let counts = state.store.count_jobs_by_state().await;
    gauges.push(Gauge {
        name: "adforge_store_up",
        help: "1 when the database answered this scrape.",
        labels: vec![("backend", state.store.backend().name().into())],
        value: up(counts.is_ok()),
    });
    for count in counts.unwrap_or_default() {
        gauges.push(Gauge {
            name: "adforge_jobs",
            help: "Jobs by state, all owners.",
            labels: vec![("state", count.state.as_str().into())],
            value: count.count as f64,
        });
    }
    let installed = state
        .models
        .manifests()
        .iter()
        .filter(|m| state.models.status(m, false).installed)
        .count();
    if let Some(peak) = peak_rss_bytes() {
        gauges.push(Gauge {
            name: "adforge_process_peak_rss_bytes",
            help: "Peak resident memory of this process (VmHWM).",
            labels: vec![],
            value: peak as f64,
        });
    }
    if let Some(text) = &state.text {
        let profile = text.engine.profile();
        let forward = profile.forward;
        for (phase, time) in [
            ("matmul", forward.matmul),
            ("attention", forward.attention),
            ("other_forward", forward.other),
            ("lm_head", forward.lm_head),
            ("sampling", profile.sampling),
            ("scheduling", profile.scheduling),
            ("idle", profile.idle),
        ] {
            gauges.push(Gauge {
                name: "adforge_text_engine_seconds_total",
                help: "Text engine thread time by phase since start (counter).",
                labels: vec![("phase", phase.into())],
                value: time.as_secs_f64(),
            });
        }
        gauges.push(Gauge {
            name: "adforge_text_engine_steps_total",
            help: "Batched forward steps run (counter).",
            labels: vec![],
            value: profile.steps as f64,
        });
        gauges.push(Gauge {
            name: "adforge_text_engine_tokens_total",
            help: "Tokens through the layers, prefill and decode (counter).",
            labels: vec![],
            value: forward.tokens as f64,
        });
    }
    gauges.push(Gauge {
        name: "adforge_models_installed",
        help: "Models whose files are in the model cache.",
        labels: vec![],
        value: installed as f64,
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&gauges),
    )
        .into_response()
}

//! The HTTP API (axum). The only module that knows HTTP types: handlers parse requests into
//! typed input at the edge ([`extract`]), call the job service, the store's repository API or the
//! engine, and turn failures into [`ApiError`]. Each feature has its own `router()`, merged here
//! under one [`AppState`] with the cross-cutting layers: request ids, per-route metrics, a body
//! size limit, a per-request timeout and panic recovery.

mod agents;
mod analytics;
mod assets;
mod campaigns;
mod connections;
mod creatives;
mod dashboard;
mod deployments;
mod error;
mod events;
mod experiments;
mod extract;
mod generate;
mod health;
pub mod image_generations;
mod images;
mod jobs;
mod mmm;
mod openai;
mod openapi;
mod paging;
pub mod proxy;
mod renders;
mod urls;
mod users;
mod videos;
mod webhooks;
mod workers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::engine::text::TextService;
use crate::engine::{DeviceInfo, ModelRegistry};
use crate::jobs::JobService;
use crate::store::Store;
use crate::telemetry::Metrics;

pub use dashboard::Dashboard;
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use openapi::openapi_json;

/// Request limits enforced at the edge.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_payload_bytes: usize,
    pub request_timeout: Duration,
}

/// Everything a handler may use.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub assets: crate::store::assets::AssetStore,
    pub jobs: JobService,
    pub models: Arc<ModelRegistry>,
    pub device: Arc<DeviceInfo>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// The loaded text model, if any.
    pub text: Option<TextService>,
    /// The loaded sentence-embedding model, if any.
    pub embed: Option<crate::engine::embed::EmbedService>,
    /// Loaded diffusion models, one batched engine each.
    pub image: crate::engine::image::engine::ImageEngines,
    pub image_limits: image_generations::ImageLimits,
    /// Most frames one rendered video may have.
    pub max_video_frames: u64,
    /// The installed RIFE model folder (frame interpolation), if any.
    pub rife_dir: Option<std::path::PathBuf>,
    /// The ad-image compositor (fonts loaded once).
    pub compositor: std::sync::Arc<crate::media::compositor::Compositor>,
    /// The ESRGAN-slim upscaler (loads its networks on first use).
    pub upscale: crate::engine::image::UpscaleService,
    /// `/v1/*` without a key: only on loopback with no configured key.
    pub inference_open: bool,
    /// The campaign loop: planner, deployments, syncs, optimizer.
    pub orchestrator: std::sync::Arc<crate::orchestrate::campaign::Orchestrator>,
    /// Updates out to `/api/events` subscribers.
    pub events: crate::events::EventBus,
    /// The platforms' webhook secrets (a platform without one accepts no deliveries).
    pub webhooks: crate::config::WebhookSecrets,
    /// Fires when the server begins shutting down: event streams end so connections can close.
    pub shutdown: CancellationToken,
    /// Session keys, sealed-credential keys and rate limits.
    pub auth: crate::auth::AuthSettings,
    /// The built dashboard served at `/`, if its folder is there.
    pub dashboard: Option<Arc<Dashboard>>,
    /// What this process is in a deployment (an API node proxies `/v1/*` to workers).
    pub role: crate::config::Role,
    pub proxy: proxy::WorkerProxy,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application.
pub fn router(state: AppState) -> Router {
    let limits = state.limits.clone();
    Router::new()
        .merge(health::router())
        .merge(jobs::router())
        .merge(image_generations::router())
        .merge(renders::router())
        .merge(creatives::router())
        .merge(generate::router())
        .merge(analytics::router())
        .merge(mmm::router())
        .merge(experiments::router())
        .merge(assets::router())
        .merge(campaigns::router())
        .merge(agents::router())
        .merge(deployments::router())
        .merge(users::router())
        .merge(connections::router())
        .merge(videos::router())
        .merge(openai::router())
        .merge(images::router())
        .merge(events::router())
        .merge(webhooks::router())
        .merge(openapi::router())
        .merge(workers::router())
        .fallback(dashboard::fallback)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            proxy::forward,
        ))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(CatchPanicLayer::custom(|_panic| {
            ApiError::Internal("a handler panicked".into()).into_response()
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let request_id = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then stops accepting, lets
/// in-flight requests finish and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    let token = state.shutdown.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            token.cancel();
        })
        .await
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "method {} is not allowed on {}",
        req.method(),
        req.uri().path()
    ))
}

async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    state.metrics.record_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Answers 503 when a handler has not produced a response in time. Streaming bodies (event
/// streams) are not cut: the limit covers the time to the response head.
async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let mut response = ApiError::Timeout(limit.as_secs()).into_response();
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            response
        }
    }
}

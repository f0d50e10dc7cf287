//! The serve and worker roles: a server prepared from `ServeArgs` (store, queue, models, auth,
//! the render and campaign kinds, the event bus), then run until SIGINT or SIGTERM with its
//! background work (worker, reconciler, heartbeat, secret rotation).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState, Limits};
use crate::auth;
use crate::config::{HttpArgs, ImageArgs, ServeArgs, TextArgs, WorkerArgs};
use crate::engine::embed::EmbedService;
use crate::engine::text::TextService;
use crate::jobs::JobService;
use crate::secret::Secret;
use crate::store::Store;
use crate::telemetry::Metrics;

use super::models::{load_embed_model, load_image_models, load_text_model};
use super::{AppError, Core, io};

/// The planner's model: the loaded text engine, else the remote server of `--inference-url`.
fn text_backend(
    text: Option<&TextService>,
    args: &TextArgs,
) -> Option<crate::orchestrate::llm::TextBackend> {
    use crate::orchestrate::llm::TextBackend;
    match (text, &args.inference_url) {
        (Some(text), _) => Some(TextBackend::Local(text.clone())),
        (None, Some(url)) => Some(TextBackend::remote(url, args.inference_key.clone(), None)),
        (None, None) => None,
    }
}

/// The built dashboard, or `None` (logged) when `web_dir` holds no build.
fn dashboard(web_dir: &std::path::Path) -> Option<Arc<crate::api::Dashboard>> {
    let found = crate::api::Dashboard::open(web_dir);
    match &found {
        Some(_) => tracing::info!(dir = %web_dir.display(), "serving the dashboard at /"),
        None => tracing::info!(
            dir = %web_dir.display(),
            "no dashboard build there (cd web && npm ci && npm run build): / answers 404"
        ),
    }
    found
}

/// A server ready to run: the admin key it generated on first start (to be shown once) and
/// everything `run` needs.
pub struct PreparedServer {
    pub generated_admin_key: Option<Secret>,
    /// The one-time token for `/api/auth/setup`, made while no user exists (to be shown once).
    pub generated_setup_token: Option<Secret>,
    auth: auth::AuthSettings,
    events: crate::events::EventBus,
    orchestrator: Arc<crate::orchestrate::campaign::Orchestrator>,
    core: Core,
    text: Option<TextService>,
    embed: Option<EmbedService>,
    image: crate::engine::image::engine::ImageEngines,
    image_args: ImageArgs,
    compositor: Arc<crate::media::compositor::Compositor>,
    http: HttpArgs,
    worker_args: WorkerArgs,
}

pub async fn prepare_server(args: &ServeArgs) -> Result<PreparedServer, AppError> {
    let ServeArgs {
        http,
        store: store_args,
        queue: queue_args,
        models: model_args,
        worker: worker_args,
        text: text_args,
        embed: embed_args,
        image: image_args,
    } = args;
    let mut core = Core::open(store_args, queue_args, model_args, worker_args).await?;
    let generated_admin_key = auth::bootstrap_admin_key(&core.store, http.api_key.as_ref()).await?;
    let auth_settings =
        auth::AuthSettings::from_options(&http.auth.options(), &store_args.data_dir)?;
    let first_admin = http
        .auth
        .admin_email
        .as_deref()
        .zip(http.auth.admin_password.as_ref());
    let generated_setup_token = auth::bootstrap_first_user(&core.store, first_admin).await?;
    // An API node loads no model: inference goes to the workers.
    let api_only = http.role == crate::config::Role::Api;
    let text = match api_only {
        true => None,
        false => load_text_model(&core.models, text_args).await?,
    };
    let embed = match api_only {
        true => None,
        false => load_embed_model(&core.models, embed_args).await?,
    };
    let image = match api_only {
        true => Default::default(),
        false => load_image_models(&core.models, image_args).await?,
    };
    let compositor = Arc::new(crate::media::compositor::Compositor::new(
        crate::media::compositor::FontLibrary::bundled(),
    ));
    core.register_creatives(
        &compositor,
        &image,
        text.as_ref(),
        worker_args.max_video_frames,
    );
    let events = crate::events::EventBus::new(core.store.clone());
    let orchestrator = crate::orchestrate::campaign::Orchestrator::new(
        core.store.clone(),
        core.assets.clone(),
        events.clone(),
        text_backend(text.as_ref(), text_args),
        crate::orchestrate::platforms::clients::Platforms::new(Some(
            crate::orchestrate::platforms::clients::Connected::new(
                core.store.clone(),
                auth_settings.secrets.clone(),
                http.platforms.clone(),
            ),
        )),
    );
    core.register_orchestrator(&orchestrator, embed.as_ref());
    Ok(PreparedServer {
        events,
        orchestrator,
        generated_admin_key,
        generated_setup_token,
        auth: auth_settings,
        core,
        text,
        embed,
        image,
        image_args: image_args.clone(),
        compositor,
        http: http.clone(),
        worker_args: match api_only {
            true => WorkerArgs {
                workers: 0,
                ..worker_args.clone()
            },
            false => worker_args.clone(),
        },
    })
}

impl PreparedServer {
    /// The lanes this process takes jobs from: every lane in the all-in-one role (its jobs fail
    /// with a clear message when a model is missing); a worker only those of its models.
    fn lanes(&self) -> Vec<String> {
        use crate::jobs::Lane;
        let mut lanes = vec![Lane::Any];
        let all = self.http.role == crate::config::Role::All;
        if all || self.text.is_some() || self.orchestrator.text.is_some() {
            lanes.push(Lane::Text);
        }
        if all || !self.image.names().is_empty() {
            lanes.push(Lane::Image);
        }
        Lane::names(&lanes)
    }

    /// The models this process has loaded, by name.
    fn loaded_models(&self) -> Vec<String> {
        let mut models: Vec<String> = self.text.iter().map(|t| t.name.clone()).collect();
        models.extend(self.embed.iter().map(|e| e.name.clone()));
        models.extend(self.image.names());
        models
    }

    /// The URL other nodes reach this one at.
    fn advertised_url(&self, listener: &tokio::net::TcpListener) -> String {
        self.http.advertise_url.clone().unwrap_or_else(|| {
            let addr = listener.local_addr().unwrap_or(self.http.addr);
            format!("http://{addr}")
        })
    }

    /// Serves HTTP (and runs jobs in-process) until SIGINT or SIGTERM; then stops accepting
    /// requests, lets running jobs finish or requeues them, and returns.
    pub async fn run(self) -> Result<(), AppError> {
        let listener = tokio::net::TcpListener::bind(self.http.addr)
            .await
            .map_err(io(format!("binding {}", self.http.addr)))?;
        let shutdown = CancellationToken::new();
        let lanes = self.lanes();
        let background = self
            .core
            .spawn_background(&self.worker_args, lanes.clone(), &shutdown);
        if self.worker_args.workers > 0 {
            tokio::spawn(crate::jobs::heartbeat::run(
                self.core.store.clone(),
                crate::jobs::heartbeat::Announce {
                    id: self.worker_args.worker_id(),
                    url: Some(self.advertised_url(&listener)),
                    device: self.core.device.compute.to_string(),
                    models: self.loaded_models(),
                    lanes,
                    capacity: self.worker_args.workers as i64,
                    running: background.running(),
                },
                shutdown.clone(),
            ));
        }
        tokio::spawn(rotate_secrets(
            self.core.store.clone(),
            self.auth.secrets.clone(),
            shutdown.clone(),
        ));
        let jobs = JobService::new(
            self.core.store.clone(),
            self.core.queue.clone(),
            self.core.registry.clone(),
            self.core.settings.clone(),
        );
        let _ = self.orchestrator.jobs.set(jobs.clone());
        let state = AppState {
            store: self.core.store.clone(),
            assets: self.core.assets.clone(),
            jobs,
            orchestrator: self.orchestrator.clone(),
            models: self.core.models.clone(),
            device: self.core.device.clone(),
            metrics: Arc::new(Metrics::default()),
            limits: Limits {
                max_body_bytes: self.http.max_body_bytes,
                max_payload_bytes: self.http.max_payload_bytes,
                request_timeout: Duration::from_secs(self.http.request_timeout_secs),
            },
            text: self.text.clone(),
            embed: self.embed.clone(),
            image: self.image.clone(),
            compositor: self.compositor.clone(),
            max_video_frames: self.worker_args.max_video_frames,
            rife_dir: Some(self.core.models.model_dir("rife-3.9")).filter(|d| d.exists()),
            image_limits: crate::api::image_generations::ImageLimits {
                max_side: self.image_args.max_image_side,
                max_steps: self.image_args.max_image_steps,
                ..Default::default()
            },
            upscale: crate::engine::image::UpscaleService::new(
                self.core.models.model_dir("esrgan-slim"),
            ),
            inference_open: self.http.addr.ip().is_loopback() && self.http.api_key.is_none(),
            events: self.events.clone(),
            webhooks: self.http.webhooks.clone(),
            shutdown: shutdown.clone(),
            auth: self.auth.clone(),
            dashboard: dashboard(&self.http.web_dir),
            role: self.http.role,
            proxy: crate::api::proxy::WorkerProxy::new(),
        };
        let addr = listener
            .local_addr()
            .map_err(io("reading the bound address"))?;
        tracing::info!(%addr, "adforge listening on http://{addr}");
        let signal = shutdown_signal();
        let result = api::serve(listener, state, signal).await;
        tracing::info!("http stopped; finishing running jobs");
        shutdown.cancel();
        background.join().await;
        self.core.store.close().await;
        result.map_err(io("serving http"))
    }
}

/// Re-seals platform credentials still under an older key, while the server serves.
async fn rotate_secrets(store: Store, secrets: Arc<auth::SecretBox>, shutdown: CancellationToken) {
    match auth::crypto::rotate(&store, &secrets, &shutdown).await {
        Ok(report) if report == Default::default() => {}
        Ok(report) => tracing::info!(
            rotated = report.rotated,
            changed_meanwhile = report.skipped_changed,
            failed = report.failed,
            active_key = %secrets.active_kid(),
            "platform credentials re-sealed under the active key"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "re-sealing platform credentials failed; `adforge secrets rotate` retries")
        }
    }
}

/// `adforge worker`: loads its models, runs jobs from the lanes of those models, serves the
/// inference API (and the rest) to API nodes, and announces itself with a heartbeat, until
/// SIGINT or SIGTERM.
pub async fn run_worker(args: &ServeArgs) -> Result<(), AppError> {
    let mut args = args.clone();
    args.http.role = crate::config::Role::Worker;
    args.worker.workers = args.worker.workers.max(1);
    let server = prepare_server(&args).await?;
    tracing::info!(worker = %args.worker.worker_id(), concurrency = args.worker.workers, "worker running");
    server.run().await
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown signal received");
}

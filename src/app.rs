//! Wiring: builds the store, queue, model registry, device and job system from resolved
//! settings, and runs the server and worker roles until a shutdown signal. `main` stays thin.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState, Limits};
use crate::auth::{self, AuthError};
use crate::config::{
    EmbedArgs, HttpArgs, ImageArgs, ModelArgs, QueueArgs, ServeArgs, StoreArgs, TextArgs,
    WorkerArgs,
};
use crate::engine::embed::{EmbedError, EmbedLimits, EmbedService};
use crate::engine::text::{EngineLimits, LoadError, TextService};
use crate::engine::{self, DeviceError, DeviceInfo, ModelRegistry, RegistryError};
use crate::jobs::embedded::EmbeddedQueue;
use crate::jobs::redis::RedisQueue;
use crate::jobs::{
    self, JobQueue, JobRegistry, JobService, QueueError, QueueSettings, Worker, WorkerOptions,
};
use crate::scheduler::BatchLimits;
use crate::secret::Secret;
use crate::store::assets::{AssetLimits, AssetStore};
use crate::store::{Store, StoreError, StoreOptions};
use crate::telemetry::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("loading text model {model}: {source}")]
    Text { model: String, source: LoadError },
    #[error("loading embedding model {model}: {source}")]
    Embed { model: String, source: EmbedError },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> AppError {
    let context = context.into();
    move |source| AppError::Io { context, source }
}

/// Opens the database (creating the data dir for SQLite) and applies migrations.
pub async fn open_store(args: &StoreArgs) -> Result<Store, AppError> {
    std::fs::create_dir_all(&args.data_dir)
        .map_err(io(format!("creating data dir {}", args.data_dir.display())))?;
    let store = Store::connect(&args.database_url(), &StoreOptions::default()).await?;
    store.migrate().await?;
    tracing::info!(database = %args.database_url_redacted(), backend = store.backend().name(), "store ready");
    Ok(store)
}

/// The Redis queue when a URL is given, the embedded one otherwise.
pub async fn open_queue(args: &QueueArgs, store: &Store) -> Result<Arc<dyn JobQueue>, AppError> {
    Ok(match &args.redis_url {
        Some(url) => {
            let queue = RedisQueue::connect(
                url.expose(),
                &args.queue_stream,
                Duration::from_secs(args.visibility_timeout_secs),
            )
            .await?;
            tracing::info!(stream = %args.queue_stream, "job queue: redis");
            Arc::new(queue)
        }
        None => {
            tracing::info!("job queue: embedded");
            Arc::new(EmbeddedQueue::new(store.clone()))
        }
    })
}

pub fn open_models(models: &ModelArgs, store: &StoreArgs) -> Result<ModelRegistry, AppError> {
    Ok(
        ModelRegistry::load(&models.models_dir, &models.cache_dir(store))?
            .with_env(models.source_env()),
    )
}

/// The directory of model `name` when it is configured, known and installed; `None` with a
/// warning saying what to do otherwise (the routes it serves answer 503 meanwhile).
fn installed_model(
    models: &ModelRegistry,
    name: &str,
    routes: &str,
) -> Option<(crate::engine::registry::Manifest, PathBuf)> {
    if name.is_empty() {
        return None;
    }
    let manifest = match models.get(name) {
        Ok(manifest) => manifest,
        Err(e) => {
            tracing::warn!(error = %e, "model not loaded: {routes} answer 503");
            return None;
        }
    };
    if !models.status(manifest, false).installed {
        tracing::warn!(
            model = %name,
            "model not installed: {routes} answer 503 until `adforge models pull {name}` and a restart"
        );
        return None;
    }
    Some((manifest.clone(), models.model_dir(&manifest.name)))
}

/// Runs a blocking model load off the async runtime.
async fn load_blocking<T: Send + 'static>(
    what: &str,
    load: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(load)
        .await
        .map_err(|e| AppError::Io {
            context: format!("loading the {what} model"),
            source: std::io::Error::other(e),
        })
}

/// Loads the configured text model when it is installed; `None` (with a warning) when not.
pub async fn load_text_model(
    models: &ModelRegistry,
    args: &TextArgs,
) -> Result<Option<TextService>, AppError> {
    let Some((manifest, dir)) = installed_model(models, &args.text_model, "/v1 text routes") else {
        return Ok(None);
    };
    // A GGUF file, or a Hugging Face checkpoint (config.json and safetensors) in the directory.
    let path = match manifest.files.iter().find(|f| f.path.ends_with(".gguf")) {
        Some(file) => dir.join(&file.path),
        None if manifest
            .files
            .iter()
            .any(|f| f.path.ends_with(".safetensors")) =>
        {
            dir
        }
        None => {
            tracing::warn!(model = %args.text_model, "text model has no GGUF or safetensors file; not loaded");
            return Ok(None);
        }
    };
    let name = args.text_model.clone();
    let limits = EngineLimits {
        batch: BatchLimits {
            max_batch: usize::from(args.max_batch),
            ..BatchLimits::default()
        },
        queue: args.text_queue.max(1),
        max_running: usize::from(args.max_batch),
    };
    let max_context = args.max_context;
    load_blocking("text", move || {
        TextService::load(&name, &path, limits, max_context)
    })
    .await?
    .map(Some)
    .map_err(|source| AppError::Text {
        model: args.text_model.clone(),
        source,
    })
}

/// Loads the configured embedding model when it is installed; `None` (with a warning) when not.
pub async fn load_embed_model(
    models: &ModelRegistry,
    args: &EmbedArgs,
) -> Result<Option<EmbedService>, AppError> {
    let Some((_, dir)) = installed_model(models, &args.embed_model, "/v1/embeddings") else {
        return Ok(None);
    };
    let name = args.embed_model.clone();
    let limits = EmbedLimits {
        queue: args.embed_queue.max(1),
        max_batch: usize::from(args.embed_batch),
        ..EmbedLimits::default()
    };
    load_blocking("embedding", move || EmbedService::load(&name, &dir, limits))
        .await?
        .map(Some)
        .map_err(|source| AppError::Embed {
            model: args.embed_model.clone(),
            source,
        })
}

/// Loads the configured image model when it is installed, and starts its engine; none (with a
/// warning) when not.
pub async fn load_image_models(
    models: &ModelRegistry,
    args: &ImageArgs,
) -> Result<crate::engine::image::engine::ImageEngines, AppError> {
    use crate::engine::image::engine::{
        EngineLimits as ImageEngineLimits, ImageEngine, ImageEngines,
    };
    let engines = ImageEngines::default();
    let Some((_, dir)) = installed_model(
        models,
        &args.image_model,
        "/v1/images/generations and edits",
    ) else {
        return Ok(engines);
    };
    let name = args.image_model.clone();
    let model = load_blocking("image", move || {
        crate::engine::image::pipeline::DiffusionModel::load(&name, &dir, &candle_core::Device::Cpu)
    })
    .await?
    .map_err(|e| AppError::Io {
        context: format!("loading the image model {}", args.image_model),
        source: std::io::Error::other(e.to_string()),
    })?;
    let limits = ImageEngineLimits {
        max_requests: args.image_queue.max(1),
        max_rows: usize::from(args.image_batch_rows),
    };
    engines.insert(ImageEngine::start(Arc::new(model), limits));
    Ok(engines)
}

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

/// The registry of the kinds every server or worker runs: `model.pull` and `analytics.mmm`
/// (the render and campaign kinds are added by [`Core::register_all`] and the server).
pub fn builtin_kinds(models: Arc<ModelRegistry>, assets: AssetStore) -> JobRegistry {
    let mut registry = JobRegistry::new();
    registry.register(Arc::new(crate::engine::registry::job::ModelPull::new(
        models,
    )));
    registry.register(Arc::new(crate::orchestrate::analytics::mmm::job::MmmJob {
        assets,
    }));
    registry
}

/// The parts shared by the server and worker roles.
pub struct Core {
    pub store: Store,
    pub queue: Arc<dyn JobQueue>,
    pub models: Arc<ModelRegistry>,
    pub device: Arc<DeviceInfo>,
    pub registry: JobRegistry,
    pub assets: AssetStore,
    pub settings: QueueSettings,
    /// The renderers of `creative.render` and `video.render`, once registered (the creative
    /// set runs them as its stages).
    renderers: Option<(
        Arc<crate::studio::creatives::CreativeRender>,
        Arc<crate::studio::videos::VideoRender>,
    )>,
}

impl Core {
    /// Registers `creative.render` and `video.render` with the models this process has (a worker without models
    /// still renders given copy over gradients and uploaded images).
    fn register_creatives(
        &mut self,
        compositor: &Arc<crate::media::compositor::Compositor>,
        images: &crate::engine::image::engine::ImageEngines,
        text: Option<&TextService>,
        max_video_frames: u64,
    ) {
        let render = Arc::new(crate::studio::creatives::CreativeRender {
            assets: self.assets.clone(),
            compositor: compositor.clone(),
            images: images.clone(),
            text: text.cloned(),
        });
        let rife_dir = self.models.model_dir("rife-3.9");
        let video = Arc::new(crate::studio::videos::VideoRender {
            assets: self.assets.clone(),
            images: images.clone(),
            compositor: compositor.clone(),
            text: text.cloned(),
            rife_dir: rife_dir.exists().then_some(rife_dir),
            max_frames: max_video_frames,
        });
        self.registry.register(render.clone());
        self.registry.register(video.clone());
        self.renderers = Some((render, video));
    }

    /// Registers the campaign loop's kinds, and `creative.set` when the renderers are there.
    pub fn register_orchestrator(
        &mut self,
        orchestrator: &Arc<crate::orchestrate::campaign::Orchestrator>,
        embed: Option<&EmbedService>,
    ) {
        orchestrator.register(&mut self.registry);
        if let Some((render, video)) = &self.renderers {
            self.registry
                .register(Arc::new(crate::studio::creative_set::CreativeSet {
                    store: self.store.clone(),
                    events: orchestrator.events.clone(),
                    render: render.clone(),
                    video: video.clone(),
                    text: orchestrator.text.clone(),
                    embed: embed.cloned(),
                }));
        }
    }

    /// Registers every render kind with a new compositor (roles without HTTP and image engines).
    pub fn register_all(&mut self, text: Option<&TextService>, max_video_frames: u64) {
        let compositor = Arc::new(crate::media::compositor::Compositor::new(
            crate::media::compositor::FontLibrary::bundled(),
        ));
        self.register_creatives(&compositor, &Default::default(), text, max_video_frames);
    }

    pub async fn open(
        store_args: &StoreArgs,
        queue_args: &QueueArgs,
        model_args: &ModelArgs,
        worker_args: &WorkerArgs,
    ) -> Result<Self, AppError> {
        let store = open_store(store_args).await?;
        let queue = open_queue(queue_args, &store).await?;
        let models = Arc::new(open_models(model_args, store_args)?);
        let device = Arc::new(engine::device::select(worker_args.device)?);
        tracing::info!(compute = %device.compute, gpus = device.gpus.len(), features = ?device.cpu_features, "device");
        if let Some(note) = &device.note {
            tracing::warn!("{note}");
        }
        let assets = AssetStore::new(
            store.clone(),
            &store_args.data_dir,
            AssetLimits {
                quota_bytes: store_args.asset_quota_bytes,
                retention_ms: (store_args.asset_retention_days > 0)
                    .then(|| store_args.asset_retention_days as i64 * 24 * 3600 * 1000),
            },
        );
        let assets = match &store_args.object_store {
            Some(url) => {
                let objects = crate::store::objects::Objects::from_url(
                    url,
                    &crate::config::s3_settings(),
                    store_args.data_dir.join("object-cache"),
                )
                .map_err(|e| AppError::Config(e.to_string()))?;
                tracing::info!(%url, "asset bytes in the object store");
                assets.with_objects(objects)
            }
            None => assets,
        };
        let registry = builtin_kinds(models.clone(), assets.clone());
        Ok(Self {
            store,
            queue,
            models,
            device,
            registry,
            assets,
            settings: queue_args.settings(),
            renderers: None,
        })
    }

    /// Starts the reconciler and (unless `workers` is 0) the job worker; they stop when
    /// `shutdown` fires, the worker after its grace period.
    pub(crate) fn spawn_background(
        &self,
        worker_args: &WorkerArgs,
        lanes: Vec<String>,
        shutdown: &CancellationToken,
    ) -> Background {
        let reconciler = tokio::spawn(jobs::run_reconciler(
            self.store.clone(),
            self.queue.clone(),
            self.settings.clone(),
            shutdown.clone(),
        ));
        let running: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let worker = (worker_args.workers > 0).then(|| {
            let worker = Worker::new(
                self.store.clone(),
                self.queue.clone(),
                self.registry.clone(),
                WorkerOptions {
                    worker_id: worker_args.worker_id(),
                    concurrency: worker_args.workers,
                    shutdown_grace: Duration::from_secs(worker_args.shutdown_grace_secs),
                    settings: self.settings.clone(),
                    lanes,
                },
            );
            let handle = tokio::spawn(worker.clone().run(shutdown.clone()));
            (handle, worker.running())
        });
        let (worker, running) = match worker {
            Some((handle, running)) => (Some(handle), running),
            None => (None, running),
        };
        let sweeper = tokio::spawn(sweep_assets(self.assets.clone(), shutdown.clone()));
        Background {
            reconciler,
            worker,
            sweeper,
            running,
        }
    }
}

/// Deletes assets past their retention at start and then every hour, until shutdown.
async fn sweep_assets(assets: AssetStore, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => match assets.sweep(crate::store::now_ms()).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "assets past their retention deleted"),
                Err(e) => tracing::warn!(error = %e, "sweeping old assets failed; retrying in an hour"),
            },
        }
    }
}

pub(crate) struct Background {
    reconciler: tokio::task::JoinHandle<()>,
    worker: Option<tokio::task::JoinHandle<()>>,
    sweeper: tokio::task::JoinHandle<()>,
    running: Arc<std::sync::atomic::AtomicUsize>,
}

impl Background {
    /// Jobs the worker runs now.
    pub(crate) fn running(&self) -> Arc<std::sync::atomic::AtomicUsize> {
        self.running.clone()
    }

    pub(crate) async fn join(self) {
        if let Some(worker) = self.worker {
            let _ = worker.await;
        }
        let _ = self.reconciler.await;
        let _ = self.sweeper.await;
    }
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

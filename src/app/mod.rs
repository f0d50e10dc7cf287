//! Wiring: builds the store, queue, model registry, device and job system from resolved
//! settings, and runs the server and worker roles until a shutdown signal. `main` stays thin.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::auth::AuthError;
use crate::config::{ModelArgs, QueueArgs, StoreArgs, WorkerArgs};
use crate::engine::embed::{EmbedError, EmbedService};
use crate::engine::text::{LoadError, TextService};
use crate::engine::{self, DeviceError, DeviceInfo, ModelRegistry, RegistryError};
use crate::jobs::embedded::EmbeddedQueue;
use crate::jobs::redis::RedisQueue;
use crate::jobs::{self, JobQueue, JobRegistry, QueueError, QueueSettings, Worker, WorkerOptions};
use crate::store::assets::{AssetLimits, AssetStore};
use crate::store::{Store, StoreError, StoreOptions};

mod models;
mod server;

pub use models::{load_embed_model, load_image_models, load_text_model};
pub use server::{PreparedServer, prepare_server, run_worker, shutdown_signal};

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

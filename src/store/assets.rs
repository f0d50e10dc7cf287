//! Files made by jobs (charts now; renders later), kept under `DATA_DIR/assets/OWNER/` with a
//! row per file: content type, size and SHA-256. The id is derived from (owner, job, name), so a
//! retried job writes the same object and the same row: a file is written to a temporary name
//! and renamed into place, never seen half-written, never left twice.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sqlx::Row;

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

/// The asset store: the repository for rows, a folder for bytes.
#[derive(Clone, Debug)]
pub struct AssetStore {
    store: Store,
    root: PathBuf,
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
    pub fn new(store: Store, data_dir: &Path) -> Self {
        Self {
            store,
            root: data_dir.join("assets"),
        }
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
    ) -> StoreResult<AssetRow> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            || name.starts_with('.')
        {
            return Err(StoreError::Corrupt(format!(
                "asset name {name:?}: use letters, digits, '.', '_' and '-'"
            )));
        }
        let id = hex::encode(&Sha256::digest(format!("{owner_id}\n{job_id}\n{name}"))[..16]);
        let folder = self.root.join(&hex::encode(Sha256::digest(owner_id))[..16]);
        let path = folder.join(format!("{id}-{name}"));
        let temporary = folder.join(format!(".{id}-{}.partial", uuid::Uuid::new_v4()));
        let io =
            |e: std::io::Error| StoreError::Corrupt(format!("writing {}: {e}", path.display()));
        tokio::fs::create_dir_all(&folder).await.map_err(io)?;
        tokio::fs::write(&temporary, content).await.map_err(io)?;
        tokio::fs::rename(&temporary, &path).await.map_err(io)?;
        let row = AssetRow {
            id,
            owner_id: owner_id.to_string(),
            job_id: Some(job_id.to_string()),
            name: name.to_string(),
            content_type: content_type.to_string(),
            sha256: hex::encode(Sha256::digest(content)),
            bytes: content.len() as i64,
            path: path.display().to_string(),
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
        .await?;
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

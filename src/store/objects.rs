//! Where asset bytes live: files under the data dir (the embedded default), or objects in any
//! S3-compatible bucket through the `object_store` crate (`--object-store s3://bucket/prefix`;
//! endpoint, region and credentials from the environment; path-style addressing unless told
//! otherwise, for self-hosted stores).
//!
//! An asset row's `path` says which: an absolute file path, or `s3://bucket/key`. Objects are
//! written whole or not at all: small ones with one PUT, rendered files as a multipart upload
//! streamed from disk in parts (a render is never held in memory), aborted on failure, so a
//! half-written object is never visible under its key. Reads stream, with byte ranges; files
//! that a decoder must open (a video input) are fetched once into a local cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::signer::Signer;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

/// Size of one part of a multipart upload (S3's minimum is 5 MiB except for the last).
pub const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts in flight at once during one upload.
const PARTS_IN_FLIGHT: usize = 2;

/// What went wrong with the object store, in the words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("object {0} not found in the object store")]
    Missing(String),
    #[error(
        "the object store refused access to {key}: {message} (check the credentials and the bucket's policy)"
    )]
    Denied { key: String, message: String },
    #[error("the bucket {0} does not exist (create it, or fix --object-store)")]
    NoBucket(String),
    #[error("the object store is throttling requests: {0}; retry later")]
    Throttled(String),
    #[error("object store: {0}")]
    Other(String),
    #[error("--object-store: {0}")]
    Config(String),
    #[error("local file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl ObjectError {
    /// Whether a later attempt may succeed (throttling, a transient failure).
    pub fn is_transient(&self) -> bool {
        matches!(self, ObjectError::Throttled(_) | ObjectError::Other(_))
    }

    fn from_store(key: &str, bucket: &str, e: object_store::Error) -> Self {
        use object_store::Error as E;
        match e {
            E::NotFound { source, .. } if source.to_string().contains("NoSuchBucket") => {
                ObjectError::NoBucket(bucket.to_string())
            }
            E::NotFound { .. } => ObjectError::Missing(key.to_string()),
            E::PermissionDenied { source, .. } | E::Unauthenticated { source, .. } => {
                ObjectError::Denied {
                    key: key.to_string(),
                    message: source.to_string(),
                }
            }
            other => {
                let text = other.to_string();
                if text.contains("NoSuchBucket") {
                    ObjectError::NoBucket(bucket.to_string())
                } else if text.contains("SlowDown")
                    || text.contains("Throttl")
                    || text.contains("503")
                    || text.contains("429")
                {
                    ObjectError::Throttled(text)
                } else if text.contains("AccessDenied") || text.contains("403") {
                    ObjectError::Denied {
                        key: key.to_string(),
                        message: text,
                    }
                } else {
                    ObjectError::Other(text)
                }
            }
        }
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ObjectError + '_ {
    move |source| ObjectError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// An S3-compatible bucket and where its local cache is.
#[derive(Debug)]
struct Bucket {
    store: Arc<AmazonS3>,
    bucket: String,
    /// Key prefix, without leading or trailing `/` (may be empty).
    prefix: String,
    /// Objects fetched for a decoder, by asset id.
    cache: PathBuf,
}

/// Settings of an S3-compatible store (`config::s3_settings` reads them from the environment).
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `http://127.0.0.1:9000`, or none for AWS itself.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Virtual-hosted-style URLs (`bucket.host`); path-style (`host/bucket`) otherwise.
    pub virtual_hosted: bool,
    /// Credentials; without them the builder's own lookup (instance metadata and so on).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<crate::secret::Secret>,
    /// Retries of a failed request (throttling, 5xx) before the error is returned.
    pub max_retries: usize,
    /// The most time spent retrying one request.
    pub retry_timeout: Duration,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: None,
            virtual_hosted: false,
            access_key_id: None,
            secret_access_key: None,
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
        }
    }
}

/// The bytes' home.
#[derive(Debug, Clone)]
pub struct Objects {
    bucket: Option<Arc<Bucket>>,
}

impl Objects {
    /// Files on the local filesystem (the default).
    pub fn local() -> Self {
        Self { bucket: None }
    }

    /// `s3://bucket/prefix` with `settings` (credentials from `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`); decoder inputs are cached under `cache`.
    pub fn from_url(url: &str, settings: &S3Settings, cache: PathBuf) -> Result<Self, ObjectError> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| ObjectError::Config(format!("`{url}` is not s3://bucket/prefix")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(ObjectError::Config(format!("`{url}` names no bucket")));
        }
        let retry = object_store::RetryConfig {
            max_retries: settings.max_retries,
            retry_timeout: settings.retry_timeout,
            ..object_store::RetryConfig::default()
        };
        let mut builder = AmazonS3Builder::new()
            .with_retry(retry)
            .with_bucket_name(bucket)
            .with_virtual_hosted_style_request(settings.virtual_hosted)
            .with_region(
                settings
                    .region
                    .clone()
                    .unwrap_or_else(|| "us-east-1".into()),
            );
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret.expose());
        }
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder
            .build()
            .map_err(|e| ObjectError::Config(e.to_string()))?;
        Ok(Self {
            bucket: Some(Arc::new(Bucket {
                store: Arc::new(store),
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
                cache,
            })),
        })
    }

    pub fn is_remote(&self) -> bool {
        self.bucket.is_some()
    }

    /// What a row records for an object at `relative` (`OWNER/ID-NAME`), or for the local file
    /// `local`.
    pub fn location(&self, relative: &str, local: &Path) -> String {
        match &self.bucket {
            Some(b) if b.prefix.is_empty() => format!("s3://{}/{relative}", b.bucket),
            Some(b) => format!("s3://{}/{}/{relative}", b.bucket, b.prefix),
            None => local.display().to_string(),
        }
    }

    /// The bucket and key of a recorded location in this store.
    fn key<'a>(&'a self, location: &str) -> Option<(&'a Bucket, Key)> {
        let b = self.bucket.as_deref()?;
        let rest = location.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/')?;
        (bucket == b.bucket).then(|| (b, Key::from(key)))
    }

    fn remote<'a>(&'a self, location: &str) -> Result<Option<(&'a Bucket, Key)>, ObjectError> {
        if !location.starts_with("s3://") {
            return Ok(None);
        }
        self.key(location).map(Some).ok_or_else(|| {
            ObjectError::Config(format!(
                "{location} is in another bucket than this server's --object-store"
            ))
        })
    }

    /// Writes `content` whole at `location` (one PUT for an object).
    pub async fn put(&self, location: &str, content: &[u8]) -> Result<(), ObjectError> {
        let Some((b, key)) = self.remote(location)? else {
            return Err(ObjectError::Config(format!("{location} is not an object")));
        };
        b.store
            .put(&key, PutPayload::from(Bytes::copy_from_slice(content)))
            .await
            .map_err(|e| ObjectError::from_store(key.as_ref(), &b.bucket, e))?;
        Ok(())
    }

    /// Uploads the file `from` to `location` as a multipart upload, part by part from disk;
    /// nothing is visible under the key until the last part is in, and a failed upload is
    /// aborted. Returns the bytes sent.
    pub async fn put_file(&self, location: &str, from: &Path) -> Result<u64, ObjectError> {
        let Some((b, key)) = self.remote(location)? else {
            return Err(ObjectError::Config(format!("{location} is not an object")));
        };
        let store_error = |e| ObjectError::from_store(key.as_ref(), &b.bucket, e);
        let upload = b.store.put_multipart(&key).await.map_err(store_error)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let sent: Result<u64, ObjectError> = async {
            let mut file = tokio::fs::File::open(from).await.map_err(io_error(from))?;
            let mut buffer = vec![0u8; 1 << 20];
            let mut total = 0u64;
            loop {
                let n = file.read(&mut buffer).await.map_err(io_error(from))?;
                if n == 0 {
                    break;
                }
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(store_error)?;
                writer.write(&buffer[..n]);
                total += n as u64;
            }
            Ok(total)
        }
        .await;
        match sent {
            Ok(total) => {
                writer.finish().await.map_err(store_error)?;
                Ok(total)
            }
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    /// All the bytes at `location`.
    pub async fn read(&self, location: &str) -> Result<Vec<u8>, ObjectError> {
        match self.remote(location)? {
            None => tokio::fs::read(location)
                .await
                .map_err(io_error(Path::new(location))),
            Some((b, key)) => {
                let got = b
                    .store
                    .get(&key)
                    .await
                    .map_err(|e| ObjectError::from_store(key.as_ref(), &b.bucket, e))?;
                let bytes = got
                    .bytes()
                    .await
                    .map_err(|e| ObjectError::from_store(key.as_ref(), &b.bucket, e))?;
                Ok(bytes.to_vec())
            }
        }
    }

    /// `len` bytes from `start` as a stream (an open file, or a ranged GET).
    pub async fn stream_range(
        &self,
        location: &str,
        start: u64,
        len: u64,
    ) -> Result<BoxStream<'static, Result<Bytes, std::io::Error>>, ObjectError> {
        match self.remote(location)? {
            None => {
                use tokio::io::AsyncSeekExt;
                let path = Path::new(location);
                let mut file = tokio::fs::File::open(path).await.map_err(io_error(path))?;
                file.seek(std::io::SeekFrom::Start(start))
                    .await
                    .map_err(io_error(path))?;
                Ok(tokio_util::io::ReaderStream::new(file.take(len)).boxed())
            }
            Some((b, key)) => {
                if len == 0 {
                    return Ok(futures::stream::empty().boxed());
                }
                let options = GetOptions {
                    range: Some(GetRange::Bounded(start..start + len)),
                    ..GetOptions::default()
                };
                let got = b
                    .store
                    .get_opts(&key, options)
                    .await
                    .map_err(|e| ObjectError::from_store(key.as_ref(), &b.bucket, e))?;
                Ok(got.into_stream().map_err(std::io::Error::other).boxed())
            }
        }
    }

    /// A local file with the bytes at `location` (itself for a file; for an object, a copy
    /// fetched once into the cache as `cache_name`, written to a temporary name and renamed).
    pub async fn local_file(
        &self,
        location: &str,
        cache_name: &str,
    ) -> Result<PathBuf, ObjectError> {
        let Some((b, key)) = self.remote(location)? else {
            return Ok(PathBuf::from(location));
        };
        let target = b.cache.join(cache_name);
        if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            return Ok(target);
        }
        tokio::fs::create_dir_all(&b.cache)
            .await
            .map_err(io_error(&b.cache))?;
        let temporary = b
            .cache
            .join(format!(".{cache_name}-{}.partial", uuid::Uuid::new_v4()));
        let result: Result<(), ObjectError> = async {
            use tokio::io::AsyncWriteExt;
            let got = b
                .store
                .get(&key)
                .await
                .map_err(|e| ObjectError::from_store(key.as_ref(), &b.bucket, e))?;
            let mut stream = got.into_stream();
            let mut file = tokio::fs::File::create(&temporary)
                .await
                .map_err(io_error(&temporary))?;
            while let Some(chunk) = stream.next().await {
                let chunk =
                    chunk.map_err(|e| ObjectError::from_store(key.as_ref(), &b.bucket, e))?;
                file.write_all(&chunk).await.map_err(io_error(&temporary))?;
            }
            file.flush().await.map_err(io_error(&temporary))?;
            tokio::fs::rename(&temporary, &target)
                .await
                .map_err(io_error(&target))
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&temporary).await;
        }
        result.map(|()| target)
    }

    /// Removes what is at `location` (nothing there is not an error).
    pub async fn delete(&self, location: &str) -> Result<(), ObjectError> {
        match self.remote(location)? {
            None => match tokio::fs::remove_file(location).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_error(Path::new(location))(e)),
            },
            Some((b, key)) => match b.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(ObjectError::from_store(key.as_ref(), &b.bucket, e)),
            },
        }
    }

    /// A URL that reads the object without credentials for `ttl` (`None` for a local file).
    pub async fn presign(
        &self,
        location: &str,
        ttl: Duration,
    ) -> Result<Option<String>, ObjectError> {
        let Some((b, key)) = self.remote(location)? else {
            return Ok(None);
        };
        let url = b
            .store
            .signed_url(http::Method::GET, &key, ttl)
            .await
            .map_err(|e| ObjectError::from_store(key.as_ref(), &b.bucket, e))?;
        Ok(Some(url.to_string()))
    }

    /// The object's size (for a file, its length).
    pub async fn size(&self, location: &str) -> Result<u64, ObjectError> {
        match self.remote(location)? {
            None => Ok(tokio::fs::metadata(location)
                .await
                .map_err(io_error(Path::new(location)))?
                .len()),
            Some((b, key)) => Ok(b
                .store
                .head(&key)
                .await
                .map_err(|e| ObjectError::from_store(key.as_ref(), &b.bucket, e))?
                .size),
        }
    }
}

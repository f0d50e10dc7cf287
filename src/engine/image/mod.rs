//! The image engine. So far the ESRGAN-slim upscaler (`upscale`) and the service that runs it
//! for the API (networks loaded on first use, one upscale computing at a time on a blocking
//! thread, a bounded number waiting), and the denoising schedulers with one state per image
//! (`schedulers`); the diffusion pipeline (`pipeline`, the UNet in `unet`, `unet_blocks` and
//! `transformer`, whose self-attention also runs in Text2Video-Zero's cross-frame mode).

pub mod clip;
pub mod engine;
pub mod noise;
pub mod pipeline;
pub mod random;
pub mod schedulers;
pub mod transformer;
pub mod unet;
pub mod unet_blocks;
pub mod upscale;
pub mod vae;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use image::DynamicImage;
use tokio::sync::Semaphore;

use upscale::{UpscaleError, Upscaler};

/// Requests waiting for the upscaler beyond the one computing.
pub const MAX_WAITING: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ImageServiceError {
    #[error("the upscaler is busy ({MAX_WAITING} requests waiting); retry shortly")]
    Busy,
    #[error("the upscaler model is not installed: run `adforge models pull esrgan-slim`")]
    NotInstalled,
    #[error(transparent)]
    Upscale(#[from] UpscaleError),
}

/// The upscaler behind `/v1/images/upscale`.
#[derive(Clone)]
pub struct UpscaleService {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    loaded: Mutex<HashMap<u32, Arc<Upscaler>>>,
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
}

impl UpscaleService {
    /// `dir`: the installed `esrgan-slim` folder (it may be installed later).
    pub fn new(dir: PathBuf) -> Self {
        Self {
            inner: Arc::new(Inner {
                dir,
                loaded: Mutex::new(HashMap::new()),
                running: Arc::new(Semaphore::new(1)),
                waiting: AtomicUsize::new(0),
            }),
        }
    }

    fn network(&self, scale: u32) -> Result<Arc<Upscaler>, ImageServiceError> {
        let mut loaded = self
            .inner
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(network) = loaded.get(&scale) {
            return Ok(network.clone());
        }
        if !self
            .inner
            .dir
            .join(format!("x{scale}.safetensors"))
            .exists()
        {
            return Err(ImageServiceError::NotInstalled);
        }
        let network = Arc::new(Upscaler::load(&self.inner.dir, scale)?);
        loaded.insert(scale, network.clone());
        Ok(network)
    }

    /// Upscales `image` by `scale`, tiles of `tile` input pixels; waits its turn or refuses
    /// when too many wait.
    pub async fn upscale(
        &self,
        image: DynamicImage,
        scale: u32,
        tile: u32,
    ) -> Result<DynamicImage, ImageServiceError> {
        let _waiting = Waiting::enter(&self.inner.waiting).ok_or(ImageServiceError::Busy)?;
        // The permit moves into the blocking task: a client that goes away cannot let a second
        // upscale start while the first still computes.
        let permit = self
            .inner
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ImageServiceError::Busy)?;
        let network = self.network(scale)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            network.upscale(&image, Some(tile))
        })
        .await
        .map_err(|e| UpscaleError::Model {
            path: "upscaler".into(),
            problem: format!("the upscaling task failed: {e}"),
        })?
        .map_err(ImageServiceError::from)
    }
}

/// A place in the upscaler's line, given back when the request ends however it ends.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Option<Self> {
        if count.fetch_add(1, Ordering::SeqCst) > MAX_WAITING {
            count.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Self(count))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

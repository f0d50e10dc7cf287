//! The diffusion engine of one loaded model: a staged pipeline on its own threads, joined by
//! bounded channels, so that one request's prompt encoding, VAE decoding and PNG encoding
//! overlap other requests' denoising:
//!
//! ```text
//! submit ─(bounded)─> encode ─(bounded)─> denoise ─(bounded)─> decode ─(bounded)─> output
//! ```
//!
//! The denoise stage batches across requests: each step, `scheduler::diffusion` picks one
//! (size, scheduler) group and the waiting requests that join it; every image in the group runs
//! in one UNet forward at its own timestep. Requests leave the moment their last step is done.
//! Admission is bounded (`max_requests` in the engine at once; beyond it `Busy`, a 429), and a
//! cancelled request (its ticket dropped, or `cancel()`) is removed before the next step.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use image::RgbImage;
use tokio::sync::{oneshot, watch};

use super::pipeline::{self, Conditioning, DiffusionModel, ImageParams, PipelineError};
use super::schedulers::SchedulerKind;
use crate::scheduler::{DiffusionRequest, plan_diffusion_step};

/// Limits of one engine.
#[derive(Debug, Clone, Copy)]
pub struct EngineLimits {
    /// Requests in the engine at once (waiting, running or finishing); more are refused.
    pub max_requests: usize,
    /// UNet rows in one forward (an image with guidance takes two).
    pub max_rows: usize,
}

impl Default for EngineLimits {
    fn default() -> Self {
        Self {
            max_requests: 16,
            max_rows: 8,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImageEngineError {
    #[error("the image engine is full ({0} requests in progress); retry shortly")]
    Busy(usize),
    #[error("the request was cancelled")]
    Cancelled,
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("the image engine has stopped")]
    Stopped,
}

/// What a client asks for.
#[derive(Debug, Clone)]
pub struct GenerationRequest {
    pub prompt: String,
    pub negative_prompt: String,
    pub params: ImageParams,
    pub n: u32,
    /// img2img: the input, already at the request's size.
    pub init_image: Option<RgbImage>,
    /// Send a preview every this many steps (0: none).
    pub preview_every: u32,
}

/// One finished image: 8-bit pixels, and the f32 pixels in [0, 1] they were rounded from
/// (tests compare those).
#[derive(Debug, Clone)]
pub struct GeneratedImage {
    pub index: u32,
    pub seed: u64,
    pub image: RgbImage,
    pub pixels: Vec<f32>,
}

/// Where a request stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Queued {
        ahead: usize,
    },
    Denoising {
        step: usize,
        total: usize,
        step_ms: u64,
    },
    Decoding,
}

/// Progress and result of a submitted request. Dropping it cancels the request.
pub struct Ticket {
    pub id: u64,
    pub progress: watch::Receiver<Progress>,
    /// Latest step preview (a small PNG-able image), when asked for.
    pub preview: watch::Receiver<Option<RgbImage>>,
    result: oneshot::Receiver<Result<Vec<GeneratedImage>, ImageEngineError>>,
    cancelled: Arc<AtomicBool>,
}

impl Ticket {
    pub async fn wait(mut self) -> Result<Vec<GeneratedImage>, ImageEngineError> {
        let result = (&mut self.result).await;
        result.unwrap_or(Err(ImageEngineError::Stopped))
    }

    /// A handle that cancels the request from elsewhere (a job's cancel).
    pub fn canceller(&self) -> Arc<AtomicBool> {
        self.cancelled.clone()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }
}

/// A request travelling through the stages.
struct Job {
    id: u64,
    arrival: u64,
    request: GenerationRequest,
    progress: watch::Sender<Progress>,
    preview: watch::Sender<Option<RgbImage>>,
    reply: oneshot::Sender<Result<Vec<GeneratedImage>, ImageEngineError>>,
    cancelled: Arc<AtomicBool>,
    _slot: Slot,
}

/// A place in the engine, given back when the request leaves however it leaves.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Job {
    fn finish(self, result: Result<Vec<GeneratedImage>, ImageEngineError>) {
        // The client may be gone; nothing to do then.
        let _ = self.reply.send(result);
    }
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

struct Prepared {
    job: Job,
    images: Vec<pipeline::Denoising>,
}

struct Decoded {
    job: Job,
    images: Vec<GeneratedImage>,
}

type BatchKey = (u32, u32, SchedulerKind);

/// Counters the engine keeps (for `/v1/capabilities`, metrics and tests).
#[derive(Debug, Default)]
pub struct EngineStats {
    pub steps: AtomicU64,
    pub unet_rows: AtomicU64,
    pub max_rows_seen: AtomicU64,
    pub images: AtomicU64,
}

pub struct ImageEngine {
    model: Arc<DiffusionModel>,
    submit: SyncSender<Job>,
    in_flight: Arc<AtomicUsize>,
    next_id: AtomicU64,
    limits: EngineLimits,
    pub stats: Arc<EngineStats>,
}

impl ImageEngine {
    /// Starts the stage threads for `model`.
    pub fn start(model: Arc<DiffusionModel>, limits: EngineLimits) -> Arc<Self> {
        let (submit, encode_rx) = mpsc::sync_channel::<Job>(limits.max_requests);
        let (denoise_tx, denoise_rx) = mpsc::sync_channel::<Prepared>(2);
        let (decode_tx, decode_rx) = mpsc::sync_channel::<Prepared>(2);
        let (output_tx, output_rx) = mpsc::sync_channel::<Decoded>(2);
        let stats = Arc::new(EngineStats::default());
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(f) {
                tracing::error!(error = %e, "could not start an image engine thread");
            }
        };
        let m = model.clone();
        spawn(
            "image-encode",
            Box::new(move || encode_stage(&m, &encode_rx, &denoise_tx)),
        );
        let m = model.clone();
        let s = stats.clone();
        spawn(
            "image-denoise",
            Box::new(move || denoise_stage(&m, &denoise_rx, &decode_tx, limits, &s)),
        );
        let m = model.clone();
        spawn(
            "image-decode",
            Box::new(move || decode_stage(&m, &decode_rx, &output_tx)),
        );
        let s = stats.clone();
        spawn(
            "image-output",
            Box::new(move || {
                for decoded in output_rx {
                    s.images
                        .fetch_add(decoded.images.len() as u64, Ordering::Relaxed);
                    decoded.job.finish(Ok(decoded.images));
                }
            }),
        );
        Arc::new(Self {
            model,
            submit,
            in_flight: Arc::new(AtomicUsize::new(0)),
            next_id: AtomicU64::new(1),
            limits,
            stats,
        })
    }

    pub fn model(&self) -> &Arc<DiffusionModel> {
        &self.model
    }

    pub fn limits(&self) -> EngineLimits {
        self.limits
    }

    /// Requests in the engine now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Admits a request or refuses it at once when the engine is full.
    pub fn submit(&self, request: GenerationRequest) -> Result<Ticket, ImageEngineError> {
        let ahead = self.in_flight.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(self.in_flight.clone());
        if ahead >= self.limits.max_requests {
            return Err(ImageEngineError::Busy(ahead));
        }
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (progress_tx, progress) = watch::channel(Progress::Queued { ahead });
        let (preview_tx, preview) = watch::channel(None);
        let (reply, result) = oneshot::channel();
        let cancelled = Arc::new(AtomicBool::new(false));
        let job = Job {
            id,
            arrival: id,
            request,
            progress: progress_tx,
            preview: preview_tx,
            reply,
            cancelled: cancelled.clone(),
            _slot: slot,
        };
        self.submit.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => ImageEngineError::Busy(ahead),
            mpsc::TrySendError::Disconnected(_) => ImageEngineError::Stopped,
        })?;
        Ok(Ticket {
            id,
            progress,
            preview,
            result,
            cancelled,
        })
    }
}

fn encode_stage(model: &DiffusionModel, rx: &Receiver<Job>, tx: &SyncSender<Prepared>) {
    for job in rx {
        if job.cancelled() {
            job.finish(Err(ImageEngineError::Cancelled));
            continue;
        }
        match prepare(model, &job.request) {
            Ok(images) => {
                if tx.send(Prepared { job, images }).is_err() {
                    return;
                }
            }
            Err(e) => job.finish(Err(e.into())),
        }
    }
}

/// Encodes the prompt once and starts every image of the request.
fn prepare(
    model: &DiffusionModel,
    request: &GenerationRequest,
) -> Result<Vec<pipeline::Denoising>, PipelineError> {
    let guided = request.params.guided();
    let cond: Arc<Conditioning> =
        Arc::new(model.encode_prompt(&request.prompt, &request.negative_prompt, guided)?);
    let init = request
        .init_image
        .as_ref()
        .map(|image| model.image_tensor(image))
        .transpose()?;
    (0..request.n)
        .map(|index| model.start(cond.clone(), &request.params, index, init.as_ref()))
        .collect()
}

fn key_of(p: &Prepared) -> BatchKey {
    let params = &p.job.request.params;
    (params.width, params.height, params.scheduler)
}

fn as_request(p: &Prepared) -> DiffusionRequest<BatchKey> {
    DiffusionRequest {
        id: p.job.id,
        key: key_of(p),
        arrival: p.job.arrival,
        rows: p.images.iter().map(pipeline::Denoising::rows).sum(),
    }
}

fn denoise_stage(
    model: &DiffusionModel,
    rx: &Receiver<Prepared>,
    tx: &SyncSender<Prepared>,
    limits: EngineLimits,
    stats: &EngineStats,
) {
    let mut running: Vec<Prepared> = Vec::new();
    let mut waiting: Vec<Prepared> = Vec::new();
    loop {
        // Block only when there is nothing to step.
        if running.is_empty() && waiting.is_empty() {
            match rx.recv() {
                Ok(p) => waiting.push(p),
                Err(_) => return,
            }
        }
        loop {
            match rx.try_recv() {
                Ok(p) => waiting.push(p),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) if running.is_empty() && waiting.is_empty() => {
                    return;
                }
                Err(TryRecvError::Disconnected) => break,
            }
        }
        for list in [&mut running, &mut waiting] {
            let (gone, kept): (Vec<_>, Vec<_>) = list.drain(..).partition(|p| p.job.cancelled());
            *list = kept;
            for p in gone {
                p.job.finish(Err(ImageEngineError::Cancelled));
            }
        }
        let running_reqs: Vec<_> = running.iter().map(as_request).collect();
        let waiting_reqs: Vec<_> = waiting.iter().map(as_request).collect();
        let Some(plan) = plan_diffusion_step(&running_reqs, &waiting_reqs, limits.max_rows) else {
            continue;
        };
        for id in &plan.joining {
            if let Some(at) = waiting.iter().position(|p| p.job.id == *id) {
                running.push(waiting.remove(at));
            }
        }
        let started = Instant::now();
        let result = {
            let mut batch: Vec<&mut pipeline::Denoising> = running
                .iter_mut()
                .filter(|p| key_of(p) == plan.key)
                .flat_map(|p| p.images.iter_mut())
                .collect();
            let rows: usize = batch.iter().map(|d| d.rows()).sum();
            stats.steps.fetch_add(1, Ordering::Relaxed);
            stats.unet_rows.fetch_add(rows as u64, Ordering::Relaxed);
            stats
                .max_rows_seen
                .fetch_max(rows as u64, Ordering::Relaxed);
            model.step(&mut batch)
        };
        let step_ms = started.elapsed().as_millis() as u64;
        if let Err(e) = result {
            tracing::error!(error = %e, "a diffusion step failed");
            let message = e.to_string();
            let (failed, rest): (Vec<_>, Vec<_>) =
                running.drain(..).partition(|p| key_of(p) == plan.key);
            running = rest;
            for p in failed {
                let error = PipelineError::Model(candle_core::Error::Msg(message.clone()));
                p.job.finish(Err(error.into()));
            }
            continue;
        }
        report_progress(&running, plan.key, step_ms);
        let (done, rest): (Vec<_>, Vec<_>) = running
            .drain(..)
            .partition(|p| p.images.iter().all(pipeline::Denoising::done));
        running = rest;
        for p in done {
            p.job.progress.send_replace(Progress::Decoding);
            if tx.send(p).is_err() {
                return;
            }
        }
    }
}

fn report_progress(running: &[Prepared], key: BatchKey, step_ms: u64) {
    for p in running.iter().filter(|p| key_of(p) == key) {
        let Some(first) = p.images.first() else {
            continue;
        };
        let step = first.scheduler.step_index();
        let total = first.total_steps();
        p.job.progress.send_replace(Progress::Denoising {
            step,
            total,
            step_ms,
        });
        let every = p.job.request.preview_every as usize;
        if every > 0 && (step % every == 0 || step == total) {
            match pipeline::preview(&first.latent) {
                Ok(image) => {
                    p.job.preview.send_replace(Some(image));
                }
                Err(e) => tracing::warn!(error = %e, "a step preview failed"),
            }
        }
    }
}

fn decode_stage(model: &DiffusionModel, rx: &Receiver<Prepared>, tx: &SyncSender<Decoded>) {
    for prepared in rx {
        if prepared.job.cancelled() {
            prepared.job.finish(Err(ImageEngineError::Cancelled));
            continue;
        }
        let seed = prepared.job.request.params.seed;
        let images: Result<Vec<GeneratedImage>, PipelineError> = prepared
            .images
            .iter()
            .enumerate()
            .map(|(index, d)| {
                let pixels = model.decode(&d.latent)?;
                let image = pipeline::to_rgb(&pixels)?;
                Ok(GeneratedImage {
                    index: index as u32,
                    seed,
                    image,
                    pixels: pixels.flatten_all()?.to_vec1::<f32>()?,
                })
            })
            .collect();
        match images {
            Ok(images) => {
                if tx
                    .send(Decoded {
                        job: prepared.job,
                        images,
                    })
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => prepared.job.finish(Err(e.into())),
        }
    }
}

/// Loaded engines by model name (one per image model).
#[derive(Default, Clone)]
pub struct ImageEngines {
    engines: Arc<Mutex<HashMap<String, Arc<ImageEngine>>>>,
}

impl ImageEngines {
    pub fn insert(&self, engine: Arc<ImageEngine>) {
        let mut map = self.engines.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(engine.model().name.clone(), engine);
    }

    /// The engine for `name`, or the first loaded when `name` is `None`.
    pub fn get(&self, name: Option<&str>) -> Option<Arc<ImageEngine>> {
        let map = self.engines.lock().unwrap_or_else(|p| p.into_inner());
        match name {
            Some(name) => map.get(name).cloned(),
            None => {
                let mut names: Vec<&String> = map.keys().collect();
                names.sort();
                names.first().and_then(|n| map.get(*n)).cloned()
            }
        }
    }

    pub fn names(&self) -> Vec<String> {
        let map = self.engines.lock().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<String> = map.keys().cloned().collect();
        names.sort();
        names
    }
}

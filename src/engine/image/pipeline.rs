//! A Stable Diffusion model as the engine runs it: load a diffusers folder (SD 1.5, 2.1,
//! SD-Turbo, SDXL, SDXL-Turbo), encode prompts, start an image's denoising from its own noise,
//! step any set of images together in one UNet forward (each at its own timestep, guidance and
//! scheduler state), and decode. Classifier-free guidance takes two UNet rows per image and is
//! skipped when the guidance is 1 or less; SDXL gets its two text encoders, the pooled text
//! embedding and the size ids. Nothing here holds a queue: `engine.rs` owns the batching.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;
use image::RgbImage;
use instant_clip_tokenizer::Tokenizer;
use serde::Deserialize;

use super::clip::{ClipConfig, ClipTextEncoder, EOS};
use super::noise;
use super::schedulers::{NoiseSchedule, Scheduler, SchedulerKind, Spacing};
use super::unet::{AddedConditions, UNet, UNetConfig};
use super::vae::{TILE_LATENTS, TILE_OVERLAP, Vae, VaeConfig};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{path}: {problem}")]
    Load { path: String, problem: String },
    #[error("the model failed: {0}")]
    Model(#[from] candle_core::Error),
    #[error("{0}")]
    Invalid(String),
}

fn load_err(path: &Path, problem: impl std::fmt::Display) -> PipelineError {
    PipelineError::Load {
        path: path.display().to_string(),
        problem: problem.to_string(),
    }
}

/// What the model predicts (diffusers' `prediction_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    Epsilon,
    V,
}

/// Settings a request falls back on.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ModelDefaults {
    pub width: u32,
    pub height: u32,
    pub steps: u32,
    pub guidance: f64,
    #[schema(value_type = String)]
    pub scheduler: SchedulerKind,
}

/// One image's generation parameters, validated by the caller.
#[derive(Debug, Clone)]
pub struct ImageParams {
    pub width: u32,
    pub height: u32,
    pub steps: u32,
    pub guidance: f64,
    pub scheduler: SchedulerKind,
    pub seed: u64,
    /// img2img: the share of the schedule run from the noised input (0 < strength <= 1).
    pub strength: f64,
}

impl ImageParams {
    pub fn guided(&self) -> bool {
        self.guidance > 1.0
    }
}

/// A prompt's encoding: the context rows the UNet attends to (cond, and uncond when guided)
/// and, for SDXL, the pooled embeddings.
pub struct Conditioning {
    pub cond: Tensor,
    pub uncond: Option<Tensor>,
    pub pooled_cond: Option<Tensor>,
    pub pooled_uncond: Option<Tensor>,
}

struct TextEncoder {
    encoder: ClipTextEncoder,
    /// Padding id: SD 1.5's tokenizer pads with end-of-text, OpenCLIP's with "!" (0).
    pad: u32,
}

pub struct DiffusionModel {
    pub name: String,
    tokenizer: Tokenizer,
    encoders: Vec<TextEncoder>,
    unet: UNet,
    vae: Vae,
    schedule: NoiseSchedule,
    prediction: Prediction,
    /// SDXL: an empty negative prompt is a zero embedding (`force_zeros_for_empty_prompt`).
    zeros_for_empty_negative: bool,
    pub defaults: ModelDefaults,
    device: Device,
}

/// One image in flight between `start` and `decode`.
pub struct Denoising {
    pub scheduler: Scheduler,
    pub latent: Tensor,
    cond: Arc<Conditioning>,
    params: ImageParams,
    index: u32,
}

impl Denoising {
    /// UNet rows this image takes per step.
    pub fn rows(&self) -> usize {
        if self.params.guided() { 2 } else { 1 }
    }
    pub fn done(&self) -> bool {
        self.scheduler.done()
    }
    /// Steps this image runs in all (fewer than `steps` with img2img strength below 1).
    pub fn total_steps(&self) -> usize {
        self.scheduler.timesteps().len()
    }
}

#[derive(Deserialize)]
struct SchedulerFile {
    #[serde(default)]
    num_train_timesteps: Option<usize>,
    #[serde(default)]
    beta_start: Option<f64>,
    #[serde(default)]
    beta_end: Option<f64>,
    #[serde(default)]
    beta_schedule: Option<String>,
    #[serde(default)]
    steps_offset: Option<usize>,
    #[serde(default)]
    timestep_spacing: Option<String>,
    #[serde(default)]
    prediction_type: Option<String>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, PipelineError> {
    let text = fs::read_to_string(path).map_err(|e| load_err(path, e))?;
    serde_json::from_str(&text).map_err(|e| load_err(path, e))
}

/// The weights file of a diffusers component folder.
fn weights_in(dir: &Path) -> Result<PathBuf, PipelineError> {
    for name in [
        "diffusion_pytorch_model.safetensors",
        "model.safetensors",
        "diffusion_pytorch_model.fp16.safetensors",
        "model.fp16.safetensors",
    ] {
        let path = dir.join(name);
        if path.exists() {
            return Ok(path);
        }
    }
    Err(load_err(dir, "no safetensors weights in this folder"))
}

fn var_builder(dir: &Path, device: &Device) -> Result<VarBuilder<'static>, PipelineError> {
    let weights = weights_in(dir)?;
    adforge_input::safetensors::check_path(&weights).map_err(|e| load_err(&weights, e))?;
    // SAFETY: the file is opened read-only and not modified while the model lives.
    unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, device) }
        .map_err(|e| load_err(&weights, e))
}

fn parse_schedule(path: &Path) -> Result<(NoiseSchedule, Prediction), PipelineError> {
    let file: SchedulerFile = read_json(path)?;
    if let Some(kind) = &file.beta_schedule
        && kind != "scaled_linear"
    {
        return Err(load_err(
            path,
            format!("beta_schedule {kind} is not supported (scaled_linear only)"),
        ));
    }
    let base = NoiseSchedule::STABLE_DIFFUSION;
    let spacing = match file.timestep_spacing.as_deref() {
        None | Some("leading") => Spacing::Leading,
        Some("trailing") => Spacing::Trailing,
        Some("linspace") => Spacing::Linspace,
        Some(other) => {
            return Err(load_err(
                path,
                format!("timestep_spacing {other} is not supported"),
            ));
        }
    };
    let prediction = match file.prediction_type.as_deref() {
        None | Some("epsilon") => Prediction::Epsilon,
        Some("v_prediction") => Prediction::V,
        Some(other) => {
            return Err(load_err(
                path,
                format!("prediction_type {other} is not supported"),
            ));
        }
    };
    Ok((
        NoiseSchedule {
            train_steps: file.num_train_timesteps.unwrap_or(base.train_steps),
            beta_start: file.beta_start.unwrap_or(base.beta_start),
            beta_end: file.beta_end.unwrap_or(base.beta_end),
            steps_offset: file.steps_offset.unwrap_or(base.steps_offset),
            spacing,
        },
        prediction,
    ))
}

/// The padding id of a tokenizer folder: "!" (0) where `special_tokens_map.json` says so.
fn pad_id(tokenizer_dir: &Path) -> u32 {
    let Ok(text) = fs::read_to_string(tokenizer_dir.join("special_tokens_map.json")) else {
        return EOS;
    };
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let pad = value
        .get("pad_token")
        .map(|p| p.get("content").unwrap_or(p));
    match pad.and_then(|p| p.as_str()) {
        Some("!") => 0,
        _ => EOS,
    }
}

impl DiffusionModel {
    /// Loads a diffusers folder: `unet/`, `vae/`, `text_encoder/` (and `text_encoder_2/` for
    /// SDXL), `scheduler/scheduler_config.json`, `tokenizer/` when present (the CLIP BPE
    /// vocabulary is built in).
    pub fn load(name: &str, dir: &Path, device: &Device) -> Result<Self, PipelineError> {
        let unet_config: UNetConfig = read_json(&dir.join("unet/config.json"))?;
        unet_config
            .validate()
            .map_err(|e| load_err(&dir.join("unet/config.json"), e))?;
        let unet = UNet::new(unet_config.clone(), var_builder(&dir.join("unet"), device)?)?;
        let vae_config: VaeConfig = read_json(&dir.join("vae/config.json"))?;
        let vae = Vae::new(vae_config, var_builder(&dir.join("vae"), device)?)?;
        let mut encoders = Vec::new();
        for (folder, tokenizer) in [
            ("text_encoder", "tokenizer"),
            ("text_encoder_2", "tokenizer_2"),
        ] {
            let path = dir.join(folder);
            if !path.exists() {
                continue;
            }
            let config: ClipConfig = read_json(&path.join("config.json"))?;
            encoders.push(TextEncoder {
                encoder: ClipTextEncoder::new(config, var_builder(&path, device)?)?,
                pad: pad_id(&dir.join(tokenizer)),
            });
        }
        if encoders.is_empty() {
            return Err(load_err(dir, "no text_encoder folder"));
        }
        let (schedule, prediction) = parse_schedule(&dir.join("scheduler/scheduler_config.json"))?;
        let sdxl = encoders.len() == 2;
        let turbo = name.contains("turbo");
        let side = unet_config.sample_size.unwrap_or(64) * vae.config().factor();
        let defaults = ModelDefaults {
            width: side as u32,
            height: side as u32,
            steps: if turbo { 1 } else { 25 },
            guidance: if turbo {
                0.0
            } else if sdxl {
                5.0
            } else {
                7.5
            },
            scheduler: if turbo {
                SchedulerKind::EulerAncestral
            } else {
                SchedulerKind::DpmPlusPlus2m
            },
        };
        let model = Self {
            name: name.to_string(),
            tokenizer: Tokenizer::new(),
            encoders,
            unet,
            vae,
            schedule,
            prediction,
            zeros_for_empty_negative: sdxl,
            defaults,
            device: device.clone(),
        };
        model.check_dims()?;
        Ok(model)
    }

    /// The text encoders' widths must add up to the UNet's cross-attention width, and SDXL's
    /// pooled width plus the ids to its added-embedding input.
    fn check_dims(&self) -> Result<(), PipelineError> {
        let context: usize = self
            .encoders
            .iter()
            .map(|e| e.encoder.config().hidden_size)
            .sum();
        let config = self.unet.config();
        if context != config.cross_attention_dim {
            return Err(PipelineError::Invalid(format!(
                "text encoders give {context} features, the UNet attends to {}",
                config.cross_attention_dim
            )));
        }
        Ok(())
    }

    /// The UNet, for pipelines that drive it themselves (text-to-video).
    pub(crate) fn unet(&self) -> &UNet {
        &self.unet
    }

    pub(crate) fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }

    pub(crate) fn prediction(&self) -> Prediction {
        self.prediction
    }

    /// The latent shape (1, C, h, w) of a `width` x `height` image.
    pub(crate) fn latent_dims(&self, width: u32, height: u32) -> (usize, usize, usize, usize) {
        let f = self.vae.config().factor();
        (
            1,
            self.unet.config().in_channels,
            height as usize / f,
            width as usize / f,
        )
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn is_sdxl(&self) -> bool {
        self.encoders.len() == 2
    }

    /// Pixels per latent on a side, and the multiple a size must be.
    pub fn size_multiple(&self) -> u32 {
        (self.vae.config().factor() * self.unet.config().downsample_factor()).max(8) as u32
    }

    fn token_ids(&self, text: &str, pad: u32, length: usize) -> Vec<u32> {
        let mut tokens = Vec::new();
        self.tokenizer.encode(text, &mut tokens);
        let mut ids = vec![u32::from(self.tokenizer.start_of_text().to_u16())];
        ids.extend(
            tokens
                .iter()
                .take(length.saturating_sub(2))
                .map(|t| u32::from(t.to_u16())),
        );
        ids.push(EOS);
        ids.resize(length, pad);
        ids
    }

    /// Tokens of `text` the encoder sees (start and end included), for limits and reporting.
    pub fn count_tokens(&self, text: &str) -> usize {
        let mut tokens = Vec::new();
        self.tokenizer.encode(text, &mut tokens);
        tokens.len() + 2
    }

    /// The context (batch 1) and pooled embedding of one text.
    fn encode_text(&self, text: &str) -> Result<(Tensor, Option<Tensor>), PipelineError> {
        let mut contexts = Vec::new();
        let mut pooled = None;
        for encoder in &self.encoders {
            let length = encoder.encoder.max_tokens();
            let ids = self.token_ids(text, encoder.pad, length);
            let ids = Tensor::from_vec(ids, (1, length), &self.device)?;
            let out = encoder.encoder.forward(&ids)?;
            if self.is_sdxl() {
                contexts.push(out.penultimate);
                pooled = Some(out.pooled);
            } else {
                contexts.push(out.last_hidden);
            }
        }
        Ok((Tensor::cat(&contexts, D::Minus1)?, pooled))
    }

    /// Encodes a prompt, and its negative when `guided`.
    pub fn encode_prompt(
        &self,
        prompt: &str,
        negative: &str,
        guided: bool,
    ) -> Result<Conditioning, PipelineError> {
        let (cond, pooled_cond) = self.encode_text(prompt)?;
        let (uncond, pooled_uncond) = if !guided {
            (None, None)
        } else if negative.is_empty() && self.zeros_for_empty_negative {
            (
                Some(cond.zeros_like()?),
                pooled_cond.as_ref().map(Tensor::zeros_like).transpose()?,
            )
        } else {
            let (u, p) = self.encode_text(negative)?;
            (Some(u), p)
        };
        Ok(Conditioning {
            cond,
            uncond,
            pooled_cond,
            pooled_uncond,
        })
    }

    /// Starts image `index` of a request: its scheduler and its initial latent from
    /// (seed, index) alone; with `init` (img2img, pixels in [-1, 1], (1, 3, H, W)) from the
    /// encoded image noised to the strength's step.
    pub fn start(
        &self,
        cond: Arc<Conditioning>,
        params: &ImageParams,
        index: u32,
        init: Option<&Tensor>,
    ) -> Result<Denoising, PipelineError> {
        let mut scheduler = Scheduler::new(params.scheduler, &self.schedule, params.steps as usize);
        let shape = self.latent_dims(params.width, params.height);
        let count = shape.0 * shape.1 * shape.2 * shape.3;
        let noise = Tensor::from_vec(
            noise::gaussian(params.seed, index, 0, count),
            shape,
            &self.device,
        )?;
        let latent = match init {
            None => noise.affine(scheduler.init_noise_sigma(), 0.0)?,
            Some(pixels) => {
                let total = scheduler.timesteps().len();
                let run = ((total as f64) * params.strength).floor() as usize;
                if run == 0 {
                    return Err(PipelineError::Invalid(format!(
                        "strength {} leaves no step of {total}; raise strength or steps",
                        params.strength
                    )));
                }
                scheduler.start_at(total - run.min(total));
                let x0 = self
                    .vae
                    .encode_mean(pixels)?
                    .affine(self.vae.config().scaling_factor, 0.0)?;
                if x0.dims4()? != shape {
                    return Err(PipelineError::Invalid(format!(
                        "the input image encodes to {:?}, the request's size to {shape:?}",
                        x0.dims4()?
                    )));
                }
                scheduler.add_noise(&x0, &noise)?
            }
        };
        Ok(Denoising {
            scheduler,
            latent,
            cond,
            params: params.clone(),
            index,
        })
    }

    /// One denoising step for every image in `batch`, in one UNet forward.
    pub fn step(&self, batch: &mut [&mut Denoising]) -> Result<(), PipelineError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut inputs = Vec::new();
        let mut timesteps = Vec::new();
        let mut contexts = Vec::new();
        let mut pooled = Vec::new();
        let mut time_ids = Vec::new();
        for image in batch.iter() {
            let scaled = image.latent.affine(image.scheduler.input_scale(), 0.0)?;
            let t = image.scheduler.timestep() as f32;
            let c = &image.cond;
            let mut rows = vec![(&c.cond, c.pooled_cond.as_ref())];
            if image.params.guided() {
                let uncond = c.uncond.as_ref().ok_or_else(|| {
                    PipelineError::Invalid("a guided image has no negative encoding".into())
                })?;
                rows.insert(0, (uncond, c.pooled_uncond.as_ref()));
            }
            for (context, pool) in rows {
                inputs.push(scaled.clone());
                timesteps.push(t);
                contexts.push(context.clone());
                if let Some(pool) = pool {
                    pooled.push(pool.clone());
                    let (h, w) = (image.params.height as f32, image.params.width as f32);
                    time_ids.push(Tensor::new(&[[h, w, 0.0, 0.0, h, w]], &self.device)?);
                }
            }
        }
        let xs = Tensor::cat(&inputs, 0)?;
        let ts = Tensor::new(timesteps.as_slice(), &self.device)?;
        let context = Tensor::cat(&contexts, 0)?;
        let out = if pooled.is_empty() {
            self.unet.forward(&xs, &ts, &context, None)?
        } else {
            let text_embeds = Tensor::cat(&pooled, 0)?;
            let ids = Tensor::cat(&time_ids, 0)?;
            let added = AddedConditions {
                text_embeds: &text_embeds,
                time_ids: &ids,
            };
            self.unet.forward(&xs, &ts, &context, Some(&added))?
        };
        let mut row = 0;
        for image in batch.iter_mut() {
            let prediction = if image.params.guided() {
                let uncond = out.narrow(0, row, 1)?;
                let cond = out.narrow(0, row + 1, 1)?;
                row += 2;
                (&uncond + ((cond - &uncond)? * image.params.guidance)?)?
            } else {
                row += 1;
                out.narrow(0, row - 1, 1)?
            };
            let eps = match self.prediction {
                Prediction::Epsilon => prediction,
                Prediction::V => image.scheduler.epsilon_from_v(&image.latent, &prediction)?,
            };
            let noise = if image.scheduler.needs_noise() {
                let stream = image.scheduler.step_index() as u32 + 1;
                let count = image.latent.elem_count();
                let values = noise::gaussian(image.params.seed, image.index, stream, count);
                Some(Tensor::from_vec(
                    values,
                    image.latent.shape(),
                    &self.device,
                )?)
            } else {
                None
            };
            image.latent = image.scheduler.step(&image.latent, &eps, noise.as_ref())?;
        }
        Ok(())
    }

    /// Decodes a finished latent to pixels in [0, 1], (3, H, W) f32, tiled above 512 pixels.
    pub fn decode(&self, latent: &Tensor) -> Result<Tensor, PipelineError> {
        let unscaled = latent.affine(1.0 / self.vae.config().scaling_factor, 0.0)?;
        let pixels = self
            .vae
            .decode_tiled(&unscaled, TILE_LATENTS, TILE_OVERLAP)?;
        Ok(((pixels * 0.5)? + 0.5)?.clamp(0f32, 1f32)?.squeeze(0)?)
    }

    /// Encodes an RGB image to the VAE's pixel range, (1, 3, H, W).
    pub fn image_tensor(&self, image: &RgbImage) -> Result<Tensor, PipelineError> {
        let (w, h) = image.dimensions();
        let data: Vec<f32> = image
            .as_raw()
            .iter()
            .map(|&v| f32::from(v) / 127.5 - 1.0)
            .collect();
        Ok(
            Tensor::from_vec(data, (h as usize, w as usize, 3), &self.device)?
                .permute((2, 0, 1))?
                .unsqueeze(0)?
                .contiguous()?,
        )
    }
}

/// Pixels in [0, 1] (3, H, W) to an 8-bit image.
pub fn to_rgb(pixels: &Tensor) -> Result<RgbImage, PipelineError> {
    let (_, h, w) = pixels.dims3()?;
    let data: Vec<u8> = pixels
        .permute((1, 2, 0))?
        .flatten_all()?
        .to_vec1::<f32>()?
        .iter()
        .map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect();
    RgbImage::from_raw(w as u32, h as u32, data)
        .ok_or_else(|| PipelineError::Invalid("decoded pixels do not fill the image".into()))
}

/// A cheap preview of a latent in progress: each pixel a fixed linear map of its four latent
/// channels (the approximation previewers for SD 1.x/2.x latents use), one pixel per latent.
pub fn preview(latent: &Tensor) -> Result<RgbImage, PipelineError> {
    const MAP: [[f32; 3]; 4] = [
        [0.298, 0.207, 0.208],
        [0.187, 0.286, 0.173],
        [-0.158, 0.189, 0.264],
        [-0.184, -0.271, -0.473],
    ];
    let latent = latent.squeeze(0)?;
    let (c, h, w) = latent.dims3()?;
    let values = latent.flatten_all()?.to_vec1::<f32>()?;
    let mut out = RgbImage::new(w as u32, h as u32);
    for y in 0..h {
        for x in 0..w {
            let mut rgb = [0f32; 3];
            for (channel, row) in MAP.iter().enumerate().take(c.min(4)) {
                let v = values[channel * h * w + y * w + x];
                for k in 0..3 {
                    rgb[k] += v * row[k];
                }
            }
            let px = rgb.map(|v| ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8);
            out.put_pixel(x as u32, y as u32, image::Rgb(px));
        }
    }
    Ok(out)
}

//! Text2Video-Zero (Khachatryan et al. 2023): a short video from a Stable Diffusion image
//! model, no video training. As diffusers' `TextToVideoZeroPipeline`, with DDIM (eta 0):
//!
//! 1. the first frame's latent x_T ~ N(0, I) (seeded) is denoised alone from T to T1 and on to
//!    T0 (diffusers' `t1` and `t0`: step indices counted from the end of the schedule; 47 and 44
//!    of 50 by default, scaled to the step count here);
//! 2. every other frame k starts from a copy of that latent at T0 translated by k times the
//!    motion strength (diffusers' motion field: pixels of a 512-pixel reference grid, nearest
//!    sampling, reflection at the borders: [`warp_latent`]), then noised forward (DDPM) from T0
//!    back to T1 with its own seeded noise;
//! 3. all frames are denoised together from T1, the first from its own latent at T1, with
//!    cross-frame attention: every self-attention of the UNet takes its keys and values from
//!    the first frame (per half of classifier-free guidance);
//! 4. each frame is decoded and handed to the caller's callback on its own, so that a caller can
//!    stream frames to an encoder without holding the video.
//!
//! All frames go through the UNet in one batch (two rows per frame when guided). Without
//! guidance the frames form one group (diffusers' processor assumes the two guidance halves
//! whatever the scale). Steps 1 to 3 are [`ZeroDenoiser`], which takes its noise as input: the
//! tests run it on diffusers' own noise and embeddings and match the pipeline's latents.
//!
//! Owns only this algorithm: the model comes loaded (`image::pipeline::DiffusionModel`), the
//! caller owns threads, queues, cancellation flags and encoding. SD 1.x/2.x models only (SDXL's
//! added conditioning is not passed).

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{DType, Tensor};
use image::RgbImage;

use crate::engine::image::noise;
use crate::engine::image::pipeline::{DiffusionModel, PipelineError, Prediction, to_rgb};
use crate::engine::image::schedulers::{NoiseSchedule, Scheduler, SchedulerKind};
use crate::engine::image::transformer::AttentionMode;
use crate::engine::image::unet::UNet;

/// Frames one video may have (all of them go through the UNet in one batch).
pub const MAX_FRAMES: u32 = 24;
/// Denoising steps one video may take.
pub const MAX_STEPS: u32 = 100;
/// Fewest steps: t0 < t1 < steps needs three.
pub const MIN_STEPS: u32 = 3;
/// The side of the reference grid diffusers' motion strengths are measured on.
const MOTION_GRID: f64 = 512.0;

/// One video's parameters.
#[derive(Debug, Clone)]
pub struct VideoParams {
    pub prompt: String,
    pub negative: String,
    pub width: u32,
    pub height: u32,
    /// 1 to [`MAX_FRAMES`].
    pub frames: u32,
    /// [`MIN_STEPS`] to [`MAX_STEPS`].
    pub steps: u32,
    /// Classifier-free guidance; 1 or less runs without the negative prompt.
    pub guidance: f64,
    pub seed: u64,
    /// diffusers' `motion_field_strength_x` / `_y` (default 12 each).
    pub motion: Motion,
    /// diffusers' `t0` and `t1` (0 <= t0 < t1 < steps); `None`: 44 and 47 of 50 scaled to the
    /// step count ([`default_t0_t1`]).
    pub t0: Option<u32>,
    pub t1: Option<u32>,
}

/// The translation per frame, in pixels of diffusers' 512-pixel reference grid: frame k's
/// latent moves by k * strength * (latent side / 512) latent pixels (12 at 64 latents is 1.5
/// latent pixels per frame). Positive values sample further right/down, so content moves
/// left/up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Motion {
    pub x: f64,
    pub y: f64,
}

impl Default for Motion {
    fn default() -> Self {
        Self { x: 12.0, y: 12.0 }
    }
}

/// Where a run stands, after each denoising step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoProgress {
    /// UNet steps done (the first frame's alone, then those of all frames together).
    pub step: usize,
    pub total: usize,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoOutcome {
    /// Every frame was handed to the callback.
    Finished { frames: u32 },
    /// The cancel flag was seen after `steps_done` steps; no frame was decoded.
    Cancelled { steps_done: usize },
}

/// diffusers' defaults t0 = 44, t1 = 47 of 50 steps, for `steps`: t1 leaves about 4% of the
/// steps (at least one) to the first frame alone, t0 about 6% more (at least one).
pub fn default_t0_t1(steps: u32) -> (u32, u32) {
    let share = |fraction: f64| ((f64::from(steps) * fraction).round() as u32).max(1);
    let t1 = steps.saturating_sub(1 + share(0.04));
    (t1.saturating_sub(share(0.06)), t1)
}

impl VideoParams {
    fn guided(&self) -> bool {
        self.guidance > 1.0
    }

    /// (t0, t1) after defaults, checked against the step count.
    fn t0_t1(&self) -> Result<(usize, usize), PipelineError> {
        let (default_t0, default_t1) = default_t0_t1(self.steps);
        let t0 = self.t0.unwrap_or(default_t0);
        let t1 = self.t1.unwrap_or(default_t1);
        if t0 >= t1 || t1 >= self.steps {
            return Err(PipelineError::Invalid(format!(
                "t0 {t0} and t1 {t1} must satisfy t0 < t1 < steps ({})",
                self.steps
            )));
        }
        Ok((t0 as usize, t1 as usize))
    }

    /// Refuses values outside the stated limits, naming the field.
    pub fn validate(&self, multiple: u32) -> Result<(), PipelineError> {
        let invalid = |message: String| Err(PipelineError::Invalid(message));
        if self.frames == 0 || self.frames > MAX_FRAMES {
            return invalid(format!("frames {} must be 1 to {MAX_FRAMES}", self.frames));
        }
        if !(MIN_STEPS..=MAX_STEPS).contains(&self.steps) {
            return invalid(format!(
                "steps {} must be {MIN_STEPS} to {MAX_STEPS}",
                self.steps
            ));
        }
        for (name, side) in [("width", self.width), ("height", self.height)] {
            if side == 0 || side % multiple != 0 {
                return invalid(format!(
                    "{name} {side} must be a positive multiple of {multiple}"
                ));
            }
        }
        if !self.guidance.is_finite() || self.guidance < 0.0 {
            return invalid(format!("guidance {} must be 0 or more", self.guidance));
        }
        if !self.motion.x.is_finite() || !self.motion.y.is_finite() {
            return invalid("motion strengths must be finite".into());
        }
        self.t0_t1().map(|_| ())
    }
}

/// Nearest source index for each output position along one axis of a latent of `size`
/// positions, for a motion `strength` at `frame_id`: diffusers resizes the normalised
/// coordinates of a 512-wide grid shifted by strength * frame_id to the latent (bilinear), then
/// samples nearest with reflection padding (align_corners false throughout).
fn source_indices(size: usize, strength: f64, frame_id: u32) -> Vec<u32> {
    let shift = strength * f64::from(frame_id);
    let n = size as f64;
    let ratio = MOTION_GRID / n;
    (0..size)
        .map(|i| {
            // The grid position that output i resizes from, and its shifted coordinate.
            let on_grid = ((i as f64 + 0.5) * ratio - 0.5).clamp(0.0, MOTION_GRID - 1.0);
            let normalised = (on_grid + shift) / MOTION_GRID * 2.0 - 1.0;
            let position = ((normalised + 1.0) * n - 1.0) / 2.0;
            // Reflect over [-0.5, size - 0.5], keep inside, round half to even.
            let distance = (position + 0.5).abs();
            let extra = distance % n;
            let flips = (distance / n).floor() as u64;
            let reflected = if flips.is_multiple_of(2) {
                extra - 0.5
            } else {
                n - extra - 0.5
            };
            reflected.clamp(0.0, n - 1.0).round_ties_even() as u32
        })
        .collect()
}

/// diffusers' `warp_single_latent` with the translation field of `frame_id`: `latent`
/// (rows, C, h, w), every row moved the same way.
pub fn warp_latent(
    latent: &Tensor,
    motion: Motion,
    frame_id: u32,
) -> Result<Tensor, PipelineError> {
    let (_, _, h, w) = latent.dims4()?;
    let device = latent.device();
    let rows = Tensor::new(source_indices(h, motion.y, frame_id).as_slice(), device)?;
    let cols = Tensor::new(source_indices(w, motion.x, frame_id).as_slice(), device)?;
    Ok(latent.index_select(&rows, 2)?.index_select(&cols, 3)?)
}

/// Each of the `groups` rows of `context` repeated `frames` times, group after group.
fn repeat_rows(context: &Tensor, frames: usize) -> Result<Tensor, PipelineError> {
    let groups = context.dim(0)?;
    let rows = (0..groups)
        .map(|g| context.narrow(0, g, 1))
        .collect::<candle_core::Result<Vec<_>>>()?;
    let repeated: Vec<&Tensor> = rows
        .iter()
        .flat_map(|row| std::iter::repeat_n(row, frames))
        .collect();
    Ok(Tensor::cat(&repeated, 0)?)
}

/// How a denoising ended.
#[derive(Debug)]
pub enum Denoised {
    /// All frames' latents, (frames, C, h, w).
    Latents(Tensor),
    Cancelled {
        steps_done: usize,
    },
}

/// What one denoising run starts from (steps 1 to 3 of the module doc).
pub struct ZeroInputs<'a> {
    pub steps: usize,
    pub t0: usize,
    pub t1: usize,
    /// Classifier-free guidance scale, `None` for one unguided row.
    pub guidance: Option<f64>,
    pub motion: Motion,
    /// The text rows of one frame (1, tokens, dim), unconditional then conditional when guided.
    pub context: &'a Tensor,
    /// The first frame's x_T (1, C, h, w).
    pub first_noise: &'a Tensor,
    /// Unit noise (1, C, h, w) of frames 2, 3, ... for their forward noising: one per frame.
    pub forward_noise: &'a [Tensor],
}

/// Steps 1 to 3 on a UNet with DDIM: no text encoder, no VAE, the noise given. `TextToVideo`
/// draws the noise from the seed and encodes the prompt; tests feed diffusers' own numbers.
pub struct ZeroDenoiser<'a> {
    pub unet: &'a UNet,
    pub schedule: &'a NoiseSchedule,
    pub prediction: Prediction,
}

impl ZeroDenoiser<'_> {
    /// One step of DDIM on `latents` (frames, C, h, w) with the UNet in `mode`.
    fn step(
        &self,
        scheduler: &mut Scheduler,
        latents: &Tensor,
        context: &Tensor,
        guidance: Option<f64>,
        mode: AttentionMode,
    ) -> Result<Tensor, PipelineError> {
        let frames = latents.dim(0)?;
        let input = latents.affine(scheduler.input_scale(), 0.0)?;
        let input = match guidance {
            Some(_) => Tensor::cat(&[&input, &input], 0)?,
            None => input,
        };
        let rows = input.dim(0)?;
        let t = Tensor::full(scheduler.timestep() as f32, rows, latents.device())?;
        let out = self.unet.forward_with(&input, &t, context, None, mode)?;
        let prediction = match guidance {
            Some(scale) => {
                let uncond = out.narrow(0, 0, frames)?;
                let cond = out.narrow(0, frames, frames)?;
                (&uncond + ((cond - &uncond)? * scale)?)?
            }
            None => out,
        };
        let eps = match self.prediction {
            Prediction::Epsilon => prediction,
            Prediction::V => scheduler.epsilon_from_v(latents, &prediction)?,
        };
        Ok(scheduler.step(latents, &eps, None)?)
    }

    /// Frames 2 and on at training timestep `big_t1`: `first` (the first frame at `big_t0`)
    /// translated by each frame's motion, then noised forward (DDPM) with the frame's noise.
    fn later_frames(
        &self,
        inputs: &ZeroInputs,
        first: &Tensor,
        big_t0: usize,
        big_t1: usize,
    ) -> Result<Vec<Tensor>, PipelineError> {
        let alphas_cumprod = self.schedule.alphas_cumprod();
        let before = |t: usize| {
            t.checked_sub(1)
                .and_then(|p| alphas_cumprod.get(p))
                .copied()
                .unwrap_or(1.0)
        };
        // diffusers' prod(alphas[T0:T1]): the signal kept from T0 to T1.
        let kept = before(big_t1) / before(big_t0);
        (1..)
            .zip(inputs.forward_noise)
            .map(|(k, fresh)| {
                let warped = warp_latent(first, inputs.motion, k)?;
                Ok(((warped * kept.sqrt())? + (fresh * (1.0 - kept).sqrt())?)?)
            })
            .collect()
    }

    /// Runs steps 1 to 3; `progress` after every step, `cancel` checked before every step.
    pub fn denoise(
        &self,
        inputs: &ZeroInputs,
        cancel: &AtomicBool,
        progress: &mut dyn FnMut(VideoProgress),
    ) -> Result<Denoised, PipelineError> {
        let ZeroInputs {
            steps,
            t0,
            t1,
            guidance,
            ..
        } = *inputs;
        if t0 >= t1 || t1 >= steps {
            return Err(PipelineError::Invalid(format!(
                "t0 {t0} and t1 {t1} must satisfy t0 < t1 < steps ({steps})"
            )));
        }
        let frames = inputs.forward_noise.len() + 1;
        // Step indices where the first frame reaches T1 and T0.
        let (at_t1, at_t0) = (steps - t1 - 1, steps - t0 - 1);
        let total = at_t0 + (steps - at_t1);
        let mut done = 0;
        let mut tick = |done: &mut usize| -> bool {
            *done += 1;
            progress(VideoProgress { step: *done, total });
            !cancel.load(Ordering::SeqCst)
        };
        if cancel.load(Ordering::SeqCst) {
            return Ok(Denoised::Cancelled { steps_done: 0 });
        }

        let mut first_scheduler = Scheduler::new(SchedulerKind::Ddim, self.schedule, steps);
        let mut first = inputs.first_noise.clone();
        let mut first_at_t1 = first.clone();
        for i in 0..at_t0 {
            let mode = AttentionMode::Normal;
            first = self.step(&mut first_scheduler, &first, inputs.context, guidance, mode)?;
            if i + 1 == at_t1 {
                first_at_t1 = first.clone();
            }
            if !tick(&mut done) {
                return Ok(Denoised::Cancelled { steps_done: done });
            }
        }

        let timesteps = first_scheduler.timesteps();
        let (big_t0, big_t1) = (timesteps[at_t0] as usize, timesteps[at_t1] as usize);
        let mut all = vec![first_at_t1];
        all.extend(self.later_frames(inputs, &first, big_t0, big_t1)?);
        let mut latents = Tensor::cat(&all, 0)?.to_dtype(DType::F32)?;

        let context = repeat_rows(inputs.context, frames)?;
        let mut scheduler = Scheduler::new(SchedulerKind::Ddim, self.schedule, steps);
        scheduler.start_at(at_t1);
        let mode = AttentionMode::CrossFrame { frames };
        while !scheduler.done() {
            latents = self.step(&mut scheduler, &latents, &context, guidance, mode)?;
            if !tick(&mut done) {
                return Ok(Denoised::Cancelled { steps_done: done });
            }
        }
        Ok(Denoised::Latents(latents))
    }
}

/// Text-to-video on a loaded Stable Diffusion model.
pub struct TextToVideo<'a> {
    model: &'a DiffusionModel,
}

impl<'a> TextToVideo<'a> {
    /// Refuses SDXL models (their added conditioning is not wired here).
    pub fn new(model: &'a DiffusionModel) -> Result<Self, PipelineError> {
        if model.is_sdxl() {
            return Err(PipelineError::Invalid(format!(
                "text-to-video runs on SD 1.x/2.x models; {} is SDXL",
                model.name
            )));
        }
        Ok(Self { model })
    }

    /// Generates `params.frames` frames; `progress` after every step, `on_frame(index, image)`
    /// for each decoded frame in order. `cancel` is checked before every step. The first
    /// frame's x_T is image 0's initial noise of `seed` (`image::noise`), the forward noise of
    /// frame k is stream 1 of image k.
    pub fn run(
        &self,
        params: &VideoParams,
        cancel: &AtomicBool,
        progress: &mut dyn FnMut(VideoProgress),
        on_frame: &mut dyn FnMut(u32, RgbImage) -> Result<(), PipelineError>,
    ) -> Result<VideoOutcome, PipelineError> {
        params.validate(self.model.size_multiple())?;
        let (t0, t1) = params.t0_t1()?;
        let device = self.model.device();
        let shape = self.model.latent_dims(params.width, params.height);
        let count = shape.1 * shape.2 * shape.3;
        let draw = |index: u32, stream: u32| {
            let values = noise::gaussian(params.seed, index, stream, count);
            Tensor::from_vec(values, shape, device)
        };
        // DDIM starts from unit noise (init_noise_sigma 1).
        let first_noise = draw(0, 0)?;
        let forward_noise = (1..params.frames)
            .map(|k| draw(k, 1))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let cond = self
            .model
            .encode_prompt(&params.prompt, &params.negative, params.guided())?;
        let rows: Vec<&Tensor> = cond.uncond.iter().chain([&cond.cond]).collect();
        let context = Tensor::cat(&rows, 0)?;
        let inputs = ZeroInputs {
            steps: params.steps as usize,
            t0,
            t1,
            guidance: params.guided().then_some(params.guidance),
            motion: params.motion,
            context: &context,
            first_noise: &first_noise,
            forward_noise: &forward_noise,
        };
        let denoiser = ZeroDenoiser {
            unet: self.model.unet(),
            schedule: self.model.schedule(),
            prediction: self.model.prediction(),
        };
        let latents = match denoiser.denoise(&inputs, cancel, progress)? {
            Denoised::Latents(latents) => latents,
            Denoised::Cancelled { steps_done } => {
                return Ok(VideoOutcome::Cancelled { steps_done });
            }
        };
        for k in 0..params.frames {
            let pixels = self.model.decode(&latents.narrow(0, k as usize, 1)?)?;
            on_frame(k, to_rgb(&pixels)?)?;
        }
        Ok(VideoOutcome::Finished {
            frames: params.frames,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_t0_t1_are_diffusers_at_fifty_steps_and_valid_at_few() {
        assert_eq!(default_t0_t1(50), (44, 47));
        for steps in MIN_STEPS..=MAX_STEPS {
            let (t0, t1) = default_t0_t1(steps);
            assert!(t0 < t1 && t1 < steps, "steps {steps}: t0 {t0}, t1 {t1}");
        }
    }

    #[test]
    fn the_warp_translates_and_reflects_at_the_borders() {
        // No motion: diffusers' grid resize is off by a sixteenth of a latent pixel at 64
        // latents, which nearest sampling rounds away.
        let identity: Vec<u32> = (0..64).collect();
        assert_eq!(source_indices(64, 0.0, 3), identity);
        // 12 per frame at 64 latents: 1.5 latent pixels per frame, less the sixteenth.
        let two = source_indices(64, 12.0, 2);
        assert_eq!(&two[..3], &[3, 4, 5]);
        // Past the right border the samples come back: ..., 62, 63, 63, 62, 61.
        assert_eq!(&two[59..], &[62, 63, 63, 62, 61]);
        // Negative motion reflects about the left edge (-0.5): -2.008 samples 1.008.
        let back = source_indices(8, -64.0, 2);
        assert_eq!(back, vec![1, 0, 0, 1, 2, 3, 4, 5]);
    }
}

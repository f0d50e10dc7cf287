//! The text-to-video path of `video.render` (`"generate"` in the payload): Text2Video-Zero on
//! the loaded Stable Diffusion model (`engine::video::zero`), each frame streamed, as the VAE
//! decodes it, to one encoder per format (cover-cropped to the format), with RIFE frames between
//! generated ones when asked. Only the previous generated frame is kept.
//!
//! The diffusion model is shared with the image engine: this path runs its own UNet batches on
//! the job's thread, beside the engine's.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use image::{DynamicImage, RgbImage};
use serde::{Deserialize, Serialize};

use crate::engine::image::pipeline::{DiffusionModel, PipelineError};
use crate::engine::video::Rife;
use crate::engine::video::zero::{self, TextToVideo, VideoOutcome, VideoParams};
use crate::media::encoder::{
    EncodeError, EncodedVideo, EncoderSettings, Frame, FrameSender, VideoEncoder,
};
use crate::media::formats::Format;
use crate::media::timeline::spec::INTERPOLATION_FACTORS;

/// What to generate.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateVideo {
    pub prompt: String,
    pub negative_prompt: Option<String>,
    /// Generated frames, 2 to 24 (default 8).
    pub frames: Option<u32>,
    /// Denoising steps, 3 to 100 (default the model's).
    pub steps: Option<u32>,
    pub guidance: Option<f64>,
    /// Generation size (default the model's); the video is each format's size.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Latent motion per frame (diffusers' motion_field_strength, default 12).
    pub motion_x: Option<f64>,
    pub motion_y: Option<f64>,
    /// Frames per second of the output (default 8).
    pub fps: Option<u32>,
    /// RIFE frames between generated ones: 2, 4 or 8 times the frame count.
    pub interpolate: Option<u32>,
}

impl GenerateVideo {
    /// Checks what needs no model.
    pub fn check(&self) -> Result<(), String> {
        if self.prompt.trim().is_empty() {
            return Err("generate.prompt: required".into());
        }
        if let Some(frames) = self.frames
            && !(2..=zero::MAX_FRAMES).contains(&frames)
        {
            return Err(format!(
                "generate.frames: {frames} is out of range 2 to {}",
                zero::MAX_FRAMES
            ));
        }
        if let Some(fps) = self.fps
            && !(1..=60).contains(&fps)
        {
            return Err(format!("generate.fps: {fps} is out of range 1 to 60"));
        }
        if let Some(factor) = self.interpolate
            && !INTERPOLATION_FACTORS.contains(&factor)
        {
            return Err(format!(
                "generate.interpolate: {factor} is not one of 2, 4, 8"
            ));
        }
        Ok(())
    }

    /// The generation parameters at `model`'s defaults, validated.
    pub fn params(&self, model: &DiffusionModel, seed: u64) -> Result<VideoParams, String> {
        let defaults = model.defaults;
        let motion = zero::Motion::default();
        let params = VideoParams {
            prompt: self.prompt.clone(),
            negative: self.negative_prompt.clone().unwrap_or_default(),
            width: self.width.unwrap_or(defaults.width),
            height: self.height.unwrap_or(defaults.height),
            frames: self.frames.unwrap_or(8),
            steps: self.steps.unwrap_or(defaults.steps).max(zero::MIN_STEPS),
            guidance: self.guidance.unwrap_or(defaults.guidance),
            seed,
            motion: zero::Motion {
                x: self.motion_x.unwrap_or(motion.x),
                y: self.motion_y.unwrap_or(motion.y),
            },
            t0: None,
            t1: None,
        };
        params
            .validate(model.size_multiple())
            .map_err(|e| format!("generate: {e}"))?;
        Ok(params)
    }

    pub fn fps(&self) -> u32 {
        self.fps.unwrap_or(8)
    }

    /// Output frames: the generated ones and the interpolated ones between them.
    pub fn output_frames(&self) -> u64 {
        let frames = u64::from(self.frames.unwrap_or(8));
        (frames - 1) * u64::from(self.interpolate.unwrap_or(1)) + 1
    }
}

/// One format's encoder.
struct Output {
    format: Format,
    encoder: VideoEncoder,
    sender: FrameSender,
}

/// Generates and encodes at every format; the encoded videos in format order.
pub struct Generation<'a> {
    pub model: &'a DiffusionModel,
    pub params: VideoParams,
    pub rife: Option<&'a Rife>,
    pub factor: u32,
    pub fps: u32,
    pub encoder: EncoderSettings,
    /// (format at its output size, the MP4 path).
    pub outputs: Vec<(Format, PathBuf)>,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerationError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("frame interpolation failed: {0}")]
    Rife(#[from] crate::engine::video::RifeError),
    #[error("the render was cancelled")]
    Cancelled,
}

impl Generation<'_> {
    pub fn run(
        self,
        cancel: &AtomicBool,
        report: &(dyn Fn(f64, String) + Sync),
    ) -> Result<Vec<EncodedVideo>, GenerationError> {
        let mut outputs = Vec::with_capacity(self.outputs.len());
        for (format, path) in &self.outputs {
            let settings = EncoderSettings {
                width: format.width,
                height: format.height,
                fps: self.fps,
                ..self.encoder.clone()
            };
            let (encoder, sender) = VideoEncoder::start(path, settings)?;
            outputs.push(Output {
                format: *format,
                encoder,
                sender,
            });
        }
        let result = self.stream(&outputs, cancel, report);
        match result {
            Ok(()) => outputs
                .into_iter()
                .map(|o| o.encoder.finish(o.sender).map_err(GenerationError::from))
                .collect(),
            Err(e) => {
                for output in outputs {
                    drop(output.sender);
                    output.encoder.cancel();
                }
                Err(e)
            }
        }
    }

    fn stream(
        &self,
        outputs: &[Output],
        cancel: &AtomicBool,
        report: &(dyn Fn(f64, String) + Sync),
    ) -> Result<(), GenerationError> {
        let pipeline = TextToVideo::new(self.model)?;
        let total = self.params.frames;
        let mut previous: Option<RgbImage> = None;
        let mut progress = |p: zero::VideoProgress| {
            let fraction = 0.8 * p.step as f64 / p.total.max(1) as f64;
            report(fraction, format!("denoising step {}/{}", p.step, p.total));
        };
        let mut on_frame = |index: u32, frame: RgbImage| -> Result<(), PipelineError> {
            let send = |image: &RgbImage| -> Result<(), PipelineError> {
                send_all(outputs, image).map_err(|e| PipelineError::Invalid(e.to_string()))
            };
            if let (Some(before), Some(rife)) = (&previous, self.rife) {
                for k in 1..self.factor {
                    let t = k as f32 / self.factor as f32;
                    let middle = rife
                        .interpolate_rgb(before, &frame, t)
                        .map_err(|e| PipelineError::Invalid(e.to_string()))?;
                    send(&middle)?;
                }
            }
            send(&frame)?;
            report(
                0.8 + 0.2 * f64::from(index + 1) / f64::from(total),
                format!("frame {}/{total} decoded", index + 1),
            );
            previous = Some(frame);
            Ok(())
        };
        match pipeline.run(&self.params, cancel, &mut progress, &mut on_frame)? {
            VideoOutcome::Finished { .. } => Ok(()),
            VideoOutcome::Cancelled { .. } => Err(GenerationError::Cancelled),
        }
    }
}

/// Sends one generated frame, cover-cropped, to every format's encoder.
fn send_all(outputs: &[Output], image: &RgbImage) -> Result<(), EncodeError> {
    let source = DynamicImage::ImageRgb8(image.clone());
    for output in outputs {
        let (w, h) = (output.format.width, output.format.height);
        let frame = crate::media::compositor::paint_background(
            &crate::media::compositor::Background::Image(source.clone()),
            w,
            h,
        );
        output.sender.send(Frame {
            rgba: frame.into_raw(),
        })?;
    }
    Ok(())
}

/// The MP4 path of a format in `dir`.
pub fn output_path(dir: &Path, format: &Format) -> PathBuf {
    dir.join(format!("{}.mp4", format.id))
}

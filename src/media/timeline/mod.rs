//! The timeline renderer: a JSON video spec (clips with durations and backgrounds, layers for
//! title, body, call to action, logo, product image or video; transitions crossfade, slide,
//! wipe and zoom; Ken Burns pan and zoom; enter and exit animations) rendered frame by frame
//! at a format from `media::formats` (its size and safe zone) into the streaming
//! [`VideoEncoder`].
//!
//! Code map:
//! - `spec`: the serde types, parsing with field paths, and every limit ([`VideoSpec::check`]).
//! - `scene`: a spec prepared for one format: backgrounds, and the layers drawn once by the
//!   compositor as sprites (so every text keeps the compositor's safe-area, fit and contrast
//!   rules, inks chosen against the clip's first frame).
//! - `frame`: per-frame pixel work (Ken Burns view, sprites, transitions).
//!
//! The render loop here draws chunks of frames in parallel (rayon), sends them in order to the
//! encoder (whose bounded channel applies back-pressure), and checks the cancel flag before every
//! frame, so a cancel stops at the next frame boundary and the encoder deletes its partial files.
//! With `interpolate`, every `factor`-th frame is drawn and RIFE makes the ones between. Memory
//! is bounded by the chunk, the encoder queue and the prepared clips, never by the length.
//!
//! Must not touch: the store, the job queue, HTTP. Assets arrive decoded or as paths
//! ([`Inputs`]); video files are read with `media::decoder`, a frame at a time.

mod frame;
mod scene;
pub use adforge_input::video_spec as spec;
pub mod template;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use image::{DynamicImage, RgbaImage};
use rayon::prelude::*;

use crate::engine::video::{Rife, RifeError};
use crate::media::compositor::{ComposeError, Compositor};
use crate::media::decoder::{DecodeError, VideoDecoder};
use crate::media::encoder::{EncodeError, EncodedVideo, EncoderSettings, Frame, VideoEncoder};
use crate::media::formats::Format;

pub use scene::Inputs;
pub use spec::{SpecError, VideoSpec, parse};

use scene::{Clip, Fetched};
use spec::{Direction, TransitionSpec};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("clips[{clip}]: {source}")]
    InClip {
        clip: usize,
        #[source]
        source: Box<RenderError>,
    },
    #[error("{0}")]
    Compose(ComposeError),
    #[error("asset {0} was not provided to the renderer")]
    MissingAsset(String),
    #[error(transparent)]
    Video(#[from] DecodeError),
    #[error("interpolate: {0}")]
    NoInterpolator(String),
    #[error("frame interpolation failed: {0}")]
    Rife(#[from] RifeError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("the render was cancelled")]
    Cancelled,
}

impl RenderError {
    fn in_clip(self, clip: usize) -> RenderError {
        RenderError::InClip {
            clip,
            source: Box::new(self),
        }
    }
}

/// Where a render stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderProgress {
    pub frames_done: u64,
    pub frames_total: u64,
    /// Frames per second so far.
    pub fps: f64,
    pub eta_seconds: f64,
}

/// What a render uses besides the spec.
pub struct RenderOptions<'a> {
    pub compositor: &'a Compositor,
    /// Needed when the spec interpolates.
    pub rife: Option<&'a Rife>,
    /// CRF, preset and preview; size, frame rate, audio and poster come from the spec.
    pub encoder: EncoderSettings,
    /// Set to stop at the next frame.
    pub cancel: &'a AtomicBool,
    /// Called at most every `progress_every` and after the last frame.
    pub progress: &'a (dyn Fn(RenderProgress) + Sync),
    pub progress_every: std::time::Duration,
}

/// How often progress is reported by default.
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// `format` at the spec's scale, each side rounded to an even number of pixels (yuv420p).
pub fn output_format(format: &Format, scale: f64) -> Format {
    let side = |v: u32| (((f64::from(v) * scale) / 2.0).round() as u32 * 2).max(16);
    Format {
        width: side(format.width),
        height: side(format.height),
        ..*format
    }
}

/// Prepares every clip of a checked `spec` at `format` without rendering a frame: a text that
/// does not fit, or a video that does not open, is found here.
pub fn check_layout(
    spec: &VideoSpec,
    format: &Format,
    inputs: &Inputs,
    compositor: &Compositor,
) -> Result<(), RenderError> {
    let format = output_format(format, spec.scale());
    scene::prepare(spec, &format, inputs, compositor).map(|_| ())
}

/// Renders a checked `spec` at `format` into `output` (an MP4, with poster and preview beside
/// it as the encoder settings say).
pub fn render(
    spec: &VideoSpec,
    format: &Format,
    inputs: &Inputs,
    output: &Path,
    options: &RenderOptions<'_>,
) -> Result<EncodedVideo, RenderError> {
    let format = output_format(format, spec.scale());
    let interpolate = spec.interpolate.as_ref().map_or(1, |i| i.factor);
    let rife = match (interpolate, options.rife) {
        (1, _) => None,
        (_, Some(rife)) => Some(rife),
        (_, None) => {
            return Err(RenderError::NoInterpolator(
                "no frame interpolation model is loaded".into(),
            ));
        }
    };
    let clips = scene::prepare(spec, &format, inputs, options.compositor)?;
    let timeline = Timeline {
        clips,
        size: (format.width, format.height),
        fps: f64::from(spec.fps),
        frames: spec.frames(),
    };
    let first = &timeline.clips[0];
    let poster = ((first.start + first.duration * 0.6) * timeline.fps) as u64;
    let settings = EncoderSettings {
        width: format.width,
        height: format.height,
        fps: spec.fps,
        audio: inputs.audio.clone(),
        poster_at: Some(poster.min(timeline.frames - 1)),
        ..options.encoder.clone()
    };
    let (encoder, sender) = VideoEncoder::start(output, settings)?;
    let mut run = Run {
        timeline: &timeline,
        options,
        sources: (0..timeline.clips.len()).map(|_| None).collect(),
        sender: &sender,
        started: Instant::now(),
        reported: None,
        done: 0,
    };
    let result = match rife {
        None => run.all_frames(),
        Some(rife) => run.interpolated(rife, u64::from(interpolate)),
    };
    drop(run);
    match result {
        Ok(()) => Ok(encoder.finish(sender)?),
        // The encoder stopped on its own: its error says why.
        Err(RenderError::Encode(EncodeError::Stopped)) => match encoder.finish(sender) {
            Err(e) => Err(e.into()),
            Ok(_) => Err(EncodeError::Stopped.into()),
        },
        Err(e) => {
            drop(sender);
            encoder.cancel();
            Err(e)
        }
    }
}

/// The prepared clips of one format.
struct Timeline {
    clips: Vec<Clip>,
    size: (u32, u32),
    fps: f64,
    frames: u64,
}

/// What one output frame shows: one clip, or two in a transition.
struct FramePlan {
    /// (clip index, seconds into the clip).
    parts: Vec<(usize, f64)>,
    /// The transition and how far along it is (0..1).
    transition: Option<(TransitionSpec, f64)>,
}

impl Timeline {
    fn plan(&self, index: u64) -> FramePlan {
        let t = index as f64 / self.fps;
        let eps = 1e-9;
        let k = self
            .clips
            .iter()
            .rposition(|c| c.start <= t + eps)
            .unwrap_or(0);
        if k > 0 {
            let prev = &self.clips[k - 1];
            if let Some(transition) = &prev.transition
                && t < prev.start + prev.duration - eps
            {
                let progress = (t - self.clips[k].start) / transition.seconds();
                return FramePlan {
                    parts: vec![(k - 1, t - prev.start), (k, t - self.clips[k].start)],
                    transition: Some((transition.clone(), progress)),
                };
            }
        }
        FramePlan {
            parts: vec![(k, t - self.clips[k].start)],
            transition: None,
        }
    }

    fn draw(&self, plan: &FramePlan, fetched: &[Fetched]) -> RgbaImage {
        let mut frames = plan
            .parts
            .iter()
            .zip(fetched)
            .map(|(&(clip, t), fetched)| self.clips[clip].draw(t, self.size, fetched));
        let first = frames
            .next()
            .unwrap_or_else(|| RgbaImage::new(self.size.0, self.size.1));
        match (&plan.transition, frames.next()) {
            (Some((transition, progress)), Some(second)) => frame::transition(
                transition.kind,
                transition.direction.unwrap_or(Direction::Left),
                &first,
                &second,
                frame::ease_in_out(*progress),
            ),
            _ => first,
        }
    }
}

/// One render in progress.
struct Run<'a> {
    timeline: &'a Timeline,
    options: &'a RenderOptions<'a>,
    /// Open video sources per clip (background, layer), opened when first needed and closed
    /// when the timeline has passed the clip.
    sources: Vec<Option<[Option<VideoDecoder>; 2]>>,
    sender: &'a crate::media::encoder::FrameSender,
    started: Instant,
    reported: Option<Instant>,
    done: u64,
}

impl Run<'_> {
    fn check_cancel(&self) -> Result<(), RenderError> {
        if self.options.cancel.load(Ordering::Relaxed) {
            return Err(RenderError::Cancelled);
        }
        Ok(())
    }

    /// Video frames a plan needs, read in timeline order.
    fn fetch(&mut self, plan: &FramePlan) -> Result<Vec<Fetched>, RenderError> {
        let first_clip = plan.parts.first().map_or(0, |p| p.0);
        for passed in self.sources.iter_mut().take(first_clip) {
            *passed = None;
        }
        let mut fetched = Vec::with_capacity(plan.parts.len());
        for &(k, t) in &plan.parts {
            let clip = &self.timeline.clips[k];
            let sources = match &mut self.sources[k] {
                Some(sources) => sources,
                slot @ None => slot.insert(
                    clip.open_videos(self.timeline.size)
                        .map_err(|e| e.in_clip(k))?,
                ),
            };
            let [bg_t, layer_t] = clip.video_times(t);
            let [bg, layer] = sources;
            fetched.push(Fetched {
                background: frame_of(bg.as_mut(), bg_t)?,
                layer: frame_of(layer.as_mut(), layer_t)?,
            });
        }
        Ok(fetched)
    }

    fn send(&mut self, frame: RgbaImage) -> Result<(), RenderError> {
        self.check_cancel()?;
        self.sender.send(Frame {
            rgba: frame.into_raw(),
        })?;
        self.done += 1;
        let now = Instant::now();
        let due = self
            .reported
            .is_none_or(|at| now - at >= self.options.progress_every);
        if due || self.done == self.timeline.frames {
            self.reported = Some(now);
            let elapsed = (now - self.started).as_secs_f64().max(1e-6);
            let fps = self.done as f64 / elapsed;
            (self.options.progress)(RenderProgress {
                frames_done: self.done,
                frames_total: self.timeline.frames,
                fps,
                eta_seconds: (self.timeline.frames - self.done) as f64 / fps.max(1e-6),
            });
        }
        Ok(())
    }

    /// Draws frames `indices` in parallel.
    fn draw_many(&mut self, indices: std::ops::Range<u64>) -> Result<Vec<RgbaImage>, RenderError> {
        let plans: Vec<FramePlan> = indices.map(|i| self.timeline.plan(i)).collect();
        let fetched = plans
            .iter()
            .map(|plan| self.fetch(plan))
            .collect::<Result<Vec<_>, _>>()?;
        let timeline = self.timeline;
        Ok(plans
            .par_iter()
            .zip(fetched.par_iter())
            .map(|(plan, fetched)| timeline.draw(plan, fetched))
            .collect())
    }

    fn all_frames(&mut self) -> Result<(), RenderError> {
        let chunk = (rayon::current_num_threads() as u64 * 2).max(2);
        let total = self.timeline.frames;
        let mut next = 0;
        while next < total {
            self.check_cancel()?;
            let end = (next + chunk).min(total);
            for frame in self.draw_many(next..end)? {
                self.send(frame)?;
            }
            next = end;
        }
        Ok(())
    }

    /// Draws every `factor`-th frame (and the last) and interpolates the frames between.
    fn interpolated(&mut self, rife: &Rife, factor: u64) -> Result<(), RenderError> {
        let total = self.timeline.frames;
        let mut key = self.draw_many(0..1)?.remove(0);
        let mut key_index = 0;
        while key_index + 1 < total {
            self.check_cancel()?;
            let next_index = (key_index + factor).min(total - 1);
            let next = self.draw_many(next_index..next_index + 1)?.remove(0);
            let (a, b) = (rgb(&key), rgb(&next));
            self.send(key)?;
            for i in key_index + 1..next_index {
                self.check_cancel()?;
                let t = (i - key_index) as f32 / (next_index - key_index) as f32;
                let middle = rife.interpolate_rgb(&a, &b, t)?;
                self.send(DynamicImage::ImageRgb8(middle).to_rgba8())?;
            }
            (key, key_index) = (next, next_index);
        }
        self.send(key)
    }
}

fn frame_of(source: Option<&mut VideoDecoder>, t: f64) -> Result<Option<RgbaImage>, RenderError> {
    match source {
        Some(source) => Ok(Some(source.frame_at(t)?.image.clone())),
        None => Ok(None),
    }
}

fn rgb(frame: &RgbaImage) -> image::RgbImage {
    DynamicImage::ImageRgba8(frame.clone()).to_rgb8()
}

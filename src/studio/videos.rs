//! `video.render`: a video spec (or copy, or a brief the text model writes copy from, filled into
//! the ad template) rendered by the timeline renderer at each requested video format. Each
//! format's MP4, JPEG poster and preview are stored as the job's assets; progress reports frames,
//! frames per second and the time left. A cancel stops at the next frame and leaves no file
//! under a final name; a retried attempt writes the same asset ids.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::creatives::{CreativeCopy, RenderBrief};
use super::inputs::{MAX_INPUT_PIXELS, load_asset_image, write_copy};
use super::video_gen::{GenerateVideo, Generation, GenerationError, output_path};
use crate::engine::image::engine::ImageEngines;
use crate::engine::text::TextService;
use crate::engine::video::Rife;
use crate::jobs::{JobContext, JobError, JobHandler, Lane};
use crate::media::compositor::{BrandSpec, Compositor};
use crate::media::decoder;
use crate::media::encoder::{EncodedVideo, EncoderSettings, PreviewKind, X264_PRESETS};
use crate::media::formats::{self, Format, Medium};
use crate::media::timeline::spec::{AssetKind, AssetUse};
use crate::media::timeline::template::{AdTemplate, TEMPLATE_SECONDS};
use crate::media::timeline::{self, Inputs, RenderError, RenderOptions, RenderProgress, VideoSpec};
use crate::store::assets::AssetStore;
use crate::store::now_ms;

/// Formats one video job renders at most.
pub const MAX_VIDEO_FORMATS: usize = 4;

/// The job's payload: a `spec`; or `copy` / `brief` for the ad template (with its assets); or
/// `generate` for text-to-video on the loaded image model.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoPayload {
    /// A whole video spec (see the `VideoSpec` schema).
    #[schema(value_type = Option<VideoSpec>)]
    pub spec: Option<Value>,
    pub copy: Option<CreativeCopy>,
    pub brief: Option<RenderBrief>,
    /// Text-to-video (Text2Video-Zero) on the image model.
    pub generate: Option<GenerateVideo>,
    /// generate: which loaded image model (default the first).
    pub model: Option<String>,
    /// Template only (a spec carries its own).
    pub brand: Option<BrandSpec>,
    /// Template only: asset ids.
    pub logo: Option<String>,
    pub product_image: Option<String>,
    pub background_image: Option<String>,
    pub audio: Option<String>,
    /// Template only: seconds, 6 to 60 (default 15).
    pub seconds: Option<f64>,
    /// Template only: frames per second (default 30).
    pub fps: Option<u32>,
    /// Template and generate: render at this fraction of each format's size, 0.1 to 1.
    pub scale: Option<f64>,
    /// Video formats from the format table (1 to 4), e.g. `meta_reels`, `meta_feed_square`.
    pub formats: Vec<String>,
    /// libx264 CRF 0 to 51 (default 23).
    pub crf: Option<u8>,
    /// libx264 preset (default veryfast).
    pub preset: Option<String>,
    /// gif (default), webm or none.
    pub preview: Option<String>,
    pub seed: Option<u64>,
}

/// A payload that passed every check that needs no store or model.
#[derive(Debug, Clone)]
pub struct ValidVideo {
    pub formats: Vec<&'static Format>,
    /// `None`: the template, once copy is known.
    pub spec: Option<VideoSpec>,
    pub encoder: EncoderSettings,
}

fn field_error(field: &str, message: impl std::fmt::Display) -> String {
    format!("{field}: {message}")
}

impl VideoPayload {
    /// Checks everything that needs no store or model; `max_frames` caps each video.
    pub fn check(&self, max_frames: u64) -> Result<ValidVideo, String> {
        let formats = self.video_formats()?;
        let encoder = self.encoder()?;
        let template_fields = [
            ("brand", self.brand.is_some()),
            ("logo", self.logo.is_some()),
            ("product_image", self.product_image.is_some()),
            ("background_image", self.background_image.is_some()),
            ("audio", self.audio.is_some()),
            ("seconds", self.seconds.is_some()),
            ("fps", self.fps.is_some()),
            ("scale", self.scale.is_some()),
        ];
        if let Some(generate) = &self.generate {
            return self.check_generate(generate, formats, encoder, &template_fields);
        }
        if self.model.is_some() {
            return Err("model: only `generate` uses an image model".into());
        }
        let spec = match (&self.spec, &self.copy, &self.brief) {
            (Some(value), None, None) => {
                if let Some((name, _)) = template_fields.iter().find(|(_, set)| *set) {
                    return Err(field_error(
                        name,
                        "belongs to the ad template; a spec carries its own",
                    ));
                }
                let spec = timeline::parse(value.clone())
                    .map_err(|e| field_error(&format!("spec.{}", e.field), e.message))?;
                spec.check(max_frames)
                    .map_err(|e| field_error(&format!("spec.{}", e.field), e.message))?;
                Some(spec)
            }
            (Some(_), _, _) => return Err("spec: give a spec, or copy or a brief, not both".into()),
            (None, None, None) => {
                return Err("spec: required (or copy, or a brief for the text model)".into());
            }
            (None, _, _) => {
                if let Some(seconds) = self.seconds
                    && !(TEMPLATE_SECONDS.0..=TEMPLATE_SECONDS.1).contains(&seconds)
                {
                    return Err(field_error(
                        "seconds",
                        format!(
                            "{seconds} is out of range {} to {}",
                            TEMPLATE_SECONDS.0, TEMPLATE_SECONDS.1
                        ),
                    ));
                }
                if let Some(copy) = &self.copy {
                    self.template(copy.clone())
                        .check(max_frames)
                        .map_err(|e| field_error(&format!("copy ({})", e.field), e.message))?;
                }
                None
            }
        };
        Ok(ValidVideo {
            formats,
            spec,
            encoder,
        })
    }

    fn check_generate(
        &self,
        generate: &GenerateVideo,
        formats: Vec<&'static Format>,
        encoder: EncoderSettings,
        template_fields: &[(&str, bool)],
    ) -> Result<ValidVideo, String> {
        if self.spec.is_some() || self.copy.is_some() || self.brief.is_some() {
            return Err("generate: give generate, or a spec, or copy or a brief; not two".into());
        }
        let stray = template_fields
            .iter()
            .find(|(name, set)| *set && *name != "scale");
        if let Some((name, _)) = stray {
            return Err(format!(
                "{name}: belongs to the ad template, not to generate"
            ));
        }
        if let Some(scale) = self.scale
            && !(0.1..=1.0).contains(&scale)
        {
            return Err(format!("scale: {scale} is out of range 0.1 to 1"));
        }
        generate.check()?;
        Ok(ValidVideo {
            formats,
            spec: None,
            encoder,
        })
    }

    fn video_formats(&self) -> Result<Vec<&'static Format>, String> {
        if self.formats.is_empty() || self.formats.len() > MAX_VIDEO_FORMATS {
            return Err(format!(
                "formats: {} given, 1 to {MAX_VIDEO_FORMATS} allowed",
                self.formats.len()
            ));
        }
        let video: Vec<&str> = formats::FORMATS
            .iter()
            .filter(|f| f.medium == Medium::ImageOrVideo)
            .map(|f| f.id)
            .collect();
        self.formats
            .iter()
            .enumerate()
            .map(|(i, id)| match formats::find(id) {
                Some(format) if format.medium == Medium::ImageOrVideo => Ok(format),
                _ => Err(format!(
                    "formats[{i}]: `{id}` is not a video format (video formats: {})",
                    video.join(", ")
                )),
            })
            .collect()
    }

    fn encoder(&self) -> Result<EncoderSettings, String> {
        let mut settings = EncoderSettings {
            preview: Some(PreviewKind::Gif),
            ..EncoderSettings::default()
        };
        if let Some(crf) = self.crf {
            if crf > crate::media::encoder::MAX_CRF {
                return Err(format!("crf: {crf} is out of range 0 to 51"));
            }
            settings.crf = crf;
        }
        if let Some(preset) = &self.preset {
            if !X264_PRESETS.contains(&preset.as_str()) {
                return Err(format!(
                    "preset: `{preset}` is not a libx264 preset ({})",
                    X264_PRESETS.join(", ")
                ));
            }
            settings.preset = preset.clone();
        }
        settings.preview = match self.preview.as_deref() {
            None | Some("gif") => Some(PreviewKind::Gif),
            Some("webm") => Some(PreviewKind::Webm),
            Some("none") => None,
            Some(other) => return Err(format!("preview: `{other}` is not one of gif, webm, none")),
        };
        Ok(settings)
    }

    /// The ad template filled with `copy` and this payload's assets.
    pub fn template(&self, copy: CreativeCopy) -> VideoSpec {
        let spec = AdTemplate {
            headline: copy.headline,
            body: copy.body,
            cta: copy.cta,
            brand: self.brand.clone(),
            logo: self.logo.clone(),
            product_image: self.product_image.clone(),
            background_image: self.background_image.clone(),
            audio: self.audio.clone(),
            seconds: self.seconds.unwrap_or(15.0),
            fps: self.fps.unwrap_or(30),
        }
        .spec();
        VideoSpec {
            scale: self.scale,
            ..spec
        }
    }
}

pub struct VideoRender {
    pub assets: AssetStore,
    /// For `generate` (text-to-video on a diffusion model).
    pub images: ImageEngines,
    pub compositor: Arc<Compositor>,
    pub text: Option<TextService>,
    /// The RIFE model folder, when installed (specs with `interpolate` need it).
    pub rife_dir: Option<PathBuf>,
    pub max_frames: u64,
}

/// One rendered format as the job's result lists it.
#[derive(Debug, Serialize)]
struct RenderedVideo {
    format: &'static str,
    width: u32,
    height: u32,
    frames: u64,
    seconds: f64,
    bytes: u64,
    video: String,
    poster: String,
    preview: Option<String>,
}

#[async_trait]
impl JobHandler for VideoRender {
    fn kind(&self) -> &'static str {
        "video.render"
    }

    fn lane(&self, payload: &Value) -> Lane {
        let set = |key: &str| payload.get(key).is_some_and(|v| !v.is_null());
        if set("generate") {
            Lane::Image
        } else if set("brief") && !set("copy") {
            Lane::Text
        } else {
            Lane::Any
        }
    }

    fn describe(&self) -> &'static str {
        "render a video spec (or the ad template from copy or a brief) to MP4 at each video format"
    }

    fn validate(&self, payload: &Value) -> Result<(), String> {
        let payload: VideoPayload = serde_path_to_error::deserialize(payload.clone())
            .map_err(|e| format!("payload.{}: {}", e.path(), e.inner()))?;
        payload
            .check(self.max_frames)
            .map(|_| ())
            .map_err(|e| format!("payload.{e}"))
    }

    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let payload: VideoPayload = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Fatal(format!("payload: {e}")))?;
        self.render(ctx, &payload).await
    }
}

impl VideoRender {
    /// Renders `payload` as the job (or stage) `ctx`: the result a `video.render` job has.
    pub async fn render(
        &self,
        ctx: &JobContext,
        payload: &VideoPayload,
    ) -> Result<Value, JobError> {
        let valid = payload.check(self.max_frames).map_err(JobError::Fatal)?;
        if let Some(generate) = &payload.generate {
            return self.generate(ctx, payload, generate, &valid).await;
        }
        let mut copy_used = None;
        let spec = match valid.spec.clone() {
            Some(spec) => spec,
            None => {
                let seed = payload.seed.unwrap_or(0);
                let copy = write_copy(
                    self.text.as_ref(),
                    payload.copy.as_ref(),
                    payload.brief.as_ref(),
                    seed,
                )
                .await?;
                copy_used = Some(copy.clone());
                let spec = payload.template(copy);
                spec.check(self.max_frames)
                    .map_err(|e| JobError::Fatal(format!("copy: {e}")))?;
                spec
            }
        };
        let inputs = self.inputs(&ctx.job.owner_id, &spec).await?;
        let rife = self.rife(&spec)?;
        let scratch = self.scratch(ctx).await?;
        let result = self
            .render_all(ctx, &spec, &valid, Arc::new(inputs), rife, &scratch)
            .await;
        let _ = tokio::fs::remove_dir_all(&scratch).await;
        let videos = result?;
        Ok(json!({
            "copy": copy_used,
            "seconds": spec.seconds(),
            "frames": spec.frames(),
            "fps": spec.fps,
            "videos": videos,
        }))
    }
}

impl VideoRender {
    /// This attempt's work folder, created; earlier attempts' (a worker that died mid-render)
    /// are removed first.
    async fn scratch(&self, ctx: &JobContext) -> Result<PathBuf, JobError> {
        for attempt in 1..ctx.job.attempts {
            let earlier = self
                .assets
                .scratch_dir(&ctx.output_name(&format!("{}-{attempt}", ctx.job.id)));
            let _ = tokio::fs::remove_dir_all(earlier).await;
        }
        let scratch = self
            .assets
            .scratch_dir(&ctx.output_name(&format!("{}-{}", ctx.job.id, ctx.job.attempts)));
        tokio::fs::create_dir_all(&scratch)
            .await
            .map_err(|e| JobError::Retryable(format!("creating {}: {e}", scratch.display())))?;
        Ok(scratch)
    }

    /// Text-to-video: generated frames streamed to every format's encoder.
    async fn generate(
        &self,
        ctx: &JobContext,
        payload: &VideoPayload,
        generate: &GenerateVideo,
        valid: &ValidVideo,
    ) -> Result<Value, JobError> {
        let engine = self.images.get(payload.model.as_deref()).ok_or_else(|| {
            JobError::Fatal(
                "generate: no image model is loaded: run `adforge models pull sd-turbo`".into(),
            )
        })?;
        let model = engine.model().clone();
        let params = generate
            .params(&model, payload.seed.unwrap_or(0))
            .map_err(JobError::Fatal)?;
        let factor = generate.interpolate.unwrap_or(1);
        let rife = match factor {
            1 => None,
            _ => self.load_rife()?,
        };
        let scratch = self.scratch(ctx).await?;
        let scale = payload.scale.unwrap_or(1.0);
        let sized: Vec<Format> = valid
            .formats
            .iter()
            .map(|f| timeline::output_format(f, scale))
            .collect();
        let outputs: Vec<(Format, PathBuf)> = sized
            .iter()
            .map(|f| (*f, output_path(&scratch, f)))
            .collect();
        let (encoder, fps) = (valid.encoder.clone(), generate.fps());
        let encoded = ctx
            .run_blocking("text to video", move |report, cancelled| {
                Generation {
                    model: &model,
                    params,
                    rife: rife.as_deref(),
                    factor,
                    fps,
                    encoder,
                    outputs,
                }
                .run(cancelled, report)
            })
            .await;
        let encoded = match encoded {
            Ok(Ok(videos)) => Ok(videos),
            Ok(Err(GenerationError::Cancelled)) => Err(JobError::Cancelled),
            Ok(Err(e)) => Err(JobError::Fatal(format!("generate: {e}"))),
            Err(e) => Err(e),
        };
        let stored = match encoded {
            Ok(encoded) => {
                let mut videos = Vec::with_capacity(encoded.len());
                for (format, video) in sized.iter().zip(encoded) {
                    videos.push(self.store(ctx, format, video).await?);
                }
                Ok(videos)
            }
            Err(e) => Err(e),
        };
        let _ = tokio::fs::remove_dir_all(&scratch).await;
        let frames = generate.output_frames();
        Ok(json!({
            "seconds": frames as f64 / f64::from(fps),
            "frames": frames,
            "fps": fps,
            "generated_frames": generate.frames.unwrap_or(8),
            "videos": stored?,
        }))
    }

    /// Loads the spec's assets: images decoded, videos probed, audio located.
    async fn inputs(&self, owner: &str, spec: &VideoSpec) -> Result<Inputs, JobError> {
        let mut inputs = Inputs::default();
        for AssetUse { field, id, kind } in spec.assets() {
            match kind {
                AssetKind::Image => {
                    let image = load_asset_image(&self.assets, owner, &id, &field).await?;
                    let pixels = u64::from(image.width()) * u64::from(image.height());
                    if pixels > MAX_INPUT_PIXELS {
                        return Err(JobError::Fatal(format!(
                            "{field}: {}x{} is over the limit of {MAX_INPUT_PIXELS} pixels",
                            image.width(),
                            image.height()
                        )));
                    }
                    inputs.images.insert(id, image);
                }
                AssetKind::Video => {
                    let path = self.asset_path(owner, &id, &field).await?;
                    let probe_path = path.clone();
                    tokio::task::spawn_blocking(move || decoder::probe(&probe_path))
                        .await
                        .map_err(|e| JobError::Fatal(format!("{field}: probe failed: {e}")))?
                        .map_err(|e| JobError::Fatal(format!("{field}: {e}")))?;
                    inputs.videos.insert(id, path);
                }
                AssetKind::Audio => inputs.audio = Some(self.asset_path(owner, &id, &field).await?),
            }
        }
        Ok(inputs)
    }

    async fn asset_path(&self, owner: &str, id: &str, field: &str) -> Result<PathBuf, JobError> {
        let row = self
            .assets
            .get(owner, id)
            .await
            .map_err(|e| JobError::Retryable(e.to_string()))?
            .ok_or_else(|| JobError::Fatal(format!("{field}: asset {id} not found")))?;
        self.assets.local_file(&row).await.map_err(|e| match e {
            crate::store::assets::AssetError::Object(e) if e.is_transient() => {
                JobError::Retryable(format!("{field}: {e}"))
            }
            e => JobError::Fatal(format!("{field}: {e}")),
        })
    }

    fn rife(&self, spec: &VideoSpec) -> Result<Option<Arc<Rife>>, JobError> {
        match spec.interpolate {
            None => Ok(None),
            Some(_) => self.load_rife(),
        }
    }

    fn load_rife(&self) -> Result<Option<Arc<Rife>>, JobError> {
        let dir = self.rife_dir.as_ref().ok_or_else(|| {
            JobError::Fatal(
                "interpolate: the rife-3.9 model is not installed: run `adforge models pull rife-3.9`"
                    .into(),
            )
        })?;
        let rife = Rife::load(dir, &candle_core::Device::Cpu)
            .map_err(|e| JobError::Fatal(format!("interpolate: loading rife-3.9: {e}")))?;
        Ok(Some(Arc::new(rife)))
    }

    async fn render_all(
        &self,
        ctx: &JobContext,
        spec: &VideoSpec,
        valid: &ValidVideo,
        inputs: Arc<Inputs>,
        rife: Option<Arc<Rife>>,
        scratch: &std::path::Path,
    ) -> Result<Vec<RenderedVideo>, JobError> {
        let n = valid.formats.len();
        let mut videos = Vec::with_capacity(n);
        for (k, format) in valid.formats.iter().copied().enumerate() {
            let output = scratch.join(format!("{}.mp4", format.id));
            let work = FormatRender {
                spec: spec.clone(),
                format,
                inputs: inputs.clone(),
                rife: rife.clone(),
                compositor: self.compositor.clone(),
                encoder: valid.encoder.clone(),
                output,
                label: format!("{} ({}/{n})", format.id, k + 1),
                share: (k as f64 / n as f64, 1.0 / n as f64),
            };
            let encoded = ctx
                .run_blocking("video render", move |report, cancelled| {
                    work.run(report, cancelled)
                })
                .await?
                .map_err(|e| match e {
                    RenderError::Cancelled => JobError::Cancelled,
                    RenderError::Encode(e) => JobError::Retryable(format!("{}: {e}", format.id)),
                    e => JobError::Fatal(format!("{}: {e}", format.id)),
                })?;
            let size = timeline::output_format(format, spec.scale());
            videos.push(self.store(ctx, &size, encoded).await?);
        }
        Ok(videos)
    }

    /// Moves one format's files into the asset store; `format` is at the output size.
    async fn store(
        &self,
        ctx: &JobContext,
        format: &Format,
        encoded: EncodedVideo,
    ) -> Result<RenderedVideo, JobError> {
        let (owner, job) = (&ctx.job.owner_id, &ctx.job.id);
        let put = |name: String, content_type: &'static str, path: PathBuf| async move {
            let name = ctx.output_name(&name);
            self.assets
                .put_file(owner, job, &name, content_type, &path, now_ms())
                .await
                .map(|row| row.id)
                .map_err(|e| JobError::Retryable(format!("storing {name}: {e}")))
        };
        let id = format.id;
        let video = put(format!("{id}.mp4"), "video/mp4", encoded.path.clone()).await?;
        let poster = put(
            format!("{id}.poster.jpg"),
            "image/jpeg",
            encoded.poster.clone(),
        )
        .await?;
        let preview = match &encoded.preview {
            Some(path) => {
                let webm = path.extension().is_some_and(|e| e == "webm");
                let (ext, mime) = if webm {
                    ("webm", "video/webm")
                } else {
                    ("gif", "image/gif")
                };
                Some(put(format!("{id}.preview.{ext}"), mime, path.clone()).await?)
            }
            None => None,
        };
        Ok(RenderedVideo {
            format: id,
            width: format.width,
            height: format.height,
            frames: encoded.frames,
            seconds: encoded.duration_secs,
            bytes: encoded.bytes,
            video,
            poster,
            preview,
        })
    }
}

/// One format's render, run on a blocking thread.
struct FormatRender {
    spec: VideoSpec,
    format: &'static Format,
    inputs: Arc<Inputs>,
    rife: Option<Arc<Rife>>,
    compositor: Arc<Compositor>,
    encoder: EncoderSettings,
    output: PathBuf,
    label: String,
    /// (start, width) of this format in the job's progress.
    share: (f64, f64),
}

impl FormatRender {
    fn run(
        self,
        report: &(dyn Fn(f64, String) + Sync),
        cancelled: &std::sync::atomic::AtomicBool,
    ) -> Result<EncodedVideo, RenderError> {
        let progress = |p: RenderProgress| {
            let done = p.frames_done as f64 / p.frames_total.max(1) as f64;
            report(
                self.share.0 + self.share.1 * done,
                format!(
                    "{}: frame {}/{} at {:.1} fps, eta {:.0} s",
                    self.label, p.frames_done, p.frames_total, p.fps, p.eta_seconds
                ),
            );
        };
        let options = RenderOptions {
            compositor: &self.compositor,
            rife: self.rife.as_deref(),
            encoder: self.encoder.clone(),
            cancel: cancelled,
            progress: &progress,
            progress_every: timeline::PROGRESS_EVERY,
        };
        timeline::render(
            &self.spec,
            self.format,
            &self.inputs,
            &self.output,
            &options,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orchestrate::campaign::{image_preview, video_preview};
    use serde_json::json;

    #[test]
    fn preview_payloads_are_valid_render_jobs() {
        let copy =
            json!({"headline": "Cold brew", "primary_text": "Smooth", "call_to_action": null});
        for platform in crate::orchestrate::Platform::ALL {
            let payload: super::super::creatives::RenderPayload =
                serde_json::from_value(image_preview(platform, &copy)).unwrap();
            payload.check().unwrap();
        }
        let video: VideoPayload = serde_json::from_value(video_preview(&copy)).unwrap();
        video.check(10_000).unwrap();
    }
}

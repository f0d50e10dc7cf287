//! `creative.render`: one creative (copy, background, product image, logo, brand kit) rendered
//! by the compositor at every requested format, each stored as an asset with a thumbnail.
//! Copy comes from the request, or from the text engine when only a brief is given; the
//! background is a generated image when an image model is loaded (one per job, cover-cropped to
//! every format), otherwise the brand's gradient: never a placeholder picture. Input images are
//! uploaded assets referenced by id, so the job payload stays small.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::{Value, json};

use super::inputs::{load_asset_image, write_copy};
use crate::engine::image::engine::{
    GeneratedImage, GenerationRequest, ImageEngineError, ImageEngines, Progress, Ticket,
};
use crate::engine::image::pipeline::ImageParams;
use crate::engine::text::TextService;
use crate::jobs::{JobContext, JobError, JobHandler, Lane};
use crate::media::compositor::{
    Background, BrandKit, Compositor, CreativeSpec, Fit, OutputFormat, PlacedLayer, ProductImage,
    encode,
};
use crate::store::assets::AssetStore;
use crate::store::now_ms;

pub use adforge_input::brand::BrandSpec;
pub use adforge_input::creative::{
    BackgroundKind, CreativeCopy, MAX_FORMATS, RenderBrief, RenderPayload,
};

/// Width of the stored thumbnails.
pub const THUMBNAIL_WIDTH: u32 = 320;

pub struct CreativeRender {
    pub assets: AssetStore,
    pub compositor: Arc<Compositor>,
    pub images: ImageEngines,
    pub text: Option<TextService>,
}

/// One rendered format as the job's result lists it.
#[derive(Debug, Serialize)]
struct RenderedFormat {
    format: &'static str,
    platform: &'static str,
    width: u32,
    height: u32,
    asset_id: String,
    url: String,
    thumbnail_asset_id: String,
    layers: Vec<PlacedLayer>,
}

impl CreativeRender {
    /// The background, and what it is (`generated`, `image`, `gradient`, `solid`).
    async fn background(
        &self,
        ctx: &JobContext,
        payload: &RenderPayload,
        copy: &CreativeCopy,
        seed: u64,
    ) -> Result<ChosenBackground, JobError> {
        let brand = &payload.brand;
        let gradient = Background::Gradient {
            from: brand.primary,
            to: brand.secondary,
            angle_deg: 135.0,
        };
        let engine = self.images.get(None);
        match (payload.background, engine) {
            (BackgroundKind::Gradient, _) | (BackgroundKind::Auto, None) => {
                Ok(ChosenBackground::plain(gradient, "gradient"))
            }
            (BackgroundKind::Solid, _) => Ok(ChosenBackground::plain(
                Background::Solid(brand.primary),
                "solid",
            )),
            (BackgroundKind::Image, _) => {
                let id = payload.background_image.as_deref().unwrap_or_default();
                let image =
                    load_asset_image(&self.assets, &ctx.job.owner_id, id, "background_image")
                        .await?;
                Ok(ChosenBackground::plain(Background::Image(image), "image"))
            }
            (BackgroundKind::Generated, None) => Err(JobError::Fatal(
                "background: `generated` needs an image model; run `adforge models pull sd-turbo`"
                    .into(),
            )),
            (BackgroundKind::Generated | BackgroundKind::Auto, Some(engine)) => {
                ctx.progress(0.05, "generating the background").await?;
                let prompt = payload.background_prompt.clone().unwrap_or_else(|| {
                    let subject = payload
                        .brief
                        .as_ref()
                        .map_or(copy.headline.as_str(), |b| b.product.as_str());
                    format!(
                        "{subject}, product advertising photo, studio lighting, clean background"
                    )
                });
                let defaults = engine.model().defaults;
                let request = GenerationRequest {
                    prompt,
                    negative_prompt: "text, watermark, blurry".into(),
                    params: ImageParams {
                        width: defaults.width,
                        height: defaults.height,
                        steps: defaults.steps,
                        guidance: defaults.guidance,
                        scheduler: defaults.scheduler,
                        seed,
                        strength: 1.0,
                    },
                    n: 1,
                    init_image: None,
                    preview_every: 1,
                };
                let ticket = engine
                    .submit(request)
                    .map_err(|e| JobError::Retryable(e.to_string()))?;
                let cancel = ticket.canceller();
                let token = ctx.cancellation().clone();
                let watcher = tokio::spawn(async move {
                    token.cancelled().await;
                    cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                });
                let (result, preview_asset_id) = self.follow(ctx, ticket).await;
                watcher.abort();
                let image = result
                    .map_err(|e| JobError::Fatal(format!("background: {e}")))?
                    .into_iter()
                    .next()
                    .ok_or_else(|| JobError::Fatal("background: no image came back".into()))?;
                Ok(ChosenBackground {
                    background: Background::Image(image::DynamicImage::ImageRgb8(image.image)),
                    kind: "generated",
                    preview_asset_id,
                })
            }
        }
    }
}

impl CreativeRender {
    /// Waits for a generation, reporting each denoising step as job progress and keeping the
    /// latest step preview as the job's `background-preview.png` asset (its id is returned).
    async fn follow(
        &self,
        ctx: &JobContext,
        ticket: Ticket,
    ) -> (
        Result<Vec<GeneratedImage>, ImageEngineError>,
        Option<String>,
    ) {
        let mut progress = ticket.progress.clone();
        let mut preview = ticket.preview.clone();
        let wait = ticket.wait();
        tokio::pin!(wait);
        let mut watching = true;
        let mut preview_asset_id = None;
        loop {
            tokio::select! {
                result = &mut wait => return (result, preview_asset_id),
                changed = progress.changed(), if watching => {
                    if changed.is_err() {
                        watching = false;
                        continue;
                    }
                    let now = progress.borrow_and_update().clone();
                    if let Progress::Denoising { step, total, .. } = now {
                        let fraction = 0.02 + 0.06 * step as f64 / total.max(1) as f64;
                        // A lost attempt is noticed at the next format; the generation ends anyway.
                        let message = format!("generating the background: step {step}/{total}");
                        let _ = ctx.progress(fraction, &message).await;
                    }
                    let latest = preview.borrow_and_update().clone();
                    if let Some(image) = latest {
                        preview_asset_id = self.store_preview(ctx, &image).await.or(preview_asset_id);
                    }
                }
            }
        }
    }

    /// Stores a step preview (one asset per job, rewritten in place); its id, or `None` with
    /// a warning when it could not be stored.
    async fn store_preview(&self, ctx: &JobContext, image: &image::RgbImage) -> Option<String> {
        let rgba = image::DynamicImage::ImageRgb8(image.clone()).into_rgba8();
        let png = encode(&rgba, OutputFormat::Png, &[]).ok()?;
        let stored = self
            .assets
            .put(
                &ctx.job.owner_id,
                &ctx.job.id,
                &ctx.output_name(PREVIEW_NAME),
                "image/png",
                &png,
                now_ms(),
            )
            .await;
        match stored {
            Ok(row) => Some(row.id),
            Err(e) => {
                tracing::warn!(error = %e, "storing a step preview failed");
                None
            }
        }
    }
}

/// The background a job renders on, what kind it is, and the last denoising preview of a
/// generated one.
struct ChosenBackground {
    background: Background,
    kind: &'static str,
    preview_asset_id: Option<String>,
}

impl ChosenBackground {
    fn plain(background: Background, kind: &'static str) -> Self {
        Self {
            background,
            kind,
            preview_asset_id: None,
        }
    }
}

/// The asset name of the latest denoising preview of a job's generated background.
pub const PREVIEW_NAME: &str = "background-preview.png";

fn thumbnail(image: &image::RgbaImage) -> Result<Vec<u8>, JobError> {
    let height = (u64::from(image.height()) * u64::from(THUMBNAIL_WIDTH)
        / u64::from(image.width().max(1)))
    .max(1) as u32;
    let small = image::imageops::resize(
        image,
        THUMBNAIL_WIDTH,
        height,
        image::imageops::FilterType::Triangle,
    );
    encode(&small, OutputFormat::Jpeg { quality: 80 }, &[])
        .map_err(|e| JobError::Fatal(e.to_string()))
}

#[async_trait]
impl JobHandler for CreativeRender {
    fn kind(&self) -> &'static str {
        "creative.render"
    }

    fn lane(&self, payload: &Value) -> Lane {
        if payload["background"] == "generated" {
            Lane::Image
        } else if payload.get("copy").is_none_or(Value::is_null) {
            // The text model writes the copy from the brief.
            Lane::Text
        } else {
            Lane::Any
        }
    }

    fn describe(&self) -> &'static str {
        "render one creative at every requested format with the compositor; assets with thumbnails"
    }

    fn validate(&self, payload: &Value) -> Result<(), String> {
        let payload: RenderPayload =
            serde_json::from_value(payload.clone()).map_err(|e| format!("payload: {e}"))?;
        payload.check()
    }

    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let payload: RenderPayload = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Fatal(format!("payload: {e}")))?;
        self.render(ctx, &payload).await
    }
}

impl CreativeRender {
    /// Renders `payload` as the job (or stage) `ctx`: the result a `creative.render` job has.
    pub async fn render(
        &self,
        ctx: &JobContext,
        payload: &RenderPayload,
    ) -> Result<Value, JobError> {
        payload.check().map_err(JobError::Fatal)?;
        let owner = ctx.job.owner_id.clone();
        let seed = payload.seed.unwrap_or(0);
        let formats = payload.formats().map_err(JobError::Fatal)?;
        let output = payload.output_format().map_err(JobError::Fatal)?;
        ctx.progress(0.0, "writing copy").await?;
        let copy = write_copy(
            self.text.as_ref(),
            payload.copy.as_ref(),
            payload.brief.as_ref(),
            seed,
        )
        .await?;
        let chosen = self.background(ctx, payload, &copy, seed).await?;
        let product = match &payload.product_image {
            Some(id) => Some(ProductImage {
                image: load_asset_image(&self.assets, &owner, id, "product_image").await?,
                fit: payload.product_fit.unwrap_or(Fit::Contain),
            }),
            None => None,
        };
        let logo = match &payload.logo {
            Some(id) => Some(load_asset_image(&self.assets, &owner, id, "logo").await?),
            None => None,
        };
        let spec = Arc::new(CreativeSpec {
            headline: copy.headline.clone(),
            body: copy.body.clone(),
            cta: copy.cta.clone(),
            background: chosen.background,
            product,
            logo,
            brand: BrandKit::from(&payload.brand),
        });
        let mut rendered = Vec::with_capacity(formats.len());
        for (i, format) in formats.iter().copied().enumerate() {
            if ctx.cancellation().is_cancelled() {
                return Err(JobError::Cancelled);
            }
            ctx.progress(
                0.1 + 0.9 * i as f64 / formats.len() as f64,
                &format!("rendering {}", format.id),
            )
            .await?;
            let compositor = self.compositor.clone();
            let spec = spec.clone();
            let meta = [
                ("headline".to_string(), copy.headline.clone()),
                ("format".to_string(), format.id.to_string()),
                ("software".to_string(), "adforge".to_string()),
            ];
            let (creative, encoded, thumb) = tokio::task::spawn_blocking(move || {
                let creative = compositor
                    .render(&spec, format)
                    .map_err(|e| JobError::Fatal(format!("{}: {e}", format.id)))?;
                let meta: Vec<(&str, &str)> =
                    meta.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let encoded = encode(&creative.image, output, &meta)
                    .map_err(|e| JobError::Fatal(e.to_string()))?;
                let thumb = thumbnail(&creative.image)?;
                Ok::<_, JobError>((creative, encoded, thumb))
            })
            .await
            .map_err(|e| JobError::Fatal(format!("rendering {}: {e}", format.id)))??;
            let name = ctx.output_name(&format!("{}.{}", format.id, output.extension()));
            let asset = self
                .assets
                .put(
                    &owner,
                    &ctx.job.id,
                    &name,
                    output.mime_type(),
                    &encoded,
                    now_ms(),
                )
                .await
                .map_err(|e| JobError::Fatal(e.to_string()))?;
            let thumb_asset = self
                .assets
                .put(
                    &owner,
                    &ctx.job.id,
                    &ctx.output_name(&format!("{}-thumb.jpg", format.id)),
                    "image/jpeg",
                    &thumb,
                    now_ms(),
                )
                .await
                .map_err(|e| JobError::Fatal(e.to_string()))?;
            rendered.push(RenderedFormat {
                format: format.id,
                platform: format.platform,
                width: format.width,
                height: format.height,
                url: format!("/api/assets/{}/content", asset.id),
                asset_id: asset.id,
                thumbnail_asset_id: thumb_asset.id,
                layers: creative.layers,
            });
        }
        ctx.progress(1.0, &format!("rendered {} formats", rendered.len()))
            .await?;
        Ok(json!({
            "copy": copy,
            "background": chosen.kind,
            "seed": seed,
            "creatives": rendered,
            "background_preview_asset_id": chosen.preview_asset_id,
        }))
    }
}

/// Lays the copy out at every format over a plain background (text layout does not depend on
/// the background), before a job exists: a layer that cannot fit is refused, naming the format
/// and the layer. Blocking (it renders); `images` are the decoded inputs by payload field.
pub fn check_fit(
    compositor: &Compositor,
    payload: &RenderPayload,
    copy: CreativeCopy,
    images: Vec<(&'static str, image::DynamicImage)>,
) -> Result<(), String> {
    let formats = payload.formats()?;
    let find = |name: &str| {
        images
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, i)| i.clone())
    };
    let spec = CreativeSpec {
        headline: copy.headline,
        body: copy.body,
        cta: copy.cta,
        background: Background::Solid(payload.brand.primary),
        product: find("product_image").map(|image| ProductImage {
            image,
            fit: payload.product_fit.unwrap_or(Fit::Contain),
        }),
        logo: find("logo"),
        brand: BrandKit::from(&payload.brand),
    };
    for format in formats {
        compositor
            .render(&spec, format)
            .map_err(|e| format!("formats: {}: {e}", format.id))?;
    }
    Ok(())
}

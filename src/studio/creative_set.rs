//! `creative.set`: one product brief in, a whole creative set out, for a campaign. Per platform
//! the campaign lists: copy variants (the planner's concepts when the campaign was planned, else
//! the text model under the platform's limits), each variant rendered by the compositor at the
//! platform's image formats, and a video (the ad template) per vertical format; every variant
//! stored as a `ready` creative row of the campaign with its assets by format.
//!
//! The stages run inside this one job ([`JobContext::stage`]): one row, one fence, progress
//! across the whole set, outputs under per-stage names. A retried attempt writes the same asset
//! names and the same creative ids (derived from the job id), so nothing exists twice.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest;

use super::creatives::{BackgroundKind, BrandSpec, CreativeCopy, CreativeRender, RenderPayload};
use super::videos::{VideoPayload, VideoRender};
use crate::engine::embed::EmbedService;
use crate::events::EventBus;
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::media::compositor::Rgb;
use crate::media::formats::{self, Format, Medium};
use crate::orchestrate::Platform;
use crate::orchestrate::campaign::derived_id;
use crate::orchestrate::copy::{CopyBrief, CopyVariant, copy_variants};
use crate::orchestrate::llm::TextBackend;
use crate::store::creatives::CreativeRow;
use crate::store::{Store, now_ms};

/// Copy variants per platform, at most.
pub const MAX_VARIANTS: usize = 4;
/// Video length bounds of the ad template, in seconds.
pub const VIDEO_SECONDS: (f64, f64) = (6.0, 60.0);

/// What `POST /api/generate` submits.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreativeSetPayload {
    /// The campaign the creatives belong to (its brief and platforms drive the set).
    pub campaign_id: String,
    /// Copy variants per platform (1-4, default 2); a planned campaign's concepts come first.
    pub variants: Option<usize>,
    /// Voice of generated copy (default "friendly").
    pub tone: Option<String>,
    /// Image formats to render (default: every image format of each platform). Formats of a
    /// platform the campaign does not list are refused.
    #[serde(default)]
    pub formats: Vec<String>,
    /// Render a video per vertical format (default true).
    pub video: Option<bool>,
    /// Video length, 6 to 60 seconds (default 15).
    pub video_seconds: Option<f64>,
    /// Render videos at this fraction of each format's size, 0.1 to 1 (default 1).
    pub video_scale: Option<f64>,
    #[serde(default)]
    pub background: BackgroundKind,
    pub background_image: Option<String>,
    pub product_image: Option<String>,
    pub logo: Option<String>,
    pub brand: Option<BrandSpec>,
    pub seed: Option<u64>,
    /// Regenerate this one creative of the campaign in place (new copy when a text model is
    /// there, its formats rendered again) instead of making a set.
    pub regenerate: Option<String>,
}

/// The platform whose formats a campaign platform uses (the sandbox takes Meta's).
fn format_platform(platform: &str) -> &'static str {
    Platform::copy_platform_of(platform).name()
}

/// Image formats of a platform that a creative carries (logos excluded).
fn image_formats(platform: &str) -> Vec<&'static Format> {
    let p = format_platform(platform);
    formats::FORMATS
        .iter()
        .filter(|f| f.platform == p && f.medium != Medium::Logo)
        .collect()
}

/// Vertical (9:16) video formats of a platform.
fn vertical_formats(platform: &str) -> Vec<&'static Format> {
    let p = format_platform(platform);
    formats::FORMATS
        .iter()
        .filter(|f| f.platform == p && f.medium == Medium::ImageOrVideo && f.height > f.width)
        .filter(|f| f.width * 16 == f.height * 9)
        .take(super::videos::MAX_VIDEO_FORMATS)
        .collect()
}

fn default_brand() -> BrandSpec {
    BrandSpec {
        primary: Rgb(0x1A, 0x73, 0xE8),
        secondary: Rgb(0x0B, 0x1F, 0x3A),
        text: None,
        font: None,
    }
}

impl CreativeSetPayload {
    /// Checks what needs no store or model; `platforms` are the campaign's.
    pub fn check(&self, platforms: &[String]) -> Result<(), String> {
        let variants = self.variants.unwrap_or(2);
        if !(1..=MAX_VARIANTS).contains(&variants) {
            return Err(format!(
                "variants: {variants} is outside 1..={MAX_VARIANTS}"
            ));
        }
        if let Some(seconds) = self.video_seconds
            && !(VIDEO_SECONDS.0..=VIDEO_SECONDS.1).contains(&seconds)
        {
            return Err(format!(
                "video_seconds: {seconds} is outside {}..={}",
                VIDEO_SECONDS.0, VIDEO_SECONDS.1
            ));
        }
        if let Some(scale) = self.video_scale
            && !(0.1..=1.0).contains(&scale)
        {
            return Err(format!("video_scale: {scale} is outside 0.1..=1"));
        }
        if let Some(tone) = &self.tone
            && !(1..=60).contains(&tone.chars().count())
        {
            return Err("tone: 1 to 60 characters".into());
        }
        for (i, id) in self.formats.iter().enumerate() {
            let format = formats::find(id).ok_or_else(|| {
                format!(
                    "formats[{i}]: `{id}` is not a known format (known: {})",
                    formats::ids().join(", ")
                )
            })?;
            if !platforms
                .iter()
                .any(|p| format_platform(p) == format.platform)
            {
                return Err(format!(
                    "formats[{i}]: `{id}` is a {} format; the campaign lists {}",
                    format.platform,
                    platforms.join(", ")
                ));
            }
        }
        if self.background == BackgroundKind::Image && self.background_image.is_none() {
            return Err("background_image: required when background is `image`".into());
        }
        Ok(())
    }

    /// The image formats rendered for `platform`.
    fn formats_for(&self, platform: &str) -> Vec<&'static Format> {
        self.asked(image_formats(platform))
    }

    /// The vertical formats a platform's videos are made in (an unticked format gets no video).
    fn video_formats_for(&self, platform: &str) -> Vec<&'static Format> {
        self.asked(vertical_formats(platform))
    }

    /// Of `all`, the formats `formats` names; all of them when it names none.
    fn asked(&self, all: Vec<&'static Format>) -> Vec<&'static Format> {
        if self.formats.is_empty() {
            return all;
        }
        all.into_iter()
            .filter(|f| self.formats.iter().any(|id| id == f.id))
            .collect()
    }
}

pub struct CreativeSet {
    pub store: Store,
    pub events: EventBus,
    pub render: Arc<CreativeRender>,
    pub video: Arc<VideoRender>,
    /// Writes copy when the campaign's plan has none for a platform.
    pub text: Option<TextBackend>,
    pub embed: Option<EmbedService>,
}

fn fatal(e: impl std::fmt::Display) -> JobError {
    JobError::Fatal(e.to_string())
}

/// One creative to make: a platform and its copy.
struct Planned {
    platform: String,
    name: String,
    copy: CopyVariant,
}

impl CreativeSet {
    /// The copy of each creative: the plan's concepts for each platform, then generated
    /// variants up to `variants`.
    async fn copy(
        &self,
        campaign: &crate::store::campaigns::CampaignRow,
        payload: &CreativeSetPayload,
    ) -> Result<Vec<Planned>, JobError> {
        let wanted = payload.variants.unwrap_or(2);
        let plan = self
            .store
            .campaign_plan(&campaign.owner_id, &campaign.id)
            .await
            .map_err(|e| JobError::Retryable(e.to_string()))?;
        let brief = campaign.brief.clone().unwrap_or(Value::Null);
        let product = brief["product"]
            .as_str()
            .or(brief["name"].as_str())
            .unwrap_or(&campaign.name)
            .to_string();
        let audience = brief["audience"].as_str().unwrap_or_default().to_string();
        let mut out = Vec::new();
        for (p, platform) in campaign.platforms.iter().enumerate() {
            let mut mine: Vec<Planned> = plan
                .as_ref()
                .and_then(|plan| plan["concepts"].as_array())
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    let copy = serde_json::from_value(c["copy"][platform].clone()).ok()?;
                    Some(Planned {
                        platform: platform.clone(),
                        name: c["name"].as_str().unwrap_or("Concept").to_string(),
                        copy,
                    })
                })
                .take(wanted)
                .collect();
            if mine.len() < wanted {
                let text = self.text.as_ref().ok_or_else(|| {
                    fatal(
                        "copy: the campaign has no planned copy and no text model is loaded \
                         (`adforge models pull smollm2-135m-instruct`, or --inference-url)",
                    )
                })?;
                let brief = CopyBrief {
                    product: product.clone(),
                    audience: audience.clone(),
                    tone: payload.tone.clone().unwrap_or_else(|| "friendly".into()),
                    platform: Platform::copy_platform_of(platform),
                    language: "English".into(),
                    n: wanted - mine.len(),
                    seed: payload.seed.unwrap_or(0).wrapping_add(100 * p as u64),
                };
                let set = copy_variants(text, self.embed.as_ref(), &brief)
                    .await
                    .map_err(|e| JobError::Retryable(format!("copy for {platform}: {e}")))?;
                let first = mine.len();
                mine.extend(
                    set.variants
                        .into_iter()
                        .enumerate()
                        .map(|(i, copy)| Planned {
                            platform: platform.clone(),
                            name: format!("Variant {}", first + i + 1),
                            copy,
                        }),
                );
            }
            if mine.is_empty() {
                return Err(fatal(format!(
                    "copy: the text model wrote no usable copy for {platform}"
                )));
            }
            out.extend(mine);
        }
        Ok(out)
    }

    /// Renders one creative's images and videos; its assets by key.
    async fn render_one(
        &self,
        ctx: &JobContext,
        payload: &CreativeSetPayload,
        planned: &Planned,
        seed: u64,
    ) -> Result<serde_json::Map<String, Value>, JobError> {
        let copy = CreativeCopy {
            headline: planned.copy.headline.clone(),
            body: Some(planned.copy.primary_text.clone()).filter(|s| !s.trim().is_empty()),
            cta: Some(planned.copy.call_to_action.clone()).filter(|s| !s.trim().is_empty()),
        };
        let brand = payload.brand.clone().unwrap_or_else(default_brand);
        let images = payload.formats_for(&planned.platform);
        let videos = if payload.video.unwrap_or(true) {
            payload.video_formats_for(&planned.platform)
        } else {
            Vec::new()
        };
        let mut assets = serde_json::Map::new();
        let image_share = if videos.is_empty() { 1.0 } else { 0.3 };
        if !images.is_empty() {
            let render = RenderPayload {
                copy: Some(copy.clone()),
                brief: None,
                background: payload.background,
                background_prompt: None,
                background_image: payload.background_image.clone(),
                product_image: payload.product_image.clone(),
                product_fit: None,
                logo: payload.logo.clone(),
                brand: brand.clone(),
                formats: images.iter().map(|f| f.id.to_string()).collect(),
                output: None,
                seed: Some(seed),
            };
            let stage = ctx.stage("img", (0.0, image_share));
            let result = self.render.render(&stage, &render).await?;
            for r in result["creatives"].as_array().into_iter().flatten() {
                let format = r["format"].as_str().unwrap_or_default();
                assets.insert(format.into(), r["asset_id"].clone());
                assets.insert(format!("thumb:{format}"), r["thumbnail_asset_id"].clone());
            }
        }
        if !videos.is_empty() {
            let video = VideoPayload {
                spec: None,
                copy: Some(copy),
                brief: None,
                generate: None,
                model: None,
                brand: Some(brand),
                logo: payload.logo.clone(),
                product_image: payload.product_image.clone(),
                background_image: payload.background_image.clone(),
                audio: None,
                seconds: payload.video_seconds,
                fps: None,
                scale: payload.video_scale,
                formats: videos.iter().map(|f| f.id.to_string()).collect(),
                crf: None,
                preset: None,
                preview: Some("none".into()),
                seed: Some(seed),
            };
            let stage = ctx.stage("vid", (image_share, 1.0));
            let result = self.video.render(&stage, &video).await?;
            for v in result["videos"].as_array().into_iter().flatten() {
                let format = v["format"].as_str().unwrap_or_default();
                assets.insert(format!("video:{format}"), v["video"].clone());
                assets.insert(format!("poster:{format}"), v["poster"].clone());
            }
        }
        Ok(assets)
    }
}

impl CreativeSet {
    /// One creative made again: new copy from the text model (the same copy without one), its
    /// image formats and videos rendered again under this job, the row updated in place.
    async fn regenerate(
        &self,
        ctx: &JobContext,
        campaign: &crate::store::campaigns::CampaignRow,
        payload: &CreativeSetPayload,
        id: &str,
    ) -> Result<Value, JobError> {
        let owner = &ctx.job.owner_id;
        let row = self
            .store
            .get_creative(owner, id)
            .await
            .map_err(|e| JobError::Retryable(e.to_string()))?
            .filter(|r| r.campaign_id == campaign.id)
            .ok_or_else(|| fatal(format!("regenerate: no creative {id} in this campaign")))?;
        ctx.progress(0.0, "writing copy").await?;
        // A new draw each time unless the caller fixes it; the same for every attempt of a job.
        let seed = payload.seed.unwrap_or_else(|| {
            let d = sha2::Sha256::digest(ctx.job.id.as_bytes());
            u64::from_le_bytes(d[..8].try_into().unwrap_or([0; 8]))
        });
        let copy = match &self.text {
            Some(text) => {
                let brief = campaign.brief.clone().unwrap_or(Value::Null);
                let brief = CopyBrief {
                    product: brief["product"]
                        .as_str()
                        .unwrap_or(&campaign.name)
                        .to_string(),
                    audience: brief["audience"].as_str().unwrap_or_default().to_string(),
                    tone: payload.tone.clone().unwrap_or_else(|| "friendly".into()),
                    platform: Platform::copy_platform_of(&row.platform),
                    language: "English".into(),
                    n: 1,
                    seed,
                };
                copy_variants(text, self.embed.as_ref(), &brief)
                    .await
                    .map_err(|e| JobError::Retryable(format!("copy: {e}")))?
                    .variants
                    .into_iter()
                    .next()
            }
            None => None,
        };
        let copy = match copy {
            Some(copy) => copy,
            None => serde_json::from_value(row.copy.clone())
                .map_err(|e| fatal(format!("regenerate: the creative's copy: {e}")))?,
        };
        let keys: Vec<String> = row
            .assets
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let mut again = payload.clone();
        // The formats it had, images and videos (a video's format only by its `video:` key).
        let mut had: Vec<String> = keys
            .iter()
            .map(|k| k.strip_prefix("video:").unwrap_or(k))
            .filter(|k| !k.contains(':'))
            .map(str::to_string)
            .collect();
        had.sort();
        had.dedup();
        again.formats = had;
        again.video = Some(keys.iter().any(|k| k.starts_with("video:")));
        let planned = Planned {
            platform: row.platform.clone(),
            name: row.name.clone(),
            copy,
        };
        let stage = ctx.stage("again", (0.05, 1.0));
        let assets = self.render_one(&stage, &again, &planned, seed).await?;
        let mut updated = row.clone();
        updated.copy = json!(planned.copy);
        updated.assets = Value::Object(assets);
        updated.status = "ready".into();
        updated.job_id = Some(ctx.job.id.clone());
        updated.updated_at = now_ms();
        let written = self
            .store
            .update_creative(&updated, row.version)
            .await
            .map_err(|e| JobError::Retryable(e.to_string()))?;
        let crate::store::campaigns::Versioned::Done(done) = written else {
            return Err(JobError::Retryable(
                "regenerate: the creative changed meanwhile; trying again".into(),
            ));
        };
        ctx.progress(1.0, "regenerated").await?;
        Ok(
            json!({"campaign_id": campaign.id, "creatives": [{"id": done.id,
            "platform": done.platform, "name": done.name, "copy": done.copy,
            "assets": done.assets, "version": done.version}]}),
        )
    }
}

#[async_trait]
impl JobHandler for CreativeSet {
    fn kind(&self) -> &'static str {
        "creative.set"
    }

    fn describe(&self) -> &'static str {
        "a campaign's creative set: copy variants per platform, images at each format, a video \
         per vertical format, stored as ready creatives"
    }

    fn validate(&self, payload: &Value) -> Result<(), String> {
        let payload: CreativeSetPayload = serde_path_to_error::deserialize(payload.clone())
            .map_err(|e| format!("payload.{}: {}", e.path(), e.inner()))?;
        // The formats are checked against the campaign's platforms by the route and the run.
        payload.check(&["meta".into(), "google".into(), "tiktok".into()])
    }

    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let payload: CreativeSetPayload =
            serde_json::from_value(ctx.job.payload.clone()).map_err(fatal)?;
        let owner = ctx.job.owner_id.clone();
        let campaign = self
            .store
            .get_campaign(&owner, &payload.campaign_id)
            .await
            .map_err(|e| JobError::Retryable(e.to_string()))?
            .ok_or_else(|| fatal(format!("campaign_id: no campaign {}", payload.campaign_id)))?;
        payload
            .check(&campaign.platforms)
            .map_err(JobError::Fatal)?;
        if let Some(id) = &payload.regenerate {
            return self.regenerate(ctx, &campaign, &payload, id).await;
        }
        ctx.progress(0.0, "writing copy").await?;
        let planned = self.copy(&campaign, &payload).await?;
        let base_seed = payload.seed.unwrap_or(0);
        let mut made = Vec::with_capacity(planned.len());
        let n = planned.len() as f64;
        for (i, one) in planned.iter().enumerate() {
            if ctx.cancellation().is_cancelled() {
                return Err(JobError::Cancelled);
            }
            let tag = format!("{}-{i}", one.platform);
            let stage = ctx.stage(
                &tag,
                (0.05 + 0.95 * i as f64 / n, 0.05 + 0.95 * (i + 1) as f64 / n),
            );
            stage
                .progress(0.0, &format!("rendering {} ({})", one.name, one.platform))
                .await?;
            let assets = self
                .render_one(&stage, &payload, one, base_seed.wrapping_add(i as u64))
                .await?;
            let now = now_ms();
            let row = CreativeRow {
                id: derived_id(&ctx.job.id, &tag),
                owner_id: owner.clone(),
                campaign_id: campaign.id.clone(),
                platform: one.platform.clone(),
                name: one.name.clone(),
                copy: json!(one.copy),
                assets: Value::Object(assets),
                status: "ready".into(),
                job_id: Some(ctx.job.id.clone()),
                version: 1,
                created_at: now + i as i64,
                updated_at: now,
            };
            self.store
                .insert_creative(&row)
                .await
                .map_err(|e| JobError::Retryable(e.to_string()))?;
            made.push(
                json!({"id": row.id, "platform": row.platform, "name": row.name,
                "copy": row.copy, "assets": row.assets}),
            );
        }
        if let Err(e) = self
            .events
            .publish(
                &owner,
                "creatives.generated",
                json!({"campaign_id": campaign.id, "job_id": ctx.job.id, "creatives": made.len()}),
            )
            .await
        {
            tracing::warn!(error = %e, "publishing an event failed");
        }
        ctx.progress(1.0, &format!("{} creatives ready", made.len()))
            .await?;
        Ok(json!({"campaign_id": campaign.id, "creatives": made}))
    }
}

//! What the studio takes in: uploaded images (decoded under one pixel limit, read from the
//! header before any pixel is decoded) and the copy of a creative (given, or written by the
//! text engine from a brief).

use crate::engine::text::TextService;
use crate::jobs::JobError;
use crate::orchestrate::Platform;
use crate::orchestrate::copy::{CopyBrief, generate_copy};
use crate::store::assets::AssetStore;

pub use adforge_input::creative::{CreativeCopy, RenderBrief};

/// The most pixels an input image of a creative or a video may have (8192 x 8192): uploads,
/// inline images of `/api/creatives/render` and assets named by a job's payload alike.
pub const MAX_INPUT_PIXELS: u64 = 8192 * 8192;

/// An uploaded image asset of the owner, decoded; `field` names it in errors.
pub async fn load_asset_image(
    assets: &AssetStore,
    owner: &str,
    id: &str,
    field: &str,
) -> Result<image::DynamicImage, JobError> {
    let row = assets
        .get(owner, id)
        .await
        .map_err(|e| JobError::Retryable(e.to_string()))?
        .ok_or_else(|| JobError::Fatal(format!("{field}: asset {id} not found")))?;
    let bytes = assets.read(&row).await.map_err(|e| match e {
        crate::store::assets::AssetError::Object(e) if e.is_transient() => {
            JobError::Retryable(format!("{field}: reading asset {id}: {e}"))
        }
        e => JobError::Fatal(format!("{field}: reading asset {id}: {e}")),
    })?;
    adforge_input::image::decode(&bytes, MAX_INPUT_PIXELS)
        .map_err(|e| JobError::Fatal(format!("{field}: asset {id} {e}")))
}

/// The copy given, or copy the text model writes from the brief.
pub async fn write_copy(
    text: Option<&TextService>,
    copy: Option<&CreativeCopy>,
    brief: Option<&RenderBrief>,
    seed: u64,
) -> Result<CreativeCopy, JobError> {
    if let Some(copy) = copy {
        return Ok(copy.clone());
    }
    let (Some(brief), Some(text)) = (brief, text) else {
        return Err(JobError::Fatal(
            "copy: required when no text model is loaded".into(),
        ));
    };
    let brief = CopyBrief {
        product: brief.product.clone(),
        audience: brief.audience.clone(),
        tone: brief.tone.clone(),
        platform: Platform::Meta,
        language: "English".into(),
        n: 1,
        seed,
    };
    let set = generate_copy(text, None, &brief)
        .await
        .map_err(|e| JobError::Fatal(format!("brief: the text model failed ({e})")))?;
    let variant = set
        .variants
        .into_iter()
        .next()
        .ok_or_else(|| JobError::Fatal("brief: the text model wrote no copy".into()))?;
    Ok(CreativeCopy {
        headline: variant.headline,
        body: Some(variant.primary_text).filter(|s| !s.trim().is_empty()),
        cta: Some(variant.call_to_action).filter(|s| !s.trim().is_empty()),
    })
}

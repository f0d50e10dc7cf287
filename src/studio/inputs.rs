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

/// Largest image upload, bytes (a logo or product photo; 8192 x 8192 pixels fit well under it).
pub const MAX_IMAGE_UPLOAD_BYTES: u64 = 20 * 1024 * 1024;

/// Checks that an uploaded file is what its content type claims, before it is stored: an
/// image decodes (within [`MAX_INPUT_PIXELS`] and [`MAX_IMAGE_UPLOAD_BYTES`]) in the format
/// named, a font parses (within the compositor's font limit), a video or audio file starts with
/// its container's signature. Blocking: images are decoded in full.
pub fn check_upload(content_type: &str, path: &std::path::Path, bytes: u64) -> Result<(), String> {
    use std::io::Read;
    let mut head = [0_u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| format!("body: reading it failed: {e}"))?;
    let head = &head[..n];
    if let Some(kind) = content_type.strip_prefix("image/") {
        if bytes > MAX_IMAGE_UPLOAD_BYTES {
            return Err(format!(
                "body: an image is at most {MAX_IMAGE_UPLOAD_BYTES} bytes (20 MB); this one is \
                 {bytes}"
            ));
        }
        let data = std::fs::read(path).map_err(|e| format!("body: reading it failed: {e}"))?;
        let found = image::guess_format(&data)
            .map_err(|_| format!("body: not a {kind} image (no image signature)"))?;
        let named = match kind {
            "png" => image::ImageFormat::Png,
            "jpeg" => image::ImageFormat::Jpeg,
            _ => image::ImageFormat::WebP,
        };
        if found != named {
            return Err(format!(
                "body: the file is {found:?}, not the {kind} its Content-Type says"
            ));
        }
        return adforge_input::image::decode(&data, MAX_INPUT_PIXELS)
            .map(|_| ())
            .map_err(|e| format!("body: the image {e}"));
    }
    if content_type.starts_with("font/") {
        let data = std::fs::read(path).map_err(|e| format!("body: reading it failed: {e}"))?;
        return crate::media::compositor::font_family(data)
            .map(|_| ())
            .map_err(|e| format!("body: {e}"));
    }
    let starts =
        |at: usize, sig: &[u8]| head.len() >= at + sig.len() && &head[at..at + sig.len()] == sig;
    let ok = match content_type {
        "video/mp4" | "video/quicktime" | "audio/mp4" => {
            starts(4, b"ftyp") || starts(4, b"moov") || starts(4, b"wide") || starts(4, b"mdat")
        }
        "video/webm" => starts(0, &[0x1A, 0x45, 0xDF, 0xA3]),
        "audio/mpeg" => {
            starts(0, b"ID3") || (head.len() > 1 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0)
        }
        "audio/wav" | "audio/x-wav" => starts(0, b"RIFF") && starts(8, b"WAVE"),
        "audio/aac" => {
            starts(0, b"ADIF")
                || (head.len() > 1 && head[0] == 0xFF && head[1] & 0xF6 == 0xF0)
                || starts(0, b"ID3")
        }
        "audio/ogg" => starts(0, b"OggS"),
        "audio/flac" => starts(0, b"fLaC"),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "body: the file does not start like {content_type} (its first bytes are not that \
             container's signature)"
        ))
    }
}

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

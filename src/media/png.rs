//! PNG with text chunks: generated images carry their generation parameters (prompt, seed,
//! steps, guidance, scheduler, model) as `tEXt` chunks, so an image alone says how to make it
//! again.

use image::DynamicImage;

#[derive(Debug, thiserror::Error)]
#[error("encoding a PNG: {0}")]
pub struct PngError(String);

/// Encodes `image` as 8-bit RGB or RGBA PNG with one `tEXt` chunk per (keyword, text).
pub fn encode_png(image: &DynamicImage, metadata: &[(&str, &str)]) -> Result<Vec<u8>, PngError> {
    let (color, data, (w, h)) = match image {
        DynamicImage::ImageRgb8(rgb) => {
            (png::ColorType::Rgb, rgb.as_raw().clone(), rgb.dimensions())
        }
        other => {
            let rgba = other.to_rgba8();
            let dims = rgba.dimensions();
            (png::ColorType::Rgba, rgba.into_raw(), dims)
        }
    };
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        for (keyword, text) in metadata {
            encoder
                .add_text_chunk((*keyword).to_string(), (*text).to_string())
                .map_err(|e| PngError(e.to_string()))?;
        }
        let mut writer = encoder
            .write_header()
            .map_err(|e| PngError(e.to_string()))?;
        writer
            .write_image_data(&data)
            .map_err(|e| PngError(e.to_string()))?;
    }
    Ok(out)
}

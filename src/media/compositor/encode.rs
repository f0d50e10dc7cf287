//! Encoding a finished canvas: PNG (with metadata as text chunks), JPEG at a chosen quality,
//! and lossless WebP. Owns no drawing.
//!
//! PNG metadata goes in `tEXt` chunks when key and value are Latin-1, else in `iTXt` (UTF-8);
//! keys must be 1 to 79 Latin-1 characters, as PNG requires. JPEG and WebP files carry no
//! metadata: for them it is left out (and logged at debug level), so a caller can pass the same
//! generation parameters whatever the format.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbaImage};

use super::ComposeError;

pub use adforge_input::creative::OutputFormat;

/// Encodes an image. `metadata` (key, value) pairs are written into PNG text chunks; JPEG and
/// WebP leave them out.
pub fn encode(
    image: &RgbaImage,
    format: OutputFormat,
    metadata: &[(&str, &str)],
) -> Result<Vec<u8>, ComposeError> {
    if !metadata.is_empty() && format != OutputFormat::Png {
        tracing::debug!(
            n_keys = metadata.len(),
            "compositor: {} output carries no metadata; left out",
            format.extension()
        );
    }
    match format {
        OutputFormat::Png => png(image, metadata),
        OutputFormat::Jpeg { quality } => {
            if !(1..=100).contains(&quality) {
                return Err(ComposeError::JpegQuality { quality });
            }
            let rgb = image::DynamicImage::ImageRgba8(image.clone()).into_rgb8();
            let mut out = Vec::new();
            JpegEncoder::new_with_quality(&mut out, quality)
                .write_image(
                    rgb.as_raw(),
                    rgb.width(),
                    rgb.height(),
                    ExtendedColorType::Rgb8,
                )
                .map_err(|e| encode_error("jpeg", e))?;
            Ok(out)
        }
        OutputFormat::Webp => {
            let mut out = Vec::new();
            WebPEncoder::new_lossless(&mut out)
                .write_image(
                    image.as_raw(),
                    image.width(),
                    image.height(),
                    ExtendedColorType::Rgba8,
                )
                .map_err(|e| encode_error("webp", e))?;
            Ok(out)
        }
    }
}

fn encode_error(format: &'static str, e: impl std::fmt::Display) -> ComposeError {
    ComposeError::Encode {
        format,
        reason: e.to_string(),
    }
}

fn is_latin1(s: &str) -> bool {
    s.chars().all(|c| u32::from(c) <= 0xFF)
}

fn png(image: &RgbaImage, metadata: &[(&str, &str)]) -> Result<Vec<u8>, ComposeError> {
    let mut out = Cursor::new(Vec::new());
    let mut encoder = png::Encoder::new(&mut out, image.width(), image.height());
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    for &(key, value) in metadata {
        if key.is_empty() || key.chars().count() > 79 || !is_latin1(key) {
            return Err(ComposeError::Metadata {
                key: key.to_string(),
                reason: "png keys are 1 to 79 latin-1 characters".to_string(),
            });
        }
        let added = if is_latin1(value) {
            encoder.add_text_chunk(key.to_string(), value.to_string())
        } else {
            encoder.add_itxt_chunk(key.to_string(), value.to_string())
        };
        added.map_err(|e| ComposeError::Metadata {
            key: key.to_string(),
            reason: e.to_string(),
        })?;
    }
    let mut writer = encoder.write_header().map_err(|e| encode_error("png", e))?;
    writer
        .write_image_data(image.as_raw())
        .map_err(|e| encode_error("png", e))?;
    writer.finish().map_err(|e| encode_error("png", e))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RgbaImage {
        RgbaImage::from_fn(16, 8, |x, y| {
            image::Rgba([x as u8 * 16, y as u8 * 32, 90, 255])
        })
    }

    #[test]
    fn png_round_trips_pixels_and_text_chunks() {
        let img = sample();
        let meta = [("seed", "42"), ("prompt", "café ☕")];
        let bytes = encode(&img, OutputFormat::Png, &meta).unwrap();
        let decoder = png::Decoder::new(Cursor::new(&bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        assert_eq!(buf, img.as_raw().clone());
        let info = reader.info();
        let text: Vec<_> = info
            .uncompressed_latin1_text
            .iter()
            .map(|c| (c.keyword.as_str(), c.text.as_str()))
            .collect();
        assert_eq!(text, vec![("seed", "42")]);
        let itxt = &info.utf8_text[0];
        assert_eq!(
            (itxt.keyword.as_str(), itxt.get_text().unwrap().as_str()),
            ("prompt", "café ☕")
        );
    }

    #[test]
    fn jpeg_and_webp_decode_at_the_same_size() {
        let img = sample();
        for format in [OutputFormat::Jpeg { quality: 90 }, OutputFormat::Webp] {
            let bytes = encode(&img, format, &[]).unwrap();
            let back = image::load_from_memory(&bytes).unwrap();
            assert_eq!((back.width(), back.height()), (16, 8), "{format:?}");
        }
        let webp = encode(&img, OutputFormat::Webp, &[]).unwrap();
        assert_eq!(
            image::load_from_memory(&webp).unwrap().to_rgba8(),
            img,
            "lossless"
        );
    }

    #[test]
    fn bad_requests_are_refused_naming_the_limit() {
        let img = sample();
        let err = encode(&img, OutputFormat::Jpeg { quality: 0 }, &[]).unwrap_err();
        assert!(err.to_string().contains("1 to 100"), "{err}");
        let err = encode(&img, OutputFormat::Png, &[("", "x")]).unwrap_err();
        assert!(err.to_string().contains("79"), "{err}");
        assert!(encode(&img, OutputFormat::Webp, &[("seed", "1")]).is_ok());
    }
}

//! Uploaded images (PNG, JPEG or WebP, as bytes or base64 in a JSON field): the size is read
//! from the header and refused above a pixel limit before any pixel is decoded, so a small file
//! that claims a huge canvas costs nothing; decoding then runs under the `image` crate's
//! allocation limit.

use std::io::Cursor;

use base64::Engine;
use image::{DynamicImage, ImageReader, Limits};

/// Most bytes one decode may allocate, whatever the pixel limit (an 8192 x 8192 RGBA image at
/// 16 bits a channel is 512 MiB).
pub const MAX_DECODE_ALLOC: u64 = 512 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("not base64 ({0})")]
    NotBase64(String),
    #[error("does not decode as PNG, JPEG or WebP ({0})")]
    UnknownFormat(String),
    #[error("{width}x{height} is above the limit of {max_pixels} pixels ({side}x{side})", side = max_pixels.isqrt())]
    TooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error("does not decode ({0})")]
    Decode(String),
}

/// Decodes an image of at most `max_pixels` pixels.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<DynamicImage, ImageError> {
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| ImageError::UnknownFormat(e.to_string()))
    };
    let (width, height) = reader()?
        .into_dimensions()
        .map_err(|e| ImageError::UnknownFormat(e.to_string()))?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ImageError::TooLarge {
            width,
            height,
            max_pixels,
        });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut reader = reader()?;
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| ImageError::Decode(e.to_string()))
}

/// Decodes a base64 image field (a `data:image/...;base64,` prefix is accepted).
pub fn decode_base64(value: &str, max_pixels: u64) -> Result<DynamicImage, ImageError> {
    let encoded = value.split_once(";base64,").map_or(value, |(_, data)| data);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| ImageError::NotBase64(e.to_string()))?;
    decode(&bytes, max_pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        DynamicImage::new_rgb8(width, height)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn decodes_within_the_limit_and_refuses_above_it_from_the_header() {
        let bytes = png(20, 10);
        assert_eq!(decode(&bytes, 200).unwrap().width(), 20);
        assert_eq!(
            decode(&bytes, 199),
            Err(ImageError::TooLarge {
                width: 20,
                height: 10,
                max_pixels: 199
            })
        );
        // A header claiming 60000 x 60000 over no pixel data: refused before decoding.
        let mut bomb = bytes.clone();
        bomb[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        assert!(matches!(
            decode(&bomb, 4096 * 4096),
            Err(ImageError::TooLarge { width: 60_000, .. }) | Err(ImageError::UnknownFormat(_))
        ));
    }

    #[test]
    fn base64_fields_and_garbage_are_named() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(png(4, 4));
        let data_url = format!("data:image/png;base64,{encoded}");
        assert_eq!(decode_base64(&data_url, 16).unwrap().height(), 4);
        assert!(matches!(
            decode_base64("%%%", 16),
            Err(ImageError::NotBase64(_))
        ));
        assert!(matches!(
            decode(b"GIF89a not allowed", 16),
            Err(ImageError::UnknownFormat(_))
        ));
    }
}

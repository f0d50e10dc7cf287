//! Colour for the compositor: the `Rgb` type (hex in JSON), WCAG 2.x relative luminance and
//! contrast ratio, and the choice of a text colour (or a scrim behind the text) that reaches a
//! target ratio against the pixels actually under a text box. Pure functions over an
//! `RgbaImage`; nothing here draws text or knows about layouts.
//!
//! The contrast of text over a region is its worst case: the ratio against the pixel whose
//! luminance is nearest the text's. Since the ratio falls as a background luminance approaches
//! the text's from either side, that is the ratio against the region's darkest or brightest
//! pixel (or 1 when the text's luminance lies between them).

use image::RgbaImage;

pub use adforge_input::colour::{Rgb, relative_luminance};

use super::Rect;
use super::paint::blend_channel;

/// WCAG 2.x contrast ratio between two luminances, 1 to 21.
pub fn contrast_ratio(l1: f32, l2: f32) -> f32 {
    let (hi, lo) = if l1 >= l2 { (l1, l2) } else { (l2, l1) };
    (hi + 0.05) / (lo + 0.05)
}

/// WCAG 2.x contrast ratio between two colours.
pub fn contrast(a: Rgb, b: Rgb) -> f32 {
    contrast_ratio(a.luminance(), b.luminance())
}

/// The WCAG AA minimum for text: 3.0 for large text (at least 24 px, or bold at 14 pt =
/// 18.67 px), 4.5 otherwise.
pub fn aa_minimum(font_size_px: f32, bold: bool) -> f32 {
    let large = font_size_px >= 24.0 || (bold && font_size_px >= 18.67);
    if large { 3.0 } else { 4.5 }
}

/// Darkest and brightest relative luminance of the pixels in a region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LumaRange {
    pub min: f32,
    pub max: f32,
}

impl LumaRange {
    /// The worst-case contrast of a text luminance over this region.
    pub fn worst_contrast(self, text: f32) -> f32 {
        if text < self.min {
            contrast_ratio(text, self.min)
        } else if text > self.max {
            contrast_ratio(text, self.max)
        } else {
            1.0
        }
    }
}

/// The luminance range of `rect` in `image`, after an optional scrim (colour, alpha) is
/// blended over it exactly as `paint` would blend it. The rect is clipped to the image; an
/// empty region gives `None`.
pub fn luma_range(image: &RgbaImage, rect: Rect, scrim: Option<(Rgb, u8)>) -> Option<LumaRange> {
    let rect = rect.clip(image.width(), image.height());
    let mut range: Option<LumaRange> = None;
    for y in rect.y..rect.y + rect.height {
        for x in rect.x..rect.x + rect.width {
            let p = image.get_pixel(x, y).0;
            let (r, g, b) = match scrim {
                Some((s, a)) => (
                    blend_channel(p[0], s.0, a),
                    blend_channel(p[1], s.1, a),
                    blend_channel(p[2], s.2, a),
                ),
                None => (p[0], p[1], p[2]),
            };
            let l = relative_luminance(r, g, b);
            range = Some(match range {
                Some(LumaRange { min, max }) => LumaRange {
                    min: min.min(l),
                    max: max.max(l),
                },
                None => LumaRange { min: l, max: l },
            });
        }
    }
    range
}

/// How a text layer is inked: its colour, and the scrim behind it if one was needed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ink {
    pub text: Rgb,
    /// Colour and alpha (0-255) of a scrim painted behind the text.
    pub scrim: Option<(Rgb, u8)>,
}

/// Chooses the ink for text over `rect` so that its worst-case contrast reaches `target`:
/// the preferred colour if it passes; else black or white, whichever is better, if that
/// passes; else white on a black scrim or black on a white one, at the least opacity that
/// passes (whichever of the two needs less).
pub fn choose_ink(image: &RgbaImage, rect: Rect, preferred: Option<Rgb>, target: f32) -> Ink {
    let Some(range) = luma_range(image, rect, None) else {
        return Ink {
            text: preferred.unwrap_or(Rgb::BLACK),
            scrim: None,
        };
    };
    let passes = |c: Rgb| range.worst_contrast(c.luminance()) >= target;
    if let Some(c) = preferred.filter(|&c| passes(c)) {
        return Ink {
            text: c,
            scrim: None,
        };
    }
    let white = range.worst_contrast(1.0);
    let black = range.worst_contrast(0.0);
    let best = if white >= black {
        Rgb::WHITE
    } else {
        Rgb::BLACK
    };
    if passes(best) {
        return Ink {
            text: best,
            scrim: None,
        };
    }
    let dark = least_scrim(image, rect, Rgb::BLACK, Rgb::WHITE, target);
    let light = least_scrim(image, rect, Rgb::WHITE, Rgb::BLACK, target);
    let (text, scrim, alpha) = if dark <= light {
        (Rgb::WHITE, Rgb::BLACK, dark)
    } else {
        (Rgb::BLACK, Rgb::WHITE, light)
    };
    Ink {
        text,
        scrim: Some((scrim, alpha)),
    }
}

/// The least scrim alpha (0-255) at which `text` over `rect` reaches `target`; 255 (an opaque
/// black or white scrim, 21:1 against white or black) always does for target <= 21.
fn least_scrim(image: &RgbaImage, rect: Rect, scrim: Rgb, text: Rgb, target: f32) -> u8 {
    let passes = |alpha: u8| {
        luma_range(image, rect, Some((scrim, alpha)))
            .is_none_or(|r| r.worst_contrast(text.luminance()) >= target)
    };
    let (mut lo, mut hi) = (0u8, 255u8);
    // Invariant: `hi` passes (or is 255); `lo` fails unless it is 0 and passes.
    if passes(0) {
        return 0;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if passes(mid) { hi = mid } else { lo = mid }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    #[test]
    fn contrast_matches_published_wcag_values() {
        assert!((contrast(Rgb::BLACK, Rgb::WHITE) - 21.0).abs() < 1e-4);
        assert!((contrast(Rgb::WHITE, Rgb::WHITE) - 1.0).abs() < 1e-6);
        // #777 on white is the classic near miss: 4.48:1.
        let grey = Rgb::from_hex("#777").unwrap();
        assert!((contrast(grey, Rgb::WHITE) - 4.48).abs() < 0.01);
        // #767676 is the lightest grey that passes AA on white: 4.54:1.
        let pass = Rgb::from_hex("767676").unwrap();
        assert!((contrast(pass, Rgb::WHITE) - 4.54).abs() < 0.01);
        // Pure red on white: 4.0:1.
        assert!((contrast(Rgb(255, 0, 0), Rgb::WHITE) - 4.0).abs() < 0.01);
        assert!((Rgb::WHITE.luminance() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn hex_parses_and_prints() {
        assert_eq!(Rgb::from_hex("#1a73E8"), Some(Rgb(0x1A, 0x73, 0xE8)));
        assert_eq!(Rgb::from_hex("fff"), Some(Rgb::WHITE));
        assert_eq!(Rgb::from_hex("#12345"), None);
        assert_eq!(Rgb::from_hex("#12345g"), None);
        assert_eq!(Rgb::from_hex("#+1+2+3"), None);
        assert_eq!(Rgb(0x1A, 0x73, 0xE8).to_string(), "#1A73E8");
        let json = serde_json::to_string(&Rgb(1, 2, 255)).unwrap();
        assert_eq!(json, "\"#0102FF\"");
        let back: Rgb = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Rgb(1, 2, 255));
        let err = serde_json::from_str::<Rgb>("\"blue\"").unwrap_err();
        assert!(err.to_string().contains("\"blue\""), "{err}");
    }

    #[test]
    fn aa_minimum_follows_the_large_text_rule() {
        assert_eq!(aa_minimum(16.0, false), 4.5);
        assert_eq!(aa_minimum(24.0, false), 3.0);
        assert_eq!(aa_minimum(19.0, true), 3.0);
        assert_eq!(aa_minimum(18.0, true), 4.5);
    }

    fn checker(width: u32, height: u32) -> RgbaImage {
        RgbaImage::from_fn(width, height, |x, y| {
            if (x + y) % 2 == 0 {
                Rgba([255, 255, 255, 255])
            } else {
                Rgba([0, 0, 0, 255])
            }
        })
    }

    #[test]
    fn worst_case_over_a_region_uses_its_extremes() {
        let img = checker(8, 8);
        let range = luma_range(&img, Rect::new(0, 0, 8, 8), None).unwrap();
        assert_eq!((range.min, range.max), (0.0, 1.0));
        assert_eq!(range.worst_contrast(0.5), 1.0);
        let grey = RgbaImage::from_pixel(4, 4, Rgba([0x77, 0x77, 0x77, 255]));
        let range = luma_range(&grey, Rect::new(0, 0, 4, 4), None).unwrap();
        assert!((range.worst_contrast(1.0) - 4.48).abs() < 0.01);
        assert!(luma_range(&grey, Rect::new(4, 4, 2, 2), None).is_none());
    }

    #[test]
    fn ink_prefers_the_brand_colour_then_black_or_white_then_a_scrim() {
        let white = RgbaImage::from_pixel(10, 10, Rgba([255, 255, 255, 255]));
        let rect = Rect::new(0, 0, 10, 10);
        let navy = Rgb(0, 0, 128);
        assert_eq!(choose_ink(&white, rect, Some(navy), 4.5).text, navy);
        let yellow = Rgb(255, 255, 0);
        let ink = choose_ink(&white, rect, Some(yellow), 4.5);
        assert_eq!((ink.text, ink.scrim), (Rgb::BLACK, None));

        let img = checker(10, 10);
        let ink = choose_ink(&img, rect, None, 4.5);
        let (scrim, alpha) = ink.scrim.unwrap();
        assert!(alpha > 0 && alpha < 255);
        let after = luma_range(&img, rect, Some((scrim, alpha))).unwrap();
        assert!(after.worst_contrast(ink.text.luminance()) >= 4.5);
        // One step less opacity would not pass: the search found the least.
        let before = luma_range(&img, rect, Some((scrim, alpha - 1))).unwrap();
        assert!(before.worst_contrast(ink.text.luminance()) < 4.5);
    }
}

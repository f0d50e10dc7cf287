//! The ad-image compositor: turns a `CreativeSpec` (headline, body, call to action, background,
//! product image, logo, brand kit) into a finished image at a format from `media::formats`,
//! and encodes it as PNG, JPEG or WebP.
//!
//! Code map:
//! - `layout`: where each layer goes per format (banner, wide, stacked, logo), inside the
//!   format's safe text area; pure.
//! - `text`: cosmic-text shaping, wrapping, fallback and auto-fit; drawing glyphs.
//! - `fonts`: the `FontLibrary` (bundled DejaVu, added brand fonts) and per-spec font bytes.
//! - `colour`: `Rgb`, WCAG contrast, and the choice of text colour or scrim.
//! - `paint`: backgrounds, images, rounded rects, the one sRGB blend.
//! - `compose`: the render pipeline tying these together.
//! - `encode`: PNG (metadata in text chunks), JPEG, WebP.
//!
//! Invariants a render keeps: the image is exactly the format's size; every text layer lies
//! inside the format's safe text area; every text layer reaches WCAG AA contrast (4.5:1, or
//! 3:1 for large text, see `colour::aa_minimum`) against the pixels under it, measured worst
//! case, by changing its colour to black or white or laying a scrim behind it; a text that
//! does not fit its box at the minimum size is an error, never clipped or overflowing; no glyph
//! is drawn as a .notdef box while a bundled font has it.
//!
//! Rendering is CPU-bound (tens of milliseconds at 1080x1920): call it from a blocking task.
//! Decoding input images is the caller's job, and so are their sizes; the compositor only
//! allocates canvases of the format's size.

mod colour;
mod compose;
mod encode;
mod fonts;
mod layout;
mod paint;
mod text;

use std::sync::Mutex;

use serde::Serialize;

use crate::media::formats::Format;

pub use adforge_input::brand::{BrandSpec, Fit, MAX_TEXT_CHARS};
pub use colour::{Rgb, aa_minimum, contrast};
pub use encode::{OutputFormat, encode};
pub use fonts::{DEFAULT_FAMILY, FontLibrary, font_family};
pub use layout::Rect;
pub use paint::background as paint_background;

/// Everything a creative is made of.
#[derive(Debug, Clone)]
pub struct CreativeSpec {
    pub headline: String,
    pub body: Option<String>,
    /// The call-to-action button's label.
    pub cta: Option<String>,
    pub background: Background,
    pub product: Option<ProductImage>,
    pub logo: Option<image::DynamicImage>,
    pub brand: BrandKit,
}

#[derive(Debug, Clone)]
pub enum Background {
    /// Cover-cropped to the format: scaled to fill it, the centre kept.
    Image(image::DynamicImage),
    /// A linear gradient; the angle follows CSS (0° bottom to top, 90° left to right).
    Gradient {
        from: Rgb,
        to: Rgb,
        angle_deg: f32,
    },
    Solid(Rgb),
}

#[derive(Debug, Clone)]
pub struct ProductImage {
    pub image: image::DynamicImage,
    pub fit: Fit,
}

#[derive(Debug, Clone)]
pub struct BrandKit {
    /// The call-to-action button's colour.
    pub primary: Rgb,
    /// The call-to-action label's colour when it has the contrast.
    pub secondary: Rgb,
    /// Preferred colour for headline and body text; black or white (or a scrim) is used where
    /// it lacks contrast. `None`: black or white, whichever contrasts more.
    pub text: Option<Rgb>,
    /// A family registered in the `FontLibrary`; `None` is DejaVu Sans.
    pub font: Option<String>,
    /// A TrueType or OpenType font to set the text in, overriding `font`.
    pub font_data: Option<Vec<u8>>,
}

impl Default for BrandKit {
    fn default() -> Self {
        BrandKit {
            primary: Rgb(0x1A, 0x73, 0xE8),
            secondary: Rgb::WHITE,
            text: None,
            font: None,
            font_data: None,
        }
    }
}

impl From<&BrandSpec> for BrandKit {
    fn from(spec: &BrandSpec) -> Self {
        BrandKit {
            primary: spec.primary,
            secondary: spec.secondary,
            text: spec.text,
            font: spec.font.clone(),
            font_data: None,
        }
    }
}

/// A finished creative and where each layer ended up.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub image: image::RgbaImage,
    pub layers: Vec<PlacedLayer>,
    /// Each layer alone (from [`Compositor::render_layers`]; empty from `render`).
    pub sprites: Vec<LayerSprite>,
}

/// One layer drawn alone on a transparent canvas (straight alpha), cropped to its pixels: laid
/// over the background at (`x`, `y`) in order, the sprites give the rendered image again. The
/// video renderer animates them.
#[derive(Debug, Clone)]
pub struct LayerSprite {
    /// "headline", "body", "cta", "logo" or "product", as in [`PlacedLayer`].
    pub name: &'static str,
    pub x: u32,
    pub y: u32,
    pub image: image::RgbaImage,
}

impl LayerSprite {
    /// The sprite of the non-transparent pixels of a full-canvas layer; `None` when it drew none.
    fn cropped(name: &'static str, canvas: image::RgbaImage) -> Option<LayerSprite> {
        let (w, h) = canvas.dimensions();
        let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
        for (x, y, p) in canvas.enumerate_pixels() {
            if p.0[3] > 0 {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
            }
        }
        if x1 <= x0 || y1 <= y0 {
            return None;
        }
        let image = image::imageops::crop_imm(&canvas, x0, y0, x1 - x0, y1 - y0).to_image();
        Some(LayerSprite {
            name,
            x: x0,
            y: y0,
            image,
        })
    }
}

impl Rendered {
    pub fn layer(&self, name: &str) -> Option<&PlacedLayer> {
        self.layers.iter().find(|l| l.name == name)
    }
}

/// One drawn layer: "headline", "body", "cta", "logo" or "product".
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlacedLayer {
    pub name: &'static str,
    /// For text, the box of its lines; for "cta", the button; for images, the drawn image.
    pub rect: Rect,
    /// Text layers: the fitted font size in pixels.
    pub font_size: Option<f32>,
    /// Text layers: the WCAG contrast ratio of the text against the pixels under `rect`,
    /// worst case.
    pub contrast: Option<f32>,
    /// Text layers: how the text was set.
    pub text: Option<TextDetails>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TextDetails {
    pub colour: Rgb,
    /// The WCAG AA ratio this layer had to reach (3.0 for large text, else 4.5).
    pub min_contrast: f32,
    /// Whether a scrim was laid behind the text to reach it.
    pub scrim: bool,
    pub lines: usize,
    pub glyphs: usize,
    /// Glyphs no font had, drawn as .notdef boxes (0 unless the text needs a font adforge
    /// lacks, such as CJK).
    pub missing_glyphs: usize,
    pub right_to_left: bool,
    /// The fonts the glyphs came from: the brand's, then fallbacks.
    pub families: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error(
        "{layer} text does not fit its box even at the minimum size of {min_size} px; shorten it"
    )]
    TextDoesNotFit { layer: &'static str, min_size: f32 },
    #[error("{layer} is empty")]
    EmptyText { layer: &'static str },
    #[error("{layer} is {chars} characters, over the limit of {max_chars}")]
    TextTooLong {
        layer: &'static str,
        chars: usize,
        max_chars: usize,
    },
    #[error("{layer} image is empty ({width}x{height})")]
    EmptyImage {
        layer: &'static str,
        width: u32,
        height: u32,
    },
    #[error("brand font family {family:?} is not in the font library (known: {known})")]
    UnknownFont { family: String, known: String },
    #[error("invalid font: {reason}")]
    InvalidFont { reason: String },
    #[error("jpeg quality {quality} is out of range 1 to 100")]
    JpegQuality { quality: u8 },
    #[error("png metadata key {key:?}: {reason}")]
    Metadata { key: String, reason: String },
    #[error("{format} encoding failed: {reason}")]
    Encode {
        format: &'static str,
        reason: String,
    },
}

/// Renders creatives. Holds the font library and one font system and glyph cache, shared by
/// renders behind a mutex (a render holds it throughout).
pub struct Compositor {
    library: FontLibrary,
    state: Mutex<fonts::FontState>,
}

impl Compositor {
    pub fn new(fonts: FontLibrary) -> Self {
        Compositor {
            state: Mutex::new(fonts::FontState::new(&fonts)),
            library: fonts,
        }
    }

    pub fn fonts(&self) -> &FontLibrary {
        &self.library
    }

    /// Renders `spec` at `format`'s exact size.
    pub fn render(&self, spec: &CreativeSpec, format: &Format) -> Result<Rendered, ComposeError> {
        // A panic mid-render leaves only caches behind, which stay usable.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rendered = compose::render(&mut state, &self.library, spec, format, false);
        state.trim_caches();
        rendered
    }

    /// Renders `spec` like [`Compositor::render`] and also returns each layer alone as a
    /// [`LayerSprite`]. Text inks (and scrims) are chosen against `spec.background`, so give it
    /// the background the layers will be shown over.
    pub fn render_layers(
        &self,
        spec: &CreativeSpec,
        format: &Format,
    ) -> Result<Rendered, ComposeError> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rendered = compose::render(&mut state, &self.library, spec, format, true);
        state.trim_caches();
        rendered
    }
}

impl std::fmt::Debug for Compositor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compositor")
            .field("library", &self.library)
            .finish_non_exhaustive()
    }
}

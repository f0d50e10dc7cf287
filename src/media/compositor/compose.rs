//! The render pipeline: checks the spec, resolves the brand font, lays the format out, fits
//! every text before a pixel is painted (so a text that cannot fit fails fast), then paints
//! background, product, logo, the call-to-action button and the text layers, choosing each
//! text's ink against the pixels actually under it.

use cosmic_text::{FontSystem, SwashCache};
use image::{DynamicImage, GenericImageView, RgbaImage};

use super::colour::{self, Rgb};
use super::fonts::{FontLibrary, FontState};
use super::layout::{self, HAlign, Kind, Plan, Present, Rect, TextSlot};
use super::text::{self, FitRequest, Shaped, TextStyle};
use super::{
    ComposeError, CreativeSpec, Fit, LayerSprite, MAX_TEXT_CHARS, PlacedLayer, Rendered,
    TextDetails, paint,
};
use crate::media::formats::Format;

const HEADLINE_LINE_HEIGHT: f32 = 1.15;
const BODY_LINE_HEIGHT: f32 = 1.3;
const CTA_LINE_HEIGHT: f32 = 1.2;
/// The call-to-action button's padding around its label, in ems.
const CTA_PAD_X: f32 = 0.8;
const CTA_PAD_Y: f32 = 0.45;
/// In stacked layouts the button takes at most this share of the width.
const CTA_STACKED_WIDTH: f32 = 0.8;

/// Renders a spec at a format. `fonts` is the compositor's shared font state.
/// With `sprites`, each layer is also drawn alone on a transparent canvas (see
/// [`super::LayerSprite`]).
pub fn render(
    fonts: &mut FontState,
    library: &FontLibrary,
    spec: &CreativeSpec,
    format: &Format,
    sprites: bool,
) -> Result<Rendered, ComposeError> {
    let texts = Texts {
        headline: checked_text("headline", Some(&spec.headline))?
            .ok_or(ComposeError::EmptyText { layer: "headline" })?,
        body: checked_text("body", spec.body.as_deref())?,
        cta: checked_text("cta", spec.cta.as_deref())?,
    };
    checked_image("logo", spec.logo.as_ref())?;
    checked_image("product", spec.product.as_ref().map(|p| &p.image))?;
    let family = fonts.brand_family(
        library,
        spec.brand.font.as_deref(),
        spec.brand.font_data.as_deref(),
    )?;
    let present = Present {
        body: texts.body.is_some(),
        cta: texts.cta.is_some(),
        logo: spec.logo.is_some(),
        product: spec.product.is_some(),
    };
    let plan = layout::plan(format, present);
    let painter = Painter {
        fs: &mut fonts.system,
        swash: &mut fonts.swash,
        canvas: RgbaImage::new(0, 0),
        layers: Vec::new(),
        sprite: None,
        sprites: sprites.then(Vec::new),
    };
    if plan.kind == Kind::Logo {
        return logo_format(painter, spec, format, &plan, texts.headline, &family);
    }
    creative(painter, spec, format, &plan, &texts, &family)
}

/// A spec's texts, trimmed; blank optional texts are absent.
struct Texts<'a> {
    headline: &'a str,
    body: Option<&'a str>,
    cta: Option<&'a str>,
}

/// How each text layer is set.
struct Styles<'a> {
    headline: TextStyle<'a>,
    body: TextStyle<'a>,
    cta: TextStyle<'a>,
}

impl<'a> Styles<'a> {
    fn new(family: &'a str, align: HAlign) -> Self {
        let style = |bold, line_height, wrap, align| TextStyle {
            family,
            bold,
            align,
            wrap,
            line_height,
        };
        Styles {
            headline: style(true, HEADLINE_LINE_HEIGHT, true, align),
            body: style(false, BODY_LINE_HEIGHT, true, align),
            cta: style(true, CTA_LINE_HEIGHT, false, HAlign::Center),
        }
    }
}

/// A creative for every format but the logo slots: texts fitted first, so that one that does
/// not fit fails before anything is painted; then background, product, logo, texts, button.
fn creative(
    mut painter: Painter<'_>,
    spec: &CreativeSpec,
    format: &Format,
    plan: &Plan,
    texts: &Texts<'_>,
    family: &str,
) -> Result<Rendered, ComposeError> {
    let styles = Styles::new(family, plan.align);
    let fs = &mut *painter.fs;
    let headline = fit_block(
        fs,
        "headline",
        texts.headline,
        &plan.headline,
        &styles.headline,
    )?;
    let body = match (texts.body, plan.body) {
        (Some(text), Some(slot)) => Some(fit_block(fs, "body", text, &slot, &styles.body)?),
        _ => None,
    };
    let cta = match (texts.cta, plan.cta) {
        (Some(label), Some(slot)) => {
            let stacked = plan.kind == Kind::Stacked;
            let fitted = fit_cta(fs, label, &slot, &styles.cta, stacked)?;
            Some((fitted, label, slot))
        }
        _ => None,
    };

    painter.canvas = paint::background(&spec.background, format.width, format.height);
    if let (Some(product), Some(slot)) = (&spec.product, plan.product) {
        painter.image("product", &product.image, slot, product.fit, HAlign::Center);
    }
    if let (Some(logo), Some(slot)) = (&spec.logo, plan.logo) {
        painter.image("logo", logo, slot, Fit::Contain, plan.align);
    }
    painter.text_block("headline", &headline, spec.brand.text, true);
    if let Some(body) = &body {
        painter.text_block("body", body, spec.brand.text, false);
    }
    if let Some((fitted, label, slot)) = cta {
        // Banners centre the button in its slot, clear of the text beside it.
        let align = match plan.kind {
            Kind::Banner => HAlign::Center,
            _ => plan.align,
        };
        let placement = ButtonPlacement {
            slot: slot.rect,
            align,
        };
        painter.button(label, &fitted, &styles.cta, placement, spec);
    }
    Ok(painter.finish())
}

/// Google's logo formats: the logo alone, or the headline as a wordmark in the brand's primary
/// colour (where it has the contrast) when there is no logo.
fn logo_format(
    mut painter: Painter<'_>,
    spec: &CreativeSpec,
    format: &Format,
    plan: &Plan,
    wordmark: &str,
    family: &str,
) -> Result<Rendered, ComposeError> {
    let style = TextStyle {
        family,
        bold: true,
        align: HAlign::Center,
        wrap: true,
        line_height: HEADLINE_LINE_HEIGHT,
    };
    let fitted = match &spec.logo {
        Some(_) => None,
        None => Some(fit_block(
            painter.fs,
            "logo",
            wordmark,
            &plan.headline,
            &style,
        )?),
    };
    painter.canvas = paint::background(&spec.background, format.width, format.height);
    match (&spec.logo, fitted) {
        (Some(logo), _) => {
            painter.image("logo", logo, plan.content, Fit::Contain, HAlign::Center);
        }
        (None, Some(block)) => painter.text_block("logo", &block, Some(spec.brand.primary), true),
        (None, None) => {}
    }
    Ok(painter.finish())
}

/// A text's trimmed content: `None` when absent or blank; an error when over the limit.
fn checked_text<'a>(
    layer: &'static str,
    text: Option<&'a str>,
) -> Result<Option<&'a str>, ComposeError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(ComposeError::TextTooLong {
            layer,
            chars,
            max_chars: MAX_TEXT_CHARS,
        });
    }
    Ok(Some(text))
}

fn checked_image(layer: &'static str, image: Option<&DynamicImage>) -> Result<(), ComposeError> {
    match image.map(GenericImageView::dimensions) {
        Some((width, height)) if width == 0 || height == 0 => Err(ComposeError::EmptyImage {
            layer,
            width,
            height,
        }),
        _ => Ok(()),
    }
}

/// A text fitted to its slot.
struct Block {
    shaped: Shaped,
    slot: Rect,
}

fn fit_block(
    fs: &mut FontSystem,
    layer: &'static str,
    text: &str,
    slot: &TextSlot,
    style: &TextStyle<'_>,
) -> Result<Block, ComposeError> {
    let request = FitRequest {
        layer,
        text,
        width: slot.rect.width as f32,
        height: slot.rect.height as f32,
        max_size: slot.max_size,
        min_size: slot.min_size,
        pad_em: (0.0, 0.0),
    };
    let shaped = text::fit(fs, &request, style)?;
    Ok(Block {
        shaped,
        slot: slot.rect,
    })
}

/// Fits a call-to-action label with the button's padding around it.
fn fit_cta(
    fs: &mut FontSystem,
    label: &str,
    slot: &TextSlot,
    style: &TextStyle<'_>,
    stacked: bool,
) -> Result<Shaped, ComposeError> {
    let width = slot.rect.width as f32 * if stacked { CTA_STACKED_WIDTH } else { 1.0 };
    let height = slot.rect.height as f32;
    let request = FitRequest {
        layer: "cta",
        text: label,
        width,
        height,
        max_size: slot
            .max_size
            .min(height / (CTA_LINE_HEIGHT + 2.0 * CTA_PAD_Y)),
        min_size: slot.min_size,
        pad_em: (CTA_PAD_X, CTA_PAD_Y),
    };
    text::fit(fs, &request, style)
}

fn image_layer(name: &'static str, rect: Rect) -> PlacedLayer {
    PlacedLayer {
        name,
        rect,
        font_size: None,
        contrast: None,
        text: None,
    }
}

/// The pixel box of shaped text drawn with its box's top-left at `origin`, kept in `bounds`.
fn text_rect(shaped: &Shaped, origin: (f32, f32), bounds: Rect) -> Rect {
    let x0 = (origin.0 + shaped.left).floor().max(bounds.x as f32) as u32;
    let y0 = origin.1.floor().max(bounds.y as f32) as u32;
    let x1 = ((origin.0 + shaped.right).ceil() as u32).clamp(x0, bounds.right().max(x0));
    let y1 = ((origin.1 + shaped.height).ceil() as u32).clamp(y0, bounds.bottom().max(y0));
    Rect::new(x0, y0, x1 - x0, y1 - y0)
}

struct ButtonPlacement {
    slot: Rect,
    align: HAlign,
}

/// Paints onto the canvas and records the layers. In sprite mode each layer is painted twice:
/// onto the canvas (whose pixels the next layer's contrast is measured against) and alone onto
/// the transparent `sprite`, which becomes a [`LayerSprite`] when the layer ends.
struct Painter<'a> {
    fs: &'a mut FontSystem,
    swash: &'a mut SwashCache,
    canvas: RgbaImage,
    layers: Vec<PlacedLayer>,
    sprite: Option<RgbaImage>,
    sprites: Option<Vec<LayerSprite>>,
}

impl Painter<'_> {
    fn finish(self) -> Rendered {
        Rendered {
            image: self.canvas,
            layers: self.layers,
            sprites: self.sprites.unwrap_or_default(),
        }
    }

    /// Starts a layer's sprite (sprite mode only).
    fn begin(&mut self) {
        if self.sprites.is_some() {
            let (w, h) = self.canvas.dimensions();
            self.sprite = Some(RgbaImage::new(w, h));
        }
    }

    /// Ends the layer's sprite: cropped to its drawn pixels and kept.
    fn end(&mut self, name: &'static str) {
        if let (Some(sprite), Some(sprites)) = (self.sprite.take(), self.sprites.as_mut()) {
            sprites.extend(LayerSprite::cropped(name, sprite));
        }
    }

    /// The canvas, and the current sprite when there is one.
    fn targets(&mut self) -> impl Iterator<Item = &mut RgbaImage> {
        std::iter::once(&mut self.canvas).chain(self.sprite.as_mut())
    }

    fn image(
        &mut self,
        name: &'static str,
        img: &DynamicImage,
        slot: Rect,
        fit: Fit,
        align: HAlign,
    ) {
        self.begin();
        let mut rect = Rect::new(slot.x, slot.y, 0, 0);
        for canvas in self.targets() {
            rect = paint::draw_image(canvas, img, slot, fit, align);
        }
        self.end(name);
        self.layers.push(image_layer(name, rect));
    }

    /// Draws a fitted text block centred vertically in its slot.
    fn text_block(
        &mut self,
        name: &'static str,
        block: &Block,
        preferred: Option<Rgb>,
        bold: bool,
    ) {
        let s = &block.shaped;
        let slot = block.slot;
        let top = slot.y as f32 + ((slot.height as f32 - s.height) / 2.0).max(0.0).floor();
        let origin = (slot.x as f32, top);
        let rect = text_rect(s, origin, slot);
        self.begin();
        let layer = self.ink_and_draw(name, s, origin, rect, preferred, bold);
        self.end(name);
        self.layers.push(layer);
    }

    /// The call-to-action: a rounded button in the brand's primary colour sized to its label.
    fn button(
        &mut self,
        label: &str,
        fitted: &Shaped,
        style: &TextStyle<'_>,
        at: ButtonPlacement,
        spec: &CreativeSpec,
    ) {
        let size = fitted.size;
        let (pad_x, pad_y) = (CTA_PAD_X * size, CTA_PAD_Y * size);
        let width = ((fitted.width + 2.0 * pad_x).ceil() as u32).min(at.slot.width);
        let height = ((fitted.height + 2.0 * pad_y).ceil() as u32).min(at.slot.height);
        let x = match at.align {
            HAlign::Center => at.slot.x + (at.slot.width - width) / 2,
            HAlign::Start => at.slot.x,
        };
        let button = Rect::new(x, at.slot.y + (at.slot.height - height) / 2, width, height);
        let radius = height as f32 * 0.25;
        self.begin();
        for canvas in self.targets() {
            paint::fill_rounded_rect(canvas, button, radius, spec.brand.primary, 255);
        }
        let inner = (button.width as f32 - 2.0 * pad_x).max(1.0);
        let shaped = text::shape(self.fs, label, style, size, inner);
        let origin = (
            button.x as f32 + pad_x,
            button.y as f32 + ((button.height as f32 - shaped.height) / 2.0).floor(),
        );
        let rect = text_rect(&shaped, origin, button);
        let mut layer = self.ink_and_draw(
            "cta",
            &shaped,
            origin,
            rect,
            Some(spec.brand.secondary),
            true,
        );
        layer.rect = button;
        self.end("cta");
        self.layers.push(layer);
    }

    /// Chooses the ink for text over `rect` (a scrim if needed), draws it, and measures the
    /// contrast it reached.
    fn ink_and_draw(
        &mut self,
        name: &'static str,
        shaped: &Shaped,
        origin: (f32, f32),
        rect: Rect,
        preferred: Option<Rgb>,
        bold: bool,
    ) -> PlacedLayer {
        let min_contrast = colour::aa_minimum(shaped.size, bold);
        let ink = colour::choose_ink(&self.canvas, rect, preferred, min_contrast);
        if let Some((scrim, alpha)) = ink.scrim {
            let pad = (0.3 * shaped.size).round().max(4.0) as u32;
            let (w, h) = self.canvas.dimensions();
            let area = rect.outset(pad, w, h);
            // The corner radius is at most the padding left after clipping to the canvas, so
            // every pixel of `rect` gets the scrim at exactly `alpha`, as `choose_ink` assumed.
            let radius = (rect.x - area.x)
                .min(rect.y - area.y)
                .min(area.right() - rect.right())
                .min(area.bottom() - rect.bottom());
            for canvas in self.targets() {
                paint::fill_rounded_rect(canvas, area, radius as f32, scrim, alpha);
            }
        }
        let contrast = colour::luma_range(&self.canvas, rect, None)
            .map(|range| range.worst_contrast(ink.text.luminance()));
        let targets = std::iter::once(&mut self.canvas).chain(self.sprite.as_mut());
        for canvas in targets {
            text::draw(canvas, self.fs, self.swash, shaped, origin, ink.text);
        }
        if shaped.missing_glyphs > 0 {
            tracing::warn!(
                layer = name,
                missing = shaped.missing_glyphs,
                "compositor: no bundled font has some characters; drawn as boxes"
            );
        }
        PlacedLayer {
            name,
            rect,
            font_size: Some(shaped.size),
            contrast,
            text: Some(TextDetails {
                colour: ink.text,
                min_contrast,
                scrim: ink.scrim.is_some(),
                lines: shaped.lines,
                glyphs: shaped.glyphs,
                missing_glyphs: shaped.missing_glyphs,
                right_to_left: shaped.rtl,
                families: shaped.families.clone(),
            }),
        }
    }
}

//! Text for the compositor: shaping and wrapping with cosmic-text (kerning and ligatures
//! through harfrust, bidi for right-to-left scripts, fallback to DejaVu Sans for glyphs the
//! brand font lacks), auto-fitting a text to its box, and drawing the shaped glyphs onto the
//! canvas with their anti-aliased coverage. Owns no layout decisions: the box, the size range
//! and the colour come from the caller.
//!
//! Auto-fit is a binary search on the font size between the slot's maximum and minimum for
//! the largest size at which the word-wrapped text fits the box: no line wider than the box
//! (a word too long for a line overflows rather than being broken, so it counts against the
//! size) and the lines no taller than it. Sizes are searched to a quarter pixel.

use cosmic_text::{
    Align, Attrs, Buffer, Color, Family, FontSystem, Metrics, Shaping, SwashCache, Weight, Wrap,
};

use super::ComposeError;
use super::colour::Rgb;
use super::layout::HAlign;
use super::paint::blend_pixel;

/// How a layer's text is set.
#[derive(Debug, Clone, Copy)]
pub struct TextStyle<'a> {
    pub family: &'a str,
    pub bold: bool,
    pub align: HAlign,
    /// Word-wrap onto several lines (else one line per paragraph).
    pub wrap: bool,
    /// Line height as a multiple of the font size.
    pub line_height: f32,
}

/// Text shaped and laid out at one size for one box width.
#[derive(Debug)]
pub struct Shaped {
    buffer: Buffer,
    pub size: f32,
    /// The widest line.
    pub width: f32,
    /// All lines, top of the first to bottom of the last.
    pub height: f32,
    pub lines: usize,
    /// Leftmost and rightmost glyph edges, from the box's left.
    pub left: f32,
    pub right: f32,
    pub glyphs: usize,
    /// Glyphs laid out as id 0 (.notdef, the "tofu" box): no font had the character.
    pub missing_glyphs: usize,
    /// Whether any glyph is set right to left.
    pub rtl: bool,
    /// The fonts the glyphs came from, by family name, each once.
    pub families: Vec<String>,
}

impl Shaped {
    fn fits(&self, width: f32, height: f32) -> bool {
        const SLACK: f32 = 0.01;
        self.width <= width + SLACK && self.height <= height + SLACK
    }
}

/// Shapes `text` at `size` pixels, wrapped to `box_width`.
pub fn shape(
    fs: &mut FontSystem,
    text: &str,
    style: &TextStyle<'_>,
    size: f32,
    box_width: f32,
) -> Shaped {
    let size = size.max(1.0);
    let metrics = Metrics::new(size, (size * style.line_height).max(1.0));
    let mut buffer = Buffer::new(fs, metrics);
    let weight = if style.bold {
        Weight::BOLD
    } else {
        Weight::NORMAL
    };
    let attrs = Attrs::new()
        .family(Family::Name(style.family))
        .weight(weight);
    let align = match style.align {
        HAlign::Center => Some(Align::Center),
        // `None` is the paragraph's natural alignment: right for right-to-left text.
        HAlign::Start => None,
    };
    {
        let mut b = buffer.borrow_with(fs);
        b.set_wrap(if style.wrap { Wrap::Word } else { Wrap::None });
        b.set_size(Some(box_width.max(1.0)), None);
        b.set_text(text, &attrs, Shaping::Advanced, align);
        b.shape_until_scroll(false);
    }
    let mut shaped = Shaped {
        buffer: Buffer::new_empty(metrics),
        size,
        width: 0.0,
        height: 0.0,
        lines: 0,
        left: f32::MAX,
        right: 0.0,
        glyphs: 0,
        missing_glyphs: 0,
        rtl: false,
        families: Vec::new(),
    };
    let mut font_ids = Vec::new();
    for run in buffer.layout_runs() {
        shaped.lines += 1;
        shaped.width = shaped.width.max(run.line_w);
        shaped.height = shaped.height.max(run.line_top + run.line_height);
        for glyph in run.glyphs {
            shaped.glyphs += 1;
            shaped.missing_glyphs += usize::from(glyph.glyph_id == 0);
            shaped.rtl |= glyph.level.is_rtl();
            shaped.left = shaped.left.min(glyph.x);
            shaped.right = shaped.right.max(glyph.x + glyph.w);
            if !font_ids.contains(&glyph.font_id) {
                font_ids.push(glyph.font_id);
            }
        }
    }
    shaped.buffer = buffer;
    if shaped.glyphs == 0 {
        shaped.left = 0.0;
    }
    for id in font_ids {
        let family = fs
            .db()
            .face(id)
            .and_then(|face| face.families.first())
            .map(|(name, _)| name.clone());
        if let Some(family) = family.filter(|f| !shaped.families.contains(f)) {
            shaped.families.push(family);
        }
    }
    shaped
}

/// What to fit: a layer's text, its box and the size range.
pub struct FitRequest<'a> {
    pub layer: &'static str,
    pub text: &'a str,
    pub width: f32,
    pub height: f32,
    pub max_size: f32,
    pub min_size: f32,
    /// Padding kept clear inside the box on each side, in ems (horizontal, vertical).
    pub pad_em: (f32, f32),
}

impl FitRequest<'_> {
    /// The box the text itself may take at a size.
    fn inner(&self, size: f32) -> (f32, f32) {
        let (px, py) = self.pad_em;
        (
            (self.width - 2.0 * px * size).max(0.0),
            (self.height - 2.0 * py * size).max(0.0),
        )
    }
}

/// The largest size in `[min_size, max_size]` at which the text fits its box.
pub fn fit(
    fs: &mut FontSystem,
    request: &FitRequest<'_>,
    style: &TextStyle<'_>,
) -> Result<Shaped, ComposeError> {
    let (layer, text, min_size) = (request.layer, request.text, request.min_size);
    let max_size = request.max_size.max(min_size);
    let mut try_size = |size: f32| {
        let (width, height) = request.inner(size);
        let shaped = shape(fs, text, style, size, width);
        let fits = width > 0.0 && shaped.fits(width, height);
        (fits, shaped)
    };
    let (fits, at_max) = try_size(max_size);
    if fits {
        return Ok(at_max);
    }
    let (fits, mut best) = try_size(min_size);
    if !fits {
        return Err(ComposeError::TextDoesNotFit { layer, min_size });
    }
    let (mut lo, mut hi) = (min_size, max_size);
    loop {
        // Quarter-pixel steps; `lo` always fits and `hi` never does.
        let mid = ((lo + hi) / 2.0 * 4.0).floor() / 4.0;
        if mid <= lo || mid >= hi {
            break;
        }
        let (fits, candidate) = try_size(mid);
        if fits {
            lo = mid;
            best = candidate;
        } else {
            hi = mid;
        }
    }
    Ok(best)
}

/// Draws shaped text with its box's top-left at (`x`, `y`), blending each glyph's coverage.
pub fn draw(
    canvas: &mut image::RgbaImage,
    fs: &mut FontSystem,
    swash: &mut SwashCache,
    shaped: &Shaped,
    (x, y): (f32, f32),
    colour: Rgb,
) {
    let base = Color::rgb(colour.0, colour.1, colour.2);
    for run in shaped.buffer.layout_runs() {
        for glyph in run.glyphs {
            let physical = glyph.physical((x, y + run.line_y), 1.0);
            let (gx, gy) = (i64::from(physical.x), i64::from(physical.y));
            swash.with_pixels(fs, physical.cache_key, base, |px, py, c| {
                let rgb = Rgb(c.r(), c.g(), c.b());
                blend_pixel(canvas, gx + i64::from(px), gy + i64::from(py), rgb, c.a());
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::compositor::fonts::FontLibrary;

    fn style(family: &str) -> TextStyle<'_> {
        TextStyle {
            family,
            bold: false,
            align: HAlign::Start,
            wrap: true,
            line_height: 1.2,
        }
    }

    fn request<'a>(text: &'a str, width: f32, height: f32) -> FitRequest<'a> {
        FitRequest {
            layer: "headline",
            text,
            width,
            height,
            max_size: 80.0,
            min_size: 10.0,
            pad_em: (0.0, 0.0),
        }
    }

    #[test]
    fn wraps_at_words_within_the_box() {
        let mut fs = FontLibrary::bundled().font_system();
        let one = shape(
            &mut fs,
            "Fresh coffee every morning",
            &style("DejaVu Sans"),
            20.0,
            1000.0,
        );
        assert_eq!(one.lines, 1);
        let wrapped = shape(
            &mut fs,
            "Fresh coffee every morning",
            &style("DejaVu Sans"),
            20.0,
            120.0,
        );
        assert!(wrapped.lines >= 2, "{}", wrapped.lines);
        assert!(wrapped.width <= 120.0);
        assert!((wrapped.height - 24.0 * wrapped.lines as f32).abs() < 0.01);
        assert_eq!(wrapped.missing_glyphs, 0);
    }

    #[test]
    fn kerning_tightens_av() {
        let mut fs = FontLibrary::bundled().font_system();
        let st = style("DejaVu Sans");
        let pair = shape(&mut fs, "AV", &st, 100.0, 1000.0).width;
        let apart = shape(&mut fs, "A", &st, 100.0, 1000.0).width
            + shape(&mut fs, "V", &st, 100.0, 1000.0).width;
        assert!(pair < apart - 1.0, "{pair} vs {apart}");
    }

    #[test]
    fn fit_finds_the_largest_size_that_fits() {
        let mut fs = FontLibrary::bundled().font_system();
        let st = style("DejaVu Sans");
        let req = request("Summer sale on every pair of shoes", 300.0, 100.0);
        let fitted = fit(&mut fs, &req, &st).unwrap();
        assert!(fitted.width <= 300.0 && fitted.height <= 100.0);
        assert!(fitted.size > 10.0 && fitted.size < 80.0);
        // A quarter pixel larger does not fit.
        let bigger = shape(&mut fs, req.text, &st, fitted.size + 0.25, 300.0);
        assert!(!bigger.fits(300.0, 100.0));
        // A short text in a big box gets the maximum.
        let short = fit(&mut fs, &request("Hi", 1000.0, 1000.0), &st).unwrap();
        assert_eq!(short.size, 80.0);
    }

    #[test]
    fn fit_fails_naming_the_layer_when_the_minimum_overflows() {
        let mut fs = FontLibrary::bundled().font_system();
        let long = "word ".repeat(100);
        let err = fit(&mut fs, &request(&long, 100.0, 20.0), &style("DejaVu Sans")).unwrap_err();
        assert!(
            matches!(err, ComposeError::TextDoesNotFit { layer: "headline", min_size } if min_size == 10.0)
        );
        assert!(err.to_string().contains("headline") && err.to_string().contains("10"));
        // One word wider than the box cannot be wrapped, so it must shrink or fail.
        let err = fit(
            &mut fs,
            &request("Supercalifragilistic", 40.0, 400.0),
            &style("DejaVu Sans"),
        );
        assert!(err.is_err());
    }

    #[test]
    fn arabic_in_a_font_without_it_falls_back_to_dejavu_sans() {
        let mut fs = FontLibrary::bundled().font_system();
        let text = "تخفيضات الصيف على كل شيء";
        let shaped = shape(&mut fs, text, &style("DejaVu Serif"), 32.0, 1000.0);
        assert!(shaped.glyphs > 10);
        assert_eq!(shaped.missing_glyphs, 0);
        assert!(shaped.rtl);
        assert!(
            shaped.families.iter().any(|f| f == "DejaVu Sans"),
            "{:?}",
            shaped.families
        );
        // Right to left with natural alignment: the line sits at the right of the box.
        assert!((shaped.right - 1000.0).abs() < 1.0, "{}", shaped.right);
        let latin = shape(&mut fs, "Summer", &style("DejaVu Serif"), 32.0, 1000.0);
        assert_eq!(latin.families, vec!["DejaVu Serif"]);
        assert!(!latin.rtl);
    }

    #[test]
    fn hebrew_shapes_right_to_left_without_tofu() {
        let mut fs = FontLibrary::bundled().font_system();
        let shaped = shape(&mut fs, "מבצע קיץ", &style("DejaVu Sans"), 32.0, 500.0);
        assert!(shaped.rtl && shaped.missing_glyphs == 0 && shaped.glyphs >= 7);
    }

    #[test]
    fn drawing_blends_coverage() {
        let mut fs = FontLibrary::bundled().font_system();
        let mut swash = SwashCache::new();
        let shaped = shape(&mut fs, "Hello", &style("DejaVu Sans"), 40.0, 200.0);
        let mut canvas = image::RgbaImage::from_pixel(200, 60, image::Rgba([255; 4]));
        draw(
            &mut canvas,
            &mut fs,
            &mut swash,
            &shaped,
            (0.0, 0.0),
            Rgb::BLACK,
        );
        let values: Vec<u8> = canvas.pixels().map(|p| p.0[0]).collect();
        assert!(values.contains(&0), "solid ink");
        assert!(
            values.iter().any(|&v| v > 20 && v < 235),
            "anti-aliased edges"
        );
        assert!(canvas.pixels().all(|p| p.0[3] == 255 && p.0[0] == p.0[2]));
    }
}

//! The compositor end to end: every format in the table renders at its exact size with text
//! inside the safe area and at WCAG AA contrast, even over a busy mid-grey photo and with a
//! low-contrast brand colour; right-to-left text falls back to DejaVu Sans with no .notdef
//! glyphs; a headline too long for a 320x50 banner fails naming the layer; the encoders round
//! trip; and a few renders match committed golden PNGs (`ADFORGE_UPDATE_GOLDEN=1` rewrites
//! them, under tests/fixtures/compositor/golden/).

use std::path::PathBuf;
use std::sync::OnceLock;

use adforge::media::compositor::{
    Background, BrandKit, ComposeError, Compositor, CreativeSpec, Fit, FontLibrary, OutputFormat,
    ProductImage, Rect, Rendered, Rgb, aa_minimum, contrast, encode,
};
use adforge::media::formats::{self, Format};
use image::{DynamicImage, Rgba, RgbaImage};

fn compositor() -> &'static Compositor {
    static COMPOSITOR: OnceLock<Compositor> = OnceLock::new();
    COMPOSITOR.get_or_init(|| Compositor::new(FontLibrary::bundled()))
}

fn format(id: &str) -> &'static Format {
    formats::find(id).unwrap()
}

/// A deterministic pseudo-random byte stream (64-bit LCG).
fn noise(seed: u64) -> impl FnMut() -> u8 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 56) as u8
    }
}

/// A busy, low-contrast photo stand-in: mid grey with strong per-pixel noise and blotches.
fn busy_grey() -> DynamicImage {
    static IMAGE: OnceLock<DynamicImage> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let mut next = noise(7);
            let img = RgbaImage::from_fn(900, 900, |x, y| {
                let blotch = if (x / 60 + y / 45) % 3 == 0 { 40 } else { 0 };
                let v = (88 + blotch + i32::from(next() % 80)).clamp(0, 255) as u8;
                Rgba([v, v.saturating_add(next() % 12), v, 255])
            });
            DynamicImage::ImageRgba8(img)
        })
        .clone()
}

/// A round logo with a transparent background.
fn logo() -> DynamicImage {
    let img = RgbaImage::from_fn(200, 200, |x, y| {
        let (dx, dy) = (x as f32 - 99.5, y as f32 - 99.5);
        let d = (dx * dx + dy * dy).sqrt();
        let a = (95.0 - d).clamp(0.0, 1.0);
        let inner = if d < 55.0 {
            [255, 255, 255]
        } else {
            [214, 40, 57]
        };
        Rgba([inner[0], inner[1], inner[2], (a * 255.0) as u8])
    });
    DynamicImage::ImageRgba8(img)
}

/// A product shot stand-in: a tall bottle shape on a transparent background.
fn product() -> DynamicImage {
    let img = RgbaImage::from_fn(300, 500, |x, y| {
        let inside = (x > 100 && x < 200 && y > 40) || (x > 130 && x < 170);
        if inside {
            Rgba([30, 120 + (y / 5) as u8, 80, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    DynamicImage::ImageRgba8(img)
}

fn spec(headline: &str, background: Background) -> CreativeSpec {
    CreativeSpec {
        headline: headline.to_string(),
        body: Some("Cold brew, roasted in small batches and delivered to your door.".to_string()),
        cta: Some("Shop now".to_string()),
        background,
        product: Some(ProductImage {
            image: product(),
            fit: Fit::Contain,
        }),
        logo: Some(logo()),
        brand: BrandKit {
            primary: Rgb(0x1A, 0x73, 0xE8),
            secondary: Rgb::WHITE,
            // A grey with little contrast on a mid-grey photo: the compositor must adjust.
            text: Some(Rgb(0x90, 0x90, 0x90)),
            font: None,
            font_data: None,
        },
    }
}

fn safe_area(f: &Format) -> Rect {
    let (x, y, w, h) = f.safe_zone.text_area(f.width, f.height);
    Rect::new(x, y, w, h)
}

/// Checks the invariants every render keeps.
fn check_render(f: &Format, rendered: &Rendered) {
    assert_eq!(rendered.image.dimensions(), (f.width, f.height), "{}", f.id);
    let bounds = Rect::new(0, 0, f.width, f.height);
    assert!(rendered.layer("headline").is_some() || rendered.layer("logo").is_some());
    for layer in &rendered.layers {
        assert!(bounds.contains(&layer.rect), "{}: {layer:?}", f.id);
        let Some(size) = layer.font_size else {
            continue;
        };
        let text = layer.text.as_ref().unwrap();
        assert!(
            safe_area(f).contains(&layer.rect),
            "{} {}: {:?}",
            f.id,
            layer.name,
            layer.rect
        );
        let bold = layer.name != "body";
        assert_eq!(
            text.min_contrast,
            aa_minimum(size, bold),
            "{} {}",
            f.id,
            layer.name
        );
        let contrast = layer.contrast.unwrap();
        assert!(
            contrast >= text.min_contrast,
            "{} {}: contrast {contrast} below {}",
            f.id,
            layer.name,
            text.min_contrast
        );
        assert_eq!(text.missing_glyphs, 0, "{} {}", f.id, layer.name);
        assert!(size >= 10.0, "{} {}: {size}", f.id, layer.name);
    }
}

#[test]
fn every_format_renders_at_its_size_with_text_safe_and_readable() {
    let backgrounds = [
        Background::Image(busy_grey()),
        Background::Gradient {
            from: Rgb(0xFD, 0xE6, 0x8A),
            to: Rgb(0x1E, 0x3A, 0x8A),
            angle_deg: 135.0,
        },
        Background::Solid(Rgb(0x80, 0x80, 0x80)),
    ];
    for id in formats::ids() {
        let f = format(id);
        for background in &backgrounds {
            let s = spec("Fresh coffee, every morning", background.clone());
            let rendered = compositor()
                .render(&s, f)
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            check_render(f, &rendered);
            if let Background::Solid(bg) = background {
                // On a flat background the reported ratio is the plain colour-pair ratio.
                for layer in rendered.layers.iter().filter(|l| l.name != "cta") {
                    let Some(text) = &layer.text else { continue };
                    let expected = if text.scrim {
                        None
                    } else {
                        Some(contrast(text.colour, *bg))
                    };
                    if let (Some(expected), Some(got)) = (expected, layer.contrast) {
                        assert!(
                            (expected - got).abs() < 1e-3,
                            "{id} {}: {got} vs {expected}",
                            layer.name
                        );
                    }
                }
            }
            let names: Vec<&str> = rendered.layers.iter().map(|l| l.name).collect();
            assert!(names.contains(&"logo"), "{id}: {names:?}");
            if f.medium != formats::Medium::Logo {
                assert!(
                    names.contains(&"headline") && names.contains(&"cta"),
                    "{id}: {names:?}"
                );
            }
        }
    }
}

#[test]
fn a_busy_mid_grey_photo_gets_a_scrim_or_a_changed_colour_and_passes_aa() {
    let f = format("meta_feed_square");
    let rendered = compositor()
        .render(&spec("Fresh coffee", Background::Image(busy_grey())), f)
        .unwrap();
    check_render(f, &rendered);
    for name in ["headline", "body"] {
        let layer = rendered.layer(name).unwrap();
        let text = layer.text.as_ref().unwrap();
        // The brand grey fails on this photo; black or white alone fails on its noise too.
        assert!(text.scrim, "{name}: {text:?}");
        assert_ne!(text.colour, Rgb(0x90, 0x90, 0x90));
    }
    // The call to action sits on its solid button: no scrim needed, white on blue passes.
    let cta = rendered.layer("cta").unwrap();
    assert!(!cta.text.as_ref().unwrap().scrim);
    assert!(cta.contrast.unwrap() >= 4.5);
}

#[test]
fn stories_keep_text_out_of_the_top_14_and_bottom_20_percent() {
    let f = format("meta_stories");
    let rendered = compositor()
        .render(&spec("Fresh coffee", Background::Image(busy_grey())), f)
        .unwrap();
    for layer in rendered.layers.iter().filter(|l| l.font_size.is_some()) {
        assert!(
            layer.rect.y >= 269 && layer.rect.bottom() <= 1536,
            "{layer:?}"
        );
    }
}

#[test]
fn banners_put_logo_headline_and_cta_side_by_side() {
    for id in ["iab_leaderboard", "iab_mobile_banner", "iab_billboard"] {
        let rendered = compositor()
            .render(
                &spec("Fresh coffee daily", Background::Image(busy_grey())),
                format(id),
            )
            .unwrap();
        let rect = |name| rendered.layer(name).unwrap().rect;
        assert!(rect("logo").right() <= rect("headline").x, "{id}");
        assert!(rect("headline").right() <= rect("cta").x, "{id}");
    }
}

#[test]
fn right_to_left_text_in_a_font_without_arabic_falls_back_without_tofu() {
    let mut s = spec("تخفيضات الصيف على كل شيء", Background::Image(busy_grey()));
    s.body = Some("מבצע קיץ על כל המוצרים בחנות".to_string());
    s.cta = Some("اشتر الآن".to_string());
    s.brand.font = Some("DejaVu Serif".to_string());
    for id in ["meta_feed_square", "meta_link", "iab_medium_rectangle"] {
        let f = format(id);
        let rendered = compositor().render(&s, f).unwrap();
        check_render(f, &rendered);
        for name in ["headline", "body", "cta"] {
            let text = rendered.layer(name).unwrap().text.clone().unwrap();
            assert!(
                text.right_to_left && text.glyphs > 3,
                "{id} {name}: {text:?}"
            );
            assert_eq!(text.missing_glyphs, 0, "{id} {name}");
            // DejaVu Serif has no Arabic or Hebrew: the glyphs come from DejaVu Sans.
            assert!(
                text.families.iter().any(|f| f == "DejaVu Sans"),
                "{id} {name}: {text:?}"
            );
        }
    }
}

#[test]
fn a_headline_too_long_for_a_mobile_banner_fails_naming_it() {
    let long = "An unbelievably long headline that keeps on going ".repeat(6);
    let err = compositor()
        .render(
            &spec(&long, Background::Solid(Rgb::WHITE)),
            format("iab_mobile_banner"),
        )
        .unwrap_err();
    match &err {
        ComposeError::TextDoesNotFit { layer, min_size } => {
            assert_eq!(*layer, "headline");
            assert_eq!(*min_size, 10.0);
        }
        other => panic!("expected TextDoesNotFit, got {other}"),
    }
    assert!(err.to_string().contains("headline"), "{err}");
    // The same text fits a full-screen story.
    compositor()
        .render(
            &spec(&long, Background::Solid(Rgb::WHITE)),
            format("meta_stories"),
        )
        .unwrap();
}

#[test]
fn bad_input_is_refused_naming_the_value() {
    let mut s = spec("  ", Background::Solid(Rgb::WHITE));
    let err = compositor()
        .render(&s, format("iab_medium_rectangle"))
        .unwrap_err();
    assert!(
        matches!(err, ComposeError::EmptyText { layer: "headline" }),
        "{err}"
    );
    s.headline = "x".repeat(501);
    let err = compositor()
        .render(&s, format("iab_medium_rectangle"))
        .unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    s.headline = "Hello".to_string();
    s.brand.font = Some("Comic Sans".to_string());
    let err = compositor()
        .render(&s, format("iab_medium_rectangle"))
        .unwrap_err();
    assert!(err.to_string().contains("Comic Sans"), "{err}");
    s.brand.font = None;
    s.brand.font_data = Some(b"not a font".to_vec());
    let err = compositor()
        .render(&s, format("iab_medium_rectangle"))
        .unwrap_err();
    assert!(matches!(err, ComposeError::InvalidFont { .. }), "{err}");
}

#[test]
fn a_brand_font_given_as_bytes_is_used() {
    let serif = include_bytes!("../../assets/fonts/DejaVuSerif-Bold.ttf").to_vec();
    let mut s = spec("Fresh coffee", Background::Solid(Rgb::WHITE));
    s.brand.font_data = Some(serif);
    let rendered = compositor().render(&s, format("meta_feed_square")).unwrap();
    let text = rendered.layer("headline").unwrap().text.clone().unwrap();
    assert_eq!(text.families, vec!["DejaVu Serif"]);
}

#[test]
fn logo_formats_draw_the_logo_or_a_wordmark() {
    let f = format("google_logo_landscape");
    let with_logo = compositor()
        .render(&spec("Acme Coffee", Background::Solid(Rgb::WHITE)), f)
        .unwrap();
    assert_eq!(with_logo.layers.len(), 1);
    assert!(with_logo.layers[0].font_size.is_none());
    let mut s = spec("Acme Coffee", Background::Solid(Rgb::WHITE));
    s.logo = None;
    let wordmark = compositor().render(&s, f).unwrap();
    check_render(f, &wordmark);
    let layer = wordmark.layer("logo").unwrap();
    assert!(layer.font_size.unwrap() > 40.0, "{layer:?}");
    // Brand blue on white passes, so the wordmark is in the brand colour.
    assert_eq!(layer.text.as_ref().unwrap().colour, Rgb(0x1A, 0x73, 0xE8));
}

#[test]
fn encodes_png_with_metadata_jpeg_and_webp() {
    let f = format("iab_medium_rectangle");
    let rendered = compositor()
        .render(&spec("Fresh coffee", Background::Image(busy_grey())), f)
        .unwrap();
    let png = encode(
        &rendered.image,
        OutputFormat::Png,
        &[("seed", "1234"), ("model", "sd-turbo")],
    )
    .unwrap();
    let decoded = image::load_from_memory(&png).unwrap().to_rgba8();
    assert_eq!(decoded, rendered.image);
    let reader = png::Decoder::new(std::io::Cursor::new(&png))
        .read_info()
        .unwrap();
    let text: Vec<(String, String)> = reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .map(|c| (c.keyword.clone(), c.text.clone()))
        .collect();
    assert!(
        text.contains(&("seed".to_string(), "1234".to_string())),
        "{text:?}"
    );
    for format in [OutputFormat::Jpeg { quality: 85 }, OutputFormat::Webp] {
        let bytes = encode(&rendered.image, format, &[]).unwrap();
        let back = image::load_from_memory(&bytes).unwrap();
        assert_eq!((back.width(), back.height()), (300, 250), "{format:?}");
    }
}

/// Golden renders: (name, format id, headline, downscale factor).
const GOLDEN: [(&str, &str, &str, u32); 4] = [
    (
        "medium_rectangle",
        "iab_medium_rectangle",
        "Fresh coffee, every morning",
        1,
    ),
    (
        "mobile_banner",
        "iab_mobile_banner",
        "Fresh coffee daily",
        1,
    ),
    (
        "feed_square",
        "meta_feed_square",
        "Fresh coffee, every morning",
        3,
    ),
    ("link_arabic", "meta_link", "تخفيضات الصيف على كل شيء", 3),
];

fn golden_spec(headline: &str) -> CreativeSpec {
    let mut s = spec(
        headline,
        Background::Gradient {
            from: Rgb(0xFF, 0xF3, 0xE0),
            to: Rgb(0xE8, 0x9F, 0x5A),
            angle_deg: 160.0,
        },
    );
    s.brand.text = Some(Rgb(0x3E, 0x27, 0x23));
    s
}

#[test]
fn renders_match_the_golden_images() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compositor/golden");
    let update = std::env::var("ADFORGE_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    for (name, id, headline, factor) in GOLDEN {
        let f = format(id);
        let rendered = compositor().render(&golden_spec(headline), f).unwrap();
        check_render(f, &rendered);
        let mut image = rendered.image;
        if factor > 1 {
            let (w, h) = (f.width / factor, f.height / factor);
            image = image::imageops::resize(&image, w, h, image::imageops::FilterType::Triangle);
        }
        let path = dir.join(format!("{name}.png"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, encode(&image, OutputFormat::Png, &[]).unwrap()).unwrap();
            continue;
        }
        let golden = image::open(&path)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; run with ADFORGE_UPDATE_GOLDEN=1 to write it",
                    path.display()
                )
            })
            .to_rgba8();
        assert_eq!(golden.dimensions(), image.dimensions(), "{name}");
        let (mut sum, mut worst) = (0u64, 0u8);
        for (a, b) in image.as_raw().iter().zip(golden.as_raw()) {
            let d = a.abs_diff(*b);
            sum += u64::from(d);
            worst = worst.max(d);
        }
        let mean = sum as f64 / image.as_raw().len() as f64;
        assert!(
            mean < 1.0 && worst <= 64,
            "{name}: mean difference {mean:.3} levels (limit 1), largest {worst} (limit 64); \
             if the change is intended, rerun with ADFORGE_UPDATE_GOLDEN=1 and review the images"
        );
    }
}

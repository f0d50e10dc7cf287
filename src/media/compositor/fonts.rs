//! Fonts for the compositor: the `FontLibrary` of faces a `Compositor` starts with (DejaVu Sans
//! and DejaVu Serif, regular and bold, compiled in from `assets/fonts`), and the per-render
//! brand fonts a spec may carry as bytes. DejaVu Sans is the fallback for every glyph a brand
//! font lacks (it covers Latin, Greek, Cyrillic, Arabic and Hebrew; there is no CJK font).
//! Owns the font database; shaping and drawing live in `text`.

use std::sync::Arc;

use cosmic_text::{FontSystem, SwashCache};
use fontdb::{Database, Source};
use sha2::{Digest, Sha256};

use super::ComposeError;

/// The family every layer uses when the brand names none, and the fallback for missing glyphs.
pub const DEFAULT_FAMILY: &str = "DejaVu Sans";

const BUNDLED: [&[u8]; 4] = [
    include_bytes!("../../../assets/fonts/DejaVuSans.ttf"),
    include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf"),
    include_bytes!("../../../assets/fonts/DejaVuSerif.ttf"),
    include_bytes!("../../../assets/fonts/DejaVuSerif-Bold.ttf"),
];

/// Brand fonts given as bytes in specs are kept loaded for reuse, up to this many; past it the
/// font database is rebuilt from the library, which bounds its memory.
const MAX_SPEC_FONTS: usize = 16;

/// Rasterised glyphs kept between renders, at most; past it the cache is emptied.
const MAX_CACHED_GLYPHS: usize = 8192;

/// Font bytes larger than this are refused (the largest CJK fonts are about 20 MB).
pub const MAX_FONT_BYTES: usize = 32 << 20;

type FontBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// The font faces a compositor can set text in, by family name.
#[derive(Clone)]
pub struct FontLibrary {
    /// Each font file once, with the families it holds.
    files: Vec<(Vec<String>, FontBytes)>,
}

impl std::fmt::Debug for FontLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FontLibrary")
            .field("families", &self.families())
            .finish()
    }
}

/// Checks that `bytes` are a font the compositor can set text in (within [`MAX_FONT_BYTES`]);
/// answers its first family name.
pub fn font_family(bytes: Vec<u8>) -> Result<String, ComposeError> {
    FontLibrary { files: Vec::new() }.add_font(bytes)
}

impl FontLibrary {
    /// DejaVu Sans and DejaVu Serif, regular and bold.
    pub fn bundled() -> Self {
        let files = BUNDLED
            .into_iter()
            .map(|bytes| {
                let bytes: FontBytes = Arc::new(bytes);
                (family_names(&bytes), bytes)
            })
            .collect();
        FontLibrary { files }
    }

    /// Adds a TrueType or OpenType font (or collection) and returns its family name, the name
    /// a `BrandKit::font` refers to it by.
    pub fn add_font(&mut self, bytes: Vec<u8>) -> Result<String, ComposeError> {
        if bytes.len() > MAX_FONT_BYTES {
            return Err(ComposeError::InvalidFont {
                reason: format!(
                    "font is {} bytes, over the limit of {MAX_FONT_BYTES}",
                    bytes.len()
                ),
            });
        }
        let bytes: FontBytes = Arc::new(bytes);
        let families = family_names(&bytes);
        let first = families.first().cloned().ok_or_else(not_a_font)?;
        self.files.push((families, bytes));
        Ok(first)
    }

    /// The family names, sorted, each once.
    pub fn families(&self) -> Vec<String> {
        let mut names: Vec<String> = self.files.iter().flat_map(|(f, _)| f.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// The library's spelling of a family name, matched ignoring ASCII case.
    pub fn family(&self, name: &str) -> Option<&str> {
        self.files
            .iter()
            .flat_map(|(families, _)| families)
            .find(|f| f.eq_ignore_ascii_case(name))
            .map(String::as_str)
    }

    /// A font system holding this library's faces and nothing from the host, so renders are
    /// the same on every machine.
    pub(super) fn font_system(&self) -> FontSystem {
        let mut db = Database::new();
        for (_, bytes) in &self.files {
            db.load_font_source(Source::Binary(bytes.clone()));
        }
        db.set_sans_serif_family(DEFAULT_FAMILY);
        FontSystem::new_with_locale_and_db("en-US".to_string(), db)
    }
}

fn not_a_font() -> ComposeError {
    ComposeError::InvalidFont {
        reason: "the data is not a truetype or opentype font".to_string(),
    }
}

/// The family names of the faces in some font data (empty if it is not a font).
fn family_names(bytes: &FontBytes) -> Vec<String> {
    let mut db = Database::new();
    db.load_font_source(Source::Binary(bytes.clone()));
    let mut names: Vec<String> = db
        .faces()
        .filter_map(|face| face.families.first().map(|(name, _)| name.clone()))
        .collect();
    names.dedup();
    names
}

/// The font system a compositor shapes with, its glyph cache, and the brand fonts specs brought
/// as bytes. The cache is keyed by font ids, which a rebuilt font system hands out again: the
/// two are rebuilt together.
pub(super) struct FontState {
    pub system: FontSystem,
    pub swash: SwashCache,
    /// (sha-256 of the bytes, family name) of each spec font loaded, oldest first.
    spec_fonts: Vec<([u8; 32], String)>,
}

impl FontState {
    pub fn new(library: &FontLibrary) -> Self {
        FontState {
            system: library.font_system(),
            swash: SwashCache::new(),
            spec_fonts: Vec::new(),
        }
    }

    /// Empties the glyph cache once it holds more than `MAX_CACHED_GLYPHS`.
    pub fn trim_caches(&mut self) {
        if self.swash.image_cache.len() > MAX_CACHED_GLYPHS {
            self.swash.image_cache.clear();
        }
    }

    /// The family a brand's text is set in: its font bytes (loaded on first use), else its
    /// named family (which must be in the library), else DejaVu Sans.
    pub fn brand_family(
        &mut self,
        library: &FontLibrary,
        font: Option<&str>,
        font_data: Option<&[u8]>,
    ) -> Result<String, ComposeError> {
        if let Some(bytes) = font_data {
            return self.load_spec_font(library, bytes);
        }
        let Some(name) = font else {
            return Ok(DEFAULT_FAMILY.to_string());
        };
        library
            .family(name)
            .map(str::to_string)
            .ok_or_else(|| ComposeError::UnknownFont {
                family: name.to_string(),
                known: library.families().join(", "),
            })
    }

    fn load_spec_font(
        &mut self,
        library: &FontLibrary,
        bytes: &[u8],
    ) -> Result<String, ComposeError> {
        if bytes.len() > MAX_FONT_BYTES {
            return Err(ComposeError::InvalidFont {
                reason: format!(
                    "brand font is {} bytes, over the limit of {MAX_FONT_BYTES}",
                    bytes.len()
                ),
            });
        }
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        if let Some((_, family)) = self.spec_fonts.iter().find(|(h, _)| *h == hash) {
            return Ok(family.clone());
        }
        let data: FontBytes = Arc::new(bytes.to_vec());
        let family = family_names(&data)
            .into_iter()
            .next()
            .ok_or_else(not_a_font)?;
        if self.spec_fonts.len() >= MAX_SPEC_FONTS {
            tracing::debug!(
                "compositor: {MAX_SPEC_FONTS} brand fonts loaded, rebuilding the font system"
            );
            *self = FontState::new(library);
        }
        self.system.db_mut().load_font_source(Source::Binary(data));
        self.spec_fonts.push((hash, family.clone()));
        Ok(family)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::compositor::layout::HAlign;
    use crate::media::compositor::{Rgb, text};

    #[test]
    fn bundled_library_has_dejavu_sans_and_serif() {
        let library = FontLibrary::bundled();
        assert_eq!(library.families(), vec!["DejaVu Sans", "DejaVu Serif"]);
        assert_eq!(library.family("dejavu serif"), Some("DejaVu Serif"));
        let system = library.font_system();
        assert_eq!(system.db().len(), 4);
    }

    #[test]
    fn add_font_returns_the_family_and_refuses_garbage() {
        let mut library = FontLibrary { files: Vec::new() };
        let family = library.add_font(BUNDLED[2].to_vec()).unwrap();
        assert_eq!(family, "DejaVu Serif");
        let err = library.add_font(b"not a font".to_vec()).unwrap_err();
        assert!(
            err.to_string().contains("not a truetype or opentype font"),
            "{err}"
        );
    }

    #[test]
    fn brand_family_resolves_bytes_names_and_the_default() {
        let library = FontLibrary::bundled();
        let mut state = FontState::new(&library);
        assert_eq!(
            state.brand_family(&library, None, None).unwrap(),
            DEFAULT_FAMILY
        );
        let named = state
            .brand_family(&library, Some("DejaVu Serif"), None)
            .unwrap();
        assert_eq!(named, "DejaVu Serif");
        let err = state
            .brand_family(&library, Some("Comic Sans"), None)
            .unwrap_err();
        assert!(err.to_string().contains("comic sans") || err.to_string().contains("Comic Sans"));
        let before = state.system.db().len();
        for _ in 0..2 {
            let family = state
                .brand_family(&library, None, Some(BUNDLED[3]))
                .unwrap();
            assert_eq!(family, "DejaVu Serif");
        }
        // Loaded once, reused after.
        assert_eq!(state.system.db().len(), before + 1);
    }

    #[test]
    fn spec_fonts_are_bounded_by_rebuilding_system_and_cache_together() {
        let library = FontLibrary::bundled();
        let mut state = FontState::new(&library);
        let style = text::TextStyle {
            family: DEFAULT_FAMILY,
            bold: false,
            align: HAlign::Start,
            wrap: false,
            line_height: 1.2,
        };
        let shaped = text::shape(&mut state.system, "Hi", &style, 20.0, 100.0);
        let mut canvas = image::RgbaImage::new(100, 30);
        let (fs, swash) = (&mut state.system, &mut state.swash);
        text::draw(&mut canvas, fs, swash, &shaped, (0.0, 0.0), Rgb::BLACK);
        assert!(!state.swash.image_cache.is_empty());
        for i in 0..=MAX_SPEC_FONTS {
            // Trailing bytes make each a distinct font file to the hash; parsers ignore them.
            let mut bytes = BUNDLED[2].to_vec();
            bytes.extend_from_slice(&(i as u32).to_le_bytes());
            state.brand_family(&library, None, Some(&bytes)).unwrap();
            assert!(state.spec_fonts.len() <= MAX_SPEC_FONTS);
        }
        assert_eq!(state.spec_fonts.len(), 1);
        assert_eq!(state.system.db().len(), 4 + 1);
        assert!(state.swash.image_cache.is_empty());
    }
}

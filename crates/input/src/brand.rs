//! The brand kit and image fit as requests give them, and the text limit every layer shares.

use serde::{Deserialize, Serialize};

use crate::colour::Rgb;

/// Longest text a layer takes, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// How an image fills its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// Scaled to fit inside the slot, whole.
    Contain,
    /// Scaled to fill the slot, its centre cropped.
    Cover,
}

/// A brand kit as requests give it: colours as hex strings, a bundled font family by name.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandSpec {
    #[schema(value_type = String)]
    pub primary: Rgb,
    #[schema(value_type = String)]
    pub secondary: Rgb,
    #[schema(value_type = Option<String>)]
    pub text: Option<Rgb>,
    /// A bundled family: "DejaVu Sans" (default) or "DejaVu Serif".
    pub font: Option<String>,
}

/// The font families bundled with the compositor, the only ones a brand kit may name.
pub const BUNDLED_FONTS: [&str; 2] = ["DejaVu Sans", "DejaVu Serif"];

impl BrandSpec {
    /// Refuses a font family that is not bundled; the message follows the field name `font`.
    pub fn check_font(&self) -> Result<(), String> {
        match &self.font {
            Some(font) if !BUNDLED_FONTS.contains(&font.as_str()) => Err(format!(
                "`{font}` is not a bundled family ({})",
                BUNDLED_FONTS.join(", ")
            )),
            _ => Ok(()),
        }
    }
}

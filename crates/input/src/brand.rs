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

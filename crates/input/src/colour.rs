//! Colours as requests give them: the `Rgb` type (hex in JSON) and its WCAG 2.x relative
//! luminance. The compositor's contrast and ink choices build on these.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An sRGB colour, 8 bits a channel. In JSON it is a hex string, `"#1A73E8"` (`"#RGB"` and a
/// missing `#` are accepted on input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const BLACK: Rgb = Rgb(0, 0, 0);
    pub const WHITE: Rgb = Rgb(255, 255, 255);

    /// Parses `#RRGGBB`, `#RGB`, or either without the `#`.
    pub fn from_hex(text: &str) -> Option<Rgb> {
        let digits = text.strip_prefix('#').unwrap_or(text);
        if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |i: usize, n: usize| u8::from_str_radix(digits.get(i..i + n)?, 16).ok();
        match digits.len() {
            6 => Some(Rgb(channel(0, 2)?, channel(2, 2)?, channel(4, 2)?)),
            3 => {
                let short = |i| channel(i, 1).map(|v| v * 17);
                Some(Rgb(short(0)?, short(1)?, short(2)?))
            }
            _ => None,
        }
    }

    /// WCAG 2.x relative luminance, 0 (black) to 1 (white).
    pub fn luminance(self) -> f32 {
        relative_luminance(self.0, self.1, self.2)
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02X}{:02X}{:02X}", self.0, self.1, self.2)
    }
}

impl Serialize for Rgb {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rgb {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Rgb::from_hex(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "colour {text:?} is not a hex colour like \"#1A73E8\" or \"#FFF\""
            ))
        })
    }
}

impl utoipa::PartialSchema for Rgb {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$"))
            .description(Some("An sRGB colour as hex, e.g. \"#1A73E8\""))
            .examples(["#1A73E8"])
            .into()
    }
}

impl utoipa::ToSchema for Rgb {}

/// sRGB 8-bit value to linear light, by table (the WCAG formula; 0.04045 and WCAG's 0.03928
/// agree on every 8-bit value).
fn linear(v: u8) -> f32 {
    static TABLE: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0.0; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let c = i as f32 / 255.0;
            *slot = if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            };
        }
        t
    });
    table[usize::from(v)]
}

/// WCAG 2.x relative luminance of an sRGB colour.
pub fn relative_luminance(r: u8, g: u8, b: u8) -> f32 {
    0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
}

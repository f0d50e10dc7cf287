//! The JSON video spec (in the spirit of editly and Creatomate) and its validation. A spec is
//! parsed at the edge with the path of any error (`clips[1].layers[0].type: unknown variant`),
//! then checked against the limits here; only a [`VideoSpec`] that passed [`VideoSpec::check`]
//! reaches the renderer. Images, videos and audio are asset ids: resolving them to files is the
//! caller's job, so this module touches no store.

use serde::{Deserialize, Serialize};

use crate::brand::{BrandSpec, Fit, MAX_TEXT_CHARS};
use crate::colour::Rgb;

/// Frames per second a spec may ask for.
pub const MAX_FPS: u32 = 60;
/// Clips in one spec.
pub const MAX_CLIPS: usize = 50;
/// One clip's longest duration, seconds.
pub const MAX_CLIP_SECONDS: f64 = 120.0;
/// Layers in one clip (one of each kind).
pub const MAX_LAYERS: usize = 6;
/// Ken Burns zoom factors allowed.
pub const MAX_ZOOM: f64 = 4.0;
/// RIFE interpolation factors allowed.
pub const INTERPOLATION_FACTORS: [u32; 3] = [2, 4, 8];

/// A whole video: clips played in order, overlapping by their transitions.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoSpec {
    /// Output frames per second, 1 to 60 (default 30).
    #[serde(default = "default_fps")]
    pub fps: u32,
    pub clips: Vec<ClipSpec>,
    /// The brand kit for text, buttons and default gradients.
    pub brand: Option<BrandSpec>,
    /// An audio asset id, muxed as AAC and cut or padded to the video's length.
    pub audio: Option<String>,
    /// Render every `factor`-th frame and make the frames between with RIFE.
    pub interpolate: Option<Interpolate>,
    /// Render at this fraction of each format's size (drafts, previews); 0.1 to 1, default 1.
    pub scale: Option<f64>,
}

fn default_fps() -> u32 {
    30
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Interpolate {
    /// 2, 4 or 8.
    pub factor: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClipSpec {
    /// Seconds, more than 0 and at most 120.
    pub duration: f64,
    /// Default: the brand's gradient.
    pub background: Option<BackgroundSpec>,
    pub ken_burns: Option<KenBurns>,
    #[serde(default)]
    pub layers: Vec<LayerSpec>,
    /// The transition into the next clip (not on the last clip).
    pub transition: Option<TransitionSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum BackgroundSpec {
    Gradient {
        #[schema(value_type = Option<String>)]
        from: Option<Rgb>,
        #[schema(value_type = Option<String>)]
        to: Option<Rgb>,
        /// CSS convention: 0 bottom to top, 90 left to right (default 135).
        angle: Option<f32>,
    },
    Color {
        #[schema(value_type = String)]
        color: Rgb,
    },
    /// An image asset, cover-cropped to the frame.
    Image { asset: String },
    /// A video asset, cover-cropped, played from `start` seconds (held on its last frame).
    Video {
        asset: String,
        #[serde(default)]
        start: f64,
    },
}

/// A slow pan and zoom over the background: the view at the clip's start and at its end.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KenBurns {
    /// Zoom at the start, 1 (whole frame) to 4 (default 1).
    #[serde(default = "one")]
    pub zoom_from: f64,
    /// Zoom at the end (default 1.15).
    #[serde(default = "default_zoom_to")]
    pub zoom_to: f64,
    /// The view's centre at the start, as fractions of width and height (default centre).
    #[serde(default = "centre")]
    pub from: [f64; 2],
    #[serde(default = "centre")]
    pub to: [f64; 2],
}

fn one() -> f64 {
    1.0
}

fn default_zoom_to() -> f64 {
    1.15
}

fn centre() -> [f64; 2] {
    [0.5, 0.5]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    /// The headline (every clip with layers has one: the layout is built around it).
    Title,
    Body,
    /// The call-to-action button.
    Cta,
    Logo,
    /// A product image in the product slot.
    Image,
    /// A video clip in the product slot.
    Video,
}

/// One layer; which fields it takes depends on `type`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    #[serde(rename = "type")]
    pub kind: LayerKind,
    /// title, body and cta.
    pub text: Option<String>,
    /// logo, image and video: an asset id.
    pub asset: Option<String>,
    /// image: contain (default) or cover.
    pub fit: Option<Fit>,
    /// video: seconds into the clip to start from.
    pub start: Option<f64>,
    /// How the layer comes in (default none).
    pub enter: Option<Motion>,
    /// How the layer goes out (default none).
    pub exit: Option<Motion>,
    /// Seconds each of enter and exit takes (default 0.5).
    pub animation_duration: Option<f64>,
    /// Seconds after the clip starts before the layer enters (default 0).
    pub delay: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Motion {
    None,
    Fade,
    SlideUp,
    SlideDown,
    SlideLeft,
    SlideRight,
    /// Scales up from 60% while fading in (reversed on exit).
    Pop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    Crossfade,
    /// The next clip pushes the current one out.
    Slide,
    /// A hard edge sweeps the next clip in.
    Wipe,
    /// The current clip zooms in and fades into the next.
    Zoom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Left,
    Right,
    Up,
    Down,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionSpec {
    #[serde(rename = "type")]
    pub kind: TransitionKind,
    /// Seconds the two clips overlap (default 0.5); at most half of either clip.
    pub duration: Option<f64>,
    /// slide and wipe: where the next clip comes from moving towards (default left).
    pub direction: Option<Direction>,
}

impl TransitionSpec {
    pub fn seconds(&self) -> f64 {
        self.duration.unwrap_or(0.5)
    }
}

/// A spec that breaks a rule: the field's path and what is wrong, limit included.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError {
        field: field.into(),
        message: message.into(),
    }
}

/// Parses a spec from JSON; errors carry the path of the offending field.
pub fn parse(value: serde_json::Value) -> Result<VideoSpec, SpecError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "spec".into() } else { path };
        invalid(field, e.into_inner().to_string())
    })
}

fn finite_in(field: &str, value: f64, low: f64, high: f64) -> Result<(), SpecError> {
    if !value.is_finite() || value < low || value > high {
        return Err(invalid(
            field,
            format!("{value} is out of range {low} to {high}"),
        ));
    }
    Ok(())
}

impl VideoSpec {
    /// Seconds each clip starts at on the output timeline (clips overlap by transitions).
    pub fn clip_starts(&self) -> Vec<f64> {
        let mut starts = Vec::with_capacity(self.clips.len());
        let mut at = 0.0;
        for clip in &self.clips {
            starts.push(at);
            at += clip.duration - clip.transition.as_ref().map_or(0.0, |t| t.seconds());
        }
        starts
    }

    /// The video's length in seconds.
    pub fn seconds(&self) -> f64 {
        match (self.clip_starts().last(), self.clips.last()) {
            (Some(start), Some(clip)) => start + clip.duration,
            _ => 0.0,
        }
    }

    /// Frames in the output.
    pub fn frames(&self) -> u64 {
        (self.seconds() * f64::from(self.fps)).round().max(1.0) as u64
    }

    pub fn scale(&self) -> f64 {
        self.scale.unwrap_or(1.0)
    }

    /// Every asset id the spec refers to, with its field path and what it must be.
    pub fn assets(&self) -> Vec<AssetUse> {
        let mut uses = Vec::new();
        if let Some(audio) = &self.audio {
            uses.push(AssetUse::new("audio", audio, AssetKind::Audio));
        }
        for (i, clip) in self.clips.iter().enumerate() {
            match &clip.background {
                Some(BackgroundSpec::Image { asset }) => uses.push(AssetUse::new(
                    format!("clips[{i}].background.asset"),
                    asset,
                    AssetKind::Image,
                )),
                Some(BackgroundSpec::Video { asset, .. }) => uses.push(AssetUse::new(
                    format!("clips[{i}].background.asset"),
                    asset,
                    AssetKind::Video,
                )),
                _ => {}
            }
            for (j, layer) in clip.layers.iter().enumerate() {
                let kind = match layer.kind {
                    LayerKind::Logo | LayerKind::Image => AssetKind::Image,
                    LayerKind::Video => AssetKind::Video,
                    _ => continue,
                };
                if let Some(asset) = &layer.asset {
                    let field = format!("clips[{i}].layers[{j}].asset");
                    uses.push(AssetUse::new(field, asset, kind));
                }
            }
        }
        uses
    }

    /// Checks every limit; `max_frames` is the server's cap on output frames.
    pub fn check(&self, max_frames: u64) -> Result<(), SpecError> {
        if !(1..=MAX_FPS).contains(&self.fps) {
            return Err(invalid(
                "fps",
                format!("{} is out of range 1 to {MAX_FPS}", self.fps),
            ));
        }
        if self.clips.is_empty() || self.clips.len() > MAX_CLIPS {
            return Err(invalid(
                "clips",
                format!("{} clips given; 1 to {MAX_CLIPS} allowed", self.clips.len()),
            ));
        }
        if let Some(scale) = self.scale {
            finite_in("scale", scale, 0.1, 1.0)?;
        }
        if let Some(interpolate) = &self.interpolate
            && !INTERPOLATION_FACTORS.contains(&interpolate.factor)
        {
            return Err(invalid(
                "interpolate.factor",
                format!("{} is not one of 2, 4, 8", interpolate.factor),
            ));
        }
        if let Some(brand) = &self.brand {
            brand
                .check_font()
                .map_err(|problem| invalid("brand.font", problem))?;
        }
        for (i, clip) in self.clips.iter().enumerate() {
            let next = self.clips.get(i + 1);
            check_clip(clip, &format!("clips[{i}]"), next)?;
        }
        let frames = self.frames();
        if frames > max_frames {
            return Err(invalid(
                "clips",
                format!(
                    "the video is {:.2} s at {} fps, {frames} frames, over the limit of \
                     {max_frames} frames",
                    self.seconds(),
                    self.fps
                ),
            ));
        }
        Ok(())
    }
}

fn check_clip(clip: &ClipSpec, at: &str, next: Option<&ClipSpec>) -> Result<(), SpecError> {
    let duration = clip.duration;
    if !duration.is_finite() || duration <= 0.0 || duration > MAX_CLIP_SECONDS {
        return Err(invalid(
            format!("{at}.duration"),
            format!("{duration} s is out of range: more than 0 and at most {MAX_CLIP_SECONDS} s"),
        ));
    }
    if let Some(BackgroundSpec::Video { start, .. }) = &clip.background {
        finite_in(&format!("{at}.background.start"), *start, 0.0, 3600.0)?;
    }
    if let Some(BackgroundSpec::Gradient {
        angle: Some(angle), ..
    }) = &clip.background
    {
        finite_in(
            &format!("{at}.background.angle"),
            f64::from(*angle),
            -360.0,
            360.0,
        )?;
    }
    if let Some(kb) = &clip.ken_burns {
        finite_in(
            &format!("{at}.ken_burns.zoom_from"),
            kb.zoom_from,
            1.0,
            MAX_ZOOM,
        )?;
        finite_in(
            &format!("{at}.ken_burns.zoom_to"),
            kb.zoom_to,
            1.0,
            MAX_ZOOM,
        )?;
        for (name, point) in [("from", kb.from), ("to", kb.to)] {
            for (k, v) in point.iter().enumerate() {
                finite_in(&format!("{at}.ken_burns.{name}[{k}]"), *v, 0.0, 1.0)?;
            }
        }
    }
    match (&clip.transition, next) {
        (Some(_), None) => {
            return Err(invalid(
                format!("{at}.transition"),
                "the last clip has no next clip to transition into",
            ));
        }
        (Some(t), Some(next)) => {
            let limit = duration.min(next.duration) / 2.0;
            let seconds = t.seconds();
            if !seconds.is_finite() || seconds <= 0.0 || seconds > limit {
                return Err(invalid(
                    format!("{at}.transition.duration"),
                    format!(
                        "{seconds} s is out of range: more than 0 and at most half of either \
                         clip ({limit} s)"
                    ),
                ));
            }
        }
        _ => {}
    }
    check_layers(clip, at)
}

fn check_layers(clip: &ClipSpec, at: &str) -> Result<(), SpecError> {
    if clip.layers.len() > MAX_LAYERS {
        return Err(invalid(
            format!("{at}.layers"),
            format!("{} layers; at most {MAX_LAYERS}", clip.layers.len()),
        ));
    }
    let mut seen = Vec::new();
    for (j, layer) in clip.layers.iter().enumerate() {
        let field = format!("{at}.layers[{j}]");
        let slot = match layer.kind {
            LayerKind::Video => LayerKind::Image,
            kind => kind,
        };
        if seen.contains(&slot) {
            return Err(invalid(
                format!("{field}.type"),
                "a clip has at most one layer of each type (image and video share the product slot)",
            ));
        }
        seen.push(slot);
        check_layer(layer, &field, clip.duration)?;
    }
    if !clip.layers.is_empty() && !seen.contains(&LayerKind::Title) {
        return Err(invalid(
            format!("{at}.layers"),
            "a clip with layers needs a title layer (the layout is built around it)",
        ));
    }
    Ok(())
}

fn check_layer(layer: &LayerSpec, field: &str, clip_seconds: f64) -> Result<(), SpecError> {
    let texty = matches!(
        layer.kind,
        LayerKind::Title | LayerKind::Body | LayerKind::Cta
    );
    match (texty, &layer.text, &layer.asset) {
        (true, None, _) => return Err(invalid(format!("{field}.text"), "required")),
        (true, Some(text), _) => {
            let chars = text.trim().chars().count();
            if chars == 0 || chars > MAX_TEXT_CHARS {
                return Err(invalid(
                    format!("{field}.text"),
                    format!("{chars} characters; 1 to {MAX_TEXT_CHARS} allowed"),
                ));
            }
        }
        (false, _, None) => return Err(invalid(format!("{field}.asset"), "required")),
        (false, Some(_), _) => {
            return Err(invalid(
                format!("{field}.text"),
                "only title, body and cta layers take text",
            ));
        }
        (false, None, Some(_)) => {}
    }
    if texty && layer.asset.is_some() {
        return Err(invalid(
            format!("{field}.asset"),
            "only logo, image and video layers take an asset",
        ));
    }
    if layer.fit.is_some() && layer.kind != LayerKind::Image {
        return Err(invalid(
            format!("{field}.fit"),
            "only image layers take fit",
        ));
    }
    if let Some(start) = layer.start {
        if layer.kind != LayerKind::Video {
            return Err(invalid(
                format!("{field}.start"),
                "only video layers take start",
            ));
        }
        finite_in(&format!("{field}.start"), start, 0.0, 3600.0)?;
    }
    if let Some(d) = layer.animation_duration {
        finite_in(
            &format!("{field}.animation_duration"),
            d,
            0.0,
            clip_seconds / 2.0,
        )?;
    }
    if let Some(delay) = layer.delay {
        finite_in(&format!("{field}.delay"), delay, 0.0, clip_seconds)?;
    }
    Ok(())
}

/// What an asset must decode as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetKind {
    Image,
    Video,
    Audio,
}

/// One asset reference in a spec.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetUse {
    pub field: String,
    pub id: String,
    pub kind: AssetKind,
}

impl AssetUse {
    fn new(field: impl Into<String>, id: &str, kind: AssetKind) -> Self {
        AssetUse {
            field: field.into(),
            id: id.to_string(),
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> Result<VideoSpec, SpecError> {
        let spec = parse(value)?;
        spec.check(10_000)?;
        Ok(spec)
    }

    fn two_clips(transition: serde_json::Value) -> serde_json::Value {
        json!({"fps": 10, "clips": [
            {"duration": 2.0, "layers": [{"type": "title", "text": "Hi"}], "transition": transition},
            {"duration": 1.0}
        ]})
    }

    #[test]
    fn transitions_overlap_the_clips_they_join() {
        let s = spec(two_clips(json!({"type": "crossfade", "duration": 0.5}))).unwrap();
        assert_eq!(s.clip_starts(), vec![0.0, 1.5]);
        assert!((s.seconds() - 2.5).abs() < 1e-12);
        assert_eq!(s.frames(), 25);
    }

    #[test]
    fn errors_name_the_field_and_the_limit() {
        let cases = [
            (
                json!({"clips": [{"duration": 1, "layers": [{"type": "sparkle"}]}]}),
                "clips[0].layers[0].type",
                "unknown variant `sparkle`",
            ),
            (
                two_clips(json!({"type": "spin"})),
                "clips[0].transition.type",
                "unknown variant `spin`",
            ),
            (
                json!({"clips": [{"duration": -1}]}),
                "clips[0].duration",
                "at most 120",
            ),
            (
                json!({"clips": [{"duration": 1e9}]}),
                "clips[0].duration",
                "out of range",
            ),
            (
                json!({"fps": 60, "clips": [{"duration": 120}, {"duration": 120}]}),
                "clips",
                "over the limit of 10000 frames",
            ),
            (
                two_clips(json!({"type": "wipe", "duration": 0.9})),
                "clips[0].transition.duration",
                "at most half",
            ),
            (
                json!({"clips": [{"duration": 1, "layers": [{"type": "body", "text": "x"}]}]}),
                "clips[0].layers",
                "needs a title",
            ),
            (
                json!({"clips": [{"duration": 1, "layers": [{"type": "logo"}]}]}),
                "clips[0].layers[0].asset",
                "required",
            ),
            (
                json!({"clips": [{"duration": 1, "colour": "red"}]}),
                "clips[0].colour",
                "unknown field `colour`",
            ),
            (
                json!({"clips": [{"duration": 1}], "interpolate": {"factor": 3}}),
                "interpolate.factor",
                "not one of",
            ),
            (
                json!({"clips": [{"duration": 1, "ken_burns": {"zoom_to": 9}}]}),
                "clips[0].ken_burns.zoom_to",
                "1 to 4",
            ),
        ];
        for (value, field, needle) in cases {
            let err = spec(value).unwrap_err();
            assert_eq!(err.field, field, "{err}");
            assert!(err.message.contains(needle), "{err}");
        }
    }

    #[test]
    fn assets_are_listed_with_their_fields() {
        let s = spec(json!({"audio": "a1", "clips": [{"duration": 1,
            "background": {"type": "video", "asset": "v1"},
            "layers": [{"type": "title", "text": "T"}, {"type": "logo", "asset": "l1"}]}]}))
        .unwrap();
        let uses = s.assets();
        assert_eq!(uses.len(), 3);
        assert_eq!(uses[1].field, "clips[0].background.asset");
        assert_eq!(uses[2].kind, AssetKind::Image);
    }
}

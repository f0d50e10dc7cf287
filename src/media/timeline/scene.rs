//! A checked spec prepared for one format: each clip's background at the size its Ken Burns
//! needs, its layers drawn once by the compositor as sprites (texts fitted to the format's safe
//! area, inks chosen against the clip's first frame), and the motions that move them. Drawing a
//! clip at a moment is then only resampling and blending ([`super::frame`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use image::{DynamicImage, RgbaImage};

use super::RenderError;
use super::frame::{self, SpriteDraw, ease_in_out, ease_out};
use super::spec::{
    BackgroundSpec, ClipSpec, KenBurns, LayerKind, LayerSpec, Motion, TransitionSpec, VideoSpec,
};
use crate::media::compositor::{
    Background, BrandKit, Compositor, CreativeSpec, Fit, LayerSprite, ProductImage, Rect,
};
use crate::media::decoder::VideoDecoder;
use crate::media::formats::Format;

/// Seconds an enter or exit animation takes unless the layer says.
pub const DEFAULT_ANIMATION_SECONDS: f64 = 0.5;
/// How far a slide moves, as a fraction of the frame's height (up, down) or width.
const SLIDE_DISTANCE: f64 = 0.08;
/// A pop starts at this scale.
const POP_FROM: f64 = 0.6;

/// The images, videos and audio a spec refers to, by asset id, decoded or located by the
/// caller.
#[derive(Default)]
pub struct Inputs {
    pub images: HashMap<String, DynamicImage>,
    pub videos: HashMap<String, PathBuf>,
    pub audio: Option<PathBuf>,
}

impl Inputs {
    fn image(&self, id: &str) -> Result<&DynamicImage, RenderError> {
        self.images
            .get(id)
            .ok_or_else(|| RenderError::MissingAsset(id.to_string()))
    }

    fn video(&self, id: &str) -> Result<&PathBuf, RenderError> {
        self.videos
            .get(id)
            .ok_or_else(|| RenderError::MissingAsset(id.to_string()))
    }
}

/// Where a clip's background pixels come from.
pub enum Backdrop {
    /// Exactly the frame's size; no Ken Burns.
    Still(RgbaImage),
    /// The frame's aspect ratio, as large as the clip's largest zoom needs.
    Zoomable(RgbaImage),
    /// A video asset played from `start` seconds, cover-cropped to the frame.
    Video { path: PathBuf, start: f64 },
}

/// A video in the product slot.
pub struct VideoLayer {
    pub path: PathBuf,
    pub start: f64,
    pub rect: Rect,
    pub motion: LayerMotion,
}

/// How a layer enters and exits.
#[derive(Debug, Clone, Copy)]
pub struct LayerMotion {
    pub enter: Motion,
    pub exit: Motion,
    pub seconds: f64,
    pub delay: f64,
}

impl LayerMotion {
    fn of(layer: &LayerSpec) -> Self {
        LayerMotion {
            enter: layer.enter.unwrap_or(Motion::None),
            exit: layer.exit.unwrap_or(Motion::None),
            seconds: layer
                .animation_duration
                .unwrap_or(DEFAULT_ANIMATION_SECONDS),
            delay: layer.delay.unwrap_or(0.0),
        }
    }

    /// Where the layer is at `t` seconds into a clip of `duration`, in a frame of `size`.
    pub fn at(&self, t: f64, duration: f64, size: (u32, u32)) -> SpriteDraw {
        if t < self.delay {
            return SpriteDraw {
                opacity: 0.0,
                ..SpriteDraw::STILL
            };
        }
        let span = self.seconds.max(1e-6);
        let entering = (t - self.delay) / span;
        let leaving = (t - (duration - self.seconds)) / span;
        if self.enter != Motion::None && entering < 1.0 {
            motion_draw(self.enter, 1.0 - ease_out(entering), size, true)
        } else if self.exit != Motion::None && leaving > 0.0 {
            motion_draw(self.exit, ease_out(leaving), size, false)
        } else {
            SpriteDraw::STILL
        }
    }
}

/// `away` is 0 where the layer rests and 1 where it is gone. An entering slide comes from the
/// side opposite its direction; a leaving one goes on towards it.
fn motion_draw(motion: Motion, away: f64, (w, h): (u32, u32), entering: bool) -> SpriteDraw {
    let (w, h) = (f64::from(w), f64::from(h));
    let towards = if entering { -1.0 } else { 1.0 };
    let faded = SpriteDraw {
        opacity: 1.0 - away,
        ..SpriteDraw::STILL
    };
    match motion {
        Motion::None => SpriteDraw::STILL,
        Motion::Fade => faded,
        Motion::SlideUp => SpriteDraw {
            dy: -towards * away * SLIDE_DISTANCE * h,
            ..faded
        },
        Motion::SlideDown => SpriteDraw {
            dy: towards * away * SLIDE_DISTANCE * h,
            ..faded
        },
        Motion::SlideLeft => SpriteDraw {
            dx: -towards * away * SLIDE_DISTANCE * w,
            ..faded
        },
        Motion::SlideRight => SpriteDraw {
            dx: towards * away * SLIDE_DISTANCE * w,
            ..faded
        },
        Motion::Pop => SpriteDraw {
            scale: 1.0 - (1.0 - POP_FROM) * away,
            ..faded
        },
    }
}

/// One clip ready to draw.
pub struct Clip {
    pub start: f64,
    pub duration: f64,
    pub backdrop: Backdrop,
    pub ken_burns: Option<KenBurns>,
    pub sprites: Vec<(LayerSprite, LayerMotion)>,
    pub video_layer: Option<VideoLayer>,
    pub transition: Option<TransitionSpec>,
}

/// Video frames a clip needs at one moment, fetched in order before frames are drawn in
/// parallel.
#[derive(Default)]
pub struct Fetched {
    pub background: Option<RgbaImage>,
    pub layer: Option<RgbaImage>,
}

impl Clip {
    /// The clip at `t` seconds from its start.
    pub fn draw(&self, t: f64, size: (u32, u32), fetched: &Fetched) -> RgbaImage {
        let progress = ease_in_out(t / self.duration);
        let view = |base: &RgbaImage| match &self.ken_burns {
            Some(kb) => {
                let zoom = kb.zoom_from + (kb.zoom_to - kb.zoom_from) * progress;
                let lerp = |k: usize| kb.from[k] + (kb.to[k] - kb.from[k]) * progress;
                frame::ken_burns_view(base, zoom, [lerp(0), lerp(1)], size)
            }
            None => base.clone(),
        };
        let mut canvas = match (&self.backdrop, &fetched.background) {
            (Backdrop::Still(image), _) => image.clone(),
            (Backdrop::Zoomable(base), _) => view(base),
            (Backdrop::Video { .. }, Some(image)) => view(image),
            (Backdrop::Video { .. }, None) => {
                RgbaImage::from_pixel(size.0, size.1, [0, 0, 0, 255].into())
            }
        };
        if let (Some(layer), Some(image)) = (&self.video_layer, &fetched.layer) {
            let sprite = LayerSprite {
                name: "product",
                x: layer.rect.x,
                y: layer.rect.y,
                image: image.clone(),
            };
            frame::draw_sprite(
                &mut canvas,
                &sprite,
                layer.motion.at(t, self.duration, size),
            );
        }
        for (sprite, motion) in &self.sprites {
            frame::draw_sprite(&mut canvas, sprite, motion.at(t, self.duration, size));
        }
        canvas
    }

    /// Opens the clip's video sources; `None` where it has none.
    pub fn open_videos(&self, size: (u32, u32)) -> Result<[Option<VideoDecoder>; 2], RenderError> {
        let background = match &self.backdrop {
            Backdrop::Video { path, .. } => Some(VideoDecoder::open(path, size.0, size.1)?),
            _ => None,
        };
        let layer = match &self.video_layer {
            Some(layer) => Some(VideoDecoder::open(
                &layer.path,
                layer.rect.width,
                layer.rect.height,
            )?),
            None => None,
        };
        Ok([background, layer])
    }

    /// Seconds into the background and layer videos at clip time `t`.
    pub fn video_times(&self, t: f64) -> [f64; 2] {
        let background = match &self.backdrop {
            Backdrop::Video { start, .. } => start + t,
            _ => 0.0,
        };
        let layer = self.video_layer.as_ref().map_or(0.0, |l| l.start + t);
        [background, layer]
    }
}

/// Prepares every clip of `spec` for `format` (already scaled to the output size).
pub fn prepare(
    spec: &VideoSpec,
    format: &Format,
    inputs: &Inputs,
    compositor: &Compositor,
) -> Result<Vec<Clip>, RenderError> {
    let brand = spec.brand.as_ref().map(BrandKit::from).unwrap_or_default();
    let starts = spec.clip_starts();
    spec.clips
        .iter()
        .zip(starts)
        .enumerate()
        .map(|(i, (clip, start))| {
            let prepared = Prepare {
                clip,
                format,
                inputs,
                brand: &brand,
            };
            prepared.run(start, compositor).map_err(|e| e.in_clip(i))
        })
        .collect()
}

struct Prepare<'a> {
    clip: &'a ClipSpec,
    format: &'a Format,
    inputs: &'a Inputs,
    brand: &'a BrandKit,
}

impl Prepare<'_> {
    /// A video's frame at `start` seconds, at `width` x `height`.
    fn first_frame(
        &self,
        path: &Path,
        start: f64,
        (w, h): (u32, u32),
    ) -> Result<RgbaImage, RenderError> {
        Ok(VideoDecoder::open(path, w, h)?
            .frame_at(start)?
            .image
            .clone())
    }
}

impl Prepare<'_> {
    fn run(&self, start: f64, compositor: &Compositor) -> Result<Clip, RenderError> {
        let (backdrop, first) = self.backdrop()?;
        let layer = |kind: LayerKind| self.clip.layers.iter().find(|l| l.kind == kind);
        let mut sprites = Vec::new();
        let mut video_layer = None;
        if let Some(title) = layer(LayerKind::Title) {
            let text = |kind| layer(kind).and_then(|l: &LayerSpec| l.text.clone());
            let product = self.product(layer(LayerKind::Image), layer(LayerKind::Video))?;
            let logo = match layer(LayerKind::Logo).and_then(|l| l.asset.as_deref()) {
                Some(id) => Some(self.inputs.image(id)?.clone()),
                None => None,
            };
            let creative = CreativeSpec {
                headline: title.text.clone().unwrap_or_default(),
                body: text(LayerKind::Body),
                cta: text(LayerKind::Cta),
                background: Background::Image(DynamicImage::ImageRgba8(first)),
                product,
                logo,
                brand: self.brand.clone(),
            };
            let rendered = compositor
                .render_layers(&creative, self.format)
                .map_err(RenderError::Compose)?;
            let product_rect = rendered.layer("product").map(|placed| placed.rect);
            for sprite in rendered.sprites {
                let kind = match sprite.name {
                    "headline" => LayerKind::Title,
                    "body" => LayerKind::Body,
                    "cta" => LayerKind::Cta,
                    "logo" => LayerKind::Logo,
                    _ => LayerKind::Image,
                };
                let Some(spec) = layer(kind).or_else(|| layer(LayerKind::Video)) else {
                    continue;
                };
                let motion = LayerMotion::of(spec);
                match (spec.kind, product_rect) {
                    (LayerKind::Video, Some(rect)) => {
                        video_layer = Some(VideoLayer {
                            path: self
                                .inputs
                                .video(spec.asset.as_deref().unwrap_or(""))?
                                .clone(),
                            start: spec.start.unwrap_or(0.0),
                            rect,
                            motion,
                        });
                    }
                    _ => sprites.push((sprite, motion)),
                }
            }
        }
        Ok(Clip {
            start,
            duration: self.clip.duration,
            backdrop,
            ken_burns: self.clip.ken_burns.clone(),
            sprites,
            video_layer,
            transition: self.clip.transition.clone(),
        })
    }

    /// The backdrop and the clip's first background frame at the output size (what the text
    /// inks are chosen against).
    fn backdrop(&self) -> Result<(Backdrop, RgbaImage), RenderError> {
        let (w, h) = (self.format.width, self.format.height);
        let zoom = self
            .clip
            .ken_burns
            .as_ref()
            .map_or(1.0, |kb| kb.zoom_from.max(kb.zoom_to));
        let background = match &self.clip.background {
            None => Background::Gradient {
                from: self.brand.primary,
                to: self.brand.secondary,
                angle_deg: 135.0,
            },
            Some(BackgroundSpec::Gradient { from, to, angle }) => Background::Gradient {
                from: from.unwrap_or(self.brand.primary),
                to: to.unwrap_or(self.brand.secondary),
                angle_deg: angle.unwrap_or(135.0),
            },
            Some(BackgroundSpec::Color { color }) => Background::Solid(*color),
            Some(BackgroundSpec::Image { asset }) => {
                Background::Image(self.inputs.image(asset)?.clone())
            }
            Some(BackgroundSpec::Video { asset, start }) => {
                let path = self.inputs.video(asset)?.clone();
                let first = self.first_frame(&path, *start, (w, h))?;
                return Ok((
                    Backdrop::Video {
                        path,
                        start: *start,
                    },
                    first,
                ));
            }
        };
        if self.clip.ken_burns.is_none() {
            let still = crate::media::compositor::paint_background(&background, w, h);
            return Ok((Backdrop::Still(still.clone()), still));
        }
        let (bw, bh) = (
            (f64::from(w) * zoom).round() as u32,
            (f64::from(h) * zoom).round() as u32,
        );
        let base = crate::media::compositor::paint_background(&background, bw, bh);
        let kb = self
            .clip
            .ken_burns
            .as_ref()
            .map_or([0.5, 0.5], |kb| kb.from);
        let zoom_from = self.clip.ken_burns.as_ref().map_or(1.0, |kb| kb.zoom_from);
        let first = frame::ken_burns_view(&base, zoom_from, kb, (w, h));
        Ok((Backdrop::Zoomable(base), first))
    }

    /// The product slot's content: an image, or a video's first frame (to lay the slot out).
    fn product(
        &self,
        image: Option<&LayerSpec>,
        video: Option<&LayerSpec>,
    ) -> Result<Option<ProductImage>, RenderError> {
        if let Some(layer) = image {
            let id = layer.asset.as_deref().unwrap_or("");
            return Ok(Some(ProductImage {
                image: self.inputs.image(id)?.clone(),
                fit: layer.fit.unwrap_or(Fit::Contain),
            }));
        }
        let Some(layer) = video else {
            return Ok(None);
        };
        let path = self.inputs.video(layer.asset.as_deref().unwrap_or(""))?;
        let (w, h) = (self.format.width, self.format.height);
        let first = self.first_frame(path, layer.start.unwrap_or(0.0), (w, h))?;
        Ok(Some(ProductImage {
            image: DynamicImage::ImageRgba8(first),
            fit: Fit::Cover,
        }))
    }
}

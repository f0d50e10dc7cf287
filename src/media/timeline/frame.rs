//! Per-frame pixel work of the timeline renderer, all pure functions over `RgbaImage`s: the
//! Ken Burns view of a background, sprites laid over a frame with an offset, opacity and scale,
//! and the four transitions. Rows run in parallel with rayon; nothing here knows about clips,
//! specs or the encoder.

use image::{Rgba, RgbaImage};
use rayon::prelude::*;

use super::spec::{Direction, TransitionKind};
use crate::media::compositor::LayerSprite;

/// Smooth start and stop, for pans and transitions.
pub fn ease_in_out(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Fast start, gentle stop, for things coming in.
pub fn ease_out(t: f64) -> f64 {
    let t = t.clamp(0.0, 1.0);
    1.0 - (1.0 - t).powi(3)
}

/// The view of `base` (an image with the output's aspect ratio, as large as the largest zoom
/// needs for 1:1 pixels) at `zoom` (1: all of it, 2: half its width) centred at `centre`
/// (fractions of the base), resampled bilinearly to `width` x `height`. The view is kept inside
/// the base.
pub fn ken_burns_view(
    base: &RgbaImage,
    zoom: f64,
    centre: [f64; 2],
    (width, height): (u32, u32),
) -> RgbaImage {
    let (bw, bh) = (f64::from(base.width()), f64::from(base.height()));
    let (view_w, view_h) = (bw / zoom.max(1.0), bh / zoom.max(1.0));
    let x0 = (centre[0] * bw - view_w / 2.0).clamp(0.0, bw - view_w);
    let y0 = (centre[1] * bh - view_h / 2.0).clamp(0.0, bh - view_h);
    let (sx, sy) = (view_w / f64::from(width), view_h / f64::from(height));
    let mut out = RgbaImage::new(width, height);
    let stride = width as usize * 4;
    let src = base.as_raw();
    let (bwu, bhu) = (base.width() as usize, base.height() as usize);
    out.par_chunks_mut(stride).enumerate().for_each(|(y, row)| {
        let fy = (y0 + (y as f64 + 0.5) * sy - 0.5).clamp(0.0, bh - 1.0);
        let (y_lo, wy) = (fy.floor() as usize, (fy - fy.floor()) as f32);
        let y_hi = (y_lo + 1).min(bhu - 1);
        for x in 0..width as usize {
            let fx = (x0 + (x as f64 + 0.5) * sx - 0.5).clamp(0.0, bw - 1.0);
            let (x_lo, wx) = (fx.floor() as usize, (fx - fx.floor()) as f32);
            let x_hi = (x_lo + 1).min(bwu - 1);
            for c in 0..4 {
                let at = |xx: usize, yy: usize| f32::from(src[(yy * bwu + xx) * 4 + c]);
                let top = at(x_lo, y_lo) * (1.0 - wx) + at(x_hi, y_lo) * wx;
                let bottom = at(x_lo, y_hi) * (1.0 - wx) + at(x_hi, y_hi) * wx;
                row[x * 4 + c] = (top * (1.0 - wy) + bottom * wy).round() as u8;
            }
        }
    });
    out
}

/// How one sprite is drawn on one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpriteDraw {
    /// Pixels to move the sprite by.
    pub dx: f64,
    pub dy: f64,
    /// 0 (invisible) to 1.
    pub opacity: f64,
    /// Scale about the sprite's centre.
    pub scale: f64,
}

impl SpriteDraw {
    pub const STILL: SpriteDraw = SpriteDraw {
        dx: 0.0,
        dy: 0.0,
        opacity: 1.0,
        scale: 1.0,
    };
}

/// Lays `sprite` over the opaque `frame` as `draw` says (straight alpha, sRGB blend as the
/// compositor's).
pub fn draw_sprite(frame: &mut RgbaImage, sprite: &LayerSprite, draw: SpriteDraw) {
    if draw.opacity <= 0.0 || draw.scale <= 0.0 {
        return;
    }
    let scaled;
    let (image, x, y) = if (draw.scale - 1.0).abs() < 1e-3 {
        (&sprite.image, f64::from(sprite.x), f64::from(sprite.y))
    } else {
        let (w, h) = sprite.image.dimensions();
        let sw = ((f64::from(w) * draw.scale).round() as u32).max(1);
        let sh = ((f64::from(h) * draw.scale).round() as u32).max(1);
        scaled =
            image::imageops::resize(&sprite.image, sw, sh, image::imageops::FilterType::Triangle);
        let x = f64::from(sprite.x) + (f64::from(w) - f64::from(sw)) / 2.0;
        let y = f64::from(sprite.y) + (f64::from(h) - f64::from(sh)) / 2.0;
        (&scaled, x, y)
    };
    let ox = (x + draw.dx).round() as i64;
    let oy = (y + draw.dy).round() as i64;
    let opacity = (draw.opacity.clamp(0.0, 1.0) * 256.0).round() as u32;
    overlay(frame, image, (ox, oy), opacity);
}

/// `top` over `frame` at `origin`, its alpha times `opacity` / 256; clipped to the frame.
fn overlay(frame: &mut RgbaImage, top: &RgbaImage, (ox, oy): (i64, i64), opacity: u32) {
    let (fw, fh) = (i64::from(frame.width()), i64::from(frame.height()));
    let (tw, th) = (i64::from(top.width()), i64::from(top.height()));
    let (x_from, x_to) = (ox.max(0), (ox + tw).min(fw));
    let (y_from, y_to) = (oy.max(0), (oy + th).min(fh));
    if x_from >= x_to || y_from >= y_to {
        return;
    }
    let stride = fw as usize * 4;
    let rows = &mut frame.as_mut()[y_from as usize * stride..y_to as usize * stride];
    let src = top.as_raw();
    rows.par_chunks_mut(stride)
        .enumerate()
        .for_each(|(r, row)| {
            let ty = (y_from - oy) as usize + r;
            for x in x_from..x_to {
                let tx = (x - ox) as usize;
                let s = &src[(ty * tw as usize + tx) * 4..][..4];
                let a = u32::from(s[3]) * opacity / 256;
                if a == 0 {
                    continue;
                }
                let d = &mut row[x as usize * 4..][..4];
                for c in 0..3 {
                    d[c] = ((u32::from(d[c]) * (255 - a) + u32::from(s[c]) * a + 127) / 255) as u8;
                }
            }
        });
}

/// The frame `progress` (0..1, already eased) of the way from `from` to `to`.
pub fn transition(
    kind: TransitionKind,
    direction: Direction,
    from: &RgbaImage,
    to: &RgbaImage,
    progress: f64,
) -> RgbaImage {
    let p = progress.clamp(0.0, 1.0);
    match kind {
        TransitionKind::Crossfade => mix(from, to, p),
        TransitionKind::Zoom => {
            let (w, h) = from.dimensions();
            let zoomed = ken_burns_view(from, 1.0 + 0.5 * p, [0.5, 0.5], (w, h));
            mix(&zoomed, to, p)
        }
        TransitionKind::Slide => shifted(from, to, direction, p, true),
        TransitionKind::Wipe => shifted(from, to, direction, p, false),
    }
}

fn mix(a: &RgbaImage, b: &RgbaImage, p: f64) -> RgbaImage {
    let t = (p * 256.0).round() as u32;
    let mut out = a.clone();
    out.as_mut()
        .par_chunks_mut(4096)
        .zip(b.as_raw().par_chunks(4096))
        .for_each(|(o, b)| {
            for (o, b) in o.iter_mut().zip(b) {
                *o = ((u32::from(*o) * (256 - t) + u32::from(*b) * t + 128) >> 8) as u8;
            }
        });
    out
}

/// Slide (both clips move: `from` is pushed out as `to` comes in) or wipe (neither moves; an
/// edge reveals `to`). `direction` is where the motion goes.
fn shifted(
    from: &RgbaImage,
    to: &RgbaImage,
    direction: Direction,
    p: f64,
    moving: bool,
) -> RgbaImage {
    let (w, h) = from.dimensions();
    let horizontal = matches!(direction, Direction::Left | Direction::Right);
    let extent = f64::from(if horizontal { w } else { h });
    let shift = (p * extent).round() as i64;
    // For each output pixel along the motion axis: which clip and which of its pixels.
    let sample = move |pos: i64| -> (bool, i64) {
        let n = extent as i64;
        let (forward, edge) = match direction {
            Direction::Left | Direction::Up => (true, n - shift),
            Direction::Right | Direction::Down => (false, shift),
        };
        let in_to = if forward { pos >= edge } else { pos < edge };
        match (in_to, moving, forward) {
            (false, false, _) | (true, false, _) => (in_to, pos),
            (false, true, true) => (false, pos + shift),
            (false, true, false) => (false, pos - shift),
            (true, true, true) => (true, pos - edge),
            (true, true, false) => (true, pos + n - shift),
        }
    };
    let mut out = RgbaImage::new(w, h);
    out.par_chunks_mut(w as usize * 4)
        .enumerate()
        .for_each(|(y, row)| {
            for x in 0..w as usize {
                let (pos, other) = if horizontal { (x, y) } else { (y, x) };
                let (use_to, p) = sample(pos as i64);
                let src = if use_to { to } else { from };
                let p = p.clamp(0, extent as i64 - 1) as u32;
                let Rgba(px) = if horizontal {
                    *src.get_pixel(p, other as u32)
                } else {
                    *src.get_pixel(other as u32, p)
                };
                row[x * 4..x * 4 + 4].copy_from_slice(&px);
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(w: u32, h: u32, v: u8) -> RgbaImage {
        RgbaImage::from_pixel(w, h, Rgba([v, v, v, 255]))
    }

    #[test]
    fn ken_burns_at_zoom_one_is_the_whole_base() {
        let base = RgbaImage::from_fn(8, 4, |x, _| Rgba([x as u8 * 30, 0, 0, 255]));
        let view = ken_burns_view(&base, 1.0, [0.5, 0.5], (8, 4));
        assert_eq!(view, base);
        // Zoom 2 of a base twice the output: the centre quarter at 1:1.
        let big = RgbaImage::from_fn(16, 8, |x, y| Rgba([x as u8, y as u8, 0, 255]));
        let view = ken_burns_view(&big, 2.0, [0.5, 0.5], (8, 4));
        assert_eq!(view.get_pixel(0, 0).0[..2], [4, 2]);
        // At zoom 1 the same base is shown whole, halved.
        let whole = ken_burns_view(&big, 1.0, [0.5, 0.5], (8, 4));
        assert_eq!(whole.get_pixel(0, 0).0[..2], [1, 1]);
        // A centre at the edge is clamped: the view stays inside the base.
        let corner = ken_burns_view(&big, 2.0, [0.0, 0.0], (8, 4));
        assert_eq!(corner.get_pixel(0, 0).0[..2], [0, 0]);
    }

    #[test]
    fn transitions_start_at_one_clip_and_end_at_the_other() {
        let (a, b) = (solid(6, 4, 10), solid(6, 4, 200));
        for kind in [
            TransitionKind::Crossfade,
            TransitionKind::Slide,
            TransitionKind::Wipe,
            TransitionKind::Zoom,
        ] {
            for dir in [
                Direction::Left,
                Direction::Right,
                Direction::Up,
                Direction::Down,
            ] {
                assert_eq!(transition(kind, dir, &a, &b, 0.0), a, "{kind:?} {dir:?}");
                assert_eq!(transition(kind, dir, &a, &b, 1.0), b, "{kind:?} {dir:?}");
            }
        }
        let half = transition(TransitionKind::Crossfade, Direction::Left, &a, &b, 0.5);
        assert_eq!(half.get_pixel(0, 0).0[0], 105);
        // Wipe left at half: the right half shows the next clip.
        let wipe = transition(TransitionKind::Wipe, Direction::Left, &a, &b, 0.5);
        assert_eq!(
            (wipe.get_pixel(2, 0).0[0], wipe.get_pixel(3, 0).0[0]),
            (10, 200)
        );
    }

    #[test]
    fn slide_moves_both_clips() {
        let a = RgbaImage::from_fn(4, 1, |x, _| Rgba([x as u8, 0, 0, 255]));
        let b = RgbaImage::from_fn(4, 1, |x, _| Rgba([100 + x as u8, 0, 0, 255]));
        let out = transition(TransitionKind::Slide, Direction::Left, &a, &b, 0.5);
        let row: Vec<u8> = (0..4).map(|x| out.get_pixel(x, 0).0[0]).collect();
        assert_eq!(row, vec![2, 3, 100, 101]);
        let out = transition(TransitionKind::Slide, Direction::Right, &a, &b, 0.25);
        let row: Vec<u8> = (0..4).map(|x| out.get_pixel(x, 0).0[0]).collect();
        assert_eq!(row, vec![103, 0, 1, 2]);
    }

    #[test]
    fn sprites_blend_with_opacity_and_clip_at_the_edges() {
        let mut frame = solid(4, 4, 0);
        let sprite = LayerSprite {
            name: "headline",
            x: 2,
            y: 2,
            image: RgbaImage::from_pixel(4, 4, Rgba([255, 255, 255, 255])),
        };
        draw_sprite(&mut frame, &sprite, SpriteDraw::STILL);
        assert_eq!(frame.get_pixel(3, 3).0[0], 255);
        assert_eq!(frame.get_pixel(1, 1).0[0], 0);
        let mut faded = solid(4, 4, 0);
        let half = SpriteDraw {
            opacity: 0.5,
            dx: -2.0,
            dy: -2.0,
            scale: 1.0,
        };
        draw_sprite(&mut faded, &sprite, half);
        assert!((127..=128).contains(&faded.get_pixel(0, 0).0[0]));
    }
}

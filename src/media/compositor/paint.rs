//! Raster painting for the compositor: backgrounds (a cover-cropped image, an angled gradient,
//! a solid colour), images placed with contain or cover fit, and anti-aliased rounded
//! rectangles (buttons, scrims). Every function writes into an `RgbaImage` canvas and blends in
//! sRGB space with `blend_channel`, the one blend the contrast checks also use; a canvas that is
//! not opaque (a layer sprite for the video renderer) gets straight-alpha "over" instead.
//! Nothing here knows about text or layouts.

use image::imageops::{self, FilterType};
use image::{DynamicImage, GenericImageView, Rgba, RgbaImage};

use super::colour::Rgb;
use super::layout::{HAlign, Rect};
use super::{Background, Fit};

/// `dst` with `src` laid over it at opacity `alpha` (0-255), rounded to the nearest level.
pub fn blend_channel(dst: u8, src: u8, alpha: u8) -> u8 {
    let a = u32::from(alpha);
    ((u32::from(dst) * (255 - a) + u32::from(src) * a + 127) / 255) as u8
}

/// Blends a colour over one canvas pixel; out-of-bounds pixels are ignored.
pub fn blend_pixel(canvas: &mut RgbaImage, x: i64, y: i64, colour: Rgb, alpha: u8) {
    if alpha == 0 || x < 0 || y < 0 {
        return;
    }
    let (x, y) = (x as u32, y as u32);
    if x >= canvas.width() || y >= canvas.height() {
        return;
    }
    let p = canvas.get_pixel_mut(x, y);
    if p.0[3] == 255 {
        p.0 = [
            blend_channel(p.0[0], colour.0, alpha),
            blend_channel(p.0[1], colour.1, alpha),
            blend_channel(p.0[2], colour.2, alpha),
            255,
        ];
    } else {
        p.0 = over_transparent(p.0, colour, alpha);
    }
}

/// Porter-Duff "over" onto a pixel that is not opaque (a layer sprite's canvas), straight
/// alpha: the result laid over any opaque pixel equals the colour laid over that pixel's blend.
fn over_transparent(dst: [u8; 4], colour: Rgb, alpha: u8) -> [u8; 4] {
    let a = f32::from(alpha) / 255.0;
    let da = f32::from(dst[3]) / 255.0;
    let out_a = a + da * (1.0 - a);
    if out_a <= 0.0 {
        return [0; 4];
    }
    let mix = |d: u8, s: u8| {
        let v = (f32::from(s) * a + f32::from(d) * da * (1.0 - a)) / out_a;
        v.round().clamp(0.0, 255.0) as u8
    };
    [
        mix(dst[0], colour.0),
        mix(dst[1], colour.1),
        mix(dst[2], colour.2),
        (out_a * 255.0).round() as u8,
    ]
}

/// A new opaque canvas of the given size filled with the background.
pub fn background(bg: &Background, width: u32, height: u32) -> RgbaImage {
    match bg {
        Background::Solid(c) => RgbaImage::from_pixel(width, height, Rgba([c.0, c.1, c.2, 255])),
        Background::Gradient {
            from,
            to,
            angle_deg,
        } => gradient(*from, *to, *angle_deg, width, height),
        Background::Image(img) => {
            let mut canvas = RgbaImage::from_pixel(width, height, Rgba([0, 0, 0, 255]));
            let full = Rect::new(0, 0, width, height);
            draw_image(&mut canvas, img, full, Fit::Cover, HAlign::Center);
            canvas
        }
    }
}

/// A linear gradient with CSS's angle convention: 0° runs from bottom (`from`) to top (`to`),
/// 90° from left to right, 180° from top to bottom. Like CSS, the gradient line is as long as
/// the projection of the box onto it, so both corners on the line get the end colours.
pub fn gradient(from: Rgb, to: Rgb, angle_deg: f32, width: u32, height: u32) -> RgbaImage {
    let angle = if angle_deg.is_finite() {
        angle_deg.to_radians()
    } else {
        0.0
    };
    let (dx, dy) = (angle.sin(), -angle.cos());
    let (w, h) = (width as f32, height as f32);
    let length = (w * dx.abs() + h * dy.abs()).max(1.0);
    let mix =
        |a: u8, b: u8, t: f32| (f32::from(a) + (f32::from(b) - f32::from(a)) * t).round() as u8;
    RgbaImage::from_fn(width, height, |x, y| {
        let px = x as f32 + 0.5 - w / 2.0;
        let py = y as f32 + 0.5 - h / 2.0;
        let t = ((px * dx + py * dy) / length + 0.5).clamp(0.0, 1.0);
        Rgba([
            mix(from.0, to.0, t),
            mix(from.1, to.1, t),
            mix(from.2, to.2, t),
            255,
        ])
    })
}

/// Draws `img` into `slot` and returns the rect it covers. `Contain` scales it to fit inside
/// the slot (placed by `align`, centred vertically); `Cover` fills the slot, cropping the
/// centre of the image. Transparent pixels of the image let the canvas show through.
pub fn draw_image(
    canvas: &mut RgbaImage,
    img: &DynamicImage,
    slot: Rect,
    fit: Fit,
    align: HAlign,
) -> Rect {
    let (iw, ih) = img.dimensions();
    if iw == 0 || ih == 0 || slot.width == 0 || slot.height == 0 {
        return Rect::new(slot.x, slot.y, 0, 0);
    }
    let (sw, sh) = (f64::from(slot.width), f64::from(slot.height));
    let (fw, fh) = (f64::from(iw), f64::from(ih));
    let (placed, scaled) = match fit {
        Fit::Contain => {
            let scale = (sw / fw).min(sh / fh);
            let w = ((fw * scale).round() as u32).clamp(1, slot.width);
            let h = ((fh * scale).round() as u32).clamp(1, slot.height);
            let x = match align {
                HAlign::Center => slot.x + (slot.width - w) / 2,
                HAlign::Start => slot.x,
            };
            let rect = Rect::new(x, slot.y + (slot.height - h) / 2, w, h);
            (rect, imageops::resize(img, w, h, FilterType::CatmullRom))
        }
        Fit::Cover => {
            // The largest centred crop of the image with the slot's aspect ratio.
            let scale = (sw / fw).max(sh / fh);
            let cw = ((sw / scale).round() as u32).clamp(1, iw);
            let ch = ((sh / scale).round() as u32).clamp(1, ih);
            let crop = img.view((iw - cw) / 2, (ih - ch) / 2, cw, ch);
            let resized = imageops::resize(&*crop, slot.width, slot.height, FilterType::CatmullRom);
            (slot, resized)
        }
    };
    overlay(canvas, &scaled, placed.x, placed.y);
    placed
}

/// Alpha-composites `top` onto the opaque canvas at (x, y).
fn overlay(canvas: &mut RgbaImage, top: &RgbaImage, x: u32, y: u32) {
    for (tx, ty, p) in top.enumerate_pixels() {
        let [r, g, b, a] = p.0;
        blend_pixel(
            canvas,
            i64::from(x + tx),
            i64::from(y + ty),
            Rgb(r, g, b),
            a,
        );
    }
}

/// Fills a rounded rectangle, anti-aliased: each pixel is covered by the fraction of it inside
/// the shape (estimated from the signed distance of its centre to the edge), times `alpha`.
/// Pixels whose centres lie half a pixel or more inside get exactly `alpha`.
pub fn fill_rounded_rect(canvas: &mut RgbaImage, rect: Rect, radius: f32, colour: Rgb, alpha: u8) {
    let clipped = rect.clip(canvas.width(), canvas.height());
    let (hx, hy) = (rect.width as f32 / 2.0, rect.height as f32 / 2.0);
    let (cx, cy) = (rect.x as f32 + hx, rect.y as f32 + hy);
    let r = radius.clamp(0.0, hx.min(hy));
    for y in clipped.y..clipped.bottom() {
        for x in clipped.x..clipped.right() {
            let qx = (x as f32 + 0.5 - cx).abs() - (hx - r);
            let qy = (y as f32 + 0.5 - cy).abs() - (hy - r);
            let outside = qx.max(0.0).hypot(qy.max(0.0)) + qx.max(qy).min(0.0) - r;
            let coverage = (0.5 - outside).clamp(0.0, 1.0);
            let a = (coverage * f32::from(alpha)).round() as u8;
            blend_pixel(canvas, i64::from(x), i64::from(y), colour, a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_is_exact_at_the_ends_and_rounds_in_between() {
        assert_eq!(blend_channel(10, 200, 0), 10);
        assert_eq!(blend_channel(10, 200, 255), 200);
        assert_eq!(blend_channel(0, 255, 128), 128);
    }

    #[test]
    fn gradient_runs_in_the_css_direction() {
        let (red, blue) = (Rgb(255, 0, 0), Rgb(0, 0, 255));
        let right = gradient(red, blue, 90.0, 100, 10);
        assert!(right.get_pixel(0, 5).0[0] > 250 && right.get_pixel(99, 5).0[2] > 250);
        let down = gradient(red, blue, 180.0, 10, 100);
        assert!(down.get_pixel(5, 0).0[0] > 250 && down.get_pixel(5, 99).0[2] > 250);
        let up = gradient(red, blue, 0.0, 10, 100);
        assert!(up.get_pixel(5, 99).0[0] > 250);
        // Diagonal: the corners on the line get the end colours.
        let diag = gradient(red, blue, 135.0, 50, 50);
        assert!(diag.get_pixel(0, 0).0[0] > 245 && diag.get_pixel(49, 49).0[2] > 245);
    }

    #[test]
    fn contain_fits_inside_and_cover_fills_the_slot() {
        let mut canvas = RgbaImage::from_pixel(100, 100, Rgba([0, 0, 0, 255]));
        let wide = DynamicImage::ImageRgba8(RgbaImage::from_pixel(40, 10, Rgba([255; 4])));
        let slot = Rect::new(10, 10, 80, 80);
        let placed = draw_image(&mut canvas, &wide, slot, Fit::Contain, HAlign::Center);
        assert_eq!(placed, Rect::new(10, 40, 80, 20));
        assert_eq!(canvas.get_pixel(50, 39).0[0], 0);
        assert_eq!(canvas.get_pixel(50, 45).0[0], 255);
        let placed = draw_image(&mut canvas, &wide, slot, Fit::Cover, HAlign::Center);
        assert_eq!(placed, slot);
        assert_eq!(canvas.get_pixel(12, 12).0[0], 255);
        assert_eq!(canvas.get_pixel(9, 9).0[0], 0);
    }

    #[test]
    fn a_sprite_laid_over_a_canvas_equals_drawing_on_the_canvas() {
        let mut direct = RgbaImage::from_pixel(1, 1, Rgba([40, 120, 200, 255]));
        let mut sprite = RgbaImage::new(1, 1);
        for (colour, alpha) in [(Rgb(250, 10, 10), 90), (Rgb(0, 0, 0), 140)] {
            blend_pixel(&mut direct, 0, 0, colour, alpha);
            blend_pixel(&mut sprite, 0, 0, colour, alpha);
        }
        let mut composed = RgbaImage::from_pixel(1, 1, Rgba([40, 120, 200, 255]));
        let [r, g, b, a] = sprite.get_pixel(0, 0).0;
        blend_pixel(&mut composed, 0, 0, Rgb(r, g, b), a);
        for c in 0..3 {
            let (d, s) = (direct.get_pixel(0, 0).0[c], composed.get_pixel(0, 0).0[c]);
            assert!(d.abs_diff(s) <= 2, "channel {c}: {d} vs {s}");
        }
    }

    #[test]
    fn transparent_image_pixels_keep_the_canvas() {
        let mut canvas = RgbaImage::from_pixel(4, 4, Rgba([9, 9, 9, 255]));
        let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(4, 4, Rgba([255, 0, 0, 0])));
        draw_image(
            &mut canvas,
            &clear,
            Rect::new(0, 0, 4, 4),
            Fit::Cover,
            HAlign::Center,
        );
        assert_eq!(canvas.get_pixel(2, 2).0, [9, 9, 9, 255]);
    }

    #[test]
    fn rounded_rect_is_solid_inside_and_soft_at_the_corners() {
        let mut canvas = RgbaImage::from_pixel(40, 20, Rgba([255, 255, 255, 255]));
        fill_rounded_rect(&mut canvas, Rect::new(0, 0, 40, 20), 8.0, Rgb::BLACK, 255);
        assert_eq!(canvas.get_pixel(20, 10).0[0], 0);
        assert_eq!(canvas.get_pixel(0, 0).0[0], 255);
        let edge = canvas.get_pixel(2, 2).0[0];
        assert!(edge > 0 && edge < 255, "{edge}");
        // Straight edges are solid, with or without a radius.
        assert_eq!(canvas.get_pixel(20, 0).0[0], 0);
        let mut square = RgbaImage::from_pixel(10, 10, Rgba([255, 255, 255, 255]));
        fill_rounded_rect(&mut square, Rect::new(2, 2, 6, 6), 0.0, Rgb::BLACK, 100);
        let expected = blend_channel(255, 0, 100);
        assert_eq!(square.get_pixel(2, 2).0[0], expected);
        assert_eq!(square.get_pixel(1, 2).0[0], 255);
    }
}

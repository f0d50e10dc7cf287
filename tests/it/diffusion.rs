//! The diffusion code on random weights: parity with diffusers and transformers (fixtures from
//! scripts/fixtures/diffusion_diffusers.py: the UNet with a timestep per sample, SDXL's added
//! conditioning, one Euler step, the VAE both ways, CLIP's three outputs), then the whole
//! pipeline and engine on tiny SD- and SDXL-shaped models written by `random.rs`:
//! deterministic per seed, the same pixels alone or co-batched, img2img, admission and
//! cancellation.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use adforge::engine::image::clip::{ClipConfig, ClipTextEncoder};
use adforge::engine::image::engine::{
    EngineLimits, GeneratedImage, GenerationRequest, ImageEngine, ImageEngineError, Progress,
};
use adforge::engine::image::pipeline::{DiffusionModel, ImageParams};
use adforge::engine::image::random::{RandomModelSpec, write_random_model};
use adforge::engine::image::schedulers::{NoiseSchedule, Scheduler, SchedulerKind};
use adforge::engine::image::unet::{AddedConditions, UNet, UNetConfig};
use adforge::engine::image::vae::{Vae, VaeConfig};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diffusion")
}

fn io() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixtures().join("io.safetensors"), &Device::Cpu).unwrap()
}

fn configs() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("configs.json")).unwrap())
        .unwrap()
}

fn weights(name: &str) -> VarBuilder<'static> {
    let tensors = candle_core::safetensors::load(
        fixtures().join(format!("{name}.safetensors")),
        &Device::Cpu,
    )
    .unwrap();
    VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu)
}

/// max |t|
fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// max |ours - reference| / max |reference|
fn relative_error(ours: &Tensor, reference: &Tensor) -> f32 {
    assert_eq!(ours.dims(), reference.dims());
    max_abs(&(ours - reference).unwrap()) / max_abs(reference)
}

fn assert_close(what: &str, ours: &Tensor, reference: &Tensor) {
    let err = relative_error(ours, reference);
    eprintln!("{what}: relative error {err:.2e}");
    assert!(err < 1e-3, "{what}: relative error {err}");
}

fn unet(name: &str) -> UNet {
    let config: UNetConfig = serde_json::from_value(configs()[name].clone()).unwrap();
    UNet::new(config, weights(name)).unwrap()
}

#[test]
fn unet_with_a_timestep_per_sample_matches_diffusers() {
    let io = io();
    let model = unet("unet_sd");
    let out = model
        .forward(&io["unet_sd.x"], &io["unet_sd.t"], &io["unet_sd.ehs"], None)
        .unwrap();
    assert_close("unet_sd batched", &out, &io["unet_sd.out"]);
    // Each row alone, at its own timestep, equals its row of the batch.
    for row in 0..3 {
        let alone = model
            .forward(
                &io["unet_sd.x"].narrow(0, row, 1).unwrap(),
                &io["unet_sd.t"].narrow(0, row, 1).unwrap(),
                &io["unet_sd.ehs"].narrow(0, row, 1).unwrap(),
                None,
            )
            .unwrap();
        let batched = out.narrow(0, row, 1).unwrap();
        let diff = max_abs(&(alone - batched).unwrap());
        assert!(diff < 1e-5, "row {row}: alone differs by {diff}");
    }
}

#[test]
fn sdxl_unet_with_added_conditioning_matches_diffusers() {
    let io = io();
    let model = unet("unet_sdxl");
    let added = AddedConditions {
        text_embeds: &io["unet_sdxl.text_embeds"],
        time_ids: &io["unet_sdxl.time_ids"],
    };
    let out = model
        .forward(
            &io["unet_sdxl.x"],
            &io["unet_sdxl.t"],
            &io["unet_sdxl.ehs"],
            Some(&added),
        )
        .unwrap();
    assert_close("unet_sdxl", &out, &io["unet_sdxl.out"]);
    let missing = model.forward(
        &io["unet_sdxl.x"],
        &io["unet_sdxl.t"],
        &io["unet_sdxl.ehs"],
        None,
    );
    assert!(
        missing.is_err(),
        "SDXL without its added conditioning must be refused"
    );
}

#[test]
fn one_euler_step_on_the_unet_output_matches_diffusers() {
    let io = io();
    let model = unet("unet_sd");
    let mut scheduler = Scheduler::new(SchedulerKind::Euler, &NoiseSchedule::STABLE_DIFFUSION, 10);
    let t0 = configs()["euler"]["t0"].as_f64().unwrap();
    assert_eq!(scheduler.timestep(), t0);
    let x0 = &io["unet_sd.euler.x0"];
    let input = x0.affine(scheduler.input_scale(), 0.0).unwrap();
    assert_close(
        "euler model input",
        &input,
        &io["unet_sd.euler.model_input"],
    );
    let t = Tensor::new(&[t0 as f32], &Device::Cpu).unwrap();
    let ehs = io["unet_sd.ehs"].narrow(0, 0, 1).unwrap();
    let eps = model.forward(&input, &t, &ehs, None).unwrap();
    assert_close("euler eps", &eps, &io["unet_sd.euler.eps"]);
    let prev = scheduler.step(x0, &eps, None).unwrap();
    assert_close("euler prev", &prev, &io["unet_sd.euler.prev"]);
}

#[test]
fn vae_decodes_and_encodes_as_diffusers() {
    let io = io();
    let config: VaeConfig = serde_json::from_value(configs()["vae"].clone()).unwrap();
    let vae = Vae::new(config, weights("vae")).unwrap();
    let decoded = vae.decode(&io["vae.z"]).unwrap();
    assert_close("vae decode", &decoded, &io["vae.decoded"]);
    let mean = vae.encode_mean(&io["vae.x"]).unwrap();
    assert_close("vae encode mean", &mean, &io["vae.mean"]);
    // A tile as large as the latent decodes in one pass; smaller tiles cover the image (the
    // seams blend; on a real VAE the attention and norms then see a tile's statistics, which
    // only a real checkpoint could judge).
    let whole = vae.decode_tiled(&io["vae.z"], 8, 2).unwrap();
    assert_eq!(relative_error(&whole, &decoded), 0.0);
    let tiled = vae.decode_tiled(&io["vae.z"], 6, 4).unwrap();
    assert_eq!(tiled.dims(), decoded.dims());
    let finite = tiled.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(finite.iter().all(|v| v.is_finite()));
}

#[test]
fn clip_text_encoder_matches_transformers() {
    let io = io();
    let config: ClipConfig = serde_json::from_value(configs()["clip"].clone()).unwrap();
    let clip = ClipTextEncoder::new(config, weights("clip")).unwrap();
    let ids = io["clip.ids"].to_dtype(DType::U32).unwrap();
    let out = clip.forward(&ids).unwrap();
    assert_close(
        "clip last hidden",
        &out.last_hidden,
        &io["clip.last_hidden"],
    );
    assert_close(
        "clip penultimate",
        &out.penultimate,
        &io["clip.penultimate"],
    );
    assert_close(
        "clip pooled projection",
        &out.pooled,
        &io["clip.text_embeds"],
    );
}

fn tiny_model(spec: &RandomModelSpec, name: &str) -> (tempfile::TempDir, Arc<DiffusionModel>) {
    let dir = tempfile::tempdir().unwrap();
    write_random_model(dir.path(), spec, 7).unwrap();
    let model = DiffusionModel::load(name, dir.path(), &Device::Cpu).unwrap();
    (dir, Arc::new(model))
}

fn params(seed: u64, scheduler: SchedulerKind, guidance: f64) -> ImageParams {
    ImageParams {
        width: 32,
        height: 32,
        steps: 4,
        guidance,
        scheduler,
        seed,
        strength: 1.0,
    }
}

fn request(prompt: &str, params: ImageParams, n: u32) -> GenerationRequest {
    GenerationRequest {
        prompt: prompt.into(),
        negative_prompt: "blurry".into(),
        params,
        n,
        init_image: None,
        preview_every: 0,
    }
}

fn max_diff(a: &GeneratedImage, b: &GeneratedImage) -> f32 {
    a.pixels
        .iter()
        .zip(&b.pixels)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

async fn run(engine: &ImageEngine, request: GenerationRequest) -> Vec<GeneratedImage> {
    engine.submit(request).unwrap().wait().await.unwrap()
}

#[tokio::test]
async fn tiny_sd_pipeline_is_deterministic_and_the_same_alone_or_batched() {
    let (_dir, model) = tiny_model(&RandomModelSpec::tiny_sd(), "tiny-sd");
    let engine = ImageEngine::start(model, EngineLimits::default());
    for scheduler in [
        SchedulerKind::Ddim,
        SchedulerKind::Euler,
        SchedulerKind::EulerAncestral,
        SchedulerKind::DpmPlusPlus2m,
    ] {
        let alone = run(
            &engine,
            request("a red shoe", params(11, scheduler, 7.5), 1),
        )
        .await;
        assert_eq!(alone[0].image.dimensions(), (32, 32));
        let again = run(
            &engine,
            request("a red shoe", params(11, scheduler, 7.5), 1),
        )
        .await;
        assert_eq!(
            alone[0].pixels, again[0].pixels,
            "{scheduler:?}: not deterministic"
        );
        // The same request co-batched with others (submitted together, same size and
        // scheduler, one unguided so rows differ) gives the same pixels.
        let tickets = vec![
            engine
                .submit(request("a blue car", params(5, scheduler, 3.0), 2))
                .unwrap(),
            engine
                .submit(request("a red shoe", params(11, scheduler, 7.5), 1))
                .unwrap(),
            engine
                .submit(request("a green hat", params(9, scheduler, 1.0), 1))
                .unwrap(),
        ];
        let mut results = Vec::new();
        for ticket in tickets {
            results.push(ticket.wait().await.unwrap());
        }
        let diff = max_diff(&alone[0], &results[1][0]);
        eprintln!("{scheduler:?}: alone vs co-batched max difference {diff:.2e}");
        assert!(diff < 1e-4, "{scheduler:?}: batched differs by {diff}");
        // Different seeds and the images of one request differ.
        assert!(max_diff(&alone[0], &results[2][0]) > 1e-3);
        assert!(max_diff(&results[0][0], &results[0][1]) > 1e-3);
    }
    let stats = &engine.stats;
    assert!(
        stats
            .max_rows_seen
            .load(std::sync::atomic::Ordering::Relaxed)
            > 2,
        "requests were never batched together"
    );
}

#[tokio::test]
async fn tiny_sdxl_pipeline_runs_with_two_encoders_and_size_ids() {
    let (_dir, model) = tiny_model(&RandomModelSpec::tiny_sdxl(), "tiny-sdxl-turbo");
    assert!(model.is_sdxl());
    assert_eq!(model.defaults.steps, 1, "turbo models default to one step");
    let engine = ImageEngine::start(model, EngineLimits::default());
    let a = run(
        &engine,
        request("a lamp", params(3, SchedulerKind::EulerAncestral, 1.0), 1),
    )
    .await;
    let b = run(
        &engine,
        request("a lamp", params(3, SchedulerKind::EulerAncestral, 1.0), 1),
    )
    .await;
    assert_eq!(a[0].pixels, b[0].pixels);
    let guided = run(
        &engine,
        request("a lamp", params(3, SchedulerKind::Euler, 5.0), 1),
    )
    .await;
    assert_eq!(guided[0].image.dimensions(), (32, 32));
}

#[tokio::test]
async fn img2img_starts_from_the_input_and_strength_sets_the_steps() {
    let (_dir, model) = tiny_model(&RandomModelSpec::tiny_sd(), "tiny-sd");
    let engine = ImageEngine::start(model, EngineLimits::default());
    let input = image::RgbImage::from_fn(32, 32, |x, y| {
        image::Rgb([(x * 8) as u8, (y * 8) as u8, 128])
    });
    let mut low = request("a red shoe", params(1, SchedulerKind::Ddim, 1.0), 1);
    low.params.steps = 10;
    low.params.strength = 0.3;
    low.init_image = Some(input.clone());
    let ticket = engine.submit(low.clone()).unwrap();
    let mut progress = ticket.progress.clone();
    let result = ticket.wait().await.unwrap();
    // 30% of 10 steps run.
    let last = progress.borrow_and_update().clone();
    assert!(matches!(last, Progress::Decoding), "{last:?}");
    let again = run(&engine, low.clone()).await;
    assert_eq!(result[0].pixels, again[0].pixels);
    let mut high = low.clone();
    high.params.strength = 1.0;
    let high = run(&engine, high).await;
    assert!(max_diff(&result[0], &high[0]) > 1e-4);
    let mut none = low;
    none.params.strength = 0.05;
    let err = engine.submit(none).unwrap().wait().await.unwrap_err();
    assert!(err.to_string().contains("strength"), "{err}");
}

#[tokio::test]
async fn a_full_engine_refuses_and_a_cancelled_request_stops_at_the_next_step() {
    let (_dir, model) = tiny_model(&RandomModelSpec::tiny_sd(), "tiny-sd");
    let engine = ImageEngine::start(
        model,
        EngineLimits {
            max_requests: 2,
            max_rows: 8,
        },
    );
    let mut long = request("a long render", params(2, SchedulerKind::Euler, 7.5), 1);
    long.params.steps = 400;
    let first = engine.submit(long.clone()).unwrap();
    let second = engine.submit(long.clone()).unwrap();
    match engine.submit(long.clone()) {
        Err(ImageEngineError::Busy(n)) => assert_eq!(n, 2),
        Err(e) => panic!("expected busy, got {e}"),
        Ok(_) => panic!("a third request was admitted past the limit"),
    }
    // Cancel the first once it is denoising; it must stop at the next step boundary.
    let mut progress = first.progress.clone();
    let cancel = first.canceller();
    let seen = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            progress.changed().await.unwrap();
            if let Progress::Denoising { step, .. } = *progress.borrow() {
                return step;
            }
        }
    })
    .await
    .unwrap();
    cancel.store(true, std::sync::atomic::Ordering::SeqCst);
    let result = first.wait().await;
    assert!(
        matches!(result, Err(ImageEngineError::Cancelled)),
        "{:?}",
        result.map(|_| ())
    );
    let last = match *progress.borrow() {
        Progress::Denoising { step, .. } => step,
        ref other => panic!("{other:?}"),
    };
    assert!(
        last <= seen + 1,
        "cancelled at step {seen}, still stepped to {last}"
    );
    // The slot is free again: a new request is admitted; dropping tickets cancels them.
    drop(second);
    let third = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Ok(t) = engine.submit(request("short", params(4, SchedulerKind::Euler, 1.0), 1))
            {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(third.wait().await.unwrap().len(), 1);
    tokio::time::timeout(Duration::from_secs(60), async {
        while engine.in_flight() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
}

mod http {
    use super::*;
    use crate::support::{StoreKind, TestDb, TestServer, expect_error, send};
    use adforge::engine::image::engine::ImageEngines;
    use base64::Engine as _;
    use serde_json::json;

    async fn server(with_model: bool) -> (TestDb, TestServer, Option<tempfile::TempDir>) {
        let db = TestDb::new(StoreKind::Sqlite).await;
        let queue = std::sync::Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
            db.store.clone(),
        ));
        let engines = ImageEngines::default();
        let dir = if with_model {
            let (dir, model) = tiny_model(&RandomModelSpec::tiny_sd(), "tiny-sd");
            let limits = EngineLimits {
                max_requests: 16,
                max_rows: 6,
            };
            engines.insert(ImageEngine::start(model, limits));
            Some(dir)
        } else {
            None
        };
        let server = TestServer::start_with_image(db.store.clone(), queue, engines).await;
        (db, server, dir)
    }

    fn png_of(body: &Value, i: usize) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(body["data"][i]["b64_json"].as_str().unwrap())
            .unwrap()
    }

    #[tokio::test]
    async fn generations_edits_and_capabilities_over_http() {
        let (_db, server, _dir) = server(true).await;
        let body = json!({"prompt": "a red running shoe", "size": "32x32", "steps": 3,
            "seed": 1234, "n": 2, "guidance": 4.0, "scheduler": "euler_ancestral"});
        let (status, first) = send(server.post("/v1/images/generations", &body)).await;
        assert_eq!(status, 200, "{first}");
        assert_eq!(first["seed"], 1234);
        assert_eq!(first["data"].as_array().unwrap().len(), 2);
        let png = png_of(&first, 0);
        let decoded = image::load_from_memory(&png).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (32, 32));
        // The seed and parameters are in the PNG's text chunks.
        let text = String::from_utf8_lossy(&png);
        assert!(text.contains("seed\u{0}1234"), "no seed chunk");
        assert!(
            text.contains("prompt\u{0}a red running shoe"),
            "no prompt chunk"
        );
        let (_, again) = send(server.post("/v1/images/generations", &body)).await;
        assert_eq!(first["data"][0]["b64_json"], again["data"][0]["b64_json"]);
        assert_ne!(first["data"][0]["b64_json"], first["data"][1]["b64_json"]);
        // Without a seed one is chosen and returned.
        let (_, random) = send(server.post(
            "/v1/images/generations",
            &json!({"prompt": "a shoe", "size": "32x32", "steps": 1}),
        ))
        .await;
        assert!(random["seed"].as_u64().is_some());

        let input = base64::engine::general_purpose::STANDARD.encode(&png);
        let (status, edited) = send(server.post(
            "/v1/images/edits",
            &json!({"image": input, "prompt": "a blue shoe", "size": "32x32", "steps": 4,
                "strength": 0.5, "seed": 1}),
        ))
        .await;
        assert_eq!(status, 200, "{edited}");

        let (status, caps) = send(server.get("/v1/capabilities")).await;
        assert_eq!(status, 200);
        assert_eq!(caps["image_models"][0]["name"], "tiny-sd");
        assert_eq!(caps["image_limits"]["max_side"], 64);
        assert!(caps["formats"].as_array().unwrap().len() >= 15);

        let refused = [
            (
                json!({"prompt": "x", "size": "36x32"}),
                "size: width 36 is not a positive multiple of 8",
            ),
            (
                json!({"prompt": "x", "size": "128x128"}),
                "above the limit of 64",
            ),
            (
                json!({"prompt": "x", "steps": 9}),
                "steps: 9 is outside 1..=8",
            ),
            (json!({"prompt": "x", "n": 5}), "n: 5 is outside 1..=4"),
            (json!({"prompt": "x", "n": 4, "guidance": 7.0}), "UNet rows"),
            (json!({"prompt": "x", "scheduler": "plms"}), "scheduler"),
            (json!({"prompt": " "}), "prompt"),
            (
                json!({"prompt": "x", "response_format": "url"}),
                "response_format",
            ),
            (
                json!({"prompt": "x", "model": "sdxl"}),
                "model: `sdxl` is not loaded",
            ),
        ];
        for (body, needle) in refused {
            expect_error(server.post("/v1/images/generations", &body), 400, needle).await;
        }
        expect_error(
            server.post(
                "/v1/images/edits",
                &json!({"image": "bm90IGFuIGltYWdl", "prompt": "x"}),
            ),
            400,
            "image: does not decode",
        )
        .await;
        expect_error(
            server.post(
                "/v1/images/edits",
                &json!({"image": input, "prompt": "x", "strength": 0.1, "steps": 4}),
            ),
            400,
            "strength",
        )
        .await;
    }

    #[tokio::test]
    async fn without_an_image_model_the_routes_say_how_to_install_one() {
        let (_db, server, _) = server(false).await;
        expect_error(
            server.post("/v1/images/generations", &json!({"prompt": "a shoe"})),
            503,
            "adforge models pull sd-turbo",
        )
        .await;
        let (status, caps) = send(server.get("/v1/capabilities")).await;
        assert_eq!(status, 200);
        assert_eq!(caps["image_models"].as_array().unwrap().len(), 0);
    }
}

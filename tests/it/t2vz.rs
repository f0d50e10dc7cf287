//! Text2Video-Zero on random weights: the UNet's cross-frame attention and the motion warp
//! against diffusers' `TextToVideoZeroPipeline` pieces (fixtures from
//! scripts/fixtures/t2vz_diffusers.py, on the UNets of the diffusion fixtures), then whole tiny
//! videos from a random SD-shaped model: frame count and size, determinism per seed,
//! cancellation and the limits.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use adforge::engine::image::pipeline::{DiffusionModel, PipelineError, Prediction};
use adforge::engine::image::random::{RandomModelSpec, write_random_model};
use adforge::engine::image::schedulers::NoiseSchedule;
use adforge::engine::image::transformer::AttentionMode;
use adforge::engine::image::unet::{AddedConditions, UNet, UNetConfig};
use adforge::engine::video::zero::{
    Denoised, MAX_FRAMES, Motion, TextToVideo, VideoOutcome, VideoParams, VideoProgress,
    ZeroDenoiser, ZeroInputs, warp_latent,
};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use image::RgbImage;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn io() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixtures().join("t2vz/io.safetensors"), &Device::Cpu).unwrap()
}

fn json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join(path)).unwrap()).unwrap()
}

/// The UNets of the diffusion fixtures, which the t2vz fixtures run through diffusers.
fn unet(name: &str) -> UNet {
    let config: UNetConfig =
        serde_json::from_value(json("diffusion/configs.json")[name].clone()).unwrap();
    let tensors = candle_core::safetensors::load(
        fixtures().join(format!("diffusion/{name}.safetensors")),
        &Device::Cpu,
    )
    .unwrap();
    UNet::new(
        config,
        VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu),
    )
    .unwrap()
}

fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn relative_error(ours: &Tensor, reference: &Tensor) -> f32 {
    assert_eq!(ours.dims(), reference.dims());
    max_abs(&(ours - reference).unwrap()) / max_abs(reference)
}

/// The forward of fixture `prefix` in `mode`.
fn forward(
    model: &UNet,
    io: &HashMap<String, Tensor>,
    prefix: &str,
    mode: AttentionMode,
) -> Tensor {
    let key = |name: &str| &io[&format!("{prefix}.{name}")];
    let added = io
        .contains_key(&format!("{prefix}.text_embeds"))
        .then(|| AddedConditions {
            text_embeds: key("text_embeds"),
            time_ids: key("time_ids"),
        });
    model
        .forward_with(key("x"), key("t"), key("ehs"), added.as_ref(), mode)
        .unwrap()
}

#[test]
fn cross_frame_unet_matches_diffusers() {
    let io = io();
    let frames = json("t2vz/configs.json")["frames"].as_u64().unwrap() as usize;
    for prefix in ["unet_sd", "unet_sdxl"] {
        let model = unet(prefix);
        let cross = forward(&model, &io, prefix, AttentionMode::CrossFrame { frames });
        let err = relative_error(&cross, &io[&format!("{prefix}.out")]);
        eprintln!("{prefix} cross-frame: relative error {err:.2e}");
        assert!(err < 1e-4, "{prefix} cross-frame: relative error {err}");
        let normal = forward(&model, &io, prefix, AttentionMode::Normal);
        let err = relative_error(&normal, &io[&format!("{prefix}.normal")]);
        eprintln!("{prefix} normal: relative error {err:.2e}");
        assert!(err < 1e-4, "{prefix} normal: relative error {err}");
        // The mode matters: frames after the first see the first frame's keys, not their own.
        let change = relative_error(&normal, &cross);
        assert!(
            change > 1e-3,
            "{prefix}: cross-frame changed the output by only {change}"
        );
    }
}

#[test]
fn groups_of_one_frame_are_plain_self_attention() {
    let io = io();
    let model = unet("unet_sd");
    let plain = model
        .forward(&io["unet_sd.x"], &io["unet_sd.t"], &io["unet_sd.ehs"], None)
        .unwrap();
    let one = forward(
        &model,
        &io,
        "unet_sd",
        AttentionMode::CrossFrame { frames: 1 },
    );
    assert_eq!(max_abs(&(plain - one).unwrap()), 0.0);
    // Rows that do not split into groups are refused, not silently regrouped.
    let x = io["unet_sd.x"].narrow(0, 0, 5).unwrap();
    let t = io["unet_sd.t"].narrow(0, 0, 5).unwrap();
    let ehs = io["unet_sd.ehs"].narrow(0, 0, 5).unwrap();
    let mode = AttentionMode::CrossFrame { frames: 3 };
    assert!(model.forward_with(&x, &t, &ehs, None, mode).is_err());
}

#[test]
fn motion_warp_matches_diffusers() {
    let io = io();
    let config = &json("t2vz/configs.json")["warp"];
    let motion = Motion {
        x: config["motion_field_strength_x"].as_f64().unwrap(),
        y: config["motion_field_strength_y"].as_f64().unwrap(),
    };
    let latents = &io["warp.latents"];
    let expected = &io["warp.warped"];
    for (i, id) in config["frame_ids"].as_array().unwrap().iter().enumerate() {
        let ours = warp_latent(
            &latents.narrow(0, i, 1).unwrap(),
            motion,
            id.as_u64().unwrap() as u32,
        )
        .unwrap();
        let reference = expected.narrow(0, i, 1).unwrap();
        // Nearest sampling copies values: the warp is exact or wrong.
        let diff = max_abs(&(ours - reference).unwrap());
        assert_eq!(diff, 0.0, "frame id {id}: differs by {diff}");
    }
}

#[test]
fn the_whole_denoising_matches_diffusers_pipeline_on_its_noise() {
    let io = io();
    let config = &json("t2vz/configs.json")["pipeline"];
    let get = |name: &str| config[name].as_f64().unwrap();
    let frames = get("video_length") as usize;
    let forward_noise: Vec<Tensor> = (0..frames - 1)
        .map(|k| io["pipeline.forward_noise"].narrow(0, k, 1).unwrap())
        .collect();
    let context = Tensor::cat(&[&io["pipeline.uncond"], &io["pipeline.cond"]], 0).unwrap();
    let inputs = ZeroInputs {
        steps: get("num_inference_steps") as usize,
        t0: get("t0") as usize,
        t1: get("t1") as usize,
        guidance: Some(get("guidance_scale")),
        motion: Motion {
            x: get("motion_field_strength_x"),
            y: get("motion_field_strength_y"),
        },
        context: &context,
        first_noise: &io["pipeline.x_t"],
        forward_noise: &forward_noise,
    };
    let model = unet("unet_sd");
    let denoiser = ZeroDenoiser {
        unet: &model,
        schedule: &NoiseSchedule::STABLE_DIFFUSION,
        prediction: Prediction::Epsilon,
    };
    let mut steps = Vec::new();
    let out = denoiser
        .denoise(&inputs, &AtomicBool::new(false), &mut |p| {
            steps.push(p.step)
        })
        .unwrap();
    let Denoised::Latents(latents) = out else {
        panic!("not cancelled, yet {out:?}");
    };
    let err = relative_error(&latents, &io["pipeline.latents"]);
    eprintln!("pipeline latents: relative error {err:.2e}");
    assert!(err < 1e-4, "pipeline latents: relative error {err}");
    // diffusers' progress bars: 1 step to T1, 2 to T0, 5 from T1 with all frames.
    assert_eq!(steps, (1..=8).collect::<Vec<_>>());
}

fn tiny_model() -> (tempfile::TempDir, DiffusionModel) {
    let dir = tempfile::tempdir().unwrap();
    write_random_model(dir.path(), &RandomModelSpec::tiny_sd(), 7).unwrap();
    let model = DiffusionModel::load("tiny-sd", dir.path(), &Device::Cpu).unwrap();
    (dir, model)
}

fn params(seed: u64) -> VideoParams {
    VideoParams {
        prompt: "a red ball rolling on grass".into(),
        negative: "blurry".into(),
        width: 32,
        height: 24,
        frames: 3,
        steps: 4,
        guidance: 7.5,
        seed,
        motion: Motion { x: 40.0, y: 20.0 },
        t0: None,
        t1: None,
    }
}

/// Runs a video; returns its frames and the progress seen.
fn video(
    model: &DiffusionModel,
    params: &VideoParams,
    cancel_after: Option<usize>,
) -> (VideoOutcome, Vec<RgbImage>, Vec<VideoProgress>) {
    let t2v = TextToVideo::new(model).unwrap();
    let cancel = AtomicBool::new(false);
    let mut seen = Vec::new();
    let mut frames = Vec::new();
    let outcome = t2v
        .run(
            params,
            &cancel,
            &mut |p| {
                seen.push(p);
                if cancel_after == Some(p.step) {
                    cancel.store(true, Ordering::SeqCst);
                }
            },
            &mut |index, image| {
                assert_eq!(index as usize, frames.len(), "frames come in order");
                frames.push(image);
                Ok(())
            },
        )
        .unwrap();
    (outcome, frames, seen)
}

#[test]
fn a_tiny_video_has_its_frames_and_is_deterministic_per_seed() {
    let (_dir, model) = tiny_model();
    let (outcome, frames, seen) = video(&model, &params(11), None);
    assert_eq!(outcome, VideoOutcome::Finished { frames: 3 });
    assert_eq!(frames.len(), 3);
    for frame in &frames {
        assert_eq!(frame.dimensions(), (32, 24));
    }
    // 4 steps, t0 = 1, t1 = 2: one step of the first frame alone (to T1), one more (to T0), then
    // three of all frames from T1.
    let total = seen.last().unwrap().total;
    assert_eq!(total, 5);
    assert_eq!(
        seen.iter().map(|p| p.step).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    assert_ne!(frames[0], frames[1], "motion moves the later frames");

    let (_, again, _) = video(&model, &params(11), None);
    assert_eq!(frames, again, "the same seed gives the same frames");
    let (_, other, _) = video(&model, &params(12), None);
    assert_ne!(frames[0], other[0], "another seed gives another video");
}

#[test]
fn a_cancelled_video_stops_before_its_last_step_and_decodes_nothing() {
    let (_dir, model) = tiny_model();
    let (outcome, frames, seen) = video(&model, &params(3), Some(2));
    assert_eq!(outcome, VideoOutcome::Cancelled { steps_done: 2 });
    assert!(frames.is_empty());
    assert_eq!(seen.len(), 2, "no step after the cancel: {seen:?}");
    assert!(seen[1].total > 2);
}

/// One change that takes a video's parameters out of range.
type Change = fn(&mut VideoParams);

#[test]
fn out_of_range_videos_are_refused_with_the_limit() {
    let (_dir, model) = tiny_model();
    let t2v = TextToVideo::new(&model).unwrap();
    let cases: Vec<(Change, &str)> = vec![
        (|p| p.frames = 0, "frames 0"),
        (|p| p.frames = MAX_FRAMES + 1, "frames"),
        (|p| p.steps = 2, "steps 2"),
        (|p| p.width = 30, "width 30"),
        (|p| p.t0 = Some(2), "t0 2 and t1 2"),
        (|p| p.t1 = Some(4), "t1 4"),
        (|p| p.guidance = f64::NAN, "guidance"),
    ];
    for (change, message) in cases {
        let mut p = params(1);
        change(&mut p);
        let result = t2v.run(&p, &AtomicBool::new(false), &mut |_| {}, &mut |_, _| Ok(()));
        match result {
            Err(PipelineError::Invalid(text)) => {
                assert!(text.contains(message), "{message}: got {text}")
            }
            other => panic!("{message}: expected a refusal, got {other:?}"),
        }
    }
}

//! adforge's schedulers against diffusers' own trajectories
//! (tests/fixtures/schedulers_diffusers.json, made by scripts/fixtures/schedulers_diffusers.py):
//! SD 1.5's schedule, 10 steps, a fixed stand-in for the UNet, every latent after every step
//! within 1e-6 relative (of the latent's largest value).

use adforge::engine::image::schedulers::{NoiseSchedule, Scheduler, SchedulerKind};
use candle_core::{Device, Tensor};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn tensor(values: Vec<f64>) -> Tensor {
    Tensor::from_vec(values, (1, 4, 4, 4), &Device::Cpu).unwrap()
}

/// eps(x, t) = 0.3 x + 0.1 sin(t / 97 + k), k the element's index: the script's stand-in.
fn fake_unet(x: &Tensor, t: f64) -> Tensor {
    let values: Vec<f64> = x.flatten_all().unwrap().to_vec1().unwrap();
    tensor(
        values
            .iter()
            .enumerate()
            .map(|(k, v)| 0.3 * v + 0.1 * (t / 97.0 + k as f64).sin())
            .collect(),
    )
}

#[test]
fn schedulers_follow_diffusers_step_by_step() {
    let fixture: Value =
        serde_json::from_str(include_str!("../fixtures/schedulers_diffusers.json")).unwrap();
    for (name, kind) in [
        ("ddim", SchedulerKind::Ddim),
        ("euler", SchedulerKind::Euler),
        ("euler_ancestral", SchedulerKind::EulerAncestral),
        ("dpmpp_2m", SchedulerKind::DpmPlusPlus2m),
    ] {
        let reference = &fixture[name];
        let mut scheduler = Scheduler::new(kind, &NoiseSchedule::STABLE_DIFFUSION, 10);
        assert_eq!(
            scheduler.timesteps(),
            floats(&reference["timesteps"]),
            "{name}"
        );
        let sigma = reference["init_noise_sigma"].as_f64().unwrap();
        assert!(
            (scheduler.init_noise_sigma() - sigma).abs() < 1e-5 * sigma,
            "{name}: init noise sigma {} vs {sigma}",
            scheduler.init_noise_sigma()
        );
        let mut x = tensor(floats(&reference["initial"]))
            .affine(scheduler.init_noise_sigma(), 0.0)
            .unwrap();
        let scales = floats(&reference["input_scales"]);
        for (i, expected) in reference["trajectory"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert!(
                (scheduler.input_scale() - scales[i]).abs() < 1e-5 * scales[i],
                "{name} step {i}: input scale {} vs {}",
                scheduler.input_scale(),
                scales[i]
            );
            let input = x.affine(scheduler.input_scale(), 0.0).unwrap();
            let eps = fake_unet(&input, scheduler.timestep());
            let noise = reference["noises"]
                .as_array()
                .and_then(|n| n.get(i))
                .map(|n| tensor(floats(n)));
            x = scheduler.step(&x, &eps, noise.as_ref()).unwrap();
            let ours: Vec<f64> = x.flatten_all().unwrap().to_vec1().unwrap();
            let want = floats(expected);
            let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
            let worst = ours
                .iter()
                .zip(&want)
                .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                worst <= 1e-6 * scale,
                "{name} step {i}: off by {worst:e} (scale {scale})"
            );
        }
        assert!(scheduler.done());
    }
}

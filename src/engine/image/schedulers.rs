//! Denoising schedulers, one state per image so that images at different steps can share a
//! UNet batch: DDIM (eta 0), Euler, Euler ancestral and DPM-Solver++ 2M, following diffusers'
//! `DDIMScheduler`, `EulerDiscreteScheduler`, `EulerAncestralDiscreteScheduler` and
//! `DPMSolverMultistepScheduler` (dpmsolver++, order 2, midpoint, lower order at the final
//! step) for epsilon-predicting models, checked step by step against diffusers' own
//! trajectories (`scripts/fixtures/schedulers_diffusers.py`). Each step is a linear combination
//! of the latent, the model's output (and, for ancestral sampling, fresh noise that the caller
//! draws from the image's own seed).

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// The schedulers adforge runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerKind {
    Ddim,
    Euler,
    EulerAncestral,
    DpmPlusPlus2m,
}

/// How the inference timesteps are spread over the training steps (diffusers'
/// `timestep_spacing`): SD 1.5 and 2.1 use leading, SD-Turbo and SDXL-Turbo trailing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spacing {
    Leading,
    Trailing,
    Linspace,
}

/// The noise schedule of the model's training (Stable Diffusion: scaled linear betas from
/// 0.00085 to 0.012 over 1000 steps, steps offset 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseSchedule {
    pub train_steps: usize,
    pub beta_start: f64,
    pub beta_end: f64,
    pub steps_offset: usize,
    pub spacing: Spacing,
}

impl NoiseSchedule {
    pub const STABLE_DIFFUSION: NoiseSchedule = NoiseSchedule {
        train_steps: 1000,
        beta_start: 0.00085,
        beta_end: 0.012,
        steps_offset: 1,
        spacing: Spacing::Leading,
    };

    /// Cumulative products of alpha, in f32 as diffusers computes them (so the schedules agree
    /// to the last bit that matters), widened to f64.
    pub(crate) fn alphas_cumprod(&self) -> Vec<f64> {
        let n = self.train_steps;
        let (lo, hi) = (self.beta_start.sqrt() as f32, self.beta_end.sqrt() as f32);
        let mut product = 1f32;
        (0..n)
            .map(|i| {
                let root = lo + (hi - lo) * i as f32 / (n - 1) as f32;
                product *= 1.0 - root * root;
                f64::from(product)
            })
            .collect()
    }
}

/// One image's progress through the schedule.
pub struct Scheduler {
    kind: SchedulerKind,
    /// Training timesteps of the inference steps, first to last.
    timesteps: Vec<f64>,
    /// Euler family and DPM: sigma at each step, then the final one (0).
    sigmas: Vec<f64>,
    alphas_cumprod: Vec<f64>,
    /// DDIM: training steps between inference steps.
    step_ratio: usize,
    step: usize,
    /// DPM-Solver++: the previous step's x0 prediction.
    previous_x0: Option<Tensor>,
    init_noise_sigma: f64,
}

/// Linear interpolation of `values` (at 0, 1, 2, ...) at `t`, as numpy's `interp`.
fn interp(values: &[f64], t: f64) -> f64 {
    let last = values.len() - 1;
    if t <= 0.0 {
        return values[0];
    }
    if t >= last as f64 {
        return values[last];
    }
    let i = t.floor() as usize;
    let f = t - i as f64;
    values[i] * (1.0 - f) + values[i + 1] * f
}

/// a x + b y (+ c z)
fn combine(terms: &[(f64, &Tensor)]) -> candle_core::Result<Tensor> {
    let mut sum: Option<Tensor> = None;
    for (coefficient, tensor) in terms {
        let term = tensor.affine(*coefficient, 0.0)?;
        sum = Some(match sum {
            Some(s) => (s + term)?,
            None => term,
        });
    }
    sum.ok_or_else(|| candle_core::Error::Msg("no terms".into()))
}

impl Scheduler {
    pub fn new(kind: SchedulerKind, schedule: &NoiseSchedule, steps: usize) -> Self {
        let steps = steps.max(1);
        let n = schedule.train_steps;
        let offset = schedule.steps_offset as f64;
        let dpm = kind == SchedulerKind::DpmPlusPlus2m;
        let timesteps: Vec<f64> = match (schedule.spacing, dpm) {
            (Spacing::Leading, false) => {
                let ratio = n / steps;
                (0..steps)
                    .rev()
                    .map(|i| (i * ratio) as f64 + offset)
                    .collect()
            }
            (Spacing::Leading, true) => {
                let ratio = n / (steps + 1);
                (1..=steps)
                    .rev()
                    .map(|i| (i * ratio) as f64 + offset)
                    .collect()
            }
            (Spacing::Trailing, _) => {
                let ratio = n as f64 / steps as f64;
                (0..steps)
                    .map(|i| (n as f64 - i as f64 * ratio).round() - 1.0)
                    .collect()
            }
            (Spacing::Linspace, false) => (0..steps)
                .rev()
                .map(|i| {
                    if steps == 1 {
                        0.0
                    } else {
                        (n - 1) as f64 * i as f64 / (steps - 1) as f64
                    }
                })
                .map(|t| {
                    if kind == SchedulerKind::Ddim {
                        t.round()
                    } else {
                        t
                    }
                })
                .collect(),
            (Spacing::Linspace, true) => (1..=steps)
                .rev()
                .map(|i| ((n - 1) as f64 * i as f64 / steps as f64).round())
                .collect(),
        };
        let alphas_cumprod = schedule.alphas_cumprod();
        let all_sigmas: Vec<f64> = alphas_cumprod
            .iter()
            .map(|a| ((1.0 - a) / a).sqrt())
            .collect();
        let mut sigmas: Vec<f64> = timesteps.iter().map(|&t| interp(&all_sigmas, t)).collect();
        sigmas.push(0.0);
        let max_sigma = sigmas.iter().copied().fold(0.0, f64::max);
        let init_noise_sigma = match kind {
            SchedulerKind::Ddim | SchedulerKind::DpmPlusPlus2m => 1.0,
            _ if schedule.spacing == Spacing::Leading => (max_sigma * max_sigma + 1.0).sqrt(),
            _ => max_sigma,
        };
        Self {
            kind,
            timesteps,
            sigmas,
            alphas_cumprod,
            step_ratio: n / steps,
            step: 0,
            previous_x0: None,
            init_noise_sigma,
        }
    }

    pub fn kind(&self) -> SchedulerKind {
        self.kind
    }

    /// The factor on unit Gaussian noise to start from.
    pub fn init_noise_sigma(&self) -> f64 {
        self.init_noise_sigma
    }

    pub fn timesteps(&self) -> &[f64] {
        &self.timesteps
    }

    /// Steps taken so far, and whether all are done.
    pub fn step_index(&self) -> usize {
        self.step
    }

    pub fn done(&self) -> bool {
        self.step >= self.timesteps.len()
    }

    /// The training timestep the UNet is told at this step.
    pub fn timestep(&self) -> f64 {
        self.timesteps[self.step.min(self.timesteps.len() - 1)]
    }

    /// The factor on the latent before it enters the UNet at this step.
    pub fn input_scale(&self) -> f64 {
        match self.kind {
            SchedulerKind::Euler | SchedulerKind::EulerAncestral => {
                let sigma = self.sigmas[self.step];
                1.0 / (sigma * sigma + 1.0).sqrt()
            }
            _ => 1.0,
        }
    }

    /// The cumulative alpha at this step, in the VP form the model was trained on.
    fn alpha_bar(&self) -> f64 {
        match self.kind {
            SchedulerKind::Ddim => self.alphas_cumprod[self.timestep() as usize],
            _ => {
                let sigma = self.sigmas[self.step.min(self.sigmas.len() - 1)];
                1.0 / (sigma * sigma + 1.0)
            }
        }
    }

    /// The noise prediction equal to a v-prediction `v` at this step, for models trained on v
    /// (SD 2.1 at 768): eps = sqrt(a) v + sqrt(1 - a) x_vp, where x_vp is the latent in VP
    /// scale (the UNet's input).
    pub fn epsilon_from_v(&self, x: &Tensor, v: &Tensor) -> candle_core::Result<Tensor> {
        let a = self.alpha_bar();
        combine(&[(a.sqrt(), v), ((1.0 - a).sqrt() * self.input_scale(), x)])
    }

    /// Skips to `step` (img2img with strength below 1 starts part-way through the schedule).
    pub fn start_at(&mut self, step: usize) {
        self.step = step.min(self.timesteps.len());
        self.previous_x0 = None;
    }

    /// The clean latent `x0` noised to this step's level with unit noise `noise`, as diffusers'
    /// `add_noise` for the same scheduler.
    pub fn add_noise(&self, x0: &Tensor, noise: &Tensor) -> candle_core::Result<Tensor> {
        match self.kind {
            // Both keep the latent in VP scale.
            SchedulerKind::Ddim | SchedulerKind::DpmPlusPlus2m => {
                let a = self.alpha_bar();
                combine(&[(a.sqrt(), x0), ((1.0 - a).sqrt(), noise)])
            }
            _ => combine(&[(1.0, x0), (self.sigmas[self.step], noise)]),
        }
    }

    /// Whether this step needs fresh noise (`noise` of `step`).
    pub fn needs_noise(&self) -> bool {
        self.kind == SchedulerKind::EulerAncestral
    }

    /// One step: the latent `x`, the model's predicted noise `eps`, and for ancestral sampling
    /// unit Gaussian `noise` of the latent's shape. Returns the next latent.
    pub fn step(
        &mut self,
        x: &Tensor,
        eps: &Tensor,
        noise: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let i = self.step;
        if i >= self.timesteps.len() {
            return Err(candle_core::Error::Msg("the schedule is finished".into()));
        }
        let next = match self.kind {
            SchedulerKind::Ddim => {
                let t = self.timesteps[i] as usize;
                let a = self.alphas_cumprod[t];
                let a_prev = t
                    .checked_sub(self.step_ratio)
                    .map_or(self.alphas_cumprod[0], |p| self.alphas_cumprod[p]);
                // x0 = (x - sqrt(1 - a) eps) / sqrt(a); x' = sqrt(a') x0 + sqrt(1 - a') eps
                let on_x = (a_prev / a).sqrt();
                let on_eps = (1.0 - a_prev).sqrt() - (a_prev * (1.0 - a) / a).sqrt();
                combine(&[(on_x, x), (on_eps, eps)])?
            }
            SchedulerKind::Euler => {
                let (sigma, sigma_next) = (self.sigmas[i], self.sigmas[i + 1]);
                combine(&[(1.0, x), (sigma_next - sigma, eps)])?
            }
            SchedulerKind::EulerAncestral => {
                let (from, to) = (self.sigmas[i], self.sigmas[i + 1]);
                let up = (to * to * (from * from - to * to) / (from * from)).sqrt();
                let down = (to * to - up * up).sqrt();
                let noise = noise.ok_or_else(|| {
                    candle_core::Error::Msg("Euler ancestral needs noise at every step".into())
                })?;
                combine(&[(1.0, x), (down - from, eps), (up, noise)])?
            }
            SchedulerKind::DpmPlusPlus2m => self.dpm_step(x, eps)?,
        };
        self.step += 1;
        Ok(next)
    }

    /// DPM-Solver++ in diffusers' VP terms: alpha = 1 / sqrt(sigma^2 + 1), s = sigma alpha,
    /// lambda = log(alpha / s); first order at the first and the last step.
    fn dpm_step(&mut self, x: &Tensor, eps: &Tensor) -> candle_core::Result<Tensor> {
        let i = self.step;
        let vp = |sigma: f64| {
            let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
            (alpha, sigma * alpha)
        };
        let (alpha_s, s_s) = vp(self.sigmas[i]);
        let (alpha_t, s_t) = vp(self.sigmas[i + 1]);
        let x0 = combine(&[(1.0 / alpha_s, x), (-s_s / alpha_s, eps)])?;
        let lambda = |alpha: f64, s: f64| alpha.ln() - s.ln();
        // exp(-h) with h = lambda_t - lambda_s; at the final sigma of 0, lambda_t is infinite.
        let decay = if s_t > 0.0 {
            (-(lambda(alpha_t, s_t) - lambda(alpha_s, s_s))).exp()
        } else {
            0.0
        };
        let last = i + 1 == self.timesteps.len();
        let next = match (&self.previous_x0, last) {
            (Some(previous), false) if i > 0 => {
                let (alpha_p, s_p) = vp(self.sigmas[i - 1]);
                let h = lambda(alpha_t, s_t) - lambda(alpha_s, s_s);
                let h0 = lambda(alpha_s, s_s) - lambda(alpha_p, s_p);
                let r0 = h0 / h;
                // D0 = x0, D1 = (x0 - previous) / r0; x' = (s_t/s_s) x - alpha_t (e^-h - 1) (D0 + D1 / 2)
                let k = -alpha_t * (decay - 1.0);
                combine(&[
                    (s_t / s_s, x),
                    (k * (1.0 + 0.5 / r0), &x0),
                    (-k * 0.5 / r0, previous),
                ])?
            }
            _ => combine(&[(s_t / s_s, x), (-alpha_t * (decay - 1.0), &x0)])?,
        };
        self.previous_x0 = Some(x0);
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_spacing_gives_turbo_its_last_timestep() {
        let schedule = NoiseSchedule {
            spacing: Spacing::Trailing,
            steps_offset: 0,
            ..NoiseSchedule::STABLE_DIFFUSION
        };
        let one = Scheduler::new(SchedulerKind::Euler, &schedule, 1);
        assert_eq!(one.timesteps(), &[999.0]);
        let four = Scheduler::new(SchedulerKind::Euler, &schedule, 4);
        assert_eq!(four.timesteps(), &[999.0, 749.0, 499.0, 249.0]);
        assert!((four.init_noise_sigma() - four.sigmas[0]).abs() < 1e-12);
    }

    #[test]
    fn a_finished_schedule_refuses_another_step() {
        let mut s = Scheduler::new(SchedulerKind::Ddim, &NoiseSchedule::STABLE_DIFFUSION, 1);
        let x = Tensor::zeros(
            (1, 4, 2, 2),
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )
        .unwrap();
        s.step(&x, &x, None).unwrap();
        assert!(s.done());
        assert!(s.step(&x, &x, None).is_err());
    }
}

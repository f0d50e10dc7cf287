//! `adforge bench image`: seconds per denoising step and images/s at several batch sizes for
//! one diffusion model, in process (no HTTP), through the same `DiffusionModel::step` the engine
//! batches with. Without a model folder it times a random-weight UNet of Stable Diffusion 1.5's
//! size (no SD weights can be installed here). Also times the compositor per format.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use candle_core::Device;
use serde::Serialize;

use crate::engine::image::pipeline::{DiffusionModel, ImageParams, PipelineError};
use crate::engine::image::random::{RandomModelSpec, write_random_model};
use crate::engine::image::schedulers::SchedulerKind;

#[derive(Debug, Clone)]
pub struct ImageBench {
    /// A diffusers folder (one that does not exist yet gets a random-weight SD 1.5-sized
    /// model written into it and kept); `None`: a random-weight SD 1.5-sized UNet, deleted after
    /// loading.
    pub model_dir: Option<PathBuf>,
    pub width: u32,
    pub height: u32,
    pub batches: Vec<usize>,
    /// Timed steps per batch size (after one untimed warm-up step).
    pub steps: usize,
    /// Classifier-free guidance doubles the UNet rows; 1 turns it off (as SD-Turbo runs).
    pub guidance: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub batch: usize,
    pub unet_rows: usize,
    pub seconds_per_step: f64,
    /// Images finished per second if every image ran `steps_per_image` steps at this batch.
    pub images_per_second: f64,
    pub steps_per_image: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageBenchReport {
    pub model: String,
    pub width: u32,
    pub height: u32,
    pub guidance: f64,
    pub steps: Vec<StepReport>,
    /// Images/s at the largest batch over images/s at batch 1, measured in this run.
    pub batching_speedup: f64,
    /// The compositor at each format (gradient background, headline, body, CTA).
    pub compositor: Vec<CompositorReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompositorReport {
    pub format: &'static str,
    pub width: u32,
    pub height: u32,
    pub renders_per_second: f64,
    /// The same render encoded as PNG, per second.
    pub png_per_second: f64,
}

/// Renders per format: a gradient creative with all three text layers, `rounds` times each.
pub fn compositor_bench(rounds: usize) -> Result<Vec<CompositorReport>, PipelineError> {
    use crate::media::compositor::{
        Background, BrandKit, Compositor, CreativeSpec, FontLibrary, OutputFormat, Rgb, encode,
    };
    let compositor = Compositor::new(FontLibrary::bundled());
    let spec = CreativeSpec {
        headline: "Run lighter on every trail".into(),
        body: Some("Our lightest trail shoe yet, with grip that holds in the wet.".into()),
        cta: Some("Shop now".into()),
        background: Background::Gradient {
            from: Rgb(0x0B, 0x5F, 0xFF),
            to: Rgb(0xFF, 0xFF, 0xFF),
            angle_deg: 135.0,
        },
        product: None,
        logo: None,
        brand: BrandKit::default(),
    };
    let fail = |e: crate::media::compositor::ComposeError| PipelineError::Invalid(e.to_string());
    let mut reports = Vec::new();
    for format in crate::media::formats::FORMATS {
        compositor.render(&spec, format).map_err(fail)?;
        let started = Instant::now();
        let mut last = None;
        for _ in 0..rounds {
            last = Some(compositor.render(&spec, format).map_err(fail)?);
        }
        let render_secs = started.elapsed().as_secs_f64() / rounds.max(1) as f64;
        let started = Instant::now();
        if let Some(rendered) = &last {
            for _ in 0..rounds {
                encode(&rendered.image, OutputFormat::Png, &[]).map_err(fail)?;
            }
        }
        let png_secs = render_secs + started.elapsed().as_secs_f64() / rounds.max(1) as f64;
        reports.push(CompositorReport {
            format: format.id,
            width: format.width,
            height: format.height,
            renders_per_second: 1.0 / render_secs,
            png_per_second: 1.0 / png_secs,
        });
    }
    Ok(reports)
}

impl ImageBench {
    pub fn run(&self) -> Result<ImageBenchReport, PipelineError> {
        if self.batches.is_empty() {
            return Ok(ImageBenchReport {
                model: "none (compositor only)".into(),
                width: self.width,
                height: self.height,
                guidance: self.guidance,
                steps: Vec::new(),
                batching_speedup: 0.0,
                compositor: compositor_bench(5)?,
            });
        }
        let device = Device::Cpu;
        let scratch;
        let (name, dir) = match &self.model_dir {
            Some(dir) if !dir.exists() => {
                tracing::info!(dir = %dir.display(), "writing a random-weight SD 1.5-sized UNet (kept)");
                write_random_model(dir, &RandomModelSpec::sd15_unet(), 1)?;
                ("random-weight SD 1.5 UNet".to_string(), dir.clone())
            }
            Some(dir) => (dir.display().to_string(), dir.clone()),
            None => {
                scratch = tempfile_dir()?;
                tracing::info!("writing a random-weight SD 1.5-sized UNet");
                write_random_model(&scratch, &RandomModelSpec::sd15_unet(), 1)?;
                ("random-weight SD 1.5 UNet".to_string(), scratch.clone())
            }
        };
        let model = Arc::new(DiffusionModel::load("bench", &dir, &device)?);
        if self.model_dir.is_none() {
            // The weights are in memory now; the 3.4 GB of scratch files can go.
            let _ = std::fs::remove_dir_all(&dir);
        }
        let cond = Arc::new(model.encode_prompt("a product photo", "", self.guidance > 1.0)?);
        let steps_per_image = 20;
        let mut reports = Vec::new();
        for &batch in &self.batches {
            let params = ImageParams {
                width: self.width,
                height: self.height,
                steps: (self.steps + 2) as u32,
                guidance: self.guidance,
                scheduler: SchedulerKind::Euler,
                seed: 1,
                strength: 1.0,
            };
            let mut images = (0..batch)
                .map(|i| model.start(cond.clone(), &params, i as u32, None))
                .collect::<Result<Vec<_>, _>>()?;
            let mut refs: Vec<&mut _> = images.iter_mut().collect();
            model.step(&mut refs)?;
            let started = Instant::now();
            for _ in 0..self.steps {
                model.step(&mut refs)?;
            }
            let seconds_per_step = started.elapsed().as_secs_f64() / self.steps.max(1) as f64;
            let report = StepReport {
                batch,
                unet_rows: refs.iter().map(|d| d.rows()).sum(),
                seconds_per_step,
                images_per_second: batch as f64 / (seconds_per_step * steps_per_image as f64),
                steps_per_image,
            };
            tracing::info!(?report, "image bench level done");
            reports.push(report);
        }
        let speedup = match (reports.first(), reports.last()) {
            (Some(a), Some(b)) if a.images_per_second > 0.0 => {
                b.images_per_second / a.images_per_second
            }
            _ => 0.0,
        };
        Ok(ImageBenchReport {
            model: name,
            width: self.width,
            height: self.height,
            guidance: self.guidance,
            steps: reports,
            batching_speedup: speedup,
            compositor: compositor_bench(5)?,
        })
    }
}

fn tempfile_dir() -> Result<PathBuf, PipelineError> {
    let dir = std::env::temp_dir().join(format!("adforge-bench-image-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| PipelineError::Invalid(e.to_string()))?;
    Ok(dir)
}

pub fn table(report: &ImageBenchReport) -> String {
    let mut out = format!(
        "adforge image: {} at {}x{}, guidance {}\n{:>6} {:>6} {:>10} {:>12}\n",
        report.model,
        report.width,
        report.height,
        report.guidance,
        "batch",
        "rows",
        "s/step",
        "images/s*"
    );
    for s in &report.steps {
        out.push_str(&format!(
            "{:>6} {:>6} {:>10.3} {:>12.4}\n",
            s.batch, s.unet_rows, s.seconds_per_step, s.images_per_second
        ));
    }
    out.push_str(&format!(
        "* at {} steps per image; batching speed-up (largest batch vs 1): {:.2}x\n",
        report.steps.first().map_or(0, |s| s.steps_per_image),
        report.batching_speedup
    ));
    out.push_str(&format!(
        "\ncompositor (gradient, headline, body, CTA)\n{:<26} {:>10} {:>10} {:>10}\n",
        "format", "size", "renders/s", "+png/s"
    ));
    for c in &report.compositor {
        out.push_str(&format!(
            "{:<26} {:>10} {:>10.1} {:>10.1}\n",
            c.format,
            format!("{}x{}", c.width, c.height),
            c.renders_per_second,
            c.png_per_second
        ));
    }
    out
}

//! Random-weight diffusion models of the real architectures, written as diffusers folders:
//! the tests run the whole pipeline on tiny ones (no Stable Diffusion weights can be installed
//! here), and `adforge bench image` times an SD 1.5-sized UNet. Weights are seeded (the same
//! seed writes the same files): Gaussian with standard deviation 1/sqrt(fan-in) for matrices
//! and kernels, 1 + small noise for norm scales, small noise for biases.

use std::fs;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Init, VarBuilder, VarMap};
use serde_json::{Value, json};

use super::clip::{ClipConfig, ClipTextEncoder};
use super::noise;
use super::pipeline::PipelineError;
use super::unet::{UNet, UNetConfig};
use super::vae::{Vae, VaeConfig};

/// The configs of a model to write.
#[derive(Debug, Clone)]
pub struct RandomModelSpec {
    pub unet: Value,
    pub vae: Value,
    /// One text encoder (SD) or two (SDXL); the second gets a projection.
    pub text_encoders: Vec<Value>,
    pub scheduler: Value,
}

fn scheduler_config(spacing: &str, offset: usize) -> Value {
    json!({
        "_class_name": "EulerDiscreteScheduler",
        "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
        "beta_schedule": "scaled_linear", "prediction_type": "epsilon",
        "steps_offset": offset, "timestep_spacing": spacing
    })
}

fn clip_config(hidden: usize, layers: usize, projection: usize) -> Value {
    json!({
        "vocab_size": 49408, "hidden_size": hidden, "intermediate_size": hidden * 2,
        "num_hidden_layers": layers, "num_attention_heads": 2, "max_position_embeddings": 77,
        "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "projection_dim": projection
    })
}

fn tiny_vae() -> Value {
    json!({
        "block_out_channels": [16, 32], "layers_per_block": 1, "latent_channels": 4,
        "norm_num_groups": 8, "scaling_factor": 0.18215
    })
}

impl RandomModelSpec {
    /// SD 1.5's layout at toy width: two UNet levels (cross-attention then plain), a two-level
    /// VAE (2 pixels per latent), one CLIP encoder of width 32.
    pub fn tiny_sd() -> Self {
        Self {
            unet: json!({
                "block_out_channels": [32, 64],
                "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
                "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
                "layers_per_block": 1, "attention_head_dim": 4, "cross_attention_dim": 32,
                "norm_num_groups": 32, "sample_size": 16
            }),
            vae: tiny_vae(),
            text_encoders: vec![clip_config(32, 2, 32)],
            scheduler: scheduler_config("leading", 1),
        }
    }

    /// SDXL's layout at toy width: plain then cross-attention levels with two transformer
    /// layers, linear projections, two text encoders (16 + 16 features), pooled embedding and
    /// size ids.
    pub fn tiny_sdxl() -> Self {
        Self {
            unet: json!({
                "block_out_channels": [32, 64],
                "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
                "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
                "layers_per_block": 1, "attention_head_dim": [2, 4],
                "transformer_layers_per_block": [1, 2], "cross_attention_dim": 32,
                "norm_num_groups": 32, "use_linear_projection": true,
                "addition_embed_type": "text_time", "addition_time_embed_dim": 8,
                "projection_class_embeddings_input_dim": 16 + 6 * 8, "sample_size": 16
            }),
            vae: tiny_vae(),
            text_encoders: vec![clip_config(16, 2, 16), clip_config(16, 2, 16)],
            scheduler: scheduler_config("trailing", 0),
        }
    }

    /// Stable Diffusion 1.5's UNet at full size (860M parameters); the VAE and text encoder
    /// are small stand-ins, since the benchmark times the UNet step.
    pub fn sd15_unet() -> Self {
        Self {
            unet: json!({
                "block_out_channels": [320, 640, 1280, 1280],
                "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
                "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
                "layers_per_block": 2, "attention_head_dim": 8, "cross_attention_dim": 768,
                "norm_num_groups": 32, "sample_size": 64
            }),
            vae: json!({
                "block_out_channels": [32, 32, 32, 32], "layers_per_block": 1,
                "latent_channels": 4, "norm_num_groups": 8, "scaling_factor": 0.18215
            }),
            text_encoders: vec![clip_config(768, 1, 768)],
            scheduler: scheduler_config("leading", 1),
        }
    }
}

fn to_err(e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Invalid(e.to_string())
}

/// Replaces every variable with seeded values (see the module doc).
fn randomize(varmap: &VarMap, seed: u64) -> Result<(), PipelineError> {
    let data = varmap.data().lock().map_err(to_err)?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for (k, name) in names.into_iter().enumerate() {
        let var = &data[name];
        let shape = var.shape().clone();
        let dims = shape.dims();
        let count = shape.elem_count();
        let values = noise::gaussian(seed, k as u32, 0, count);
        let values: Vec<f32> = if dims.len() >= 2 {
            let fan_in: usize = dims[1..].iter().product();
            let scale = 1.0 / (fan_in.max(1) as f32).sqrt();
            values.iter().map(|v| v * scale).collect()
        } else if name.ends_with("weight") {
            values.iter().map(|v| 1.0 + 0.02 * v).collect()
        } else {
            values.iter().map(|v| 0.02 * v).collect()
        };
        let tensor = Tensor::from_vec(values, shape, &Device::Cpu)?;
        var.set(&tensor)?;
    }
    Ok(())
}

fn write_component(
    dir: &Path,
    folder: &str,
    file: &str,
    config: &Value,
    varmap: &VarMap,
    seed: u64,
) -> Result<(), PipelineError> {
    let path = dir.join(folder);
    fs::create_dir_all(&path).map_err(to_err)?;
    randomize(varmap, seed)?;
    fs::write(
        path.join("config.json"),
        serde_json::to_vec_pretty(config).map_err(to_err)?,
    )
    .map_err(to_err)?;
    varmap.save(path.join(file))?;
    Ok(())
}

/// Writes a diffusers folder for `spec` with seeded random weights.
pub fn write_random_model(
    dir: &Path,
    spec: &RandomModelSpec,
    seed: u64,
) -> Result<(), PipelineError> {
    let device = Device::Cpu;
    let weights = "diffusion_pytorch_model.safetensors";

    let varmap = VarMap::new();
    let unet_config: UNetConfig = serde_json::from_value(spec.unet.clone()).map_err(to_err)?;
    UNet::new(
        unet_config,
        VarBuilder::from_varmap(&varmap, DType::F32, &device),
    )?;
    write_component(dir, "unet", weights, &spec.unet, &varmap, seed)?;

    let varmap = VarMap::new();
    let vae_config: VaeConfig = serde_json::from_value(spec.vae.clone()).map_err(to_err)?;
    Vae::new(
        vae_config,
        VarBuilder::from_varmap(&varmap, DType::F32, &device),
    )?;
    write_component(dir, "vae", weights, &spec.vae, &varmap, seed + 1)?;

    let n_encoders = spec.text_encoders.len();
    for (i, config) in spec.text_encoders.iter().enumerate() {
        let varmap = VarMap::new();
        let clip: ClipConfig = serde_json::from_value(config.clone()).map_err(to_err)?;
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        if n_encoders == 2 && i == 1 {
            let projection = clip.projection_dim.unwrap_or(clip.hidden_size);
            vb.get_with_hints(
                (projection, clip.hidden_size),
                "text_projection.weight",
                Init::Const(0.0),
            )?;
        }
        ClipTextEncoder::new(clip, vb)?;
        let (folder, tokenizer) = if i == 0 {
            ("text_encoder", "tokenizer")
        } else {
            ("text_encoder_2", "tokenizer_2")
        };
        write_component(
            dir,
            folder,
            "model.safetensors",
            config,
            &varmap,
            seed + 2 + i as u64,
        )?;
        // SD 1.5's tokenizer pads with end-of-text, SDXL's second with "!".
        let pad = if i == 1 { "!" } else { "<|endoftext|>" };
        let tokenizer_dir = dir.join(tokenizer);
        fs::create_dir_all(&tokenizer_dir).map_err(to_err)?;
        fs::write(
            tokenizer_dir.join("special_tokens_map.json"),
            json!({ "pad_token": pad }).to_string(),
        )
        .map_err(to_err)?;
    }
    fs::create_dir_all(dir.join("scheduler")).map_err(to_err)?;
    fs::write(
        dir.join("scheduler/scheduler_config.json"),
        serde_json::to_vec_pretty(&spec.scheduler).map_err(to_err)?,
    )
    .map_err(to_err)?;
    let class = if n_encoders == 2 {
        "StableDiffusionXLPipeline"
    } else {
        "StableDiffusionPipeline"
    };
    fs::write(
        dir.join("model_index.json"),
        json!({ "_class_name": class, "adforge_random_weights": seed }).to_string(),
    )
    .map_err(to_err)?;
    Ok(())
}

//! The Stable Diffusion VAE (diffusers' `AutoencoderKL` layout and weight names), built from
//! candle-transformers' public blocks so that both halves are ours to call: the encoder returns
//! the posterior mean (img2img starts from it, deterministic; candle's `encode` only samples),
//! and the decoder runs in overlapping tiles for large images, so memory stays bounded by the
//! tile whatever the output size.

use candle_core::{DType, Result, Tensor};
use candle_nn::{Conv2d, GroupNorm, Linear, Module, VarBuilder};
use candle_transformers::models::stable_diffusion::resnet::{ResnetBlock2D, ResnetBlock2DConfig};
use candle_transformers::models::stable_diffusion::unet_2d_blocks::{
    DownEncoderBlock2D, DownEncoderBlock2DConfig, UpDecoderBlock2D, UpDecoderBlock2DConfig,
};
use serde::Deserialize;

fn default_latent() -> usize {
    4
}
fn default_groups() -> usize {
    32
}
fn default_scaling() -> f64 {
    0.18215
}
fn default_true() -> bool {
    true
}

/// The fields of a diffusers VAE `config.json` this model uses.
#[derive(Debug, Clone, Deserialize)]
pub struct VaeConfig {
    pub block_out_channels: Vec<usize>,
    pub layers_per_block: usize,
    #[serde(default = "default_latent")]
    pub latent_channels: usize,
    #[serde(default = "default_groups")]
    pub norm_num_groups: usize,
    /// Latents are the encoder's output times this (SD 1.5/2.1: 0.18215, SDXL: 0.13025).
    #[serde(default = "default_scaling")]
    pub scaling_factor: f64,
    #[serde(default = "default_true")]
    pub use_quant_conv: bool,
    #[serde(default = "default_true")]
    pub use_post_quant_conv: bool,
}

impl VaeConfig {
    /// Pixels per latent on a side.
    pub fn factor(&self) -> usize {
        1 << (self.block_out_channels.len() - 1)
    }
}

fn conv(in_c: usize, out_c: usize, kernel: usize, vb: VarBuilder) -> Result<Conv2d> {
    let cfg = candle_nn::Conv2dConfig {
        padding: kernel / 2,
        ..Default::default()
    };
    candle_nn::conv2d(in_c, out_c, kernel, cfg, vb)
}

/// The VAE's single-head self-attention over all positions (diffusers' `Attention` with a
/// group norm and a residual; weights `to_q`/`to_k`/`to_v`/`to_out.0`, or the older
/// `query`/`key`/`value`/`proj_attn`). Written here because candle-transformers'
/// `AttentionBlock` does not reproduce diffusers on these weights (checked against the fixture).
struct MidAttention {
    group_norm: GroupNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
}

impl MidAttention {
    fn new(channels: usize, groups: usize, vb: VarBuilder) -> Result<Self> {
        let (q, k, v, out) = if vb.contains_tensor("query.weight") {
            ("query", "key", "value", "proj_attn")
        } else {
            ("to_q", "to_k", "to_v", "to_out.0")
        };
        let linear = |name: &str| candle_nn::linear(channels, channels, vb.pp(name));
        Ok(Self {
            group_norm: candle_nn::group_norm(groups, channels, 1e-6, vb.pp("group_norm"))?,
            q: linear(q)?,
            k: linear(k)?,
            v: linear(v)?,
            out: linear(out)?,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let hs = self
            .group_norm
            .forward(xs)?
            .reshape((b, c, h * w))?
            .transpose(1, 2)?
            .contiguous()?;
        let q = self.q.forward(&hs)?;
        let k = self.k.forward(&hs)?;
        let v = self.v.forward(&hs)?;
        let scores = (q.matmul(&k.t()?)? / (c as f64).sqrt())?;
        let attn = candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)?;
        let out = self
            .out
            .forward(&attn)?
            .transpose(1, 2)?
            .reshape((b, c, h, w))?;
        out + xs
    }
}

/// resnet, attention, resnet at the lowest resolution.
struct MidBlock {
    first: ResnetBlock2D,
    attention: MidAttention,
    second: ResnetBlock2D,
}

impl MidBlock {
    fn new(channels: usize, groups: usize, vb: VarBuilder) -> Result<Self> {
        let cfg = ResnetBlock2DConfig {
            eps: 1e-6,
            groups,
            temb_channels: None,
            ..Default::default()
        };
        let resnets = vb.pp("resnets");
        Ok(Self {
            first: ResnetBlock2D::new(resnets.pp(0), channels, cfg)?,
            attention: MidAttention::new(channels, groups, vb.pp("attentions").pp(0))?,
            second: ResnetBlock2D::new(resnets.pp(1), channels, cfg)?,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = self.first.forward(xs, None)?;
        let xs = self.attention.forward(&xs)?;
        self.second.forward(&xs, None)
    }
}

struct Encoder {
    conv_in: Conv2d,
    down_blocks: Vec<DownEncoderBlock2D>,
    mid_block: MidBlock,
    conv_norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl Encoder {
    fn new(cfg: &VaeConfig, vb: VarBuilder) -> Result<Self> {
        let channels = &cfg.block_out_channels;
        let last = channels[channels.len() - 1];
        let down_blocks = (0..channels.len())
            .map(|i| {
                let block_cfg = DownEncoderBlock2DConfig {
                    num_layers: cfg.layers_per_block,
                    resnet_eps: 1e-6,
                    resnet_groups: cfg.norm_num_groups,
                    add_downsample: i + 1 < channels.len(),
                    downsample_padding: 0,
                    ..Default::default()
                };
                let in_c = channels[i.saturating_sub(1)];
                DownEncoderBlock2D::new(vb.pp("down_blocks").pp(i), in_c, channels[i], block_cfg)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            conv_in: conv(3, channels[0], 3, vb.pp("conv_in"))?,
            down_blocks,
            mid_block: MidBlock::new(last, cfg.norm_num_groups, vb.pp("mid_block"))?,
            conv_norm_out: candle_nn::group_norm(
                cfg.norm_num_groups,
                last,
                1e-6,
                vb.pp("conv_norm_out"),
            )?,
            conv_out: conv(last, 2 * cfg.latent_channels, 3, vb.pp("conv_out"))?,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let mut xs = self.conv_in.forward(xs)?;
        for block in &self.down_blocks {
            xs = block.forward(&xs)?;
        }
        let xs = self.mid_block.forward(&xs)?;
        let xs = candle_nn::ops::silu(&self.conv_norm_out.forward(&xs)?)?;
        self.conv_out.forward(&xs)
    }
}

struct Decoder {
    conv_in: Conv2d,
    mid_block: MidBlock,
    up_blocks: Vec<UpDecoderBlock2D>,
    conv_norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl Decoder {
    fn new(cfg: &VaeConfig, vb: VarBuilder) -> Result<Self> {
        let reversed: Vec<usize> = cfg.block_out_channels.iter().rev().copied().collect();
        let up_blocks = (0..reversed.len())
            .map(|i| {
                let block_cfg = UpDecoderBlock2DConfig {
                    num_layers: cfg.layers_per_block + 1,
                    resnet_eps: 1e-6,
                    resnet_groups: cfg.norm_num_groups,
                    add_upsample: i + 1 < reversed.len(),
                    ..Default::default()
                };
                let in_c = reversed[i.saturating_sub(1)];
                UpDecoderBlock2D::new(vb.pp("up_blocks").pp(i), in_c, reversed[i], block_cfg)
            })
            .collect::<Result<Vec<_>>>()?;
        let first = cfg.block_out_channels[0];
        Ok(Self {
            conv_in: conv(cfg.latent_channels, reversed[0], 3, vb.pp("conv_in"))?,
            mid_block: MidBlock::new(reversed[0], cfg.norm_num_groups, vb.pp("mid_block"))?,
            up_blocks,
            conv_norm_out: candle_nn::group_norm(
                cfg.norm_num_groups,
                first,
                1e-6,
                vb.pp("conv_norm_out"),
            )?,
            conv_out: conv(first, 3, 3, vb.pp("conv_out"))?,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let mut xs = self.mid_block.forward(&self.conv_in.forward(xs)?)?;
        for block in &self.up_blocks {
            xs = block.forward(&xs)?;
        }
        let xs = candle_nn::ops::silu(&self.conv_norm_out.forward(&xs)?)?;
        self.conv_out.forward(&xs)
    }
}

pub struct Vae {
    encoder: Encoder,
    decoder: Decoder,
    quant_conv: Option<Conv2d>,
    post_quant_conv: Option<Conv2d>,
    config: VaeConfig,
}

/// Latent tile side for tiled decoding, and the overlap blended between neighbours.
pub const TILE_LATENTS: usize = 64;
pub const TILE_OVERLAP: usize = 16;

impl Vae {
    pub fn new(config: VaeConfig, vb: VarBuilder) -> Result<Self> {
        let latent = config.latent_channels;
        let quant_conv = if config.use_quant_conv {
            Some(conv(2 * latent, 2 * latent, 1, vb.pp("quant_conv"))?)
        } else {
            None
        };
        let post_quant_conv = if config.use_post_quant_conv {
            Some(conv(latent, latent, 1, vb.pp("post_quant_conv"))?)
        } else {
            None
        };
        Ok(Self {
            encoder: Encoder::new(&config, vb.pp("encoder"))?,
            decoder: Decoder::new(&config, vb.pp("decoder"))?,
            quant_conv,
            post_quant_conv,
            config,
        })
    }

    pub fn config(&self) -> &VaeConfig {
        &self.config
    }

    /// The posterior mean of `pixels` (batch, 3, H, W) in [-1, 1], unscaled.
    pub fn encode_mean(&self, pixels: &Tensor) -> Result<Tensor> {
        let moments = self.encoder.forward(pixels)?;
        let moments = match &self.quant_conv {
            Some(q) => q.forward(&moments)?,
            None => moments,
        };
        moments.narrow(1, 0, self.config.latent_channels)
    }

    /// Pixels in about [-1, 1] from unscaled latents, in one pass.
    pub fn decode(&self, latents: &Tensor) -> Result<Tensor> {
        let latents = match &self.post_quant_conv {
            Some(q) => q.forward(latents)?,
            None => latents.clone(),
        };
        self.decoder.forward(&latents)
    }

    /// Decodes in overlapping tiles of `tile` latents (`overlap` shared with each neighbour,
    /// blended linearly), so a large image needs only one tile's activations at a time. Images
    /// no larger than a tile decode in one pass.
    pub fn decode_tiled(&self, latents: &Tensor, tile: usize, overlap: usize) -> Result<Tensor> {
        let (batch, _, h, w) = latents.dims4()?;
        if h <= tile && w <= tile {
            return self.decode(latents);
        }
        let f = self.config.factor();
        let stride = tile.saturating_sub(overlap).max(1);
        let starts = |size: usize| -> Vec<usize> {
            let mut s: Vec<usize> = (0..)
                .map(|k| k * stride)
                .take_while(|&p| p + tile < size)
                .collect();
            s.push(size.saturating_sub(tile));
            s.dedup();
            s
        };
        // Weighted sums accumulate on the host: one pass per tile over that tile's pixels.
        let (ph, pw) = (h * f, w * f);
        let mut sum = vec![0f32; batch * 3 * ph * pw];
        let mut weight = vec![0f32; ph * pw];
        let (th, tw) = (tile.min(h), tile.min(w));
        let (tph, tpw) = (th * f, tw * f);
        for &y in &starts(h) {
            for &x in &starts(w) {
                let part = latents.narrow(2, y, th)?.narrow(3, x, tw)?;
                let pixels = self.decode(&part)?.to_dtype(DType::F32)?.flatten_all()?;
                let pixels = pixels.to_vec1::<f32>()?;
                let (py, px) = (y * f, x * f);
                for ty in 0..tph {
                    let wy = ramp_weight(ty, overlap * f, y > 0);
                    for tx in 0..tpw {
                        let wgt = wy * ramp_weight(tx, overlap * f, x > 0);
                        let at = (py + ty) * pw + px + tx;
                        weight[at] += wgt;
                        for plane in 0..batch * 3 {
                            sum[plane * ph * pw + at] +=
                                wgt * pixels[(plane * tph + ty) * tpw + tx];
                        }
                    }
                }
            }
        }
        for (i, value) in sum.iter_mut().enumerate() {
            *value /= weight[i % (ph * pw)];
        }
        Tensor::from_vec(sum, (batch, 3, ph, pw), latents.device())
    }
}

/// A tile's blending weight at `i` pixels from its top (or left) edge: ramps from near 0 to 1
/// over `ramp` pixels where the edge overlaps an earlier tile, 1 elsewhere. Every pixel gets a
/// positive weight from at least one tile.
fn ramp_weight(i: usize, ramp: usize, overlaps: bool) -> f32 {
    if overlaps && i < ramp {
        (i as f32 + 1.0) / (ramp as f32 + 1.0)
    } else {
        1.0
    }
}

//! adforge's UNet forward: the diffusers `UNet2DConditionModel` architecture and weight names,
//! with a timestep per sample. candle's own forward takes one scalar timestep for the whole
//! batch, which rules out batching requests that stand at different steps; here the time
//! embedding is computed from a vector (one entry per row), and everything after it is the
//! blocks of `unet_blocks.rs` (candle-transformers' resnets, which take a per-row embedding, and
//! adforge's own spatial transformer, whose self-attention can run in cross-frame mode for
//! video: `forward_with` and `transformer::AttentionMode`). SDXL's extra conditioning (`addition_embed_type: "text_time"`:
//! pooled text embedding plus six size/crop ids) is added to the time embedding per row too.
//!
//! The configuration is read from the checkpoint's diffusers `config.json`; the forward is
//! checked against diffusers on random weights (tests/fixtures/diffusion, tests/it/diffusion.rs).

use candle_core::{D, DType, Result, Tensor};
use candle_nn::{Module, VarBuilder};
use candle_transformers::models::stable_diffusion::embeddings::{TimestepEmbedding, Timesteps};

use super::transformer::AttentionMode;
use super::unet_blocks::{
    BlockAttention, BlockShape, DownBlock, DownLayout, MidBlock, UpBlock, UpLayout,
};
use serde::Deserialize;

/// A number or one per block, as diffusers' config writes `attention_head_dim` and
/// `transformer_layers_per_block`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum PerBlock {
    One(usize),
    Each(Vec<usize>),
}

impl PerBlock {
    fn get(&self, block: usize) -> usize {
        match self {
            PerBlock::One(value) => *value,
            PerBlock::Each(values) => values.get(block).copied().unwrap_or(1),
        }
    }
}

fn one() -> PerBlock {
    PerBlock::One(1)
}
fn default_groups() -> usize {
    32
}
fn default_eps() -> f64 {
    1e-5
}
fn default_true() -> bool {
    true
}
fn default_padding() -> usize {
    1
}
fn default_scale() -> f64 {
    1.0
}
fn default_channels() -> usize {
    4
}

/// The fields of a diffusers UNet `config.json` this forward uses.
#[derive(Debug, Clone, Deserialize)]
pub struct UNetConfig {
    #[serde(default = "default_channels")]
    pub in_channels: usize,
    #[serde(default = "default_channels")]
    pub out_channels: usize,
    pub block_out_channels: Vec<usize>,
    pub down_block_types: Vec<String>,
    pub up_block_types: Vec<String>,
    pub layers_per_block: usize,
    /// diffusers' legacy name: for these blocks it is the number of heads.
    pub attention_head_dim: PerBlock,
    #[serde(default = "one")]
    pub transformer_layers_per_block: PerBlock,
    pub cross_attention_dim: usize,
    #[serde(default = "default_groups")]
    pub norm_num_groups: usize,
    #[serde(default = "default_eps")]
    pub norm_eps: f64,
    #[serde(default = "default_true")]
    pub flip_sin_to_cos: bool,
    #[serde(default)]
    pub freq_shift: f64,
    #[serde(default)]
    pub use_linear_projection: bool,
    #[serde(default)]
    pub center_input_sample: bool,
    #[serde(default = "default_padding")]
    pub downsample_padding: usize,
    #[serde(default = "default_scale")]
    pub mid_block_scale_factor: f64,
    #[serde(default)]
    pub addition_embed_type: Option<String>,
    #[serde(default)]
    pub addition_time_embed_dim: Option<usize>,
    #[serde(default)]
    pub projection_class_embeddings_input_dim: Option<usize>,
    #[serde(default)]
    pub sample_size: Option<usize>,
}

impl UNetConfig {
    /// Whether down block `i` has cross-attention.
    fn cross_attn(&self, block: usize) -> bool {
        self.down_block_types
            .get(block)
            .is_some_and(|kind| kind.starts_with("CrossAttn"))
    }

    /// The attention of down block `i` (and of the up block mirroring it), if it has one.
    fn attention(&self, block: usize) -> Option<BlockAttention> {
        self.cross_attn(block).then(|| BlockAttention {
            heads: self.attention_head_dim.get(block),
            depth: self.transformer_layers_per_block.get(block),
        })
    }

    fn block_shape(&self) -> BlockShape {
        BlockShape {
            temb_channels: self.block_out_channels.first().copied().unwrap_or(0) * 4,
            groups: self.norm_num_groups,
            eps: self.norm_eps,
            context_dim: self.cross_attention_dim,
            linear_projection: self.use_linear_projection,
        }
    }

    /// Refuses layouts this forward does not build (anything but diffusers' standard
    /// down/mid/up with mirrored up blocks).
    pub fn validate(&self) -> std::result::Result<(), String> {
        let n = self.block_out_channels.len();
        if n == 0 || self.down_block_types.len() != n || self.up_block_types.len() != n {
            return Err(format!(
                "block_out_channels, down_block_types and up_block_types must have the same non-zero length (got {}, {}, {})",
                n,
                self.down_block_types.len(),
                self.up_block_types.len()
            ));
        }
        for (i, down) in self.down_block_types.iter().enumerate() {
            let up = &self.up_block_types[n - 1 - i];
            let expected_up = match down.as_str() {
                "CrossAttnDownBlock2D" => "CrossAttnUpBlock2D",
                "DownBlock2D" => "UpBlock2D",
                other => return Err(format!("unsupported down block type {other}")),
            };
            if up != expected_up {
                return Err(format!(
                    "up block {} is {up}, expected {expected_up} to mirror down block {i}",
                    n - 1 - i
                ));
            }
        }
        // Only 32 groups are checked against diffusers; every released Stable Diffusion UNet
        // uses 32.
        if self.norm_num_groups != 32 {
            return Err(format!(
                "norm_num_groups {} is not supported (32 only)",
                self.norm_num_groups
            ));
        }
        if let Some(kind) = &self.addition_embed_type
            && kind != "text_time"
        {
            return Err(format!("unsupported addition_embed_type {kind}"));
        }
        Ok(())
    }

    /// Latent pixels per side are divided by this many times two in the down path.
    pub fn downsample_factor(&self) -> usize {
        1 << (self.block_out_channels.len() - 1)
    }
}

/// SDXL's extra conditioning per row: the pooled text embedding and the six size/crop ids
/// (original height, width, crop top, left, target height, width).
pub struct AddedConditions<'a> {
    pub text_embeds: &'a Tensor,
    pub time_ids: &'a Tensor,
}

struct AddEmbedding {
    time_proj: Timesteps,
    time_dim: usize,
    embedding: TimestepEmbedding,
}

pub struct UNet {
    conv_in: candle_nn::Conv2d,
    time_proj: Timesteps,
    time_embedding: TimestepEmbedding,
    add_embedding: Option<AddEmbedding>,
    down_blocks: Vec<DownBlock>,
    mid_block: MidBlock,
    up_blocks: Vec<UpBlock>,
    conv_norm_out: candle_nn::GroupNorm,
    conv_out: candle_nn::Conv2d,
    config: UNetConfig,
}

fn conv3x3(in_channels: usize, out_channels: usize, vb: VarBuilder) -> Result<candle_nn::Conv2d> {
    let cfg = candle_nn::Conv2dConfig {
        padding: 1,
        ..Default::default()
    };
    candle_nn::conv2d(in_channels, out_channels, 3, cfg, vb)
}

impl UNet {
    pub fn new(config: UNetConfig, vb: VarBuilder) -> Result<Self> {
        config.validate().map_err(candle_core::Error::msg)?;
        let channels = &config.block_out_channels;
        let n_blocks = channels.len();
        let first = channels[0];
        let last = channels[n_blocks - 1];
        let time_embed_dim = first * 4;
        let conv_in = conv3x3(config.in_channels, first, vb.pp("conv_in"))?;
        let time_proj = Timesteps::new(first, config.flip_sin_to_cos, config.freq_shift);
        let time_embedding =
            TimestepEmbedding::new(vb.pp("time_embedding"), first, time_embed_dim)?;
        let add_embedding = match &config.addition_embed_type {
            Some(_) => {
                let (Some(time_dim), Some(input_dim)) = (
                    config.addition_time_embed_dim,
                    config.projection_class_embeddings_input_dim,
                ) else {
                    return Err(candle_core::Error::msg(
                        "addition_embed_type text_time needs addition_time_embed_dim and projection_class_embeddings_input_dim",
                    ));
                };
                Some(AddEmbedding {
                    time_proj: Timesteps::new(time_dim, config.flip_sin_to_cos, config.freq_shift),
                    time_dim,
                    embedding: TimestepEmbedding::new(
                        vb.pp("add_embedding"),
                        input_dim,
                        time_embed_dim,
                    )?,
                })
            }
            None => None,
        };
        let shape = config.block_shape();
        let down_blocks = (0..n_blocks)
            .map(|i| Self::down_block(&config, &shape, i, vb.pp("down_blocks").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        let mid_attention = BlockAttention {
            heads: config.attention_head_dim.get(n_blocks - 1),
            depth: config.transformer_layers_per_block.get(n_blocks - 1),
        };
        let mid_block = MidBlock::new(
            &shape,
            last,
            config.mid_block_scale_factor,
            mid_attention,
            vb.pp("mid_block"),
        )?;
        let up_blocks = (0..n_blocks)
            .map(|i| Self::up_block(&config, &shape, i, vb.pp("up_blocks").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        let conv_norm_out = candle_nn::group_norm(
            config.norm_num_groups,
            first,
            config.norm_eps,
            vb.pp("conv_norm_out"),
        )?;
        let conv_out = conv3x3(first, config.out_channels, vb.pp("conv_out"))?;
        Ok(Self {
            conv_in,
            time_proj,
            time_embedding,
            add_embedding,
            down_blocks,
            mid_block,
            up_blocks,
            conv_norm_out,
            conv_out,
            config,
        })
    }

    fn down_block(
        config: &UNetConfig,
        shape: &BlockShape,
        i: usize,
        vb: VarBuilder,
    ) -> Result<DownBlock> {
        let channels = &config.block_out_channels;
        let layout = DownLayout {
            in_channels: if i == 0 { channels[0] } else { channels[i - 1] },
            out_channels: channels[i],
            layers: config.layers_per_block,
            downsample: i + 1 < channels.len(),
            downsample_padding: config.downsample_padding,
        };
        DownBlock::new(shape, layout, config.attention(i), vb)
    }

    /// Up block `i` mirrors down block `n - 1 - i`.
    fn up_block(
        config: &UNetConfig,
        shape: &BlockShape,
        i: usize,
        vb: VarBuilder,
    ) -> Result<UpBlock> {
        let channels = &config.block_out_channels;
        let n = channels.len();
        let mirrored = n - 1 - i;
        let layout = UpLayout {
            in_channels: channels[mirrored.saturating_sub(1)],
            prev_out_channels: if i == 0 {
                channels[n - 1]
            } else {
                channels[n - i]
            },
            out_channels: channels[mirrored],
            layers: config.layers_per_block + 1,
            upsample: i + 1 < n,
        };
        UpBlock::new(shape, layout, config.attention(mirrored), vb)
    }

    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// The time embedding of every row: sinusoidal projection of its own timestep, the MLP,
    /// and SDXL's added conditioning when the model has it.
    fn time_embedding(
        &self,
        timesteps: &Tensor,
        dtype: DType,
        added: Option<&AddedConditions>,
    ) -> Result<Tensor> {
        let emb = self.time_proj.forward(&timesteps.to_dtype(DType::F32)?)?;
        let emb = self.time_embedding.forward(&emb.to_dtype(dtype)?)?;
        match (&self.add_embedding, added) {
            (None, _) => Ok(emb),
            (Some(_), None) => Err(candle_core::Error::msg(
                "this UNet needs the pooled text embedding and time ids (SDXL conditioning)",
            )),
            (Some(add), Some(added)) => {
                let (rows, n_ids) = added.time_ids.dims2()?;
                let ids = added.time_ids.to_dtype(DType::F32)?.flatten_all()?;
                let time_embeds = add
                    .time_proj
                    .forward(&ids)?
                    .reshape((rows, n_ids * add.time_dim))?;
                let input = Tensor::cat(
                    &[
                        &added.text_embeds.to_dtype(dtype)?,
                        &time_embeds.to_dtype(dtype)?,
                    ],
                    D::Minus1,
                )?;
                emb + add.embedding.forward(&input)?
            }
        }
    }

    /// One denoising forward: `xs` (rows, C, H, W), `timesteps` (rows,) one per row,
    /// `context` (rows, tokens, cross_attention_dim); returns the model output per row.
    pub fn forward(
        &self,
        xs: &Tensor,
        timesteps: &Tensor,
        context: &Tensor,
        added: Option<&AddedConditions>,
    ) -> Result<Tensor> {
        self.forward_with(xs, timesteps, context, added, AttentionMode::Normal)
    }

    /// `forward` with the self-attentions in `mode` (cross-frame attention for video: rows in
    /// groups of `frames`, see `transformer.rs`).
    pub fn forward_with(
        &self,
        xs: &Tensor,
        timesteps: &Tensor,
        context: &Tensor,
        added: Option<&AddedConditions>,
        mode: AttentionMode,
    ) -> Result<Tensor> {
        let (rows, _, height, width) = xs.dims4()?;
        if timesteps.dims1()? != rows {
            return Err(candle_core::Error::msg(format!(
                "{} timesteps for {rows} rows",
                timesteps.dims1()?
            )));
        }
        let factor = self.config.downsample_factor();
        let odd_size = height % factor != 0 || width % factor != 0;
        let xs = if self.config.center_input_sample {
            ((xs * 2.0)? - 1.0)?
        } else {
            xs.clone()
        };
        let emb = self.time_embedding(timesteps, xs.dtype(), added)?;
        let xs = self.conv_in.forward(&xs)?;
        let mut residuals = vec![xs.clone()];
        let mut xs = xs;
        for block in &self.down_blocks {
            let (out, block_residuals) = block.forward(&xs, &emb, context, mode)?;
            residuals.extend(block_residuals);
            xs = out;
        }
        let mut xs = self.mid_block.forward(&xs, &emb, context, mode)?;
        let n_resnets = self.config.layers_per_block + 1;
        let n_blocks = self.up_blocks.len();
        for (i, block) in self.up_blocks.iter().enumerate() {
            let block_residuals = residuals.split_off(residuals.len() - n_resnets);
            // With a latent side not divisible by the down factor, upsample to the size the
            // matching down block had rather than doubling.
            let upsample_size = match residuals.last() {
                Some(skip) if odd_size && i + 1 < n_blocks => {
                    let (_, _, h, w) = skip.dims4()?;
                    Some((h, w))
                }
                _ => None,
            };
            xs = block.forward(&xs, &block_residuals, &emb, context, mode, upsample_size)?;
        }
        let xs = self.conv_norm_out.forward(&xs)?;
        let xs = candle_nn::ops::silu(&xs)?;
        self.conv_out.forward(&xs)
    }
}

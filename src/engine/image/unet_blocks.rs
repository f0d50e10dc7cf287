//! The UNet's down, mid and up blocks in diffusers' layout (`CrossAttnDownBlock2D`,
//! `DownBlock2D`, `UNetMidBlock2DCrossAttn`, `CrossAttnUpBlock2D`, `UpBlock2D`, with their
//! weight names): candle-transformers' `ResnetBlock2D` for the resnets, adforge's own spatial
//! transformer (`transformer.rs`) for the attentions so that an [`AttentionMode`] reaches every
//! self-attention, and the down/up samplers written here (candle keeps its own private).
//! A plain block is a cross-attention block without attentions.

use candle_core::{D, Result, Tensor};
use candle_nn::{Module, VarBuilder};
use candle_transformers::models::stable_diffusion::resnet::{ResnetBlock2D, ResnetBlock2DConfig};

use super::transformer::{AttentionMode, SpatialTransformer, TransformerConfig};

/// What every block of one UNet shares.
#[derive(Debug, Clone, Copy)]
pub struct BlockShape {
    pub temb_channels: usize,
    pub groups: usize,
    pub eps: f64,
    pub context_dim: usize,
    pub linear_projection: bool,
}

/// The attentions of a block: heads and transformer depth, or none for a plain block.
#[derive(Debug, Clone, Copy)]
pub struct BlockAttention {
    pub heads: usize,
    pub depth: usize,
}

fn resnet(
    shape: &BlockShape,
    in_channels: usize,
    out_channels: usize,
    output_scale_factor: f64,
    vb: VarBuilder,
) -> Result<ResnetBlock2D> {
    let cfg = ResnetBlock2DConfig {
        out_channels: Some(out_channels),
        temb_channels: Some(shape.temb_channels),
        groups: shape.groups,
        eps: shape.eps,
        output_scale_factor,
        ..Default::default()
    };
    ResnetBlock2D::new(vb, in_channels, cfg)
}

fn attentions(
    shape: &BlockShape,
    attention: Option<BlockAttention>,
    channels: usize,
    count: usize,
    vb: VarBuilder,
) -> Result<Vec<SpatialTransformer>> {
    let Some(attention) = attention else {
        return Ok(Vec::new());
    };
    let config = TransformerConfig {
        channels,
        heads: attention.heads,
        depth: attention.depth,
        context_dim: shape.context_dim,
        groups: shape.groups,
        linear_projection: shape.linear_projection,
    };
    (0..count)
        .map(|i| SpatialTransformer::new(config, vb.pp(i)))
        .collect()
}

/// A strided 3x3 convolution; with padding 0, the input is first padded right and bottom.
struct Downsample {
    conv: candle_nn::Conv2d,
    padding: usize,
}

impl Module for Downsample {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        if self.padding == 0 {
            let padded = xs
                .pad_with_zeros(D::Minus1, 0, 1)?
                .pad_with_zeros(D::Minus2, 0, 1)?;
            self.conv.forward(&padded)
        } else {
            self.conv.forward(xs)
        }
    }
}

pub struct DownBlock {
    resnets: Vec<ResnetBlock2D>,
    attentions: Vec<SpatialTransformer>,
    downsampler: Option<Downsample>,
}

/// One down block's channels and layers.
#[derive(Debug, Clone, Copy)]
pub struct DownLayout {
    pub in_channels: usize,
    pub out_channels: usize,
    pub layers: usize,
    pub downsample: bool,
    pub downsample_padding: usize,
}

impl DownBlock {
    pub fn new(
        shape: &BlockShape,
        layout: DownLayout,
        attention: Option<BlockAttention>,
        vb: VarBuilder,
    ) -> Result<Self> {
        let out = layout.out_channels;
        let resnets = (0..layout.layers)
            .map(|i| {
                let in_channels = if i == 0 { layout.in_channels } else { out };
                resnet(shape, in_channels, out, 1.0, vb.pp("resnets").pp(i))
            })
            .collect::<Result<Vec<_>>>()?;
        let attentions = attentions(shape, attention, out, layout.layers, vb.pp("attentions"))?;
        let downsampler = if layout.downsample {
            let cfg = candle_nn::Conv2dConfig {
                stride: 2,
                padding: layout.downsample_padding,
                ..Default::default()
            };
            let conv = candle_nn::conv2d(out, out, 3, cfg, vb.pp("downsamplers.0.conv"))?;
            Some(Downsample {
                conv,
                padding: layout.downsample_padding,
            })
        } else {
            None
        };
        Ok(Self {
            resnets,
            attentions,
            downsampler,
        })
    }

    /// The block's output and the states it hands to the up path.
    pub fn forward(
        &self,
        xs: &Tensor,
        temb: &Tensor,
        context: &Tensor,
        mode: AttentionMode,
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let mut xs = xs.clone();
        let mut states = Vec::with_capacity(self.resnets.len() + 1);
        for (i, resnet) in self.resnets.iter().enumerate() {
            xs = resnet.forward(&xs, Some(temb))?;
            if let Some(attention) = self.attentions.get(i) {
                xs = attention.forward(&xs, context, mode)?;
            }
            states.push(xs.clone());
        }
        if let Some(downsampler) = &self.downsampler {
            xs = downsampler.forward(&xs)?;
            states.push(xs.clone());
        }
        Ok((xs, states))
    }
}

/// `UNetMidBlock2DCrossAttn`: a resnet, then (attention, resnet) pairs.
pub struct MidBlock {
    first: ResnetBlock2D,
    layers: Vec<(SpatialTransformer, ResnetBlock2D)>,
}

impl MidBlock {
    pub fn new(
        shape: &BlockShape,
        channels: usize,
        output_scale_factor: f64,
        attention: BlockAttention,
        vb: VarBuilder,
    ) -> Result<Self> {
        let resnets = vb.pp("resnets");
        let first = resnet(
            shape,
            channels,
            channels,
            output_scale_factor,
            resnets.pp(0),
        )?;
        let transformers = attentions(shape, Some(attention), channels, 1, vb.pp("attentions"))?;
        let layers = transformers
            .into_iter()
            .enumerate()
            .map(|(i, attention)| {
                let r = resnet(
                    shape,
                    channels,
                    channels,
                    output_scale_factor,
                    resnets.pp(i + 1),
                )?;
                Ok((attention, r))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { first, layers })
    }

    pub fn forward(
        &self,
        xs: &Tensor,
        temb: &Tensor,
        context: &Tensor,
        mode: AttentionMode,
    ) -> Result<Tensor> {
        let mut xs = self.first.forward(xs, Some(temb))?;
        for (attention, resnet) in &self.layers {
            xs = resnet.forward(&attention.forward(&xs, context, mode)?, Some(temb))?;
        }
        Ok(xs)
    }
}

/// One up block's channels and layers (diffusers' `in_channels`, `prev_output_channel`,
/// `out_channels`, `num_layers`).
#[derive(Debug, Clone, Copy)]
pub struct UpLayout {
    pub in_channels: usize,
    pub prev_out_channels: usize,
    pub out_channels: usize,
    pub layers: usize,
    pub upsample: bool,
}

pub struct UpBlock {
    resnets: Vec<ResnetBlock2D>,
    attentions: Vec<SpatialTransformer>,
    /// Nearest-neighbour upsampling then this 3x3 convolution.
    upsampler: Option<candle_nn::Conv2d>,
}

impl UpBlock {
    pub fn new(
        shape: &BlockShape,
        layout: UpLayout,
        attention: Option<BlockAttention>,
        vb: VarBuilder,
    ) -> Result<Self> {
        let out = layout.out_channels;
        let resnets = (0..layout.layers)
            .map(|i| {
                let skip = if i + 1 == layout.layers {
                    layout.in_channels
                } else {
                    out
                };
                let input = if i == 0 {
                    layout.prev_out_channels
                } else {
                    out
                };
                resnet(shape, input + skip, out, 1.0, vb.pp("resnets").pp(i))
            })
            .collect::<Result<Vec<_>>>()?;
        let attentions = attentions(shape, attention, out, layout.layers, vb.pp("attentions"))?;
        let upsampler = if layout.upsample {
            let cfg = candle_nn::Conv2dConfig {
                padding: 1,
                ..Default::default()
            };
            Some(candle_nn::conv2d(
                out,
                out,
                3,
                cfg,
                vb.pp("upsamplers.0.conv"),
            )?)
        } else {
            None
        };
        Ok(Self {
            resnets,
            attentions,
            upsampler,
        })
    }

    /// `skips`: the matching down states, consumed last first; `upsample_size` overrides the
    /// doubling (odd latent sizes).
    pub fn forward(
        &self,
        xs: &Tensor,
        skips: &[Tensor],
        temb: &Tensor,
        context: &Tensor,
        mode: AttentionMode,
        upsample_size: Option<(usize, usize)>,
    ) -> Result<Tensor> {
        let mut xs = xs.clone();
        for (i, resnet) in self.resnets.iter().enumerate() {
            let skip = skips
                .len()
                .checked_sub(i + 1)
                .and_then(|k| skips.get(k))
                .ok_or_else(|| candle_core::Error::msg("an up block ran out of skip states"))?;
            xs = Tensor::cat(&[&xs, skip], 1)?.contiguous()?;
            xs = resnet.forward(&xs, Some(temb))?;
            if let Some(attention) = self.attentions.get(i) {
                xs = attention.forward(&xs, context, mode)?;
            }
        }
        let Some(conv) = &self.upsampler else {
            return Ok(xs);
        };
        let (_, _, h, w) = xs.dims4()?;
        let (h, w) = upsample_size.unwrap_or((2 * h, 2 * w));
        conv.forward(&xs.upsample_nearest2d(h, w)?)
    }
}

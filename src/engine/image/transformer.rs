//! adforge's spatial transformer: diffusers' `Transformer2DModel` as Stable Diffusion's UNet
//! uses it (GroupNorm, a 1x1 conv or linear `proj_in`, `BasicTransformerBlock`s of
//! self-attention, cross-attention to the text and a GEGLU feed-forward, `proj_out`, residual),
//! with diffusers' weight names so the same safetensors load. It exists for one thing
//! candle-transformers' version lacks: an attention mode. In [`AttentionMode::CrossFrame`]
//! the self-attention (`attn1`) of every row takes its keys and values from the first row of
//! its group of `frames` consecutive rows (Text2Video-Zero's cross-frame attention); the
//! cross-attention to the text (`attn2`) is unchanged. Normal self-attention is the same
//! computation with groups of one row.
//!
//! Nothing here knows about schedulers, prompts or video; the UNet (`unet.rs`, `unet_blocks.rs`)
//! passes the mode down. Checked against diffusers in normal mode by tests/it/diffusion.rs and
//! in cross-frame mode by tests/it/t2vz.rs.

use candle_core::{D, DType, Result, Tensor};
use candle_nn::{Module, VarBuilder};

/// How the self-attention of a UNet forward treats its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttentionMode {
    /// Each row attends to itself.
    #[default]
    Normal,
    /// Rows come in groups of `frames` consecutive rows (one video per group, e.g. the
    /// unconditional and the conditional half of classifier-free guidance); every row's
    /// self-attention queries the first row of its group.
    CrossFrame { frames: usize },
}

impl AttentionMode {
    /// Rows per group sharing one key/value source.
    fn frames(self) -> usize {
        match self {
            AttentionMode::Normal => 1,
            AttentionMode::CrossFrame { frames } => frames.max(1),
        }
    }
}

/// Attention scores above this many elements are computed in query chunks.
const MAX_SCORES: usize = 1 << 27;

/// Multi-head attention with diffusers' `to_q`, `to_k`, `to_v` (no bias) and `to_out.0`.
struct Attention {
    to_q: candle_nn::Linear,
    to_k: candle_nn::Linear,
    to_v: candle_nn::Linear,
    to_out: candle_nn::Linear,
    heads: usize,
    scale: f64,
}

impl Attention {
    fn new(dim: usize, context_dim: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        if heads == 0 || !dim.is_multiple_of(heads) {
            return Err(candle_core::Error::msg(format!(
                "{dim} channels do not split into {heads} attention heads"
            )));
        }
        Ok(Self {
            to_q: candle_nn::linear_no_bias(dim, dim, vb.pp("to_q"))?,
            to_k: candle_nn::linear_no_bias(context_dim, dim, vb.pp("to_k"))?,
            to_v: candle_nn::linear_no_bias(context_dim, dim, vb.pp("to_v"))?,
            to_out: candle_nn::linear(dim, dim, vb.pp("to_out").pp("0"))?,
            heads,
            scale: 1.0 / ((dim / heads) as f64).sqrt(),
        })
    }

    /// (batch, n, heads * d) to (batch, heads, n, d)
    fn split_heads(&self, xs: &Tensor) -> Result<Tensor> {
        let (batch, n, dim) = xs.dims3()?;
        xs.reshape((batch, n, self.heads, dim / self.heads))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// softmax(q kᵀ scale) v over (batch, heads, n, d) tensors; returns (batch, n, heads * d).
    fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Tensor> {
        self.attend_chunked(q, k, v, MAX_SCORES)
    }

    /// `attend` in query chunks that keep each score matrix under `max_scores` elements.
    fn attend_chunked(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        max_scores: usize,
    ) -> Result<Tensor> {
        let (batch, heads, n_queries, d) = q.dims4()?;
        let n_keys = k.dim(2)?;
        let in_dtype = q.dtype();
        let (q, k, v) = (
            q.to_dtype(DType::F32)?,
            k.to_dtype(DType::F32)?,
            v.to_dtype(DType::F32)?,
        );
        let k_t = (k.t()? * self.scale)?.contiguous()?;
        let per_query = (batch * heads * n_keys).max(1);
        let chunk = (max_scores / per_query).clamp(1, n_queries.max(1));
        let mut outs = Vec::with_capacity(n_queries.div_ceil(chunk));
        let mut start = 0;
        while start < n_queries {
            let len = chunk.min(n_queries - start);
            let scores = q.narrow(2, start, len)?.matmul(&k_t)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            outs.push(probs.matmul(&v)?);
            start += len;
        }
        let out = Tensor::cat(&outs, 2)?.to_dtype(in_dtype)?;
        out.transpose(1, 2)?.reshape((batch, n_queries, heads * d))
    }

    /// Cross-attention of `xs` (rows, n, dim) to `context` (rows, tokens, context_dim).
    fn cross(&self, xs: &Tensor, context: &Tensor) -> Result<Tensor> {
        let q = self.split_heads(&self.to_q.forward(xs)?)?;
        let k = self.split_heads(&self.to_k.forward(context)?)?;
        let v = self.split_heads(&self.to_v.forward(context)?)?;
        self.to_out.forward(&self.attend(&q, &k, &v)?)
    }

    /// Self-attention of `xs` (rows, n, dim) where each group of `frames` consecutive rows
    /// takes keys and values from its first row. The frames of a group share their keys, so
    /// their queries are laid end to end: one attention of frames * n queries per group.
    fn grouped_self(&self, xs: &Tensor, frames: usize) -> Result<Tensor> {
        let (rows, n, dim) = xs.dims3()?;
        if rows % frames != 0 {
            return Err(candle_core::Error::msg(format!(
                "{rows} rows do not split into groups of {frames} frames"
            )));
        }
        let groups = rows / frames;
        let q = self.to_q.forward(xs)?.reshape((groups, frames * n, dim))?;
        let source = if frames == 1 {
            xs.clone()
        } else {
            xs.reshape((groups, frames, n, dim))?
                .narrow(1, 0, 1)?
                .reshape((groups, n, dim))?
        };
        let k = self.split_heads(&self.to_k.forward(&source)?)?;
        let v = self.split_heads(&self.to_v.forward(&source)?)?;
        let out = self.attend(&self.split_heads(&q)?, &k, &v)?;
        self.to_out.forward(&out.reshape((rows, n, dim))?)
    }
}

/// GEGLU feed-forward: `net.0.proj` to twice the inner width, value times exact GELU of the
/// gate, `net.2` back.
struct FeedForward {
    proj_in: candle_nn::Linear,
    proj_out: candle_nn::Linear,
}

impl FeedForward {
    fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        let inner = dim * 4;
        let vb = vb.pp("net");
        Ok(Self {
            proj_in: candle_nn::linear(dim, inner * 2, vb.pp("0").pp("proj"))?,
            proj_out: candle_nn::linear(inner, dim, vb.pp("2"))?,
        })
    }
}

impl Module for FeedForward {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let projected = self.proj_in.forward(xs)?.chunk(2, D::Minus1)?;
        let (value, gate) = (&projected[0], &projected[1]);
        self.proj_out.forward(&(value * gate.gelu_erf()?)?)
    }
}

/// diffusers' `BasicTransformerBlock` (norm1 + attn1, norm2 + attn2, norm3 + ff, each residual).
struct TransformerBlock {
    norm1: candle_nn::LayerNorm,
    attn1: Attention,
    norm2: candle_nn::LayerNorm,
    attn2: Attention,
    norm3: candle_nn::LayerNorm,
    ff: FeedForward,
}

impl TransformerBlock {
    fn new(dim: usize, heads: usize, context_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            norm1: candle_nn::layer_norm(dim, 1e-5, vb.pp("norm1"))?,
            attn1: Attention::new(dim, dim, heads, vb.pp("attn1"))?,
            norm2: candle_nn::layer_norm(dim, 1e-5, vb.pp("norm2"))?,
            attn2: Attention::new(dim, context_dim, heads, vb.pp("attn2"))?,
            norm3: candle_nn::layer_norm(dim, 1e-5, vb.pp("norm3"))?,
            ff: FeedForward::new(dim, vb.pp("ff"))?,
        })
    }

    fn forward(&self, xs: &Tensor, context: &Tensor, mode: AttentionMode) -> Result<Tensor> {
        let xs = (self
            .attn1
            .grouped_self(&self.norm1.forward(xs)?, mode.frames())?
            + xs)?;
        let xs = (self.attn2.cross(&self.norm2.forward(&xs)?, context)? + xs)?;
        self.ff.forward(&self.norm3.forward(&xs)?)? + xs
    }
}

/// The shape of one spatial transformer.
#[derive(Debug, Clone, Copy)]
pub struct TransformerConfig {
    pub channels: usize,
    pub heads: usize,
    pub depth: usize,
    pub context_dim: usize,
    pub groups: usize,
    /// Linear `proj_in`/`proj_out` (SD 2.x, SDXL) rather than 1x1 convolutions (SD 1.x).
    pub linear_projection: bool,
}

enum Projection {
    Conv(candle_nn::Conv2d),
    Linear(candle_nn::Linear),
}

impl Projection {
    fn new(linear: bool, channels: usize, vb: VarBuilder) -> Result<Self> {
        Ok(if linear {
            Projection::Linear(candle_nn::linear(channels, channels, vb)?)
        } else {
            Projection::Conv(candle_nn::conv2d(
                channels,
                channels,
                1,
                Default::default(),
                vb,
            )?)
        })
    }
}

/// (b, c, h, w) to (b, h * w, c)
fn to_tokens(xs: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = xs.dims4()?;
    xs.reshape((b, c, h * w))?.transpose(1, 2)?.contiguous()
}

/// (b, h * w, c) to (b, c, h, w)
fn to_image(xs: &Tensor, h: usize, w: usize) -> Result<Tensor> {
    let (b, _, c) = xs.dims3()?;
    xs.transpose(1, 2)?.contiguous()?.reshape((b, c, h, w))
}

/// diffusers' `Transformer2DModel` for continuous inputs.
pub struct SpatialTransformer {
    norm: candle_nn::GroupNorm,
    proj_in: Projection,
    blocks: Vec<TransformerBlock>,
    proj_out: Projection,
}

impl SpatialTransformer {
    pub fn new(config: TransformerConfig, vb: VarBuilder) -> Result<Self> {
        let c = config.channels;
        let blocks_vb = vb.pp("transformer_blocks");
        let blocks = (0..config.depth)
            .map(|i| TransformerBlock::new(c, config.heads, config.context_dim, blocks_vb.pp(i)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            norm: candle_nn::group_norm(config.groups, c, 1e-6, vb.pp("norm"))?,
            proj_in: Projection::new(config.linear_projection, c, vb.pp("proj_in"))?,
            blocks,
            proj_out: Projection::new(config.linear_projection, c, vb.pp("proj_out"))?,
        })
    }

    /// `xs` (rows, C, H, W), `context` (rows, tokens, context_dim).
    pub fn forward(&self, xs: &Tensor, context: &Tensor, mode: AttentionMode) -> Result<Tensor> {
        let (_, _, h, w) = xs.dims4()?;
        let normed = self.norm.forward(xs)?;
        let mut tokens = match &self.proj_in {
            Projection::Conv(conv) => to_tokens(&conv.forward(&normed)?)?,
            Projection::Linear(linear) => linear.forward(&to_tokens(&normed)?)?,
        };
        for block in &self.blocks {
            tokens = block.forward(&tokens, context, mode)?;
        }
        let out = match &self.proj_out {
            Projection::Conv(conv) => conv.forward(&to_image(&tokens, h, w)?)?,
            Projection::Linear(linear) => to_image(&linear.forward(&tokens)?, h, w)?,
        };
        out + xs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn random(shape: &[usize], stream: u32) -> Tensor {
        let count = shape.iter().product();
        let values = crate::engine::image::noise::gaussian(3, 0, stream, count);
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    }

    fn attention(heads: usize, dim: usize) -> Attention {
        let mut tensors = std::collections::HashMap::new();
        for (k, name) in ["to_q", "to_k", "to_v", "to_out.0"].iter().enumerate() {
            let weight = (random(&[dim, dim], k as u32) * (1.0 / (dim as f64).sqrt())).unwrap();
            tensors.insert(format!("{name}.weight"), weight);
        }
        tensors.insert("to_out.0.bias".into(), random(&[dim], 9));
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        Attention::new(dim, dim, heads, vb).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    #[test]
    fn cross_frame_attention_is_attention_to_the_first_frame() {
        let attn = attention(2, 8);
        let xs = random(&[6, 5, 8], 20);
        let grouped = attn.grouped_self(&xs, 3).unwrap();
        for row in 0..6 {
            let first = (row / 3) * 3;
            let query = xs.narrow(0, row, 1).unwrap();
            let source = xs.narrow(0, first, 1).unwrap();
            let direct = attn.cross(&query, &source).unwrap();
            let diff = max_diff(&direct, &grouped.narrow(0, row, 1).unwrap());
            assert!(diff < 1e-5, "row {row}: {diff}");
        }
        // The first frame of each group attends to itself: plain self-attention.
        let plain = attn.grouped_self(&xs, 1).unwrap();
        let diff = max_diff(
            &plain.narrow(0, 3, 1).unwrap(),
            &grouped.narrow(0, 3, 1).unwrap(),
        );
        assert!(diff < 1e-5);
        // And other frames differ from plain self-attention.
        assert!(
            max_diff(
                &plain.narrow(0, 4, 1).unwrap(),
                &grouped.narrow(0, 4, 1).unwrap()
            ) > 1e-3
        );
        assert!(attn.grouped_self(&xs, 4).is_err());
    }

    #[test]
    fn chunked_queries_give_the_same_attention() {
        let attn = attention(2, 8);
        let q = random(&[1, 2, 40, 4], 30);
        let k = random(&[1, 2, 40, 4], 31);
        let v = random(&[1, 2, 40, 4], 32);
        let whole = attn.attend(&q, &k, &v).unwrap();
        // 2 heads x 40 keys per query: chunks of 7 queries, the last one of 5.
        let chunked = attn.attend_chunked(&q, &k, &v, 7 * 80).unwrap();
        assert_eq!(chunked.dims(), &[1, 40, 8]);
        assert!(max_diff(&whole, &chunked) < 1e-6);
    }
}

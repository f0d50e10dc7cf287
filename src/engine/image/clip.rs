//! The CLIP text encoder of the diffusion pipelines, in transformers' `CLIPTextModel` /
//! `CLIPTextModelWithProjection` layout and weight names (`text_model.*`, `text_projection`).
//! It returns what the pipelines need from one pass: the last hidden state (after the final
//! layer norm: SD 1.5, 2.1, Turbo), the penultimate layer's output (before it: SDXL), and the
//! pooled embedding at the first end-of-text token, projected when the model has a projection
//! (SDXL's second encoder). Checked against transformers on random weights
//! (tests/fixtures/diffusion).

use candle_core::{DType, Device, IndexOp, Result, Tensor};
use candle_nn::{LayerNorm, Linear, Module, VarBuilder};
use serde::Deserialize;

/// The end-of-text token of CLIP's vocabulary, also used as padding by SD 1.5.
pub const EOS: u32 = 49407;

fn default_eps() -> f64 {
    1e-5
}
fn default_act() -> String {
    "quick_gelu".into()
}

/// The fields of a transformers CLIP text `config.json` this encoder uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ClipConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub projection_dim: Option<usize>,
}

/// What one pass produces, every tensor with the batch first.
pub struct ClipOutput {
    /// (batch, tokens, hidden), after the final layer norm.
    pub last_hidden: Tensor,
    /// (batch, tokens, hidden): the input of the last layer, no final norm.
    pub penultimate: Tensor,
    /// (batch, projection or hidden): the final-normed state at the first end-of-text token,
    /// through `text_projection` when the model has one.
    pub pooled: Tensor,
}

#[derive(Clone, Copy)]
enum Activation {
    QuickGelu,
    Gelu,
}

impl Activation {
    fn parse(name: &str) -> Result<Self> {
        match name {
            "quick_gelu" => Ok(Self::QuickGelu),
            "gelu" => Ok(Self::Gelu),
            other => Err(candle_core::Error::msg(format!(
                "unsupported CLIP activation {other}"
            ))),
        }
    }

    fn apply(self, xs: &Tensor) -> Result<Tensor> {
        match self {
            Self::QuickGelu => xs * candle_nn::ops::sigmoid(&(xs * 1.702)?)?,
            Self::Gelu => xs.gelu_erf(),
        }
    }
}

struct Layer {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    layer_norm1: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    layer_norm2: LayerNorm,
    heads: usize,
    activation: Activation,
}

impl Layer {
    fn new(cfg: &ClipConfig, activation: Activation, vb: VarBuilder) -> Result<Self> {
        let d = cfg.hidden_size;
        let attn = vb.pp("self_attn");
        Ok(Self {
            q_proj: candle_nn::linear(d, d, attn.pp("q_proj"))?,
            k_proj: candle_nn::linear(d, d, attn.pp("k_proj"))?,
            v_proj: candle_nn::linear(d, d, attn.pp("v_proj"))?,
            out_proj: candle_nn::linear(d, d, attn.pp("out_proj"))?,
            layer_norm1: candle_nn::layer_norm(d, cfg.layer_norm_eps, vb.pp("layer_norm1"))?,
            fc1: candle_nn::linear(d, cfg.intermediate_size, vb.pp("mlp").pp("fc1"))?,
            fc2: candle_nn::linear(cfg.intermediate_size, d, vb.pp("mlp").pp("fc2"))?,
            layer_norm2: candle_nn::layer_norm(d, cfg.layer_norm_eps, vb.pp("layer_norm2"))?,
            heads: cfg.num_attention_heads,
            activation,
        })
    }

    fn forward(&self, xs: &Tensor, causal_mask: &Tensor) -> Result<Tensor> {
        let (batch, tokens, d) = xs.dims3()?;
        let head_dim = d / self.heads;
        let h = self.layer_norm1.forward(xs)?;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((batch, tokens, self.heads, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split((self.q_proj.forward(&h)? * (head_dim as f64).powf(-0.5))?)?;
        let k = split(self.k_proj.forward(&h)?)?;
        let v = split(self.v_proj.forward(&h)?)?;
        let scores = q.matmul(&k.t()?)?.broadcast_add(causal_mask)?;
        let attn = candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)?;
        let attn = attn.transpose(1, 2)?.reshape((batch, tokens, d))?;
        let xs = (xs + self.out_proj.forward(&attn)?)?;
        let h = self.layer_norm2.forward(&xs)?;
        let h = self
            .fc2
            .forward(&self.activation.apply(&self.fc1.forward(&h)?)?)?;
        xs + h
    }
}

pub struct ClipTextEncoder {
    token_embedding: candle_nn::Embedding,
    position_embedding: candle_nn::Embedding,
    layers: Vec<Layer>,
    final_layer_norm: LayerNorm,
    projection: Option<Linear>,
    config: ClipConfig,
}

impl ClipTextEncoder {
    /// `vb` at the checkpoint's root (the weights live under `text_model.`); the projection is
    /// loaded when the checkpoint has `text_projection.weight`.
    pub fn new(config: ClipConfig, vb: VarBuilder) -> Result<Self> {
        let activation = Activation::parse(&config.hidden_act)?;
        let text = vb.pp("text_model");
        let emb = text.pp("embeddings");
        let d = config.hidden_size;
        let token_embedding =
            candle_nn::embedding(config.vocab_size, d, emb.pp("token_embedding"))?;
        let position_embedding = candle_nn::embedding(
            config.max_position_embeddings,
            d,
            emb.pp("position_embedding"),
        )?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::new(&config, activation, text.pp("encoder").pp("layers").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        let final_layer_norm =
            candle_nn::layer_norm(d, config.layer_norm_eps, text.pp("final_layer_norm"))?;
        let projection = match config.projection_dim {
            Some(out) if vb.contains_tensor("text_projection.weight") => {
                Some(candle_nn::linear_no_bias(d, out, vb.pp("text_projection"))?)
            }
            _ => None,
        };
        Ok(Self {
            token_embedding,
            position_embedding,
            layers,
            final_layer_norm,
            projection,
            config,
        })
    }

    pub fn config(&self) -> &ClipConfig {
        &self.config
    }

    pub fn max_tokens(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// Encodes `ids` (batch, tokens) of u32.
    pub fn forward(&self, ids: &Tensor) -> Result<ClipOutput> {
        let (_, tokens) = ids.dims2()?;
        let device = ids.device();
        let positions = Tensor::arange(0u32, tokens as u32, device)?;
        let mut xs = self
            .token_embedding
            .forward(ids)?
            .broadcast_add(&self.position_embedding.forward(&positions)?)?;
        let mask = causal_mask(tokens, device)?;
        let mut penultimate = xs.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            if i + 1 == self.layers.len() {
                penultimate = xs.clone();
            }
            xs = layer.forward(&xs, &mask)?;
        }
        let last_hidden = self.final_layer_norm.forward(&xs)?;
        let ids_host = ids.to_dtype(DType::U32)?.to_vec2::<u32>()?;
        let pooled_rows = ids_host
            .iter()
            .enumerate()
            .map(|(row, ids)| {
                let at = ids.iter().position(|&id| id == EOS).unwrap_or(tokens - 1);
                last_hidden.i((row, at))
            })
            .collect::<Result<Vec<_>>>()?;
        let pooled = Tensor::stack(&pooled_rows, 0)?;
        let pooled = match &self.projection {
            Some(projection) => projection.forward(&pooled)?,
            None => pooled,
        };
        Ok(ClipOutput {
            last_hidden,
            penultimate,
            pooled,
        })
    }
}

fn causal_mask(tokens: usize, device: &Device) -> Result<Tensor> {
    let mask: Vec<f32> = (0..tokens)
        .flat_map(|i| (0..tokens).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_slice(&mask, (tokens, tokens), device)?
        .unsqueeze(0)?
        .unsqueeze(0)
}

/// The size of the pooled output.
pub fn pooled_dim(config: &ClipConfig) -> usize {
    config.projection_dim.unwrap_or(config.hidden_size)
}

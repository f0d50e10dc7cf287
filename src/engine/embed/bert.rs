//! The BERT encoder's forward pass, adforge's own: the sentences of a batch are packed end to
//! end with no padding; each layer is four matrix products on candle's CPU matmul (Q, K and V
//! fused into one) and, between them, row-parallel passes that do the bias, residual, layer norm,
//! GELU and attention work in one sweep each, with vectorisable `exp` and `erf`. candle's own
//! `BertModel` runs one tensor op at a time, each a separately synchronised parallel job over
//! padded batches; that hand-off cost as much as a quarter of the time on 2 cores.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use rayon::prelude::*;

use crate::engine::math::dot;

/// A linear layer: the weight transposed to (in, out) for `x @ w`, and the bias.
struct Linear {
    weight: Tensor,
    bias: Vec<f32>,
}

struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

struct Layer {
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

pub struct Bert {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    eps: f32,
}

fn values(t: Tensor) -> candle_core::Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

fn linear(vb: VarBuilder, parts: &[&str], input: usize) -> candle_core::Result<Linear> {
    let mut weights = Vec::new();
    let mut bias = Vec::new();
    for part in parts {
        let vb = vb.pp(part);
        let w = vb.get_unchecked_dtype("weight", DType::F32)?;
        let out = w.dim(0)?;
        weights.push(w);
        bias.extend(values(vb.get(out, "bias")?)?);
    }
    let weight = Tensor::cat(&weights, 0)?;
    debug_assert_eq!(weight.dim(1)?, input);
    Ok(Linear {
        weight: weight.t()?.contiguous()?,
        bias,
    })
}

fn layer_norm(vb: VarBuilder, size: usize) -> candle_core::Result<LayerNorm> {
    let (weight, bias) = match (vb.get(size, "weight"), vb.get(size, "bias")) {
        (Ok(w), Ok(b)) => (w, b),
        _ => (vb.get(size, "gamma")?, vb.get(size, "beta")?),
    };
    Ok(LayerNorm {
        weight: values(weight)?,
        bias: values(bias)?,
    })
}

impl Bert {
    pub fn load(vb: VarBuilder, config: &Config) -> candle_core::Result<Self> {
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let h = config.hidden_size;
        let emb = vb.pp("embeddings");
        let word = values(emb.get((config.vocab_size, h), "word_embeddings.weight")?)?;
        let position = values(emb.get(
            (config.max_position_embeddings, h),
            "position_embeddings.weight",
        )?)?;
        let token_type =
            values(emb.get((config.type_vocab_size, h), "token_type_embeddings.weight")?)?;
        let embedding_norm = layer_norm(emb.pp("LayerNorm"), h)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let vb = vb.pp("encoder").pp("layer").pp(i);
            let attention = vb.pp("attention");
            layers.push(Layer {
                qkv: linear(attention.pp("self"), &["query", "key", "value"], h)?,
                attention_out: linear(attention.pp("output"), &["dense"], h)?,
                attention_norm: layer_norm(attention.pp("output").pp("LayerNorm"), h)?,
                intermediate: linear(vb.pp("intermediate"), &["dense"], h)?,
                output: linear(vb.pp("output"), &["dense"], config.intermediate_size)?,
                output_norm: layer_norm(vb.pp("output").pp("LayerNorm"), h)?,
            });
        }
        Ok(Self {
            word,
            position,
            token_type,
            embedding_norm,
            layers,
            hidden: h,
            heads: config.num_attention_heads,
            eps: config.layer_norm_eps as f32,
        })
    }

    /// Hidden states of every token of every sequence, packed: sequence after sequence.
    pub fn forward(&self, batch: &[&[u32]]) -> candle_core::Result<Vec<f32>> {
        let h = self.hidden;
        let total: usize = batch.iter().map(|s| s.len()).sum();
        // Each token's sequence: (start, length) in the packed rows.
        let mut spans = Vec::with_capacity(total);
        let mut x = vec![0.0f32; total * h];
        let mut start = 0;
        for seq in batch {
            for (pos, &id) in seq.iter().enumerate() {
                let row = &mut x[(start + pos) * h..(start + pos + 1) * h];
                let word = self
                    .word
                    .get(id as usize * h..(id as usize + 1) * h)
                    .ok_or_else(|| {
                        candle_core::Error::Msg(format!("token id {id} out of range"))
                    })?;
                let position = self.position.get(pos * h..(pos + 1) * h).ok_or_else(|| {
                    candle_core::Error::Msg(format!("position {pos} out of range"))
                })?;
                for (i, v) in row.iter_mut().enumerate() {
                    *v = word[i] + position[i] + self.token_type[i];
                }
                spans.push((start, seq.len()));
            }
            start += seq.len();
        }
        x.par_chunks_mut(h)
            .for_each(|row| normalise(row, &self.embedding_norm, self.eps));
        let head_dim = h / self.heads;
        let scale = 1.0 / (head_dim as f32).sqrt();
        for layer in &self.layers {
            let qkv = matmul(&x, total, &layer.qkv)?;
            let mut context = vec![0.0f32; total * h];
            context.par_chunks_mut(h).enumerate().for_each(|(t, out)| {
                let (first, len) = spans[t];
                let q_row = &qkv[t * 3 * h..t * 3 * h + h];
                let mut scores = vec![0.0f32; len];
                for head in 0..self.heads {
                    let off = head * head_dim;
                    let q = &q_row[off..off + head_dim];
                    for (j, score) in scores.iter_mut().enumerate() {
                        let k_row = (first + j) * 3 * h + h + off;
                        *score = dot(q, &qkv[k_row..k_row + head_dim]) * scale;
                    }
                    softmax(&mut scores);
                    let o = &mut out[off..off + head_dim];
                    for (j, w) in scores.iter().enumerate() {
                        let v_row = (first + j) * 3 * h + 2 * h + off;
                        for (oi, vi) in o.iter_mut().zip(&qkv[v_row..v_row + head_dim]) {
                            *oi += w * vi;
                        }
                    }
                }
            });
            let attention = matmul(&context, total, &layer.attention_out)?;
            add_and_normalise(&mut x, &attention, &layer.attention_norm, self.eps, h);
            let mut inner = matmul(&x, total, &layer.intermediate)?;
            inner.par_chunks_mut(4096).for_each(|chunk| {
                for v in chunk.iter_mut() {
                    *v = gelu(*v);
                }
            });
            let output = matmul(&inner, total, &layer.output)?;
            add_and_normalise(&mut x, &output, &layer.output_norm, self.eps, h);
        }
        Ok(x)
    }
}

/// `x @ w + b` for `rows` rows.
fn matmul(x: &[f32], rows: usize, linear: &Linear) -> candle_core::Result<Vec<f32>> {
    let input = Tensor::from_slice(x, (rows, x.len() / rows.max(1)), &Device::Cpu)?;
    let mut out = values(input.matmul(&linear.weight)?)?;
    let width = linear.bias.len();
    out.par_chunks_mut(width).for_each(|row| {
        for (v, b) in row.iter_mut().zip(&linear.bias) {
            *v += b;
        }
    });
    Ok(out)
}

/// `x = layer_norm(x + delta)`, row by row.
fn add_and_normalise(x: &mut [f32], delta: &[f32], norm: &LayerNorm, eps: f32, width: usize) {
    x.par_chunks_mut(width)
        .zip(delta.par_chunks(width))
        .for_each(|(row, d)| {
            for (v, dv) in row.iter_mut().zip(d) {
                *v += dv;
            }
            normalise(row, norm, eps);
        });
}

fn normalise(row: &mut [f32], norm: &LayerNorm, eps: f32) {
    let n = row.len() as f32;
    let mean = row.iter().sum::<f32>() / n;
    let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inv = 1.0 / (var + eps).sqrt();
    for ((v, w), b) in row.iter_mut().zip(&norm.weight).zip(&norm.bias) {
        *v = (*v - mean) * inv * w + b;
    }
}

fn softmax(scores: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = exp(*s - max);
        sum += *s;
    }
    for s in scores.iter_mut() {
        *s /= sum;
    }
}

/// e^x for x <= 0 down to -87 (and above 0 within f32 range): a range reduction to 2^n * e^r
/// with |r| <= ln2/2 and a degree-6 polynomial, relative error below 5e-6. Branch-free, so loops
/// over it vectorise.
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E).round();
    let r = x - n * std::f32::consts::LN_2;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    f32::from_bits(((n as i32 + 127) << 23) as u32) * p
}

/// GELU, the exact form BERT uses: x/2 (1 + erf(x / sqrt 2)), with erf from Abramowitz and
/// Stegun 7.1.26 (absolute error below 1.5e-7).
fn gelu(x: f32) -> f32 {
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    let a = z.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let erf_abs = 1.0 - poly * exp(-a * a);
    let erf = erf_abs.copysign(z);
    0.5 * x * (1.0 + erf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_gelu_match_the_library_functions() {
        for i in -800..=100 {
            let x = i as f32 / 10.0;
            let (ours, std) = (exp(x), x.exp());
            assert!(
                (ours - std).abs() <= 5e-6 * std,
                "exp({x}): {ours} vs {std}"
            );
        }
        for i in -600..=600 {
            let x = i as f32 / 100.0;
            let xd = f64::from(x);
            let reference = 0.5 * xd * (1.0 + erf_series(xd / std::f64::consts::SQRT_2));
            let ours = f64::from(gelu(x));
            assert!(
                (ours - reference).abs() < 1e-6 * (1.0 + xd.abs()),
                "gelu({x}): {ours} vs {reference}"
            );
        }
    }

    /// erf in f64 by its Taylor series (|x| <= 4.3 here), for the test only.
    fn erf_series(x: f64) -> f64 {
        if x.abs() > 4.0 {
            return x.signum();
        }
        let mut term = x;
        let mut sum = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }
}

//! Decoder-only transformers of the llama family (SmolLM2, Llama, Qwen2, Qwen3) and Gemma 3 as
//! a batched forward step over the engine's own quantized matrices. Qwen2 adds biases to Q, K
//! and V; Qwen3 norms Q and K per head; both rotate head halves (NeoX RoPE). Gemma 3 differs in a few places, all
//! read from the GGUF: the embedding is scaled by sqrt(width), queries and keys are RMS-normed
//! per head, attention and MLP outputs are normed before the residual add, the MLP gate is
//! GELU (tanh) instead of SiLU, RoPE rotates the two halves of a head (NeoX style) instead of
//! adjacent pairs, and five of every six layers attend to a sliding window with their own RoPE
//! base.
//!
//! One step takes any number of sequences, each with its own tokens to append (a prefill
//! chunk or one decoded token), its own position and its own KV cache. All their tokens go
//! through every matrix product together (one read of each weight per step); attention runs
//! per sequence against its cache. Caches are allocated once per sequence for its whole length
//! (prompt plus max tokens): appending never copies. Scratch buffers live in [`Scratch`] and are
//! reused from step to step.

use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::gguf::{GgufError, GgufFile};
use super::kernels::{Activations, QMatrix};
use crate::engine::math::dot;

/// The architectures the step implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Llama,
    /// Llama with biases on Q, K and V, NeoX RoPE.
    Qwen2,
    /// Llama with per-head Q and K norms, NeoX RoPE.
    Qwen3,
    Gemma3,
}

/// Positions the RoPE tables cover: the longest context the engine serves.
pub const MAX_POSITIONS: usize = 8192;

/// Hyper-parameters read from GGUF metadata (`llama.*`, `gemma3.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    pub family: Family,
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub rope_base: f32,
    pub rms_eps: f32,
    pub context_length: usize,
    pub vocab_size: usize,
    /// Layers with a sliding window attend to this many positions back (Gemma 3's local layers).
    pub sliding_window: Option<usize>,
    /// RoPE base of the sliding-window layers.
    pub rope_local_base: f32,
    /// RoPE rotates the two halves of a head (NeoX, Hugging Face checkpoints, GGUF Qwen and
    /// Gemma) rather than adjacent pairs (GGUF llama, whose Q and K rows are permuted for it).
    pub neox_rope: bool,
}

impl LlamaConfig {
    pub fn from_gguf(gguf: &GgufFile) -> Result<Self, GgufError> {
        let arch = gguf.string("general.architecture")?;
        let family = match arch.as_str() {
            "llama" => Family::Llama,
            "qwen2" => Family::Qwen2,
            "qwen3" => Family::Qwen3,
            "gemma3" => Family::Gemma3,
            other => {
                return Err(GgufError::Metadata {
                    key: "general.architecture".into(),
                    message: format!(
                        "{other:?} is not supported (llama, qwen2, qwen3 and gemma3 are)"
                    ),
                });
            }
        };
        let key = |k: &str| format!("{arch}.{k}");
        let n_embd = gguf.u32(&key("embedding_length"))? as usize;
        let n_head = gguf.u32(&key("attention.head_count"))? as usize;
        let vocab_size = gguf.dims("token_embd.weight")?[0];
        Ok(Self {
            family,
            n_layer: gguf.u32(&key("block_count"))? as usize,
            n_embd,
            n_ff: gguf.u32(&key("feed_forward_length"))? as usize,
            n_head,
            n_head_kv: gguf
                .u32(&key("attention.head_count_kv"))
                .map_or(n_head, |v| v as usize),
            head_dim: gguf
                .u32(&key("attention.key_length"))
                .map_or(n_embd / n_head, |v| v as usize),
            rope_base: gguf.f32(&key("rope.freq_base")).unwrap_or(10_000.0),
            rms_eps: gguf
                .f32(&key("attention.layer_norm_rms_epsilon"))
                .unwrap_or(1e-5),
            context_length: gguf
                .u32(&key("context_length"))
                .map_or(2048, |v| v as usize)
                .min(MAX_POSITIONS),
            vocab_size,
            sliding_window: gguf
                .u32(&key("attention.sliding_window"))
                .ok()
                .map(|v| v as usize),
            rope_local_base: gguf.f32(&key("rope.local_freq_base")).unwrap_or(10_000.0),
            neox_rope: family != Family::Llama,
        })
    }

    fn kv_width(&self) -> usize {
        self.n_head_kv * self.head_dim
    }

    /// Width of the attention output (all query heads).
    fn q_width(&self) -> usize {
        self.n_head * self.head_dim
    }

    /// Gemma 3: every sixth layer is global, the others slide.
    fn window_of(&self, layer: usize) -> Option<usize> {
        match self.family {
            Family::Gemma3 if !(layer + 1).is_multiple_of(6) => self.sliding_window,
            _ => None,
        }
    }
}

struct Layer {
    attn_norm: Vec<f32>,
    /// Q, K and V stacked: rows (n_head + 2 n_head_kv) * head_dim.
    qkv: QMatrix,
    wo: QMatrix,
    ffn_norm: Vec<f32>,
    /// Gate and up stacked: rows 2 n_ff.
    gate_up: QMatrix,
    down: QMatrix,
    /// Biases of Q, K and V, stacked like `qkv` (Qwen2).
    qkv_bias: Option<Vec<f32>>,
    /// Per-head norms of queries and keys (Qwen3, Gemma 3).
    qk_norm: Option<(Vec<f32>, Vec<f32>)>,
    /// Norms of the attention and MLP outputs before the residual add (Gemma 3).
    post_norms: Option<(Vec<f32>, Vec<f32>)>,
    /// Positions back this layer attends to; `None`: all.
    window: Option<usize>,
    /// Which RoPE table this layer uses.
    rope: usize,
}

/// A loaded llama-family model.
pub struct Llama {
    pub config: LlamaConfig,
    embed: QMatrix,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    lm_head: QMatrix,
    /// cos/sin of every (position, pair) up to the context length, [pos][head_dim/2], for
    /// each RoPE base in use.
    rope: Vec<RopeTable>,
    embed_scale: f32,
}

struct RopeTable {
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl RopeTable {
    fn new(base: f32, head_dim: usize, positions: usize) -> Self {
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(positions * half);
        let mut sin = Vec::with_capacity(positions * half);
        for pos in 0..positions {
            for i in 0..half {
                let freq = 1.0 / base.powf(2.0 * i as f32 / head_dim as f32);
                let angle = pos as f32 * freq;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        Self { cos, sin }
    }
}

/// Where a model's weights come from, by their GGUF names (`blk.0.attn_q.weight`): a GGUF file,
/// or a safetensors checkpoint whose names are mapped (see `super::hf`).
pub trait WeightSource {
    fn matrix(&mut self, name: &str) -> Result<QMatrix, GgufError>;
    /// A 1-D weight (norms, biases) as f32.
    fn vector(&mut self, name: &str) -> Result<Vec<f32>, GgufError>;
    fn has_tensor(&self, name: &str) -> bool;
}

impl WeightSource for GgufFile {
    fn matrix(&mut self, name: &str) -> Result<QMatrix, GgufError> {
        GgufFile::matrix(self, name)
    }

    fn vector(&mut self, name: &str) -> Result<Vec<f32>, GgufError> {
        GgufFile::vector(self, name)
    }

    fn has_tensor(&self, name: &str) -> bool {
        GgufFile::has_tensor(self, name)
    }
}

/// The named matrices as one (their rows in order), so one product computes them all. Parts
/// stored in different types (Q4_K_M files mix them) are re-encoded as Q8_0 first.
fn stacked(gguf: &mut dyn WeightSource, names: &[String]) -> Result<QMatrix, GgufError> {
    let parts = names
        .iter()
        .map(|n| gguf.matrix(n))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(matrix) = QMatrix::stack(&parts) {
        return Ok(matrix);
    }
    let err = |message: String| GgufError::Tensor {
        name: names.join(" + "),
        message,
    };
    let mut requantized = Vec::with_capacity(parts.len());
    for part in &parts {
        let mut values = vec![0.0; part.rows * part.cols];
        for (r, row) in values.chunks_exact_mut(part.cols).enumerate() {
            part.row_f32(r, row);
        }
        requantized.push(
            QMatrix::q8_0_from_f32(part.rows, part.cols, &values)
                .map_err(|e| err(e.to_string()))?,
        );
    }
    QMatrix::stack(&requantized).ok_or_else(|| err("cannot be stacked (different widths)".into()))
}

impl Llama {
    pub fn load(gguf: &mut GgufFile) -> Result<Self, GgufError> {
        let config = LlamaConfig::from_gguf(gguf)?;
        Self::from_weights(config, gguf)
    }

    /// Builds the model of `config` from `weights` (GGUF tensor names).
    pub fn from_weights(
        config: LlamaConfig,
        gguf: &mut dyn WeightSource,
    ) -> Result<Self, GgufError> {
        let mut layers = Vec::with_capacity(config.n_layer);
        let gemma = config.family == Family::Gemma3;
        for i in 0..config.n_layer {
            let name = |t: &str| format!("blk.{i}.{t}.weight");
            let qk_norm = if matches!(config.family, Family::Qwen3 | Family::Gemma3) {
                Some((
                    gguf.vector(&name("attn_q_norm"))?,
                    gguf.vector(&name("attn_k_norm"))?,
                ))
            } else {
                None
            };
            let post_norms = if gemma {
                Some((
                    gguf.vector(&name("post_attention_norm"))?,
                    gguf.vector(&name("post_ffw_norm"))?,
                ))
            } else {
                None
            };
            let qkv_bias = if config.family == Family::Qwen2 {
                let mut bias = |t: &str| gguf.vector(&format!("blk.{i}.{t}.bias"));
                Some([bias("attn_q")?, bias("attn_k")?, bias("attn_v")?].concat())
            } else {
                None
            };
            let window = config.window_of(i);
            layers.push(Layer {
                qkv_bias,
                qk_norm,
                post_norms,
                window,
                rope: usize::from(window.is_some()),
                attn_norm: gguf.vector(&name("attn_norm"))?,
                qkv: stacked(gguf, &[name("attn_q"), name("attn_k"), name("attn_v")])?,
                wo: gguf.matrix(&name("attn_output"))?,
                ffn_norm: gguf.vector(&name("ffn_norm"))?,
                gate_up: stacked(gguf, &[name("ffn_gate"), name("ffn_up")])?,
                down: gguf.matrix(&name("ffn_down"))?,
            });
        }
        let embed = gguf.matrix("token_embd.weight")?;
        // SmolLM2 ties the LM head to the embedding.
        let lm_head = if gguf.has_tensor("output.weight") {
            gguf.matrix("output.weight")?
        } else {
            embed.clone()
        };
        let norm = gguf.vector("output_norm.weight")?;
        let mut rope = vec![RopeTable::new(
            config.rope_base,
            config.head_dim,
            config.context_length,
        )];
        if config.sliding_window.is_some() && gemma {
            rope.push(RopeTable::new(
                config.rope_local_base,
                config.head_dim,
                config.context_length,
            ));
        }
        let embed_scale = if gemma {
            (config.n_embd as f32).sqrt()
        } else {
            1.0
        };
        Ok(Self {
            config,
            embed,
            layers,
            norm,
            lm_head,
            rope,
            embed_scale,
        })
    }

    /// A cache for one sequence of at most `capacity` tokens.
    pub fn new_cache(&self, capacity: usize) -> SeqCache {
        let width = self.config.kv_width();
        let capacity = capacity.min(self.config.context_length);
        SeqCache {
            k: (0..self.config.n_layer)
                .map(|_| Vec::with_capacity(capacity * width))
                .collect(),
            v: (0..self.config.n_layer)
                .map(|_| Vec::with_capacity(capacity * width))
                .collect(),
            len: 0,
            capacity,
        }
    }

    /// Runs one step. Each entry appends its tokens to its cache; returns, for entries with
    /// `logits` set, the logits after their last token (in entry order).
    pub fn forward(
        &self,
        batch: &mut [StepSeq<'_>],
        scratch: &mut Scratch,
    ) -> Result<Vec<Vec<f32>>, StepError> {
        let c = &self.config;
        let (d, hd, kvw, qw) = (c.n_embd, c.head_dim, c.kv_width(), c.q_width());
        let total: usize = batch.iter().map(|s| s.tokens.len()).sum();
        if total == 0 {
            return Ok(Vec::new());
        }
        // Where each token sits: (entry, position).
        let mut placement = Vec::with_capacity(total);
        for (e, seq) in batch.iter().enumerate() {
            if seq.cache.len + seq.tokens.len() > seq.cache.capacity {
                return Err(StepError::CacheFull {
                    capacity: seq.cache.capacity,
                });
            }
            for (i, token) in seq.tokens.iter().enumerate() {
                if *token as usize >= c.vocab_size {
                    return Err(StepError::BadToken {
                        token: *token,
                        vocab: c.vocab_size,
                    });
                }
                placement.push((e, seq.cache.len + i));
            }
        }
        let s = scratch;
        s.x.resize(total * d, 0.0);
        for (t, token) in batch.iter().flat_map(|seq| seq.tokens.iter()).enumerate() {
            let row = &mut s.x[t * d..(t + 1) * d];
            self.embed.row_f32(*token as usize, row);
            if self.embed_scale != 1.0 {
                row.iter_mut().for_each(|v| *v *= self.embed_scale);
            }
        }
        let qkv_width = (c.n_head + 2 * c.n_head_kv) * hd;
        let started = Instant::now();
        let (mut matmul, mut attention) = (Duration::ZERO, Duration::ZERO);
        let timed = |total: &mut Duration, work: &mut dyn FnMut()| {
            let t = Instant::now();
            work();
            *total += t.elapsed();
        };
        for (li, layer) in self.layers.iter().enumerate() {
            rms_norm(&s.x, &layer.attn_norm, c.rms_eps, d, &mut s.xn);
            s.qkv.resize(total * qkv_width, 0.0);
            timed(&mut matmul, &mut || {
                s.acts.set(&s.xn, total, d);
                layer.qkv.matmul(&s.acts, &mut s.qkv, &mut s.matmul);
            });
            // RoPE on q and k, then append k and v to the caches.
            for (t, &(e, pos)) in placement.iter().enumerate() {
                let row = &mut s.qkv[t * qkv_width..(t + 1) * qkv_width];
                if let Some(bias) = &layer.qkv_bias {
                    row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
                }
                for (h, head) in row[..(c.n_head + c.n_head_kv) * hd]
                    .chunks_exact_mut(hd)
                    .enumerate()
                {
                    if let Some((q_norm, k_norm)) = &layer.qk_norm {
                        let weight = if h < c.n_head { q_norm } else { k_norm };
                        rms_norm_in_place(head, weight, c.rms_eps);
                    }
                    self.rope(head, pos, layer.rope);
                }
                let cache = &mut batch[e].cache;
                cache.k[li].extend_from_slice(&row[c.n_head * hd..c.n_head * hd + kvw]);
                cache.v[li].extend_from_slice(&row[c.n_head * hd + kvw..]);
            }
            s.att.resize(total * qw, 0.0);
            timed(&mut attention, &mut || {
                self.attention(batch, &placement, &s.qkv, li, &mut s.att);
            });
            s.tmp.resize(total * d, 0.0);
            timed(&mut matmul, &mut || {
                s.acts.set(&s.att, total, qw);
                layer.wo.matmul(&s.acts, &mut s.tmp, &mut s.matmul);
            });
            if let Some((post_attn, _)) = &layer.post_norms {
                s.tmp
                    .chunks_exact_mut(d)
                    .for_each(|row| rms_norm_in_place(row, post_attn, c.rms_eps));
            }
            for (x, o) in s.x.iter_mut().zip(&s.tmp) {
                *x += o;
            }
            rms_norm(&s.x, &layer.ffn_norm, c.rms_eps, d, &mut s.xn);
            s.ff.resize(total * 2 * c.n_ff, 0.0);
            timed(&mut matmul, &mut || {
                s.acts.set(&s.xn, total, d);
                layer.gate_up.matmul(&s.acts, &mut s.ff, &mut s.matmul);
            });
            s.hidden.resize(total * c.n_ff, 0.0);
            for (t, out) in s.hidden.chunks_exact_mut(c.n_ff).enumerate() {
                let row = &s.ff[t * 2 * c.n_ff..(t + 1) * 2 * c.n_ff];
                let (gate, up) = row.split_at(c.n_ff);
                match c.family {
                    Family::Llama | Family::Qwen2 | Family::Qwen3 => {
                        for ((h, g), u) in out.iter_mut().zip(gate).zip(up) {
                            *h = g / (1.0 + (-g).exp()) * u;
                        }
                    }
                    Family::Gemma3 => {
                        for ((h, g), u) in out.iter_mut().zip(gate).zip(up) {
                            *h = gelu_tanh(*g) * u;
                        }
                    }
                }
            }
            timed(&mut matmul, &mut || {
                s.acts.set(&s.hidden, total, c.n_ff);
                layer.down.matmul(&s.acts, &mut s.tmp, &mut s.matmul);
            });
            if let Some((_, post_ffn)) = &layer.post_norms {
                s.tmp
                    .chunks_exact_mut(d)
                    .for_each(|row| rms_norm_in_place(row, post_ffn, c.rms_eps));
            }
            for (x, o) in s.x.iter_mut().zip(&s.tmp) {
                *x += o;
            }
        }
        for seq in batch.iter_mut() {
            seq.cache.len += seq.tokens.len();
        }
        // Logits only for the last token of the entries that want them.
        let mut last_rows = Vec::new();
        let mut offset = 0;
        for seq in batch.iter() {
            offset += seq.tokens.len();
            if seq.logits {
                last_rows.extend_from_slice(&s.x[(offset - 1) * d..offset * d]);
            }
        }
        let wanted = last_rows.len() / d;
        let layers_done = started.elapsed();
        s.times.matmul += matmul;
        s.times.attention += attention;
        s.times.other += layers_done.saturating_sub(matmul + attention);
        s.times.tokens += total as u64;
        if wanted == 0 {
            return Ok(Vec::new());
        }
        let head = Instant::now();
        rms_norm(&last_rows, &self.norm, c.rms_eps, d, &mut s.xn);
        s.acts.set(&s.xn, wanted, d);
        let mut logits = vec![0.0; wanted * c.vocab_size];
        self.lm_head.matmul(&s.acts, &mut logits, &mut s.matmul);
        s.times.lm_head += head.elapsed();
        Ok(logits
            .chunks_exact(c.vocab_size)
            .map(<[f32]>::to_vec)
            .collect())
    }

    /// Rotary embedding of one head in place: the two halves of the head (NeoX style), or
    /// adjacent pairs for GGUF llama files (their weights are permuted for this layout).
    fn rope(&self, head: &mut [f32], pos: usize, table: usize) {
        let half = self.config.head_dim / 2;
        let table = &self.rope[table];
        let cos = &table.cos[pos * half..(pos + 1) * half];
        let sin = &table.sin[pos * half..(pos + 1) * half];
        if self.config.neox_rope {
            let (first, second) = head.split_at_mut(half);
            for i in 0..half {
                let (a, b) = (first[i], second[i]);
                first[i] = a * cos[i] - b * sin[i];
                second[i] = a * sin[i] + b * cos[i];
            }
        } else {
            for (i, pair) in head.chunks_exact_mut(2).enumerate() {
                let (a, b) = (pair[0], pair[1]);
                pair[0] = a * cos[i] - b * sin[i];
                pair[1] = a * sin[i] + b * cos[i];
            }
        }
    }

    /// Causal attention of every token against its own sequence's cache (which already holds
    /// this step's keys and values).
    fn attention(
        &self,
        batch: &[StepSeq<'_>],
        placement: &[(usize, usize)],
        qkv: &[f32],
        layer: usize,
        out: &mut [f32],
    ) {
        let c = &self.config;
        let (hd, kvw) = (c.head_dim, c.kv_width());
        let qkv_width = (c.n_head + 2 * c.n_head_kv) * hd;
        let group = c.n_head / c.n_head_kv;
        let scale = 1.0 / (hd as f32).sqrt();
        let window = self.layers[layer].window;
        out.par_chunks_mut(c.q_width())
            .enumerate()
            .for_each(|(t, out_row)| {
                let (e, pos) = placement[t];
                let keys = &batch[e].cache.k[layer];
                let values = &batch[e].cache.v[layer];
                let q_row = &qkv[t * qkv_width..t * qkv_width + c.n_head * hd];
                let start = window.map_or(0, |w| (pos + 1).saturating_sub(w));
                let mut scores = vec![0.0f32; pos + 1 - start];
                for h in 0..c.n_head {
                    let q = &q_row[h * hd..(h + 1) * hd];
                    let kv_off = (h / group) * hd;
                    let mut max = f32::NEG_INFINITY;
                    for (i, score) in scores.iter_mut().enumerate() {
                        let p = start + i;
                        let k = &keys[p * kvw + kv_off..p * kvw + kv_off + hd];
                        *score = dot(q, k) * scale;
                        max = max.max(*score);
                    }
                    let mut sum = 0.0;
                    for score in scores.iter_mut() {
                        *score = (*score - max).exp();
                        sum += *score;
                    }
                    let o = &mut out_row[h * hd..(h + 1) * hd];
                    o.fill(0.0);
                    for (i, score) in scores.iter().enumerate() {
                        let p = start + i;
                        let w = score / sum;
                        let v = &values[p * kvw + kv_off..p * kvw + kv_off + hd];
                        for (oi, vi) in o.iter_mut().zip(v) {
                            *oi += w * vi;
                        }
                    }
                }
            });
    }
}

fn rms_norm_in_place(row: &mut [f32], weight: &[f32], eps: f32) {
    let mean_sq = row.iter().map(|v| v * v).sum::<f32>() / row.len() as f32;
    let inv = 1.0 / (mean_sq + eps).sqrt();
    for (v, w) in row.iter_mut().zip(weight) {
        *v *= inv * w;
    }
}

/// GELU, tanh approximation (Gemma's `gelu_pytorch_tanh`).
fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)).tanh())
}

fn rms_norm(x: &[f32], weight: &[f32], eps: f32, width: usize, out: &mut Vec<f32>) {
    out.resize(x.len(), 0.0);
    for (row, o) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
        let mean_sq = row.iter().map(|v| v * v).sum::<f32>() / width as f32;
        let inv = 1.0 / (mean_sq + eps).sqrt();
        for ((oi, xi), wi) in o.iter_mut().zip(row).zip(weight) {
            *oi = xi * inv * wi;
        }
    }
}

/// The keys and values of one sequence, per layer: `len` positions of `n_head_kv * head_dim`.
/// Cloned once to fork the choices of a request after their shared prefill.
#[derive(Debug, Clone, Default)]
pub struct SeqCache {
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    len: usize,
    capacity: usize,
}

impl SeqCache {
    /// Positions filled so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// One sequence's part of a step.
pub struct StepSeq<'a> {
    pub tokens: &'a [u32],
    pub cache: &'a mut SeqCache,
    /// Return logits after the last token (false for a prefill chunk that is not the last).
    pub logits: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StepError {
    #[error("sequence is longer than its cache of {capacity} tokens")]
    CacheFull { capacity: usize },
    #[error("token id {token} is outside the vocabulary of {vocab}")]
    BadToken { token: u32, vocab: usize },
}

/// Where the forward steps' time went, summed over steps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepTimes {
    /// Weight products of the layers, with the 8-bit quantization of their inputs.
    pub matmul: Duration,
    pub attention: Duration,
    /// Norms, RoPE, activations, residual adds, embedding lookups.
    pub other: Duration,
    /// The output layer (logits) and its norm.
    pub lm_head: Duration,
    /// Tokens through the layers.
    pub tokens: u64,
}

impl StepTimes {
    /// Time in the forward steps, all parts together.
    pub fn total(&self) -> Duration {
        self.matmul + self.attention + self.other + self.lm_head
    }
}

/// Buffers reused by every step, and the step timings.
#[derive(Default)]
pub struct Scratch {
    pub times: StepTimes,
    x: Vec<f32>,
    xn: Vec<f32>,
    qkv: Vec<f32>,
    att: Vec<f32>,
    tmp: Vec<f32>,
    ff: Vec<f32>,
    hidden: Vec<f32>,
    acts: Activations,
    matmul: Vec<f32>,
}

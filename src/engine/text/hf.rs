//! Hugging Face checkpoints of the llama family (Llama, SmolLM2, Qwen2, Qwen3) as the hub
//! serves them: `config.json`, `model.safetensors` (or `model-0000N-of-0000M.safetensors`
//! shards), `tokenizer.json` and, if present, `tokenizer_config.json` for the chat template. The
//! weights are read through candle's memory-mapped safetensors, converted to f32 and encoded as
//! Q8_0 for the engine's kernels (norms and biases stay f32); the tensor names are mapped to the
//! GGUF names the forward step is built from. RoPE rotates head halves (the checkpoints are not
//! permuted as GGUF llama files are).

use std::path::{Path, PathBuf};

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device};
use serde::Deserialize;

use super::gguf::GgufError;
use super::kernels::QMatrix;
use super::llama::{Family, LlamaConfig, MAX_POSITIONS, WeightSource};

/// The fields of `config.json` the engine reads.
#[derive(Debug, Deserialize)]
struct HfConfig {
    model_type: String,
    hidden_size: usize,
    intermediate_size: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    num_hidden_layers: usize,
    vocab_size: usize,
    head_dim: Option<usize>,
    rms_norm_eps: Option<f32>,
    rope_theta: Option<f32>,
    max_position_embeddings: Option<usize>,
}

fn weights_error(name: &str, message: impl ToString) -> GgufError {
    GgufError::Tensor {
        name: name.into(),
        message: message.to_string(),
    }
}

/// The model's configuration from `dir/config.json`.
pub fn config(dir: &Path) -> Result<LlamaConfig, GgufError> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| weights_error("config.json", e))?;
    let hf: HfConfig = serde_json::from_str(&text).map_err(|e| weights_error("config.json", e))?;
    let family = match hf.model_type.as_str() {
        "llama" => Family::Llama,
        "qwen2" => Family::Qwen2,
        "qwen3" => Family::Qwen3,
        other => {
            return Err(GgufError::Metadata {
                key: "config.json model_type".into(),
                message: format!(
                    "{other:?} is not supported from safetensors (llama, qwen2 and qwen3 are)"
                ),
            });
        }
    };
    Ok(LlamaConfig {
        family,
        n_layer: hf.num_hidden_layers,
        n_embd: hf.hidden_size,
        n_ff: hf.intermediate_size,
        n_head: hf.num_attention_heads,
        n_head_kv: hf.num_key_value_heads.unwrap_or(hf.num_attention_heads),
        head_dim: hf
            .head_dim
            .unwrap_or(hf.hidden_size / hf.num_attention_heads),
        rope_base: hf.rope_theta.unwrap_or(10_000.0),
        rms_eps: hf.rms_norm_eps.unwrap_or(1e-6),
        context_length: hf
            .max_position_embeddings
            .unwrap_or(2048)
            .min(MAX_POSITIONS),
        vocab_size: hf.vocab_size,
        sliding_window: None,
        rope_local_base: 10_000.0,
        neox_rope: true,
    })
}

/// The safetensors files of a checkpoint directory, in name order.
fn shards(dir: &Path) -> Result<Vec<PathBuf>, GgufError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| weights_error("model.safetensors", e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(weights_error(
            "model.safetensors",
            format!("no .safetensors file in {}", dir.display()),
        ));
    }
    Ok(files)
}

/// A checkpoint's tensors, looked up by GGUF names.
pub struct HfWeights {
    tensors: MmapedSafetensors,
}

impl HfWeights {
    pub fn open(dir: &Path) -> Result<Self, GgufError> {
        let files = shards(dir)?;
        for file in &files {
            adforge_input::safetensors::check_path(file)
                .map_err(|e| weights_error("model.safetensors", e))?;
        }
        // SAFETY: the files are opened read-only and not modified while they are mapped.
        let tensors = unsafe { MmapedSafetensors::multi(&files) }
            .map_err(|e| weights_error("model.safetensors", e))?;
        Ok(Self { tensors })
    }

    /// The Hugging Face name of a GGUF tensor name.
    fn hf_name(gguf: &str) -> String {
        let fixed = match gguf {
            "token_embd.weight" => Some("model.embed_tokens.weight"),
            "output_norm.weight" => Some("model.norm.weight"),
            "output.weight" => Some("lm_head.weight"),
            _ => None,
        };
        if let Some(name) = fixed {
            return name.into();
        }
        let Some(rest) = gguf.strip_prefix("blk.") else {
            return gguf.into();
        };
        let Some((layer, tensor)) = rest.split_once('.') else {
            return gguf.into();
        };
        let (base, suffix) = tensor.rsplit_once('.').unwrap_or((tensor, "weight"));
        let hf = match base {
            "attn_q" => "self_attn.q_proj",
            "attn_k" => "self_attn.k_proj",
            "attn_v" => "self_attn.v_proj",
            "attn_output" => "self_attn.o_proj",
            "attn_q_norm" => "self_attn.q_norm",
            "attn_k_norm" => "self_attn.k_norm",
            "attn_norm" => "input_layernorm",
            "ffn_norm" => "post_attention_layernorm",
            "ffn_gate" => "mlp.gate_proj",
            "ffn_up" => "mlp.up_proj",
            "ffn_down" => "mlp.down_proj",
            other => other,
        };
        format!("model.layers.{layer}.{hf}.{suffix}")
    }

    fn values(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), GgufError> {
        let hf = Self::hf_name(name);
        let tensor = self
            .tensors
            .load(&hf, &Device::Cpu)
            .map_err(|e| weights_error(&hf, e))?;
        let dims = tensor.dims().to_vec();
        let values = tensor
            .to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| weights_error(&hf, e))?;
        Ok((dims, values))
    }
}

impl WeightSource for HfWeights {
    fn matrix(&mut self, name: &str) -> Result<QMatrix, GgufError> {
        let (dims, values) = self.values(name)?;
        let [rows, cols] = dims[..] else {
            return Err(weights_error(
                name,
                format!("expected 2 dimensions, got {dims:?}"),
            ));
        };
        QMatrix::q8_0_from_f32(rows, cols, &values).map_err(|source| GgufError::Kernel {
            name: name.into(),
            source,
        })
    }

    fn vector(&mut self, name: &str) -> Result<Vec<f32>, GgufError> {
        Ok(self.values(name)?.1)
    }

    fn has_tensor(&self, name: &str) -> bool {
        self.tensors.get(&Self::hf_name(name)).is_ok()
    }
}

/// `chat_template` from `tokenizer_config.json`, when the checkpoint has one.
pub fn chat_template(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("tokenizer_config.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("chat_template")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_gguf_names_to_hugging_face_names() {
        assert_eq!(
            HfWeights::hf_name("token_embd.weight"),
            "model.embed_tokens.weight"
        );
        assert_eq!(
            HfWeights::hf_name("blk.3.attn_q.bias"),
            "model.layers.3.self_attn.q_proj.bias"
        );
        assert_eq!(
            HfWeights::hf_name("blk.0.ffn_norm.weight"),
            "model.layers.0.post_attention_layernorm.weight"
        );
        assert_eq!(
            HfWeights::hf_name("blk.11.attn_k_norm.weight"),
            "model.layers.11.self_attn.k_norm.weight"
        );
        assert_eq!(HfWeights::hf_name("output.weight"), "lm_head.weight");
    }
}

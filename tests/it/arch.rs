//! Architectures with no weights installable here (Qwen2, Qwen3): small random-weight GGUF files
//! of the real layouts, written with candle's GGUF writer, run through adforge's engine and
//! through candle-transformers' stock `quantized_qwen2` / `quantized_qwen3` on the same file.

use std::path::Path;

use adforge::engine::text::{GgufFile, Llama, Scratch, StepSeq};

use crate::text::{difference, logits_one_at_a_time};
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

const VOCAB: usize = 256;
const EMBD: usize = 64;
const FF: usize = 128;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const LAYERS: usize = 2;

/// Writes a random model of `arch` ("qwen2" or "qwen3"). Qwen3's heads are 32 wide, so the
/// attention width (128) differs from the model width (64), as in the real Qwen3 models.
fn write_model(path: &Path, arch: &str, seed: u64) {
    let device = Device::Cpu;
    let mut rng = seed;
    let mut random = |shape: &[usize], scale: f32| {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                ((rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * scale
            })
            .collect();
        Tensor::from_vec(values, shape, &device).unwrap()
    };
    let head_dim = if arch == "qwen3" { 32 } else { EMBD / HEADS };
    let q_width = HEADS * head_dim;
    let kv_width = KV_HEADS * head_dim;
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let matrix = |name: String,
                  rows: usize,
                  cols: usize,
                  tensors: &mut Vec<(String, QTensor)>,
                  r: &mut dyn FnMut(&[usize], f32) -> Tensor| {
        let t = r(&[rows, cols], 0.3);
        tensors.push((name, QTensor::quantize(&t, GgmlDType::Q8_0).unwrap()));
    };
    let vector = |name: String,
                  len: usize,
                  base: f32,
                  tensors: &mut Vec<(String, QTensor)>,
                  r: &mut dyn FnMut(&[usize], f32) -> Tensor| {
        let t = (r(&[len], 0.2) + base as f64).unwrap();
        tensors.push((name, QTensor::quantize(&t, GgmlDType::F32).unwrap()));
    };
    matrix(
        "token_embd.weight".into(),
        VOCAB,
        EMBD,
        &mut tensors,
        &mut random,
    );
    vector(
        "output_norm.weight".into(),
        EMBD,
        1.0,
        &mut tensors,
        &mut random,
    );
    for i in 0..LAYERS {
        let n = |t: &str| format!("blk.{i}.{t}");
        vector(n("attn_norm.weight"), EMBD, 1.0, &mut tensors, &mut random);
        vector(n("ffn_norm.weight"), EMBD, 1.0, &mut tensors, &mut random);
        matrix(n("attn_q.weight"), q_width, EMBD, &mut tensors, &mut random);
        matrix(
            n("attn_k.weight"),
            kv_width,
            EMBD,
            &mut tensors,
            &mut random,
        );
        matrix(
            n("attn_v.weight"),
            kv_width,
            EMBD,
            &mut tensors,
            &mut random,
        );
        matrix(
            n("attn_output.weight"),
            EMBD,
            q_width,
            &mut tensors,
            &mut random,
        );
        matrix(n("ffn_gate.weight"), FF, EMBD, &mut tensors, &mut random);
        matrix(n("ffn_up.weight"), FF, EMBD, &mut tensors, &mut random);
        matrix(n("ffn_down.weight"), EMBD, FF, &mut tensors, &mut random);
        if arch == "qwen2" {
            vector(n("attn_q.bias"), q_width, 0.0, &mut tensors, &mut random);
            vector(n("attn_k.bias"), kv_width, 0.0, &mut tensors, &mut random);
            vector(n("attn_v.bias"), kv_width, 0.0, &mut tensors, &mut random);
        } else {
            vector(
                n("attn_q_norm.weight"),
                head_dim,
                1.0,
                &mut tensors,
                &mut random,
            );
            vector(
                n("attn_k_norm.weight"),
                head_dim,
                1.0,
                &mut tensors,
                &mut random,
            );
        }
    }
    let key = |k: &str| format!("{arch}.{k}");
    let metadata: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        (key("block_count"), Value::U32(LAYERS as u32)),
        (key("embedding_length"), Value::U32(EMBD as u32)),
        (key("feed_forward_length"), Value::U32(FF as u32)),
        (key("attention.head_count"), Value::U32(HEADS as u32)),
        (key("attention.head_count_kv"), Value::U32(KV_HEADS as u32)),
        (key("attention.key_length"), Value::U32(head_dim as u32)),
        (key("attention.value_length"), Value::U32(head_dim as u32)),
        (key("attention.layer_norm_rms_epsilon"), Value::F32(1e-6)),
        (key("rope.freq_base"), Value::F32(10_000.0)),
        (key("context_length"), Value::U32(128)),
    ];
    let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut file, &metadata, &tensors).unwrap();
}

/// One token through candle's stock model at a position: its logits.
type StockStep = dyn FnMut(&Tensor, usize) -> Tensor;

/// Logits at every position of `tokens` through `step`, one token at a time.
fn feed(step: &mut StockStep, tokens: &[u32]) -> Vec<Vec<f32>> {
    tokens
        .iter()
        .enumerate()
        .map(|(pos, &t)| {
            let x = Tensor::new(&[[t]], &Device::Cpu).unwrap();
            step(&x, pos)
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        })
        .collect()
}

/// Logits at every position from candle's stock model, fed one token at a time.
fn stock_logits(path: &Path, arch: &str, tokens: &[u32]) -> Vec<Vec<f32>> {
    use candle_transformers::models::{quantized_qwen2, quantized_qwen3};
    let device = Device::Cpu;
    let mut file = std::fs::File::open(path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let mut step: Box<StockStep> = if arch == "qwen2" {
        let mut m = quantized_qwen2::ModelWeights::from_gguf(content, &mut file, &device).unwrap();
        Box::new(move |x, pos| m.forward(x, pos).unwrap())
    } else {
        let mut m = quantized_qwen3::ModelWeights::from_gguf(content, &mut file, &device).unwrap();
        Box::new(move |x, pos| m.forward(x, pos).unwrap())
    };
    feed(step.as_mut(), tokens)
}

/// Same logits as candle's stock model at every position (both read the same Q8_0 weights and
/// quantize activations to 8 bits; summation orders differ: within 2% of the logit range), and
/// the batched step gives each sequence what it gets alone (within 1e-4).
fn check_architecture(arch: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{arch}.gguf"));
    write_model(&path, arch, 0x9E37_79B9_7F4A_7C15);
    let model = Llama::load(&mut GgufFile::open(&path).unwrap()).unwrap();
    let tokens: Vec<u32> = vec![1, 17, 200, 33, 5, 90, 128, 64, 250, 3];
    let stock = stock_logits(&path, arch, &tokens);
    let alone = logits_one_at_a_time(&model, &tokens);
    for (pos, (ours, theirs)) in alone.iter().zip(&stock).enumerate() {
        let (worst, range) = difference(ours, theirs);
        assert!(
            worst <= 0.02 * range,
            "{arch} position {pos}: logits differ by {worst} (range {range})"
        );
    }
    // The prompt in one chunk beside another sequence: the same last logits.
    let mut scratch = Scratch::default();
    let mut a = model.new_cache(tokens.len());
    let mut b = model.new_cache(4);
    let batched = model
        .forward(
            &mut [
                StepSeq {
                    tokens: &tokens,
                    cache: &mut a,
                    logits: true,
                },
                StepSeq {
                    tokens: &tokens[..3],
                    cache: &mut b,
                    logits: true,
                },
            ],
            &mut scratch,
        )
        .unwrap();
    for (got, want) in [
        (&batched[0], &alone[tokens.len() - 1]),
        (&batched[1], &alone[2]),
    ] {
        let diff = got
            .iter()
            .zip(want.iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "{arch}: batched differs by {diff}");
    }
}

#[test]
fn qwen2_matches_candles_stock_model() {
    check_architecture("qwen2");
}

#[test]
fn qwen3_matches_candles_stock_model() {
    check_architecture("qwen3");
}

/// A byte-level BPE tokenizer.json with the 256 byte symbols and an end token, written with the
/// tokenizers crate (a real checkpoint's file has the same shape, with merges).
fn write_tokenizer(path: &Path) {
    use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
    use tokenizers::models::bpe::BPE;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    let mut alphabet: Vec<char> = ByteLevel::alphabet().into_iter().collect();
    alphabet.sort();
    let vocab: ahash::AHashMap<String, u32> = alphabet
        .iter()
        .enumerate()
        .map(|(i, c)| (c.to_string(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, Vec::new())
        .build()
        .unwrap();
    let mut tokenizer = tokenizers::Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    tokenizer
        .add_special_tokens(vec![tokenizers::AddedToken::from("<|im_end|>", true)])
        .unwrap();
    tokenizer.save(path, false).unwrap();
}

/// A random Hugging Face checkpoint directory of `model_type` ("llama" or "qwen2"): config.json,
/// model.safetensors (f32), tokenizer.json.
fn write_checkpoint(dir: &Path, model_type: &str) {
    let device = Device::Cpu;
    let vocab = 257;
    let head_dim = EMBD / HEADS;
    let kv = KV_HEADS * head_dim;
    let mut tensors = std::collections::HashMap::new();
    let mut seed = 7u64;
    let mut add = |name: String, shape: &[usize], scale: f32, base: f32| {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                base + ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * scale
            })
            .collect();
        tensors.insert(name, Tensor::from_vec(values, shape, &device).unwrap());
    };
    add("model.embed_tokens.weight".into(), &[vocab, EMBD], 1.0, 0.0);
    add("lm_head.weight".into(), &[vocab, EMBD], 0.3, 0.0);
    add("model.norm.weight".into(), &[EMBD], 0.2, 1.0);
    for i in 0..LAYERS {
        let n = |t: &str| format!("model.layers.{i}.{t}");
        add(n("input_layernorm.weight"), &[EMBD], 0.2, 1.0);
        add(n("post_attention_layernorm.weight"), &[EMBD], 0.2, 1.0);
        add(n("self_attn.q_proj.weight"), &[EMBD, EMBD], 0.3, 0.0);
        add(n("self_attn.k_proj.weight"), &[kv, EMBD], 0.3, 0.0);
        add(n("self_attn.v_proj.weight"), &[kv, EMBD], 0.3, 0.0);
        add(n("self_attn.o_proj.weight"), &[EMBD, EMBD], 0.3, 0.0);
        add(n("mlp.gate_proj.weight"), &[FF, EMBD], 0.3, 0.0);
        add(n("mlp.up_proj.weight"), &[FF, EMBD], 0.3, 0.0);
        add(n("mlp.down_proj.weight"), &[EMBD, FF], 0.3, 0.0);
        if model_type == "qwen2" {
            add(n("self_attn.q_proj.bias"), &[EMBD], 0.2, 0.0);
            add(n("self_attn.k_proj.bias"), &[kv], 0.2, 0.0);
            add(n("self_attn.v_proj.bias"), &[kv], 0.2, 0.0);
        }
    }
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
    let config = serde_json::json!({
        "model_type": model_type, "architectures": ["X"], "hidden_size": EMBD,
        "intermediate_size": FF, "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS,
        "num_hidden_layers": LAYERS, "vocab_size": vocab, "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0, "max_position_embeddings": 128, "tie_word_embeddings": false,
        "eos_token_id": 256, "sliding_window": 128, "max_window_layers": LAYERS,
        "use_sliding_window": false, "hidden_act": "silu"
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    write_tokenizer(&dir.join("tokenizer.json"));
}

/// Logits at every position from candle-transformers' f32 model of the checkpoint.
fn reference_logits(dir: &Path, model_type: &str, tokens: &[u32]) -> Vec<Vec<f32>> {
    use candle_nn::VarBuilder;
    use candle_transformers::models::{llama, qwen2};
    let device = Device::Cpu;
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    // SAFETY: the file is the test's own and is not modified while it is mapped.
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(
            &[dir.join("model.safetensors")],
            candle_core::DType::F32,
            &device,
        )
    }
    .unwrap();
    let mut step: Box<StockStep> = if model_type == "llama" {
        let cfg: llama::LlamaConfig = serde_json::from_str(&config).unwrap();
        let cfg = cfg.into_config(false);
        let model = llama::Llama::load(vb, &cfg).unwrap();
        let mut cache = llama::Cache::new(true, candle_core::DType::F32, &cfg, &device).unwrap();
        Box::new(move |x, pos| model.forward(x, pos, &mut cache).unwrap())
    } else {
        let cfg: qwen2::Config = serde_json::from_str(&config).unwrap();
        let mut model = qwen2::ModelForCausalLM::new(&cfg, vb).unwrap();
        Box::new(move |x, pos| model.forward(x, pos).unwrap())
    };
    feed(step.as_mut(), tokens)
}

/// A safetensors checkpoint as the hub serves it loads through `TextService::load` (the
/// directory), its weights encoded as Q8_0: logits agree with candle-transformers' f32 model
/// within 5% of the logit range (the 8-bit weights and activations are the difference: 1-1.5%
/// at most positions, 3% at the worst one here; a wrong RoPE layout gives 15% or more), the
/// tokenizer.json encodes and decodes, and generation answers through the engine.
fn check_checkpoint(model_type: &str) {
    use adforge::engine::text::{EngineLimits, TextService};
    let dir = tempfile::tempdir().unwrap();
    write_checkpoint(dir.path(), model_type);
    let config = adforge::engine::text::hf::config(dir.path()).unwrap();
    let model = Llama::from_weights(
        config,
        &mut adforge::engine::text::hf::HfWeights::open(dir.path()).unwrap(),
    )
    .unwrap();
    let tokens: Vec<u32> = vec![3, 200, 17, 99, 42, 250, 8];
    let reference = reference_logits(dir.path(), model_type, &tokens);
    let ours = logits_one_at_a_time(&model, &tokens);
    for (pos, (ours, theirs)) in ours.iter().zip(&reference).enumerate() {
        let (worst, range) = difference(ours, theirs);
        assert!(
            worst <= 0.05 * range,
            "{model_type} position {pos}: logits differ by {worst} (range {range})"
        );
    }
    let service = TextService::load(model_type, dir.path(), EngineLimits::default(), 64).unwrap();
    let tokenizer = &service.engine.tokenizer;
    let ids = tokenizer.encode("hello").unwrap();
    assert_eq!(ids.len(), 5, "one byte symbol per letter");
    assert_eq!(tokenizer.decode(&ids).unwrap(), "hello");
    assert!(tokenizer.eos_ids.contains(&256));
    let request = adforge::engine::text::TextRequest {
        prompt: ids,
        params: adforge::engine::text::SamplingParams::default(),
        max_tokens: 5,
        stop: Vec::new(),
        n: 1,
        logprobs: false,
        top_logprobs: 0,
        ignore_eos: true,
        constraint: None,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let choices = runtime.block_on(service.complete(request)).unwrap();
    assert_eq!(choices[0].completion_tokens, 5);
    assert_eq!(
        choices[0].finish,
        Some(adforge::engine::text::FinishReason::Length)
    );
}

#[test]
fn llama_safetensors_checkpoint_matches_candles_f32_model() {
    check_checkpoint("llama");
}

#[test]
fn qwen2_safetensors_checkpoint_matches_candles_f32_model() {
    check_checkpoint("qwen2");
}

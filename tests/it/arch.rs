//! Architectures with no weights installable here (Qwen2, Qwen3): small random-weight GGUF files
//! of the real layouts, written with candle's GGUF writer, run through adforge's engine and
//! through candle-transformers' stock `quantized_qwen2` / `quantized_qwen3` on the same file.

use std::path::Path;

use adforge::engine::text::{GgufFile, Llama, Scratch, StepSeq};
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
    tokens
        .iter()
        .enumerate()
        .map(|(pos, &t)| {
            let x = Tensor::new(&[[t]], &device).unwrap();
            step(&x, pos)
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        })
        .collect()
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
    let mut cache = model.new_cache(tokens.len());
    let mut scratch = Scratch::default();
    let mut alone = Vec::new();
    for (pos, token) in tokens.iter().enumerate() {
        let ours = model
            .forward(
                &mut [StepSeq {
                    tokens: &[*token],
                    cache: &mut cache,
                    logits: true,
                }],
                &mut scratch,
            )
            .unwrap()
            .remove(0);
        let theirs = &stock[pos];
        let (hi, lo) = theirs
            .iter()
            .fold((f32::MIN, f32::MAX), |(h, l), &v| (h.max(v), l.min(v)));
        let worst = ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 0.02 * (hi - lo),
            "{arch} position {pos}: logits differ by {worst} (range {})",
            hi - lo
        );
        alone.push(ours);
    }
    // The prompt in one chunk beside another sequence: the same last logits.
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

//! One decode step of the text engine at batch sizes 1..16 on the real SmolLM2-135M Q4_1 GGUF,
//! and candle's stock `quantized_llama` beside it (batch 1 and 8).
//! Run: `cargo bench --bench text` (the model comes from ADFORGE_MODEL_CACHE, default
//! ./data/models, as `adforge models pull` installs it). Throughput is in tokens per second.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use adforge::engine::text::{GgufFile, Llama, Scratch, StepSeq};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn model_path() -> PathBuf {
    let cache = std::env::var("ADFORGE_MODEL_CACHE").unwrap_or_else(|_| "data/models".into());
    PathBuf::from(cache).join("smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
}

fn decode_step(c: &mut Criterion) {
    let path = model_path();
    if !path.exists() {
        eprintln!(
            "skipping text benches: {} not found (run `adforge models pull`)",
            path.display()
        );
        return;
    }
    let mut gguf = GgufFile::open(&path).unwrap();
    let model = Llama::load(&mut gguf).unwrap();
    let prompt: Vec<u32> = (0..32).map(|i| 100 + i * 7).collect();
    let mut group = c.benchmark_group("decode_step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    for batch in [1usize, 2, 4, 8, 16] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("batch_{batch}"), |b| {
            b.iter_custom(|iters| {
                let steps = iters as usize;
                let mut caches: Vec<_> = (0..batch)
                    .map(|_| model.new_cache(prompt.len() + steps + 1))
                    .collect();
                let mut scratch = Scratch::default();
                let mut seqs: Vec<StepSeq<'_>> = caches
                    .iter_mut()
                    .map(|cache| StepSeq {
                        tokens: &prompt,
                        cache,
                        logits: false,
                    })
                    .collect();
                model.forward(&mut seqs, &mut scratch).unwrap();
                let token = [42u32];
                let started = Instant::now();
                for _ in 0..steps {
                    let mut seqs: Vec<StepSeq<'_>> = caches
                        .iter_mut()
                        .map(|cache| StepSeq {
                            tokens: &token,
                            cache,
                            logits: true,
                        })
                        .collect();
                    model.forward(&mut seqs, &mut scratch).unwrap();
                }
                started.elapsed()
            })
        });
    }
    group.finish();
}

/// The peer inside candle: its stock `quantized_llama` on the same file, built with the same
/// flags (.cargo/config.toml). A batch of b is one (b, 1) input through its shared KV cache: all
/// sequences at the same position, the best case for it.
fn stock_candle_decode_step(c: &mut Criterion) {
    use candle_core::quantized::gguf_file;
    use candle_core::{Device, Tensor};
    use candle_transformers::models::quantized_llama::ModelWeights;
    let path = model_path();
    if !path.exists() {
        return;
    }
    let mut group = c.benchmark_group("stock_candle_decode_step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    for batch in [1usize, 8] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("batch_{batch}"), |b| {
            b.iter_custom(|iters| {
                let mut file = std::fs::File::open(&path).unwrap();
                let content = gguf_file::Content::read(&mut file).unwrap();
                let mut model = ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap();
                // Its forward can only take the last position of a batch of one, so the 32-token
                // context goes in one token at a time.
                let token = Tensor::new(&[42u32], &Device::Cpu)
                    .unwrap()
                    .unsqueeze(0)
                    .unwrap()
                    .repeat((batch, 1))
                    .unwrap();
                let context = 32;
                for pos in 0..context {
                    model.forward(&token, pos).unwrap();
                }
                let started = Instant::now();
                for step in 0..iters as usize {
                    model.forward(&token, context + step).unwrap();
                }
                started.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode_step, stock_candle_decode_step);
criterion_main!(benches);

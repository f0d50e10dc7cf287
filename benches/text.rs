//! One decode step of the text engine at batch sizes 1..16 on the real SmolLM2-135M Q4_1 GGUF.
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

criterion_group!(benches, decode_step);
criterion_main!(benches);

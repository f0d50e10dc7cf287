//! Sentence embeddings on the real all-MiniLM-L6-v2, one sentence at a time and in batches of
//! 8 and 32 (the batch the torch peer is measured at). Run: `cargo bench --bench embed` (the model
//! comes from ADFORGE_MODEL_CACHE, default ./data/models). Throughput is in sentences per second.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::Duration;

use adforge::engine::embed::Encoder;
use candle_core::Device;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Short ad-like sentences of mixed length, the same as scripts/peer_embed_torch.py uses.
pub const SENTENCES: [&str; 8] = [
    "A man is eating food.",
    "Fresh bread from our bakery every single morning.",
    "Running shoes built for trail and road alike.",
    "A cosy cafe by the sea with the best coffee in town.",
    "Winter jackets now thirty percent off.",
    "The new movie is awesome.",
    "Learn a language in ten minutes a day with our app.",
    "Book your summer holiday today and save.",
];

fn embed(c: &mut Criterion) {
    let cache = std::env::var("ADFORGE_MODEL_CACHE").unwrap_or_else(|_| "data/models".into());
    let dir = PathBuf::from(cache).join("all-minilm-l6-v2");
    if !dir.join("model.safetensors").exists() {
        eprintln!(
            "skipping embed benches: {} not found (run `adforge models pull`)",
            dir.display()
        );
        return;
    }
    let encoder = Encoder::load(&dir, &Device::Cpu).unwrap();
    let mut group = c.benchmark_group("embed");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    for batch in [1usize, 8, 32] {
        let texts: Vec<String> = (0..batch)
            .map(|i| SENTENCES[i % SENTENCES.len()].to_string())
            .collect();
        let ids = encoder.tokenize(&texts, 512).unwrap();
        let refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("batch_{batch}"), |b| {
            b.iter(|| encoder.embed(&refs).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, embed);
criterion_main!(benches);

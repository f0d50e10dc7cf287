//! RIFE 3.9 on the real weights: one middle frame between two at 540x960 and 1080x1920 (the
//! sizes of the video issue's benchmark; the brief's torch figure is at 960x544). Run:
//! `cargo bench --bench video_rife` (weights from ADFORGE_MODEL_CACHE, default ./data/models).
//! Throughput is in interpolated frames per second.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::Duration;

use adforge::commands::bench_video::rife_frame as frame;
use adforge::engine::video::Rife;
use candle_core::Device;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn rife(c: &mut Criterion) {
    let cache = std::env::var("ADFORGE_MODEL_CACHE").unwrap_or_else(|_| "data/models".into());
    let dir = PathBuf::from(cache).join("rife-3.9");
    if !dir.join("flownet.safetensors").exists() {
        eprintln!(
            "skipping RIFE benches: {} not found (run `adforge models pull rife-3.9`)",
            dir.display()
        );
        return;
    }
    let model = Rife::load(&dir, &Device::Cpu).unwrap();
    let mut group = c.benchmark_group("rife");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for (width, height) in [(540u32, 960u32), (1080, 1920)] {
        let (a, b) = (frame(width, height, 0), frame(width, height, 12));
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("{width}x{height}"), |bench| {
            bench.iter(|| model.interpolate_rgb(&a, &b, 0.5).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, rife);
criterion_main!(benches);

//! Frame conversion for the video encoder: RGBA -> YUV 4:2:0 (BT.709) on the CPU at the
//! platform sizes, and on the GPU through the NVRTC kernel where a GPU is present.
//! Run: `cargo bench --bench kernels`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use adforge::engine::cuda_kernels::{GpuKernels, rgba_to_yuv420_cpu};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn frame(width: usize, height: usize) -> Vec<u8> {
    (0..width * height)
        .flat_map(|i| [(i % 251) as u8, (i % 241) as u8, (i % 239) as u8, 255])
        .collect()
}

fn rgba_to_yuv(c: &mut Criterion) {
    let mut group = c.benchmark_group("rgba_to_yuv420");
    group.sample_size(20);
    let gpu = GpuKernels::load(0).ok();
    for (name, w, h) in [
        ("9x16_1080x1920", 1080, 1920),
        ("1x1_1080x1080", 1080, 1080),
    ] {
        let rgba = frame(w, h);
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("cpu/{name}"), |b| {
            b.iter(|| rgba_to_yuv420_cpu(std::hint::black_box(&rgba), w, h).unwrap())
        });
        if let Some(gpu) = &gpu {
            group.bench_function(format!("cuda/{name}"), |b| {
                b.iter(|| {
                    gpu.rgba_to_yuv420(std::hint::black_box(&rgba), w, h)
                        .unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, rgba_to_yuv);
criterion_main!(benches);

//! The streaming video encoder at 1080x1920 (9:16), 24 fps, libx264 `veryfast` CRF 23, against
//! the `ffmpeg` command line fed the same raw RGBA frames on a pipe
//! (`-f rawvideo -pix_fmt rgba ... -c:v libx264 -preset veryfast -crf 23 -movflags +faststart`).
//! Throughput is in frames; both write an MP4 to a temporary folder. Run:
//! `scripts/bench_video_encode.sh` (`cargo bench --profile dev --bench video_encode`). Both
//! sides are `adforge bench video`'s own functions; that command runs every format in one go.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use adforge::commands::bench_video::{encode_adforge, encode_ffmpeg_cli, moving_frame};
use adforge::media::encoder::{EncoderSettings, Frame};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const WIDTH: u32 = 1080;
const HEIGHT: u32 = 1920;
const FPS: u32 = 24;
const FRAMES: u64 = 48;
const DISTINCT: u64 = 12;

fn video_encode(c: &mut Criterion) {
    let frames: Vec<Frame> = (0..DISTINCT)
        .map(|i| moving_frame(WIDTH, HEIGHT, i))
        .collect();
    let settings = EncoderSettings::new(WIDTH, HEIGHT, FPS);
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("video_encode_1080x1920");
    group.sample_size(10);
    group.throughput(Throughput::Elements(FRAMES));
    group.bench_function("adforge", |b| {
        let path = dir.path().join("adforge.mp4");
        b.iter(|| encode_adforge(&path, settings.clone(), &frames, FRAMES).unwrap())
    });
    group.bench_function("ffmpeg_cli", |b| {
        let path = dir.path().join("ffmpeg.mp4");
        b.iter(|| encode_ffmpeg_cli(&path, &settings, &frames, FRAMES).unwrap())
    });
    group.finish();
}

criterion_group!(benches, video_encode);
criterion_main!(benches);

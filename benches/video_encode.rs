//! The streaming video encoder at 1080x1920 (9:16), 24 fps, libx264 `veryfast` CRF 23, against
//! the `ffmpeg` command line fed the same raw RGBA frames on a pipe
//! (`-f rawvideo -pix_fmt rgba ... -c:v libx264 -preset veryfast -crf 23 -movflags +faststart`).
//! Throughput is in frames; both write an MP4 to a temporary folder. Run:
//! `scripts/bench_video_encode.sh` (`cargo bench --profile dev --bench video_encode`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use adforge::media::encoder::{EncoderSettings, Frame, VideoEncoder};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const WIDTH: u32 = 1080;
const HEIGHT: u32 = 1920;
const FPS: u32 = 24;
const FRAMES: usize = 48;
const DISTINCT: usize = 12;

/// A moving gradient with a white square: `DISTINCT` frames, cycled.
fn frames() -> Vec<Vec<u8>> {
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    (0..DISTINCT)
        .map(|i| {
            let mut rgba = vec![255u8; w * h * 4];
            let (sx, sy) = (i * 40, i * 70);
            for y in 0..h {
                for x in 0..w {
                    if (sx..sx + 200).contains(&x) && (sy..sy + 200).contains(&y) {
                        continue;
                    }
                    let p = &mut rgba[(y * w + x) * 4..][..3];
                    p.copy_from_slice(&[
                        (x + 4 * i) as u8,
                        (y + 2 * i) as u8,
                        (x / 4 + y / 4) as u8,
                    ]);
                }
            }
            rgba
        })
        .collect()
}

fn video_encode(c: &mut Criterion) {
    let frames = frames();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("video_encode_1080x1920");
    group.sample_size(10);
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.bench_function("adforge", |b| {
        let path = dir.path().join("adforge.mp4");
        b.iter(|| {
            let settings = EncoderSettings::new(WIDTH, HEIGHT, FPS);
            let (encoder, sender) = VideoEncoder::start(&path, settings).unwrap();
            for i in 0..FRAMES {
                sender
                    .send(Frame {
                        rgba: frames[i % DISTINCT].clone(),
                    })
                    .unwrap();
            }
            encoder.finish(sender).unwrap()
        })
    });
    group.bench_function("ffmpeg_cli", |b| {
        let path = dir.path().join("ffmpeg.mp4");
        let size = format!("{WIDTH}x{HEIGHT}");
        b.iter(|| {
            let mut child = Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgba"])
                .args(["-s", &size, "-r", &FPS.to_string(), "-i", "-"])
                .args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "23"])
                .args(["-pix_fmt", "yuv420p", "-movflags", "+faststart"])
                .arg(&path)
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            for i in 0..FRAMES {
                // Copied as adforge's frames are, so both sides pay for the same buffers.
                stdin.write_all(&frames[i % DISTINCT].clone()).unwrap();
            }
            drop(stdin);
            assert!(child.wait().unwrap().success());
        })
    });
    group.finish();
}

criterion_group!(benches, video_encode);
criterion_main!(benches);

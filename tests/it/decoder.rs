//! The video decoder against clips written by adforge's own encoder (libx264): the probe reads
//! size, rate, frame count and codec; frames decoded at another size keep their colours (within
//! the loss of yuv420p and H.264) and their timestamps; `frame_at` sampling at twice and half
//! the source rate returns the source frame shown at each instant and holds the last one after
//! the end; cover fitting crops the overflow equally; bad inputs get the decode errors.

use std::path::{Path, PathBuf};

use adforge::media::decoder::{DecodeError, DecodeOptions, FitMode, VideoDecoder, probe};
use adforge::media::encoder::{EncoderSettings, Frame, VideoEncoder};

const FPS: u32 = 12;
const FRAMES: u64 = 24;
const WIDTH: u32 = 96;
const HEIGHT: u32 = 64;
/// Largest difference per channel after RGB -> yuv420p -> H.264 -> RGB (and scaling).
const TOLERANCE: i32 = 12;

/// Frame i of a clip is PALETTE[i % 8], whole frame.
const PALETTE: [[u8; 3]; 8] = [
    [220, 30, 30],
    [30, 200, 40],
    [40, 50, 220],
    [230, 220, 40],
    [210, 40, 200],
    [40, 210, 220],
    [240, 240, 240],
    [60, 60, 60],
];

fn solid(width: u32, height: u32, rgb: [u8; 3]) -> Frame {
    let pixel = [rgb[0], rgb[1], rgb[2], 255];
    Frame {
        rgba: pixel.repeat((width * height) as usize),
    }
}

fn encode_clip(path: &Path, width: u32, height: u32, frames: impl Iterator<Item = Frame>) {
    let mut settings = EncoderSettings::new(width, height, FPS);
    settings.crf = 12;
    let (encoder, sender) = VideoEncoder::start(path, settings).unwrap();
    for frame in frames {
        sender.send(frame).unwrap();
    }
    encoder.finish(sender).unwrap();
}

/// A 2 s clip at 12 fps whose frames cycle through the palette.
fn palette_clip(dir: &Path) -> PathBuf {
    let path = dir.join("palette.mp4");
    let frames = (0..FRAMES).map(|i| solid(WIDTH, HEIGHT, PALETTE[i as usize % PALETTE.len()]));
    encode_clip(&path, WIDTH, HEIGHT, frames);
    path
}

/// The palette index nearest to the pixel at (x, y), and its largest channel difference.
fn nearest(image: &image::RgbaImage, x: u32, y: u32) -> (usize, i32) {
    let p = image.get_pixel(x, y).0;
    PALETTE
        .iter()
        .map(|c| {
            (0..3)
                .map(|k| (i32::from(p[k]) - i32::from(c[k])).abs())
                .max()
        })
        .map(Option::unwrap_or_default)
        .enumerate()
        .min_by_key(|(_, diff)| *diff)
        .unwrap()
}

#[test]
fn probe_reads_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let info = probe(&palette_clip(dir.path())).unwrap();
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    assert!((info.fps - f64::from(FPS)).abs() < 1e-9, "{info:?}");
    assert_eq!(info.frames, Some(FRAMES));
    assert!((info.duration_secs - 2.0).abs() < 0.05, "{info:?}");
    assert_eq!(info.codec, "h264");
    assert!(!info.has_audio);
}

#[test]
fn frames_at_another_size_keep_their_colours_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = palette_clip(dir.path());
    let mut decoder = VideoDecoder::open(&path, 48, 32).unwrap();
    let mut count = 0;
    while let Some(frame) = decoder.next_frame().unwrap() {
        assert_eq!(frame.image.dimensions(), (48, 32));
        assert_eq!(frame.index, count);
        let expected = count as f64 / f64::from(FPS);
        assert!((frame.timestamp_secs - expected).abs() < 1e-6, "{frame:?}");
        for (x, y) in [(0, 0), (24, 16), (47, 31)] {
            let (index, diff) = nearest(&frame.image, x, y);
            assert_eq!(
                index,
                count as usize % PALETTE.len(),
                "frame {count} at {x},{y}"
            );
            assert!(diff <= TOLERANCE, "frame {count} at {x},{y}: off by {diff}");
        }
        count += 1;
    }
    assert_eq!(count, FRAMES);
    assert_eq!(decoder.next_frame().unwrap(), None);
}

/// The palette index `frame_at` shows at each of `times`.
fn sampled(path: &Path, times: impl Iterator<Item = f64>) -> Vec<usize> {
    let mut decoder = VideoDecoder::open(path, 32, 32).unwrap();
    times
        .map(|t| nearest(&decoder.frame_at(t).unwrap().image, 16, 16).0)
        .collect()
}

#[test]
fn frame_at_samples_at_the_callers_rate() {
    let dir = tempfile::tempdir().unwrap();
    let path = palette_clip(dir.path());
    let palette = |source: u64| source as usize % PALETTE.len();

    // Twice the source rate: every source frame twice, for 1 s past the end.
    let double = f64::from(FPS * 2);
    let got = sampled(&path, (0..(FRAMES * 2 + 24)).map(|k| k as f64 / double));
    let want: Vec<usize> = (0..(FRAMES * 2 + 24))
        .map(|k| palette((k / 2).min(FRAMES - 1)))
        .collect();
    assert_eq!(got, want);

    // Half the source rate: every other source frame.
    let half = f64::from(FPS) / 2.0;
    let got = sampled(&path, (0..FRAMES / 2).map(|k| k as f64 / half));
    let want: Vec<usize> = (0..FRAMES / 2).map(|k| palette(k * 2)).collect();
    assert_eq!(got, want);

    // Times between frames show the earlier frame; times must not go back.
    let mut decoder = VideoDecoder::open(&path, 32, 32).unwrap();
    let frame = decoder.frame_at(0.99 / f64::from(FPS)).unwrap();
    assert_eq!(
        (frame.index, nearest(&frame.image, 0, 0).0),
        (0, palette(0))
    );
    let frame = decoder.frame_at(5.5 / f64::from(FPS)).unwrap();
    assert_eq!(frame.index, 5);
    let err = decoder.frame_at(0.1).unwrap_err();
    assert!(matches!(err, DecodeError::Backwards { .. }), "{err}");
}

/// Two frames of 96x64 in red, green and blue vertical stripes.
fn stripes_clip(dir: &Path) -> PathBuf {
    let path = dir.join("stripes.mp4");
    let rgba: Vec<u8> = (0..WIDTH * HEIGHT)
        .flat_map(|i| {
            let c = PALETTE[((i % WIDTH) / 32) as usize];
            [c[0], c[1], c[2], 255]
        })
        .collect();
    let frames = (0..2).map(|_| Frame { rgba: rgba.clone() });
    encode_clip(&path, WIDTH, HEIGHT, frames);
    path
}

#[test]
fn cover_crops_both_sides_and_stretch_keeps_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = stripes_clip(dir.path());
    // 96x64 in three vertical stripes (red, green, blue); a 32x64 cover window is the green one.
    let mut decoder = VideoDecoder::open(&path, 32, 64).unwrap();
    let frame = decoder.next_frame().unwrap().unwrap();
    for x in [0, 16, 31] {
        assert_eq!(nearest(&frame.image, x, 32).0, 1, "x {x}");
    }
    let options = DecodeOptions {
        fit: FitMode::Stretch,
        ..DecodeOptions::new(30, 64)
    };
    let mut decoder = VideoDecoder::open_with(&path, options).unwrap();
    let frame = decoder.next_frame().unwrap().unwrap();
    let stripes: Vec<usize> = [2, 15, 27]
        .iter()
        .map(|&x| nearest(&frame.image, x, 32).0)
        .collect();
    assert_eq!(stripes, [0, 1, 2]);
}

#[test]
fn bad_inputs_get_decode_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.mp4");
    let err = probe(&missing).unwrap_err();
    assert!(matches!(err, DecodeError::Missing(_)), "{err}");
    assert!(
        err.to_string().ends_with("missing.mp4 does not exist"),
        "{err}"
    );

    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "this is a shopping list, not a video\n".repeat(50)).unwrap();
    let err = probe(&text).unwrap_err();
    assert!(matches!(err, DecodeError::Undecodable { .. }), "{err}");
    assert!(
        err.to_string().contains("is not a decodable video"),
        "{err}"
    );
    assert!(VideoDecoder::open(&text, 32, 32).is_err());

    let clip = palette_clip(dir.path());
    let err = VideoDecoder::open(&clip, 0, 32).unwrap_err();
    assert_eq!(
        err.to_string(),
        "output size 0x32 is outside 1..=8192 on a side"
    );
    let options = DecodeOptions {
        max_duration_secs: Some(1.0),
        ..DecodeOptions::new(32, 32)
    };
    let err = VideoDecoder::open_with(&clip, options).unwrap_err();
    assert!(matches!(err, DecodeError::TooLong { .. }), "{err}");
    assert!(err.to_string().ends_with("over the limit of 1 s"), "{err}");
}

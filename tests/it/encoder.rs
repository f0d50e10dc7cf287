//! The streaming video encoder against the real libx264/ffmpeg: every video format renders to
//! an H.264 yuv420p MP4 of the exact size and frame count with the moov atom first (checked with
//! the `ffprobe` CLI and the file's top-level boxes); an AAC track is cut or padded to the
//! video's length; GIF and WebM previews and the JPEG poster are written and readable;
//! cancelling leaves no file; bad settings are refused naming the field; and a 30 s encode stays
//! within a memory bound (measured in a child process, so other tests cannot disturb it).

use std::f32::consts::TAU;
use std::path::{Path, PathBuf};
use std::process::Command;

use adforge::commands::bench_video::moving_frame;
use adforge::media::encoder::{
    EncodeError, EncodedVideo, EncoderSettings, Frame, PreviewKind, VideoEncoder,
};
use adforge::media::formats;
use serde_json::Value;

const FPS: u32 = 24;
const SECONDS: u64 = 2;

fn encode(path: &Path, settings: EncoderSettings, frames: u64) -> EncodedVideo {
    let (width, height) = (settings.width, settings.height);
    let (encoder, sender) = VideoEncoder::start(path, settings).unwrap();
    for index in 0..frames {
        if sender.send(moving_frame(width, height, index)).is_err() {
            break; // the encoder stopped: finish says why
        }
    }
    encoder.finish(sender).unwrap()
}

pub(crate) fn ffprobe(path: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_streams",
            "-show_format",
        ])
        .args(["-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub(crate) fn stream<'a>(probe: &'a Value, kind: &str) -> &'a Value {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} stream in {probe}"))
}

pub(crate) fn number(value: &Value) -> f64 {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_f64())
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

/// The four-character types of an MP4's top-level boxes, in file order.
pub(crate) fn top_level_boxes(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as u64;
        boxes.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        let size = match size {
            0 => (bytes.len() - at) as u64,
            1 => u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap()),
            n => n,
        };
        assert!(size >= 8, "box of size {size} at {at}");
        at += size as usize;
    }
    boxes
}

/// Checks the MP4's video stream and box order; returns ffprobe's answer.
fn check_video(video: &EncodedVideo, width: u32, height: u32, frames: u64) -> Value {
    let probe = ffprobe(&video.path);
    let v = stream(&probe, "video");
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(v["pix_fmt"], "yuv420p");
    assert_eq!(v["width"], width);
    assert_eq!(v["height"], height);
    assert_eq!(v["r_frame_rate"], format!("{FPS}/1"));
    assert_eq!(number(&v["nb_read_frames"]) as u64, frames);
    let expected = frames as f64 / f64::from(FPS);
    let duration = number(&v["duration"]);
    assert!(
        (duration - expected).abs() <= 1.0 / f64::from(FPS),
        "video duration {duration}, expected {expected}"
    );
    assert_eq!(video.frames, frames);
    assert!((video.duration_secs - expected).abs() < 1e-9);
    assert_eq!(video.bytes, std::fs::metadata(&video.path).unwrap().len());
    let boxes = top_level_boxes(&video.path);
    let moov = boxes.iter().position(|b| b == "moov").unwrap();
    let mdat = boxes.iter().position(|b| b == "mdat").unwrap();
    assert!(moov < mdat, "moov after mdat: {boxes:?}");
    probe
}

/// Files in `dir` whose name ends in `.partial`.
fn partials(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect()
}

#[test]
fn every_video_format_encodes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for id in [
        "meta_stories",
        "meta_feed_square",
        "meta_feed_portrait",
        "youtube_landscape",
    ] {
        let format = formats::find(id).unwrap();
        let path = dir.path().join(format!("{id}.mp4"));
        let settings = EncoderSettings::new(format.width, format.height, FPS);
        let video = encode(&path, settings, SECONDS * u64::from(FPS));
        check_video(
            &video,
            format.width,
            format.height,
            SECONDS * u64::from(FPS),
        );
        let poster = image::open(&video.poster).unwrap();
        assert_eq!(
            (poster.width(), poster.height()),
            (format.width, format.height)
        );
        assert_eq!(video.poster, dir.path().join(format!("{id}.jpg")));
        assert!(video.preview.is_none());
    }
    assert_eq!(partials(dir.path()), Vec::<PathBuf>::new());
}

/// A mono 16-bit PCM WAV of a 440 Hz sine.
pub(crate) fn write_wav(path: &Path, rate: u32, seconds: f32) {
    let samples: Vec<i16> = (0..(rate as f32 * seconds) as u32)
        .map(|n| ((n as f32 * 440.0 * TAU / rate as f32).sin() * 12000.0) as i16)
        .collect();
    let data_len = samples.len() as u32 * 2;
    let mut bytes = Vec::new();
    bytes.extend(b"RIFF");
    bytes.extend((36 + data_len).to_le_bytes());
    bytes.extend(b"WAVEfmt ");
    bytes.extend(16u32.to_le_bytes());
    bytes.extend(1u16.to_le_bytes()); // PCM
    bytes.extend(1u16.to_le_bytes()); // mono
    bytes.extend(rate.to_le_bytes());
    bytes.extend((rate * 2).to_le_bytes());
    bytes.extend(2u16.to_le_bytes());
    bytes.extend(16u16.to_le_bytes());
    bytes.extend(b"data");
    bytes.extend(data_len.to_le_bytes());
    bytes.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn audio_is_cut_or_padded_to_the_video() {
    let dir = tempfile::tempdir().unwrap();
    let frames = SECONDS * u64::from(FPS);
    // Longer than the video (cut), shorter (padded with silence), and at a rate AAC does not
    // take (resampled to 48 kHz).
    for (name, rate, seconds) in [
        ("long", 44_100, 3.5f32),
        ("short", 44_100, 0.8),
        ("odd_rate", 37_000, 2.5),
    ] {
        let wav = dir.path().join(format!("{name}.wav"));
        write_wav(&wav, rate, seconds);
        let path = dir.path().join(format!("{name}.mp4"));
        let settings = EncoderSettings {
            audio: Some(wav),
            ..EncoderSettings::new(320, 240, FPS)
        };
        let video = encode(&path, settings, frames);
        let probe = check_video(&video, 320, 240, frames);
        let audio = stream(&probe, "audio");
        assert_eq!(audio["codec_name"], "aac", "{name}");
        assert_eq!(audio["channels"], 2, "{name}");
        let duration = number(&audio["duration"]);
        assert!(
            (duration - SECONDS as f64).abs() < 0.05,
            "{name}: audio lasts {duration} s, the video {SECONDS} s"
        );
    }
}

#[test]
fn previews_and_poster_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let frames = SECONDS * u64::from(FPS);
    for (kind, codec) in [(PreviewKind::Gif, "gif"), (PreviewKind::Webm, "vp9")] {
        let path = dir.path().join(format!("{codec}.mp4"));
        let settings = EncoderSettings {
            preview: Some(kind),
            poster_at: Some(30),
            ..EncoderSettings::new(1080, 1920, FPS)
        };
        let video = encode(&path, settings, frames);
        check_video(&video, 1080, 1920, frames);
        let preview = video.preview.clone().unwrap();
        assert!(
            preview
                .to_string_lossy()
                .ends_with(&format!(".preview.{}", codec.replace("vp9", "webm")))
        );
        let probe = ffprobe(&preview);
        let v = stream(&probe, "video");
        assert_eq!(v["codec_name"], codec);
        assert_eq!(
            (v["width"].as_u64(), v["height"].as_u64()),
            (Some(320), Some(568))
        );
        // 2 s at 10 fps.
        assert_eq!(number(&v["nb_read_frames"]) as u64, 20, "{codec}");
    }
    assert_eq!(partials(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn poster_is_the_chosen_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("poster.mp4");
    let (w, h) = (64u32, 48u32);
    let settings = EncoderSettings {
        poster_at: Some(7),
        ..EncoderSettings::new(w, h, FPS)
    };
    let (encoder, sender) = VideoEncoder::start(&path, settings).unwrap();
    for index in 0..12u8 {
        let grey = index * 20;
        sender
            .send(Frame {
                rgba: [grey, grey, grey, 255].repeat((w * h) as usize),
            })
            .unwrap();
    }
    let video = encoder.finish(sender).unwrap();
    let poster = image::open(&video.poster).unwrap().to_rgb8();
    let centre = poster.get_pixel(w / 2, h / 2).0;
    assert!(centre.iter().all(|&c| c.abs_diff(140) <= 3), "{centre:?}");
}

#[test]
fn cancel_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cancelled.mp4");
    let settings = EncoderSettings {
        preview: Some(PreviewKind::Webm),
        ..EncoderSettings::new(640, 360, FPS)
    };
    let (encoder, sender) = VideoEncoder::start(&path, settings.clone()).unwrap();
    for index in 0..20 {
        sender.send(moving_frame(640, 360, index)).unwrap();
    }
    assert!(
        !partials(dir.path()).is_empty(),
        "partial files while encoding"
    );
    encoder.cancel();
    assert!(matches!(
        sender.send(moving_frame(640, 360, 20)),
        Err(EncodeError::Stopped)
    ));
    // Dropping an encoder without finish cancels it too.
    let (encoder, sender) = VideoEncoder::start(&path, settings).unwrap();
    sender.send(moving_frame(640, 360, 0)).unwrap();
    drop(encoder);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn bad_settings_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.mp4");
    let refused = |change: fn(&mut EncoderSettings)| {
        let mut settings = EncoderSettings::new(1080, 1920, FPS);
        change(&mut settings);
        match VideoEncoder::start(&path, settings) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    };
    assert_eq!(refused(|s| s.crf = 60), "crf 60 is outside 0..=51");
    assert!(
        refused(|s| s.preset = "fastest".into())
            .starts_with("preset `fastest` is not an x264 preset")
    );
    assert_eq!(
        refused(|s| s.width = 1079),
        "width 1079 is odd: yuv420p needs an even width"
    );
    assert_eq!(
        refused(|s| s.height = 1921),
        "height 1921 is odd: yuv420p needs an even height"
    );
    assert_eq!(
        refused(|s| s.width = 4098),
        "width 4098 is outside 16..=4096"
    );
    assert_eq!(refused(|s| s.fps = 0), "fps 0 is outside 1..=120");
    assert_eq!(refused(|s| s.fps = 240), "fps 240 is outside 1..=120");
    assert!(
        refused(|s| s.audio = Some("/nonexistent/track.wav".into()))
            .starts_with("audio file /nonexistent/track.wav")
    );

    // A file that is not audio is refused at start, naming it.
    let not_audio = dir.path().join("notes.wav");
    std::fs::write(&not_audio, b"not a wav file").unwrap();
    let settings = EncoderSettings {
        audio: Some(not_audio.clone()),
        ..EncoderSettings::new(320, 240, FPS)
    };
    let err = VideoEncoder::start(&path, settings)
        .unwrap_err()
        .to_string();
    assert!(err.contains("notes.wav"), "{err}");

    // A frame of the wrong size, and a poster past the last frame.
    let settings = EncoderSettings {
        poster_at: Some(5),
        ..EncoderSettings::new(320, 240, FPS)
    };
    let (encoder, sender) = VideoEncoder::start(&path, settings).unwrap();
    let err = sender.send(Frame { rgba: vec![0; 10] }).unwrap_err();
    assert_eq!(
        err.to_string(),
        "frame has 10 bytes, expected 307200 (width*height*4)"
    );
    sender.send(moving_frame(320, 240, 0)).unwrap();
    let err = encoder.finish(sender).unwrap_err();
    assert_eq!(
        err.to_string(),
        "poster_at 5 is past the last frame (1 frames were encoded)"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(left, vec![not_audio]);
}

/// Resident memory of this process, in bytes.
pub(crate) fn rss_bytes() -> u64 {
    adforge::telemetry::rss_bytes().unwrap()
}

const MEMORY_CHILD: &str = "ADFORGE_ENCODER_MEMORY_CHILD";
/// Resident memory may grow by this much over the whole encode (720 frames of 540x960 RGBA
/// would be 1.5 GB if they were kept).
const RSS_GROWTH_BOUND: u64 = 150 << 20;
/// ... and the peak of the second half may pass the first half's by this much (a steady state,
/// not a leak: a kept frame list would add 30 MB a second).
const RSS_STEADY_BOUND: u64 = 16 << 20;

#[test]
fn memory_stays_bounded() {
    crate::support::run_child_test("encoder::memory_child", MEMORY_CHILD);
}

/// Encodes 30 s of 540x960 at 24 fps (720 frames, with an audio track and a preview) and
/// checks resident memory; run by `memory_stays_bounded` in a process of its own.
#[test]
#[ignore = "run in a child process by memory_stays_bounded"]
fn memory_child() {
    if std::env::var_os(MEMORY_CHILD).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("music.wav");
    write_wav(&wav, 44_100, 40.0);
    let path = dir.path().join("long.mp4");
    let (w, h, frames) = (540u32, 960u32, 30 * u64::from(FPS));
    let settings = EncoderSettings {
        audio: Some(wav),
        preview: Some(PreviewKind::Gif),
        ..EncoderSettings::new(w, h, FPS)
    };
    let before = rss_bytes();
    let (encoder, sender) = VideoEncoder::start(&path, settings).unwrap();
    let mut per_second = Vec::new();
    for index in 0..frames {
        sender.send(moving_frame(w, h, index)).unwrap();
        if index % u64::from(FPS) == 0 {
            per_second.push(rss_bytes());
        }
    }
    let video = encoder.finish(sender).unwrap();
    per_second.push(rss_bytes());
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    let (first, second) = per_second.split_at(per_second.len() / 2);
    let peak_of = |s: &[u64]| s.iter().copied().max().unwrap_or(0);
    let (peak_first, peak) = (peak_of(first), peak_of(&per_second));
    eprintln!(
        "rss before {:.1} MiB, peak of the first 15 s {:.1} MiB, of the last 15 s {:.1} MiB; \
         per second: {:?}",
        mib(before),
        mib(peak_first),
        mib(peak_of(second)),
        per_second
            .iter()
            .map(|&b| mib(b).round())
            .collect::<Vec<_>>()
    );
    assert_eq!(video.frames, frames);
    assert!(
        peak.saturating_sub(before) < RSS_GROWTH_BOUND,
        "rss grew by {:.1} MiB over the encode",
        mib(peak - before)
    );
    assert!(
        peak_of(second).saturating_sub(peak_first) < RSS_STEADY_BOUND,
        "rss grew by {:.1} MiB in the second half",
        mib(peak_of(second).saturating_sub(peak_first))
    );
}

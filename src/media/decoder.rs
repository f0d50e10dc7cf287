//! The video decoder: [`probe`] reads a file's size, frame rate, duration, frame count, codec
//! and whether it has audio; [`VideoDecoder`] decodes its video stream one frame at a time
//! (ffmpeg-next: libavformat demuxing, libavcodec decoding, swscale to RGBA with the stream's
//! own YUV matrix and range) at the size the caller asks, either in decoding order
//! ([`VideoDecoder::next_frame`]) or sampled at the caller's own constant rate
//! ([`VideoDecoder::frame_at`]: the latest frame shown at that time, the last one held after the
//! end).
//!
//! Invariants: frames are decoded on demand, at most two are kept (the one shown and the one
//! after it), so memory does not grow with the length; inputs over [`MAX_INPUT_SIDE`] on a side
//! or over the caller's duration limit are refused, before decoding from the header and again
//! while decoding from the frames' own timestamps.
//!
//! Owns: the input file's demuxer, decoder and scaler. Must not touch: what the frames are used
//! for (the compositor, the encoder) or any file but the input.

use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;

use ffmpeg::format::{self, Pixel};
use ffmpeg::media::Type;
use ffmpeg::software::scaling::{self, Flags};
use ffmpeg::util::color;
use ffmpeg::{Packet, Rational, codec, decoder, frame};
use image::RgbaImage;

/// The largest width or height of an input (and of an output) that is accepted.
pub const MAX_INPUT_SIDE: u32 = 8192;

/// `frame_at` times within this many seconds after a frame's timestamp show that frame (float
/// rounding of `index / fps` must not skip a frame whose timestamp is the same instant).
const TIME_EPSILON: f64 = 1e-6;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("video file {0} does not exist")]
    Missing(PathBuf),
    #[error("{0} has no video stream")]
    NoVideoStream(PathBuf),
    #[error("{path} is not a decodable video: {reason}")]
    Undecodable { path: PathBuf, reason: String },
    #[error("{path} is {width}x{height}: sides over {MAX_INPUT_SIDE} px are refused")]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
    },
    #[error("{path} is {duration_secs:.2} s long, over the limit of {limit_secs} s")]
    TooLong {
        path: PathBuf,
        duration_secs: f64,
        limit_secs: f64,
    },
    #[error("output size {width}x{height} is outside 1..={MAX_INPUT_SIDE} on a side")]
    OutputSize { width: u32, height: u32 },
    #[error("{0} has a video stream but no frame could be decoded from it")]
    NoFrames(PathBuf),
    #[error(
        "frame_at({t}) is before the previous time asked ({previous}): times must not decrease"
    )]
    Backwards { t: f64, previous: f64 },
    #[error("ffmpeg failed to {action} in {path}: {source}")]
    Ffmpeg {
        path: PathBuf,
        action: &'static str,
        source: ffmpeg::Error,
    },
}

/// What [`probe`] reads from the header.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// Average frame rate (the stream's nominal rate when the average is not known).
    pub fps: f64,
    /// The video stream's duration, else the container's; 0 when neither is known.
    pub duration_secs: f64,
    /// Frames in the video stream, when the container says.
    pub frames: Option<u64>,
    /// The codec's short name, e.g. `h264`.
    pub codec: String,
    pub has_audio: bool,
}

/// How a source of another aspect ratio is fitted to the output size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FitMode {
    /// Scaled to cover the output and the overflow cropped equally from both sides (no
    /// distortion, no bars).
    #[default]
    Cover,
    /// Scaled to the output size whatever the aspect ratio.
    Stretch,
}

/// The output of a [`VideoDecoder`]. [`DecodeOptions::new`]: cover-fit, no duration limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeOptions {
    pub width: u32,
    pub height: u32,
    pub fit: FitMode,
    /// Inputs longer than this (seconds) are refused.
    pub max_duration_secs: Option<f64>,
}

impl DecodeOptions {
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            fit: FitMode::Cover,
            max_duration_secs: None,
        }
    }
}

/// One decoded frame, scaled to the output size.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoFrame {
    pub image: RgbaImage,
    /// Presentation time in seconds from the stream's start.
    pub timestamp_secs: f64,
    /// Position in decoding output order, from 0.
    pub index: u64,
}

/// The demuxer and the opened decoder of a file's best video stream.
struct Opened {
    input: format::context::Input,
    decoder: decoder::Video,
    stream_index: usize,
    time_base: Rational,
    start_pts: i64,
    info: VideoInfo,
}

fn f64_of(r: Rational) -> Option<f64> {
    (r.numerator() > 0 && r.denominator() > 0).then(|| f64::from(r))
}

fn open(path: &Path, limit_secs: Option<f64>) -> Result<Opened, DecodeError> {
    if !path.is_file() {
        return Err(DecodeError::Missing(path.to_path_buf()));
    }
    let undecodable = |e: ffmpeg::Error| DecodeError::Undecodable {
        path: path.to_path_buf(),
        reason: e.to_string().to_lowercase(),
    };
    super::init_ffmpeg().map_err(|source| DecodeError::Ffmpeg {
        path: path.to_path_buf(),
        action: "initialise",
        source,
    })?;
    let input = format::input(path).map_err(undecodable)?;
    let has_audio = input.streams().best(Type::Audio).is_some();
    let stream = input
        .streams()
        .best(Type::Video)
        .ok_or_else(|| DecodeError::NoVideoStream(path.to_path_buf()))?;
    let (stream_index, time_base) = (stream.index(), stream.time_base());
    let start_pts = match stream.start_time() {
        ffmpeg::ffi::AV_NOPTS_VALUE => 0,
        start => start,
    };
    let fps = f64_of(stream.avg_frame_rate())
        .or_else(|| f64_of(stream.rate()))
        .unwrap_or(0.0);
    let stream_secs = (stream.duration() > 0)
        .then(|| stream.duration() as f64 * f64_of(time_base).unwrap_or(0.0))
        .filter(|s| *s > 0.0);
    let container_secs = (input.duration() > 0)
        .then(|| input.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE));
    let frames = u64::try_from(stream.frames()).ok().filter(|n| *n > 0);
    let mut context =
        codec::context::Context::from_parameters(stream.parameters()).map_err(undecodable)?;
    context.set_threading(ffmpeg::threading::Config::kind(
        ffmpeg::threading::Type::Frame,
    ));
    let codec_name = context.id().name().to_string();
    let decoder = context.decoder().video().map_err(undecodable)?;
    let (width, height) = (decoder.width(), decoder.height());
    if width == 0 || height == 0 {
        return Err(DecodeError::Undecodable {
            path: path.to_path_buf(),
            reason: "the video stream has no frame size".into(),
        });
    }
    if width > MAX_INPUT_SIDE || height > MAX_INPUT_SIDE {
        return Err(DecodeError::TooLarge {
            path: path.to_path_buf(),
            width,
            height,
        });
    }
    let info = VideoInfo {
        width,
        height,
        fps,
        duration_secs: stream_secs.or(container_secs).unwrap_or(0.0),
        frames,
        codec: codec_name,
        has_audio,
    };
    check_duration(path, info.duration_secs, limit_secs)?;
    Ok(Opened {
        input,
        decoder,
        stream_index,
        time_base,
        start_pts,
        info,
    })
}

fn check_duration(path: &Path, duration_secs: f64, limit: Option<f64>) -> Result<(), DecodeError> {
    match limit {
        Some(limit_secs) if duration_secs > limit_secs => Err(DecodeError::TooLong {
            path: path.to_path_buf(),
            duration_secs,
            limit_secs,
        }),
        _ => Ok(()),
    }
}

/// Reads a video file's header (and opens its decoder, so a file that `probe` accepts can be
/// decoded).
pub fn probe(path: &Path) -> Result<VideoInfo, DecodeError> {
    open(path, None).map(|opened| opened.info)
}

/// Where a source frame lands in the output: the size it is scaled to and the offset of the
/// output window inside that (cover: the overflow is split equally between both sides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Placement {
    scaled: (u32, u32),
    crop: (u32, u32),
}

fn placement(source: (u32, u32), output: (u32, u32), fit: FitMode) -> Placement {
    let (sw, sh) = (f64::from(source.0), f64::from(source.1));
    let (ow, oh) = output;
    match fit {
        FitMode::Stretch => Placement {
            scaled: output,
            crop: (0, 0),
        },
        FitMode::Cover => {
            let scale = (f64::from(ow) / sw).max(f64::from(oh) / sh);
            let scaled = (
                ((sw * scale).round() as u32).max(ow),
                ((sh * scale).round() as u32).max(oh),
            );
            Placement {
                scaled,
                crop: ((scaled.0 - ow) / 2, (scaled.1 - oh) / 2),
            }
        }
    }
}

/// swscale's number for a stream's YUV matrix (BT.709 when untagged and HD, else BT.601, as
/// players assume).
fn sws_colorspace(space: color::Space, height: u32) -> i32 {
    match space {
        color::Space::BT709 => ffmpeg::ffi::SWS_CS_ITU709,
        color::Space::BT2020NCL | color::Space::BT2020CL => ffmpeg::ffi::SWS_CS_BT2020,
        color::Space::SMPTE240M => ffmpeg::ffi::SWS_CS_SMPTE240M,
        color::Space::FCC => ffmpeg::ffi::SWS_CS_FCC,
        color::Space::Unspecified if height >= 720 => ffmpeg::ffi::SWS_CS_ITU709,
        _ => ffmpeg::ffi::SWS_CS_ITU601,
    }
}

/// The swscale context for one source format and size.
struct Scaler {
    context: scaling::Context,
    source: (Pixel, u32, u32),
}

impl Scaler {
    fn new(frame: &frame::Video, scaled: (u32, u32)) -> Result<Self, ffmpeg::Error> {
        let mut context = scaling::Context::get(
            frame.format(),
            frame.width(),
            frame.height(),
            Pixel::RGBA,
            scaled.0,
            scaled.1,
            Flags::BICUBIC,
        )?;
        let full_range = i32::from(frame.color_range() == color::Range::JPEG);
        // SAFETY: the context pointer is valid for `context`'s lifetime; the coefficient tables
        // are static tables of libswscale. An unsupported combination returns an error code and
        // leaves swscale's defaults, which still convert.
        unsafe {
            let ffi = ffmpeg::ffi::sws_getCoefficients(sws_colorspace(
                frame.color_space(),
                frame.height(),
            ));
            let rgb = ffmpeg::ffi::sws_getCoefficients(ffmpeg::ffi::SWS_CS_DEFAULT);
            ffmpeg::ffi::sws_setColorspaceDetails(
                context.as_mut_ptr(),
                ffi,
                full_range,
                rgb,
                1,
                0,
                1 << 16,
                1 << 16,
            );
        }
        Ok(Self {
            context,
            source: (frame.format(), frame.width(), frame.height()),
        })
    }
}

/// Decodes one file's video stream frame by frame; see the module doc.
pub struct VideoDecoder {
    path: PathBuf,
    opened: Opened,
    options: DecodeOptions,
    scaler: Option<Scaler>,
    /// The decoder has been sent end-of-stream.
    draining: bool,
    /// The decoder has returned its last frame.
    finished: bool,
    decoded: u64,
    /// `frame_at`: the frame shown now and the one after it.
    shown: Option<VideoFrame>,
    ahead: Option<VideoFrame>,
    last_t: Option<f64>,
}

impl std::fmt::Debug for VideoDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoDecoder")
            .field("path", &self.path)
            .field("info", &self.opened.info)
            .field("options", &self.options)
            .field("decoded", &self.decoded)
            .finish_non_exhaustive()
    }
}

impl VideoDecoder {
    /// Opens `path` with frames cover-fitted to `width`x`height` and no duration limit.
    pub fn open(path: &Path, width: u32, height: u32) -> Result<Self, DecodeError> {
        Self::open_with(path, DecodeOptions::new(width, height))
    }

    pub fn open_with(path: &Path, options: DecodeOptions) -> Result<Self, DecodeError> {
        let valid = 1..=MAX_INPUT_SIDE;
        if !valid.contains(&options.width) || !valid.contains(&options.height) {
            return Err(DecodeError::OutputSize {
                width: options.width,
                height: options.height,
            });
        }
        let opened = open(path, options.max_duration_secs)?;
        Ok(Self {
            path: path.to_path_buf(),
            opened,
            options,
            scaler: None,
            draining: false,
            finished: false,
            decoded: 0,
            shown: None,
            ahead: None,
            last_t: None,
        })
    }

    /// What [`probe`] would say about the file.
    pub fn info(&self) -> &VideoInfo {
        &self.opened.info
    }

    /// The next frame in presentation order; `None` after the last.
    pub fn next_frame(&mut self) -> Result<Option<VideoFrame>, DecodeError> {
        if let Some(frame) = self.ahead.take() {
            return Ok(Some(frame));
        }
        self.decode_next()
    }

    /// The frame shown at `t` seconds: the last one whose timestamp is at or before `t` (the
    /// first before it starts, the last after the end). `t` must not decrease between calls.
    pub fn frame_at(&mut self, t: f64) -> Result<&VideoFrame, DecodeError> {
        if let Some(previous) = self.last_t
            && t < previous
        {
            return Err(DecodeError::Backwards { t, previous });
        }
        self.last_t = Some(t);
        if self.shown.is_none() {
            self.shown = self.next_frame()?;
        }
        loop {
            if self.ahead.is_none() {
                self.ahead = self.decode_next()?;
            }
            match self.ahead.take() {
                Some(next) if next.timestamp_secs <= t + TIME_EPSILON => self.shown = Some(next),
                other => {
                    self.ahead = other;
                    break;
                }
            }
        }
        self.shown
            .as_ref()
            .ok_or_else(|| DecodeError::NoFrames(self.path.clone()))
    }

    fn ffmpeg_error(&self, action: &'static str) -> impl FnOnce(ffmpeg::Error) -> DecodeError {
        let path = self.path.clone();
        move |source| DecodeError::Ffmpeg {
            path,
            action,
            source,
        }
    }

    /// Decodes, scales and returns the next frame from the decoder.
    fn decode_next(&mut self) -> Result<Option<VideoFrame>, DecodeError> {
        let Some(decoded) = self.receive()? else {
            return Ok(None);
        };
        let pts = decoded.timestamp().or(decoded.pts());
        let timestamp_secs = match (pts, f64_of(self.opened.time_base)) {
            (Some(pts), Some(tb)) => (pts - self.opened.start_pts) as f64 * tb,
            _ if self.opened.info.fps > 0.0 => self.decoded as f64 / self.opened.info.fps,
            _ => 0.0,
        };
        check_duration(&self.path, timestamp_secs, self.options.max_duration_secs)?;
        let image = self.scale(&decoded)?;
        let index = self.decoded;
        self.decoded += 1;
        Ok(Some(VideoFrame {
            image,
            timestamp_secs,
            index,
        }))
    }

    /// The next raw frame, reading and sending packets until the decoder has one.
    fn receive(&mut self) -> Result<Option<frame::Video>, DecodeError> {
        if self.finished {
            return Ok(None);
        }
        let mut decoded = frame::Video::empty();
        loop {
            match self.opened.decoder.receive_frame(&mut decoded) {
                Ok(()) => return Ok(Some(decoded)),
                Err(ffmpeg::Error::Eof) => {
                    self.finished = true;
                    return Ok(None);
                }
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => {}
                Err(e) => return Err(self.ffmpeg_error("decode a frame")(e)),
            }
            if self.draining {
                // EAGAIN after end-of-stream: nothing more will come.
                self.finished = true;
                return Ok(None);
            }
            let mut packet = Packet::empty();
            match packet.read(&mut self.opened.input) {
                Ok(()) if packet.stream() == self.opened.stream_index => self
                    .opened
                    .decoder
                    .send_packet(&packet)
                    .map_err(self.ffmpeg_error("send a packet to the decoder"))?,
                Ok(()) => {}
                Err(ffmpeg::Error::Eof) => {
                    self.opened
                        .decoder
                        .send_eof()
                        .map_err(self.ffmpeg_error("flush the decoder"))?;
                    self.draining = true;
                }
                Err(e) => return Err(self.ffmpeg_error("read a packet")(e)),
            }
        }
    }

    /// Scales (and, for cover, crops) a decoded frame to the output size.
    fn scale(&mut self, decoded: &frame::Video) -> Result<RgbaImage, DecodeError> {
        let (width, height) = (self.options.width, self.options.height);
        let place = placement(
            (decoded.width(), decoded.height()),
            (width, height),
            self.options.fit,
        );
        let source = (decoded.format(), decoded.width(), decoded.height());
        let scaler = match self.scaler.take() {
            Some(scaler) if scaler.source == source => scaler,
            _ => Scaler::new(decoded, place.scaled)
                .map_err(self.ffmpeg_error("create the scaler"))?,
        };
        let scaler = self.scaler.insert(scaler);
        let mut rgba = frame::Video::empty();
        scaler
            .context
            .run(decoded, &mut rgba)
            .map_err(|source| DecodeError::Ffmpeg {
                path: self.path.clone(),
                action: "scale a frame",
                source,
            })?;
        let (stride, data) = (rgba.stride(0), rgba.data(0));
        let row = width as usize * 4;
        let mut out = Vec::with_capacity(row * height as usize);
        for y in 0..height as usize {
            let start = (y + place.crop.1 as usize) * stride + place.crop.0 as usize * 4;
            match data.get(start..start + row) {
                Some(line) => out.extend_from_slice(line),
                None => break,
            }
        }
        RgbaImage::from_raw(width, height, out).ok_or_else(|| DecodeError::Undecodable {
            path: self.path.clone(),
            reason: "the scaler returned fewer rows than asked".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cover_crops_the_overflow_equally() {
        let p = placement((1920, 1080), (1080, 1920), FitMode::Cover);
        assert_eq!(p.scaled, (3413, 1920));
        assert_eq!(p.crop, (1166, 0));
        let p = placement((1080, 1920), (1080, 1080), FitMode::Cover);
        assert_eq!(
            p,
            Placement {
                scaled: (1080, 1920),
                crop: (0, 420)
            }
        );
        let p = placement((64, 48), (32, 24), FitMode::Cover);
        assert_eq!(
            p,
            Placement {
                scaled: (32, 24),
                crop: (0, 0)
            }
        );
        let p = placement((1920, 1080), (1080, 1920), FitMode::Stretch);
        assert_eq!(p.scaled, (1080, 1920));
    }

    #[test]
    fn errors_name_the_value_and_the_limit() {
        let e = DecodeError::TooLarge {
            path: "a.mp4".into(),
            width: 9000,
            height: 100,
        };
        assert_eq!(
            e.to_string(),
            "a.mp4 is 9000x100: sides over 8192 px are refused"
        );
        let e = check_duration(Path::new("a.mp4"), 75.5, Some(60.0)).map_err(|e| e.to_string());
        assert_eq!(
            e,
            Err("a.mp4 is 75.50 s long, over the limit of 60 s".into())
        );
        assert!(check_duration(Path::new("a.mp4"), 75.5, None).is_ok());
    }
}

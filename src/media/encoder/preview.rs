//! The small outputs beside the video: the preview (GIF or WebM/VP9, at most [`PREVIEW_WIDTH`]
//! px wide and [`PREVIEW_FPS`] fps, scaled with swscale from the video's yuv420p frames as they
//! are encoded) and the JPEG poster. Owns their output files; must not touch the MP4.

use std::io::BufWriter;
use std::path::Path;

use ffmpeg_next as ffmpeg;

use ffmpeg::format::{self, Pixel};
use ffmpeg::software::scaling;
use ffmpeg::{Dictionary, Packet, Rational, codec, encoder, frame};
use image::codecs::jpeg::JpegEncoder;

use super::{EncodeError, PreviewKind};

/// The preview's width at most (smaller videos keep theirs).
pub const PREVIEW_WIDTH: u32 = 320;
/// The preview's frame rate at most.
pub const PREVIEW_FPS: u32 = 10;
/// The poster's JPEG quality.
const POSTER_QUALITY: u8 = 85;

pub(super) struct PreviewWriter {
    output: format::context::Output,
    encoder: encoder::video::Encoder,
    scaler: scaling::Context,
    width: u32,
    height: u32,
    pixel: Pixel,
    video_fps: u64,
    preview_fps: u64,
    /// Preview frames written so far (the next one's pts).
    written: u64,
    encoder_time_base: Rational,
    stream_time_base: Rational,
}

/// The preview's size for a video of `width`x`height`: at most [`PREVIEW_WIDTH`] wide, the
/// aspect kept, both sides even.
pub fn preview_size(width: u32, height: u32) -> (u32, u32) {
    let w = width.min(PREVIEW_WIDTH);
    let h = (u64::from(height) * u64::from(w) / u64::from(width.max(1))) as u32;
    (w & !1, (h & !1).max(2))
}

impl PreviewWriter {
    pub(super) fn open(
        path: &Path,
        kind: PreviewKind,
        video_width: u32,
        video_height: u32,
        video_fps: u32,
    ) -> Result<Self, EncodeError> {
        let (width, height) = preview_size(video_width, video_height);
        let preview_fps = video_fps.min(PREVIEW_FPS);
        let (muxer, codec_name, pixel) = match kind {
            PreviewKind::Gif => ("gif", "gif", Pixel::RGB8),
            PreviewKind::Webm => ("webm", "libvpx-vp9", Pixel::YUV420P),
        };
        let mut output = format::output_as(path, muxer)
            .map_err(EncodeError::ffmpeg("open the preview output"))?;
        let codec = encoder::find_by_name(codec_name).ok_or(match kind {
            PreviewKind::Gif => EncodeError::MissingEncoder("gif"),
            PreviewKind::Webm => EncodeError::MissingEncoder("libvpx-vp9"),
        })?;
        let mut context = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(EncodeError::ffmpeg("create the preview encoder"))?;
        let fps = i32::try_from(preview_fps).unwrap_or(10);
        let time_base = Rational::new(1, fps);
        context.set_width(width);
        context.set_height(height);
        context.set_format(pixel);
        context.set_time_base(time_base);
        context.set_frame_rate(Some(Rational::new(fps, 1)));
        if output
            .format()
            .flags()
            .contains(format::Flags::GLOBAL_HEADER)
        {
            context.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut options = Dictionary::new();
        if kind == PreviewKind::Webm {
            // Constant quality, fast: a preview, not the deliverable.
            options.set("crf", "36");
            options.set("b", "0");
            options.set("deadline", "realtime");
            options.set("cpu-used", "8");
        }
        let encoder = context
            .open_as_with(codec, options)
            .map_err(EncodeError::ffmpeg("open the preview encoder"))?;
        let stream_index = {
            let mut stream = output
                .add_stream(codec)
                .map_err(EncodeError::ffmpeg("add the preview stream"))?;
            stream.set_parameters(&encoder);
            stream.set_time_base(time_base);
            stream.set_avg_frame_rate(Rational::new(fps, 1));
            stream.index()
        };
        output
            .write_header()
            .map_err(EncodeError::ffmpeg("write the preview header"))?;
        let stream_time_base = output
            .stream(stream_index)
            .map(|s| s.time_base())
            .unwrap_or(time_base);
        let scaler = scaling::Context::get(
            Pixel::YUV420P,
            video_width,
            video_height,
            pixel,
            width,
            height,
            scaling::Flags::AREA,
        )
        .map_err(EncodeError::ffmpeg("create the preview scaler"))?;
        Ok(Self {
            output,
            encoder,
            scaler,
            width,
            height,
            pixel,
            video_fps: u64::from(video_fps.max(1)),
            preview_fps: u64::from(preview_fps.max(1)),
            written: 0,
            encoder_time_base: time_base,
            stream_time_base,
        })
    }

    /// Offers video frame `index`; it is encoded when it is the first video frame at or after
    /// the next preview frame's time.
    pub(super) fn push(&mut self, index: u64, yuv: &frame::Video) -> Result<(), EncodeError> {
        // Preview frame k shows the video at time k/preview_fps: video frame
        // ceil(k * video_fps / preview_fps).
        let due = (self.written * self.video_fps).div_ceil(self.preview_fps);
        if index < due {
            return Ok(());
        }
        let mut scaled = frame::Video::new(self.pixel, self.width, self.height);
        self.scaler
            .run(yuv, &mut scaled)
            .map_err(EncodeError::ffmpeg("scale a preview frame"))?;
        scaled.set_pts(Some(i64::try_from(self.written).unwrap_or(i64::MAX)));
        self.encoder
            .send_frame(&scaled)
            .map_err(EncodeError::ffmpeg("encode a preview frame"))?;
        self.written += 1;
        self.write_packets()
    }

    fn write_packets(&mut self) -> Result<(), EncodeError> {
        let mut packet = Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            packet.rescale_ts(self.encoder_time_base, self.stream_time_base);
            packet
                .write_interleaved(&mut self.output)
                .map_err(EncodeError::ffmpeg("write a preview packet"))?;
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<(), EncodeError> {
        self.encoder
            .send_eof()
            .map_err(EncodeError::ffmpeg("flush the preview encoder"))?;
        self.write_packets()?;
        self.output
            .write_trailer()
            .map_err(EncodeError::ffmpeg("write the preview trailer"))
    }
}

/// Writes an RGBA frame as a JPEG (alpha dropped) to `path`.
pub(super) fn write_poster(
    path: &Path,
    rgba: &[u8],
    width: u32,
    height: u32,
) -> Result<(), EncodeError> {
    let rgb: Vec<u8> = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let file = std::fs::File::create(path).map_err(|source| EncodeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    JpegEncoder::new_with_quality(BufWriter::new(file), POSTER_QUALITY)
        .encode(&rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|source| EncodeError::Poster {
            path: path.to_path_buf(),
            source,
        })
}

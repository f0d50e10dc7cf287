//! The MP4 itself: RGBA frames converted to yuv420p (BT.709, limited range, with
//! `engine::cuda_kernels`' CPU conversion, the twin of the CUDA kernel), encoded by libx264 at a
//! constant frame rate (pts = frame index, time base 1/fps) and muxed with `+faststart`; the
//! AAC track, when there is one, is advanced to each frame's end time so the file stays
//! interleaved. Owns the video's output context; must not touch the other outputs.

use std::path::Path;

use ffmpeg_next as ffmpeg;

use ffmpeg::format::{self, Pixel};
use ffmpeg::util::color;
use ffmpeg::{Dictionary, Packet, Rational, codec, encoder, frame};

use super::audio::AudioTrack;
use super::{EncodeError, EncoderSettings};
use crate::engine::cuda_kernels::rgba_to_yuv420_cpu;

/// The H.264 MP4 being written, with its optional audio track.
pub(super) struct Mp4Writer {
    output: format::context::Output,
    encoder: encoder::video::Encoder,
    stream_index: usize,
    encoder_time_base: Rational,
    stream_time_base: Rational,
    width: u32,
    height: u32,
    fps: u32,
    frames: u64,
    audio: Option<AudioTrack>,
}

impl Mp4Writer {
    /// Opens `path` as an MP4, the H.264 encoder, and the audio track when settings ask for one;
    /// writes the header.
    pub(super) fn open(path: &Path, settings: &EncoderSettings) -> Result<Self, EncodeError> {
        let mut output =
            format::output_as(path, "mp4").map_err(EncodeError::ffmpeg("open the mp4 output"))?;
        let global_header = output
            .format()
            .flags()
            .contains(format::Flags::GLOBAL_HEADER);
        let codec =
            encoder::find_by_name("libx264").ok_or(EncodeError::MissingEncoder("libx264"))?;
        let mut context = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(EncodeError::ffmpeg("create the libx264 context"))?;
        let fps = i32::try_from(settings.fps).map_err(|_| EncodeError::Fps(settings.fps))?;
        let time_base = Rational::new(1, fps);
        context.set_width(settings.width);
        context.set_height(settings.height);
        context.set_format(Pixel::YUV420P);
        context.set_time_base(time_base);
        context.set_frame_rate(Some(Rational::new(fps, 1)));
        context.set_colorspace(color::Space::BT709);
        context.set_color_range(color::Range::MPEG);
        context.set_color_primaries(color::Primaries::BT709);
        context.set_color_transfer_characteristic(color::TransferCharacteristic::BT709);
        if global_header {
            context.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut options = Dictionary::new();
        options.set("preset", &settings.preset);
        options.set("crf", &settings.crf.to_string());
        let encoder = context
            .open_as_with(codec, options)
            .map_err(EncodeError::ffmpeg("open libx264"))?;
        let stream_index = {
            let mut stream = output
                .add_stream(codec)
                .map_err(EncodeError::ffmpeg("add the video stream"))?;
            stream.set_parameters(&encoder);
            stream.set_time_base(time_base);
            stream.set_avg_frame_rate(Rational::new(fps, 1));
            stream.set_rate(Rational::new(fps, 1));
            stream.index()
        };
        let audio = match &settings.audio {
            Some(audio_path) => Some(AudioTrack::open(audio_path, &mut output)?),
            None => None,
        };
        let mut header_options = Dictionary::new();
        header_options.set("movflags", "+faststart");
        output
            .write_header_with(header_options)
            .map_err(EncodeError::ffmpeg("write the mp4 header"))?;
        let stream_time_base = output
            .stream(stream_index)
            .map(|s| s.time_base())
            .unwrap_or(time_base);
        let mut audio = audio;
        if let Some(track) = audio.as_mut() {
            track.header_written(&output);
        }
        Ok(Self {
            output,
            encoder,
            stream_index,
            encoder_time_base: time_base,
            stream_time_base,
            width: settings.width,
            height: settings.height,
            fps: settings.fps,
            frames: 0,
            audio,
        })
    }

    /// Converts one RGBA frame, encodes it with pts = its index, writes what packets are ready,
    /// and brings the audio up to the frame's end. Returns the yuv420p frame (for the preview).
    pub(super) fn push(&mut self, rgba: &[u8]) -> Result<frame::Video, EncodeError> {
        let yuv = self.convert(rgba)?;
        let pts = i64::try_from(self.frames).unwrap_or(i64::MAX);
        let mut picture = yuv;
        picture.set_pts(Some(pts));
        self.encoder
            .send_frame(&picture)
            .map_err(EncodeError::ffmpeg("send a frame to libx264"))?;
        self.write_packets()?;
        self.frames += 1;
        if let Some(audio) = self.audio.as_mut() {
            audio.advance_to(&mut self.output, self.frames, self.fps, false)?;
        }
        Ok(picture)
    }

    fn convert(&self, rgba: &[u8]) -> Result<frame::Video, EncodeError> {
        let (width, height) = (self.width as usize, self.height as usize);
        let yuv = rgba_to_yuv420_cpu(rgba, width, height).map_err(|_| EncodeError::FrameSize {
            got: rgba.len(),
            expected: width * height * 4,
        })?;
        let mut picture = frame::Video::new(Pixel::YUV420P, self.width, self.height);
        picture.set_color_space(color::Space::BT709);
        picture.set_color_range(color::Range::MPEG);
        picture.set_color_primaries(color::Primaries::BT709);
        picture.set_color_transfer_characteristic(color::TransferCharacteristic::BT709);
        for (plane, (data, plane_width)) in
            [(&yuv.y, width), (&yuv.u, width / 2), (&yuv.v, width / 2)]
                .into_iter()
                .enumerate()
        {
            copy_plane(&mut picture, plane, data, plane_width);
        }
        Ok(picture)
    }

    /// Drains the encoder's ready packets into the muxer.
    fn write_packets(&mut self) -> Result<(), EncodeError> {
        let mut packet = Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(self.stream_index);
            packet.rescale_ts(self.encoder_time_base, self.stream_time_base);
            packet
                .write_interleaved(&mut self.output)
                .map_err(EncodeError::ffmpeg("write a video packet"))?;
        }
        Ok(())
    }

    /// Flushes libx264, finishes the audio at the video's length and writes the trailer (the
    /// `+faststart` pass moves the moov atom to the front here).
    pub(super) fn finish(mut self) -> Result<(), EncodeError> {
        self.encoder
            .send_eof()
            .map_err(EncodeError::ffmpeg("flush libx264"))?;
        self.write_packets()?;
        if let Some(mut audio) = self.audio.take() {
            audio.advance_to(&mut self.output, self.frames, self.fps, true)?;
        }
        self.output
            .write_trailer()
            .map_err(EncodeError::ffmpeg("write the mp4 trailer"))
    }
}

/// Copies a tightly packed plane into a frame plane whose rows may be padded (`stride`).
pub(super) fn copy_plane(
    picture: &mut frame::Video,
    plane: usize,
    data: &[u8],
    plane_width: usize,
) {
    let stride = picture.stride(plane);
    let target = picture.data_mut(plane);
    for (row, source) in data.chunks_exact(plane_width).enumerate() {
        if let Some(dest) = target.get_mut(row * stride..row * stride + plane_width) {
            dest.copy_from_slice(source);
        }
    }
}

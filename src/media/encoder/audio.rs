//! The AAC track: an audio file decoded a packet at a time, resampled to stereo float planar at
//! a rate AAC takes, encoded in 1024-sample frames and muxed beside the video, kept level with it
//! (the video writer asks for the audio up to each frame's end). The track is cut at the video's
//! length, or padded with silence when the file is shorter. At most one decoded packet waits
//! here. Owns the input file; must not touch the video stream.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;

use ffmpeg::format::{self, Sample, sample};
use ffmpeg::software::resampling;
use ffmpeg::{ChannelLayout, Packet, Rational, codec, decoder, encoder, frame, media};

use super::EncodeError;

/// Rates the AAC encoder takes; other inputs are resampled to 48 kHz.
const AAC_RATES: &[u32] = &[
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000,
];
const FALLBACK_RATE: u32 = 48000;
const CHANNELS: usize = 2;
const BIT_RATE: usize = 128_000;
const PLANAR_F32: Sample = Sample::F32(sample::Type::Planar);

pub(super) struct AudioTrack {
    path: PathBuf,
    input: format::context::Input,
    input_stream: usize,
    decoder: decoder::Audio,
    resampler: Option<resampling::Context>,
    input_done: bool,
    encoder: encoder::Audio,
    stream_index: usize,
    stream_time_base: Rational,
    rate: u32,
    frame_size: usize,
    /// Resampled samples not yet encoded, one queue per channel.
    pending: [VecDeque<f32>; CHANNELS],
    /// Samples sent to the encoder so far (the next frame's pts).
    written: u64,
}

impl AudioTrack {
    /// Opens `path`, its best audio stream's decoder and an AAC encoder, and adds the stream to
    /// `output` (before its header is written).
    pub(super) fn open(
        path: &Path,
        output: &mut format::context::Output,
    ) -> Result<Self, EncodeError> {
        let fail = |reason: String| EncodeError::Audio {
            path: path.to_path_buf(),
            reason,
        };
        let input = format::input(path).map_err(|e| fail(format!("cannot be opened: {e}")))?;
        let stream = input
            .streams()
            .best(media::Type::Audio)
            .ok_or_else(|| fail("has no audio stream".into()))?;
        let input_stream = stream.index();
        let decoder = codec::context::Context::from_parameters(stream.parameters())
            .and_then(|c| c.decoder().audio())
            .map_err(|e| fail(format!("cannot be decoded: {e}")))?;
        let rate = if AAC_RATES.contains(&decoder.rate()) {
            decoder.rate()
        } else {
            FALLBACK_RATE
        };
        let global_header = output
            .format()
            .flags()
            .contains(format::Flags::GLOBAL_HEADER);
        let codec = encoder::find(codec::Id::AAC).ok_or(EncodeError::MissingEncoder("aac"))?;
        let mut context = codec::context::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(EncodeError::ffmpeg("create the aac context"))?;
        let rate_i32 = i32::try_from(rate).unwrap_or(48000);
        context.set_rate(rate_i32);
        context.set_channel_layout(ChannelLayout::STEREO);
        context.set_channels(CHANNELS as i32);
        context.set_format(PLANAR_F32);
        context.set_bit_rate(BIT_RATE);
        context.set_time_base(Rational::new(1, rate_i32));
        if global_header {
            context.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let encoder = context
            .open_as(codec)
            .map_err(EncodeError::ffmpeg("open the aac encoder"))?;
        let frame_size = usize::try_from(encoder.frame_size())
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or(1024);
        let stream_index = {
            let mut stream = output
                .add_stream(codec)
                .map_err(EncodeError::ffmpeg("add the audio stream"))?;
            stream.set_parameters(&encoder);
            stream.set_time_base(Rational::new(1, rate_i32));
            stream.index()
        };
        Ok(Self {
            path: path.to_path_buf(),
            input,
            input_stream,
            decoder,
            resampler: None,
            input_done: false,
            encoder,
            stream_index,
            stream_time_base: Rational::new(1, rate_i32),
            rate,
            frame_size,
            pending: Default::default(),
            written: 0,
        })
    }

    /// Reads the stream's time base as the muxer settled it in the header.
    pub(super) fn header_written(&mut self, output: &format::context::Output) {
        if let Some(stream) = output.stream(self.stream_index) {
            self.stream_time_base = stream.time_base();
        }
    }

    /// Encodes the audio up to the end of video frame `frames` (at `fps`). Until `last`, only
    /// whole AAC frames are sent; with `last`, the remainder (padded with silence when the file
    /// ended) is sent, the encoder flushed, and the track ends exactly at the video's length.
    pub(super) fn advance_to(
        &mut self,
        output: &mut format::context::Output,
        frames: u64,
        fps: u32,
        last: bool,
    ) -> Result<(), EncodeError> {
        let fps = u64::from(fps.max(1));
        let target = (frames * u64::from(self.rate) + fps / 2) / fps;
        let frame_size = self.frame_size as u64;
        while self.written + frame_size <= target || (last && self.written < target) {
            let n = frame_size.min(target - self.written) as usize;
            self.fill(n)?;
            self.encode_frame(output, n)?;
        }
        if last {
            self.encoder
                .send_eof()
                .map_err(EncodeError::ffmpeg("flush the aac encoder"))?;
            self.write_packets(output)?;
        }
        Ok(())
    }

    /// Decodes until `n` samples wait (or the file has ended).
    fn fill(&mut self, n: usize) -> Result<(), EncodeError> {
        while self.pending[0].len() < n && !self.input_done {
            let mut decoded = frame::Audio::empty();
            match self.decoder.receive_frame(&mut decoded) {
                Ok(()) => self.resample(decoded)?,
                Err(ffmpeg::Error::Eof) => {
                    self.flush_resampler()?;
                    self.input_done = true;
                }
                Err(_) => self.feed_decoder()?,
            }
        }
        Ok(())
    }

    /// Sends the next packet of the audio stream to the decoder, or EOF at the file's end.
    fn feed_decoder(&mut self) -> Result<(), EncodeError> {
        let mut packet = Packet::empty();
        loop {
            match packet.read(&mut self.input) {
                Ok(()) if packet.stream() == self.input_stream => {
                    return self
                        .decoder
                        .send_packet(&packet)
                        .map_err(|e| self.fail("decoding", e));
                }
                Ok(()) => continue,
                Err(ffmpeg::Error::Eof) => {
                    return self
                        .decoder
                        .send_eof()
                        .map_err(|e| self.fail("decoding", e));
                }
                Err(e) => return Err(self.fail("reading", e)),
            }
        }
    }

    fn fail(&self, action: &str, e: ffmpeg::Error) -> EncodeError {
        EncodeError::Audio {
            path: self.path.clone(),
            reason: format!("{action} failed: {e}"),
        }
    }

    fn resample(&mut self, mut decoded: frame::Audio) -> Result<(), EncodeError> {
        if decoded.channel_layout().is_empty() {
            decoded.set_channel_layout(ChannelLayout::default(i32::from(decoded.channels())));
        }
        if self.resampler.is_none() {
            let resampler = resampling::Context::get(
                decoded.format(),
                decoded.channel_layout(),
                decoded.rate(),
                PLANAR_F32,
                ChannelLayout::STEREO,
                self.rate,
            )
            .map_err(|e| self.fail("setting up the resampler", e))?;
            self.resampler = Some(resampler);
        }
        let capacity = decoded.samples() * self.rate as usize / decoded.rate().max(1) as usize;
        let mut out = self.output_frame(capacity + 256);
        if let Some(resampler) = self.resampler.as_mut() {
            resampler
                .run(&decoded, &mut out)
                .map_err(EncodeError::ffmpeg("resample the audio"))?;
        }
        self.queue(&out);
        Ok(())
    }

    fn flush_resampler(&mut self) -> Result<(), EncodeError> {
        let mut out = self.output_frame(4096);
        if let Some(resampler) = self.resampler.as_mut() {
            resampler
                .flush(&mut out)
                .map_err(EncodeError::ffmpeg("flush the resampler"))?;
            self.queue(&out);
        }
        Ok(())
    }

    fn output_frame(&self, capacity: usize) -> frame::Audio {
        let mut out = frame::Audio::new(PLANAR_F32, capacity, ChannelLayout::STEREO);
        out.set_channels(CHANNELS as u16);
        out.set_rate(self.rate);
        out
    }

    /// Appends a resampled frame's samples to the per-channel queues.
    fn queue(&mut self, out: &frame::Audio) {
        let n = out.samples();
        for (channel, queue) in self.pending.iter_mut().enumerate() {
            let bytes = out.data(channel);
            let samples = bytes
                .get(..n * 4)
                .unwrap_or(&[])
                .chunks_exact(4)
                .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
            queue.extend(samples);
        }
    }

    /// Encodes `n` samples from the queues (silence where they run short) with pts = samples
    /// written so far.
    fn encode_frame(
        &mut self,
        output: &mut format::context::Output,
        n: usize,
    ) -> Result<(), EncodeError> {
        let mut frame = self.output_frame(n);
        frame.set_samples(n);
        for (channel, queue) in self.pending.iter_mut().enumerate() {
            let data = frame.data_mut(channel);
            for chunk in data.chunks_exact_mut(4).take(n) {
                chunk.copy_from_slice(&queue.pop_front().unwrap_or(0.0).to_ne_bytes());
            }
        }
        frame.set_pts(Some(i64::try_from(self.written).unwrap_or(i64::MAX)));
        self.encoder
            .send_frame(&frame)
            .map_err(EncodeError::ffmpeg("send a frame to the aac encoder"))?;
        self.written += n as u64;
        self.write_packets(output)
    }

    fn write_packets(&mut self, output: &mut format::context::Output) -> Result<(), EncodeError> {
        let mut packet = Packet::empty();
        let time_base = Rational::new(1, i32::try_from(self.rate).unwrap_or(48000));
        while self.encoder.receive_packet(&mut packet).is_ok() {
            packet.set_stream(self.stream_index);
            packet.rescale_ts(time_base, self.stream_time_base);
            packet
                .write_interleaved(output)
                .map_err(EncodeError::ffmpeg("write an audio packet"))?;
        }
        Ok(())
    }
}

//! The streaming video encoder. RGBA frames arrive on a bounded channel ([`FrameSender`]) and
//! are encoded on the encoder's own thread into an H.264 MP4 (libx264, yuv420p, CRF and preset,
//! constant frame rate with time base 1/fps, `movflags=+faststart` so the moov atom comes first),
//! with an optional AAC track cut from an audio file (`audio`), an optional small GIF or WebM
//! preview (`preview`) and a JPEG poster (`poster`), all written as frames arrive.
//!
//! Invariants: memory stays bounded whatever the length (at most [`FRAME_QUEUE`] frames wait in
//! the channel; no frame list is kept); every file is written under `<name>.partial` and renamed
//! to its final name only when the whole set has been written, so a cancelled or failed encode
//! leaves nothing under a final name. Settings are validated ([`EncoderSettings::validate`])
//! before any file is created.
//!
//! Owns: the files it writes beside `output`. Must not touch: the frames' producer (rendering
//! lives in `media::compositor` and the engines), the job queue and the store.

mod audio;
mod preview;
mod video;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use ffmpeg_next as ffmpeg;

use preview::PreviewWriter;
use video::Mp4Writer;

/// Frames that may wait in the channel before [`FrameSender::send`] blocks.
pub const FRAME_QUEUE: usize = 8;
/// The smallest width or height accepted.
pub const MIN_SIDE: u32 = 16;
/// The largest width or height accepted.
pub const MAX_SIDE: u32 = 4096;
/// The highest frame rate accepted.
pub const MAX_FPS: u32 = 120;
/// The highest CRF libx264 takes (8-bit).
pub const MAX_CRF: u8 = 51;
/// The presets libx264 knows, fastest first.
pub const X264_PRESETS: &[&str] = &[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// How often the encoder thread looks at the cancel flag while it waits for a frame.
const CANCEL_POLL: Duration = Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("width {0} is outside {MIN_SIDE}..={MAX_SIDE}")]
    Width(u32),
    #[error("height {0} is outside {MIN_SIDE}..={MAX_SIDE}")]
    Height(u32),
    #[error("width {0} is odd: yuv420p needs an even width")]
    OddWidth(u32),
    #[error("height {0} is odd: yuv420p needs an even height")]
    OddHeight(u32),
    #[error("fps {0} is outside 1..={MAX_FPS}")]
    Fps(u32),
    #[error("crf {0} is outside 0..={MAX_CRF}")]
    Crf(u8),
    #[error("preset `{0}` is not an x264 preset (one of {presets})", presets = X264_PRESETS.join(", "))]
    Preset(String),
    #[error("audio file {0} does not exist")]
    AudioMissing(PathBuf),
    #[error("audio file {path}: {reason}")]
    Audio { path: PathBuf, reason: String },
    #[error("frame has {got} bytes, expected {expected} (width*height*4)")]
    FrameSize { got: usize, expected: usize },
    #[error("poster_at {poster_at} is past the last frame ({frames} frames were encoded)")]
    PosterPastEnd { poster_at: u64, frames: u64 },
    #[error("no frames were sent")]
    NoFrames,
    #[error("encoder {0} is not in this libavcodec")]
    MissingEncoder(&'static str),
    #[error("ffmpeg failed to {action}: {source}")]
    Ffmpeg {
        action: &'static str,
        source: ffmpeg::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("poster {path}: {source}")]
    Poster {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error("the encoder has stopped (finish or cancel says why)")]
    Stopped,
    #[error("the encoder was cancelled")]
    Cancelled,
    #[error("the encoder thread panicked")]
    Panicked,
}

impl EncodeError {
    /// Wraps an ffmpeg error with what was being done.
    pub(crate) fn ffmpeg(action: &'static str) -> impl FnOnce(ffmpeg::Error) -> Self {
        move |source| EncodeError::Ffmpeg { action, source }
    }
}

/// The small looping preview written beside the video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewKind {
    /// An animated GIF (3-3-2 RGB colours).
    Gif,
    /// A WebM with VP9 (libvpx-vp9).
    Webm,
}

impl PreviewKind {
    fn extension(self) -> &'static str {
        match self {
            PreviewKind::Gif => "gif",
            PreviewKind::Webm => "webm",
        }
    }
}

/// What to encode. [`Default`] is 1080x1920 at 30 fps, CRF 23, `veryfast`.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderSettings {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// libx264 constant rate factor, 0..=51 (lower is better); 23 by default.
    pub crf: u8,
    /// libx264 preset; `veryfast` by default.
    pub preset: String,
    /// An audio file muxed as AAC, cut or padded with silence to the video's length.
    pub audio: Option<PathBuf>,
    /// A small preview (320 px wide at most, 10 fps at most) written beside the video.
    pub preview: Option<PreviewKind>,
    /// The frame index the JPEG poster is taken from; 0 when `None`.
    pub poster_at: Option<u64>,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        Self {
            width: 1080,
            height: 1920,
            fps: 30,
            crf: 23,
            preset: "veryfast".into(),
            audio: None,
            preview: None,
            poster_at: None,
        }
    }
}

impl EncoderSettings {
    /// Default settings at a size and frame rate.
    pub fn new(width: u32, height: u32, fps: u32) -> Self {
        Self {
            width,
            height,
            fps,
            ..Self::default()
        }
    }

    /// Refuses what libx264/yuv420p or the limits here would refuse, naming the field.
    pub fn validate(&self) -> Result<(), EncodeError> {
        if !(MIN_SIDE..=MAX_SIDE).contains(&self.width) {
            return Err(EncodeError::Width(self.width));
        }
        if !(MIN_SIDE..=MAX_SIDE).contains(&self.height) {
            return Err(EncodeError::Height(self.height));
        }
        if self.width % 2 == 1 {
            return Err(EncodeError::OddWidth(self.width));
        }
        if self.height % 2 == 1 {
            return Err(EncodeError::OddHeight(self.height));
        }
        if !(1..=MAX_FPS).contains(&self.fps) {
            return Err(EncodeError::Fps(self.fps));
        }
        if self.crf > MAX_CRF {
            return Err(EncodeError::Crf(self.crf));
        }
        if !X264_PRESETS.contains(&self.preset.as_str()) {
            return Err(EncodeError::Preset(self.preset.clone()));
        }
        if let Some(audio) = &self.audio
            && !audio.is_file()
        {
            return Err(EncodeError::AudioMissing(audio.clone()));
        }
        Ok(())
    }

    fn frame_len(&self) -> usize {
        self.width as usize * self.height as usize * 4
    }
}

/// One RGBA frame, `width*height*4` bytes, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub rgba: Vec<u8>,
}

/// The producer's end of the bounded frame channel.
#[derive(Debug)]
pub struct FrameSender {
    tx: SyncSender<Frame>,
    frame_len: usize,
}

impl FrameSender {
    /// Queues a frame; blocks while [`FRAME_QUEUE`] frames already wait (back-pressure).
    /// [`EncodeError::Stopped`] means the encoder thread has ended: `finish` says why.
    pub fn send(&self, frame: Frame) -> Result<(), EncodeError> {
        if frame.rgba.len() != self.frame_len {
            return Err(EncodeError::FrameSize {
                got: frame.rgba.len(),
                expected: self.frame_len,
            });
        }
        self.tx.send(frame).map_err(|_| EncodeError::Stopped)
    }
}

/// What a finished encode wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedVideo {
    pub path: PathBuf,
    pub frames: u64,
    pub duration_secs: f64,
    /// The JPEG poster, `<output stem>.jpg` beside the video.
    pub poster: PathBuf,
    /// `<output stem>.preview.gif` or `.preview.webm` beside the video.
    pub preview: Option<PathBuf>,
    /// The video file's size.
    pub bytes: u64,
}

/// The final and partial names of every file of one encode.
#[derive(Debug, Clone)]
struct OutputPaths {
    video: PathBuf,
    poster: PathBuf,
    preview: Option<PathBuf>,
}

impl OutputPaths {
    fn new(output: &Path, preview: Option<PreviewKind>) -> Self {
        let stem = output.with_extension("");
        let beside = |suffix: &str| {
            let mut name = stem.clone().into_os_string();
            name.push(suffix);
            PathBuf::from(name)
        };
        Self {
            video: output.to_path_buf(),
            poster: beside(".jpg"),
            preview: preview.map(|kind| beside(&format!(".preview.{}", kind.extension()))),
        }
    }

    fn finals(&self) -> impl Iterator<Item = &PathBuf> {
        [&self.video, &self.poster]
            .into_iter()
            .chain(self.preview.as_ref())
    }

    /// Removes every partial file (those that exist).
    fn remove_partials(&self) {
        for path in self.finals() {
            let partial = partial(path);
            if let Err(e) = std::fs::remove_file(&partial)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %partial.display(), error = %e, "could not remove a partial file");
            }
        }
    }

    /// Renames every partial file to its final name, the video last.
    fn commit(&self) -> Result<(), EncodeError> {
        let mut order: Vec<&PathBuf> = self.finals().collect();
        order.rotate_left(1);
        for path in order {
            std::fs::rename(partial(path), path).map_err(|source| EncodeError::Io {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// `<path>.partial`.
fn partial(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// A running encode: its thread and the flag that cancels it.
#[derive(Debug)]
pub struct VideoEncoder {
    thread: Option<JoinHandle<Result<EncodedVideo, EncodeError>>>,
    cancel: Arc<AtomicBool>,
    paths: OutputPaths,
}

impl VideoEncoder {
    /// Validates `settings`, opens every output under its `.partial` name and starts the
    /// encoder thread. Frames go through the returned [`FrameSender`].
    pub fn start(
        output: &Path,
        settings: EncoderSettings,
    ) -> Result<(Self, FrameSender), EncodeError> {
        settings.validate()?;
        super::init_ffmpeg().map_err(EncodeError::ffmpeg("initialise"))?;
        let paths = OutputPaths::new(output, settings.preview);
        let (tx, rx) = mpsc::sync_channel::<Frame>(FRAME_QUEUE);
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), EncodeError>>();
        let cancel = Arc::new(AtomicBool::new(false));
        let sender = FrameSender {
            tx,
            frame_len: settings.frame_len(),
        };
        let thread = {
            let (paths, cancel) = (paths.clone(), Arc::clone(&cancel));
            std::thread::Builder::new()
                .name("video-encoder".into())
                .spawn(move || {
                    let result = encode_thread(&paths, &settings, &rx, &cancel, ready_tx);
                    if result.is_err() {
                        paths.remove_partials();
                    }
                    result
                })
                .map_err(|source| EncodeError::Io {
                    path: output.to_path_buf(),
                    source,
                })?
        };
        let encoder = Self {
            thread: Some(thread),
            cancel,
            paths,
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok((encoder, sender)),
            Ok(Err(e)) => {
                drop(sender);
                let _ = encoder.join();
                Err(e)
            }
            Err(_) => {
                drop(sender);
                let _ = encoder.join();
                Err(EncodeError::Panicked)
            }
        }
    }

    /// Closes the channel, encodes what is queued, flushes every encoder, writes the trailers
    /// and renames the files to their final names.
    pub fn finish(self, sender: FrameSender) -> Result<EncodedVideo, EncodeError> {
        drop(sender);
        self.join()
    }

    /// Stops the encode and deletes its partial files; nothing is left under a final name.
    pub fn cancel(self) {
        self.cancel.store(true, Ordering::SeqCst);
        let paths = self.paths.clone();
        let _ = self.join();
        paths.remove_partials();
    }

    fn join(mut self) -> Result<EncodedVideo, EncodeError> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => {
                self.paths.remove_partials();
                Err(EncodeError::Panicked)
            }
            None => Err(EncodeError::Stopped),
        }
    }
}

impl Drop for VideoEncoder {
    /// An encoder dropped without `finish` is cancelled.
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.cancel.store(true, Ordering::SeqCst);
            let _ = thread.join();
            self.paths.remove_partials();
        }
    }
}

/// The encoder thread: opens the outputs, reports readiness, encodes until the channel closes
/// or the cancel flag is set, then finishes and renames.
fn encode_thread(
    paths: &OutputPaths,
    settings: &EncoderSettings,
    rx: &mpsc::Receiver<Frame>,
    cancel: &AtomicBool,
    ready: mpsc::Sender<Result<(), EncodeError>>,
) -> Result<EncodedVideo, EncodeError> {
    let opened = Mp4Writer::open(&partial(&paths.video), settings).and_then(|mp4| {
        let preview = match (settings.preview, &paths.preview) {
            (Some(kind), Some(path)) => Some(PreviewWriter::open(
                &partial(path),
                kind,
                settings.width,
                settings.height,
                settings.fps,
            )?),
            _ => None,
        };
        Ok((mp4, preview))
    });
    let (mut mp4, mut preview) = match opened {
        Ok(writers) => {
            let _ = ready.send(Ok(()));
            writers
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return Err(EncodeError::Stopped);
        }
    };
    let poster_at = settings.poster_at.unwrap_or(0);
    let mut frames = 0u64;
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(EncodeError::Cancelled);
        }
        let frame = match rx.recv_timeout(CANCEL_POLL) {
            Ok(frame) => frame,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if frames == poster_at {
            preview::write_poster(
                &partial(&paths.poster),
                &frame.rgba,
                settings.width,
                settings.height,
            )?;
        }
        let yuv = mp4.push(&frame.rgba)?;
        if let Some(preview) = preview.as_mut() {
            preview.push(frames, &yuv)?;
        }
        frames += 1;
    }
    if frames == 0 {
        return Err(EncodeError::NoFrames);
    }
    if poster_at >= frames {
        return Err(EncodeError::PosterPastEnd { poster_at, frames });
    }
    mp4.finish()?;
    if let Some(preview) = preview {
        preview.finish()?;
    }
    paths.commit()?;
    let bytes = std::fs::metadata(&paths.video)
        .map_err(|source| EncodeError::Io {
            path: paths.video.clone(),
            source,
        })?
        .len();
    Ok(EncodedVideo {
        path: paths.video.clone(),
        frames,
        duration_secs: frames as f64 / f64::from(settings.fps),
        poster: paths.poster.clone(),
        preview: paths.preview.clone(),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        let bad = |f: fn(&mut EncoderSettings)| {
            let mut s = EncoderSettings::new(1080, 1920, 24);
            f(&mut s);
            s.validate().map_err(|e| e.to_string()).err()
        };
        assert_eq!(bad(|_| {}), None);
        assert_eq!(
            bad(|s| s.crf = 60).as_deref(),
            Some("crf 60 is outside 0..=51")
        );
        assert_eq!(
            bad(|s| s.width = 1081).as_deref(),
            Some("width 1081 is odd: yuv420p needs an even width")
        );
        assert_eq!(
            bad(|s| s.height = 5000).as_deref(),
            Some("height 5000 is outside 16..=4096")
        );
        assert_eq!(
            bad(|s| s.fps = 0).as_deref(),
            Some("fps 0 is outside 1..=120")
        );
        assert_eq!(
            bad(|s| s.fps = 121).as_deref(),
            Some("fps 121 is outside 1..=120")
        );
        let preset = bad(|s| s.preset = "fastest".into()).unwrap_or_default();
        assert!(
            preset.starts_with("preset `fastest` is not an x264 preset"),
            "{preset}"
        );
    }

    #[test]
    fn partial_and_beside_names() {
        let paths = OutputPaths::new(Path::new("/tmp/a/ad.mp4"), Some(PreviewKind::Gif));
        assert_eq!(paths.poster, Path::new("/tmp/a/ad.jpg"));
        assert_eq!(
            paths.preview.as_deref(),
            Some(Path::new("/tmp/a/ad.preview.gif"))
        );
        assert_eq!(partial(&paths.video), Path::new("/tmp/a/ad.mp4.partial"));
    }
}

//! Media: the format table every creative is rendered to (`formats`), the ad-image compositor
//! that renders a creative spec at a format and encodes it (`compositor`), and the streaming
//! video encoder (`encoder`: RGBA frames on a bounded channel to an H.264/AAC MP4 with a
//! preview and a poster, through ffmpeg-next), the video decoder (`decoder`: probe a file, then
//! RGBA frames scaled to a size, one at a time or sampled at the caller's own rate), and the
//! timeline renderer that draws a JSON video spec frame by frame into the encoder (`timeline`).

pub mod compositor;
pub mod decoder;
pub mod encoder;
pub use adforge_input::formats;
pub mod timeline;

use std::sync::Once;

use ffmpeg_next as ffmpeg;

/// Initialises libavformat/libavcodec once per process (ffmpeg's log level: errors only).
/// Later calls return `Ok` without doing anything.
pub(crate) fn init_ffmpeg() -> Result<(), ffmpeg::Error> {
    static INIT: Once = Once::new();
    let mut result = Ok(());
    INIT.call_once(|| {
        result = ffmpeg::init();
        ffmpeg::log::set_level(ffmpeg::log::Level::Error);
    });
    result
}

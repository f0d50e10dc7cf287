//! Media: the format table every creative is rendered to (`formats`), the ad-image compositor
//! that renders a creative spec at a format and encodes it (`compositor`), and the streaming
//! video encoder (`encoder`: RGBA frames on a bounded channel to an H.264/AAC MP4 with a
//! preview and a poster, through ffmpeg-next), and the timeline renderer that draws a JSON video
//! spec frame by frame into that encoder (`timeline`).

pub mod compositor;
pub mod encoder;
pub mod formats;
pub mod timeline;

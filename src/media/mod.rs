//! Media: the format table every creative is rendered to (`formats`) and the ad-image
//! compositor that renders a creative spec at a format and encodes it (`compositor`). The
//! ffmpeg encoder arrives with the video issue.

pub mod compositor;
pub mod formats;

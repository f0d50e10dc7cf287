//! Media: the format table every creative is rendered to (`formats`). The compositor and the
//! ffmpeg encoder arrive with the image and video issues.

pub mod formats;
pub mod png;

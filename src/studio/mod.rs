//! The studio: making creatives. Each job kind that makes one lives here and implements
//! [`crate::jobs::JobHandler`]; `app.rs` registers them.
//!
//! - [`creatives`]: `creative.render`: copy (given or written by the text engine), a background
//!   (generated, a photo or the brand's colours), every format through the compositor, assets
//!   and thumbnails.
//! - [`videos`]: `video.render`: a spec, or copy/brief -> the ad template, or text-to-video;
//!   each format's MP4, poster and preview moved into the asset store.
//! - [`video_gen`]: the text-to-video path (Text2Video-Zero frames streamed to one encoder per
//!   format).
//! - [`creative_set`]: `creative.set`: a campaign's copy per platform, then `creative.render`
//!   and `video.render` as stages of one job, then ready creative rows.
//! - [`inputs`]: what the studio accepts as input images (one pixel limit) and the payload
//!   checks that run once, before a job exists.

pub mod creative_set;
pub mod creatives;
pub mod inputs;
pub mod video_gen;
pub mod videos;

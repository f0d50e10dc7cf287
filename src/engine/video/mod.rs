//! The video engine. So far frame interpolation: RIFE 3.9 (`rife`, IFNet_HDv3 on candle) and the
//! backward warp it needs (`warp`, a CPU `grid_sample` with border padding), and zero-shot
//! text-to-video on Stable Diffusion weights (`zero`, Text2Video-Zero: motion-warped latents and
//! cross-frame attention, frames handed out one at a time). No service, queue or HTTP here yet;
//! nothing in this module touches the API, the store or ffmpeg.

pub mod rife;
pub mod warp;
pub mod zero;

pub use rife::{Rife, RifeError};

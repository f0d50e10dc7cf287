//! The image engine. So far the ESRGAN-slim upscaler (`upscale`); the diffusion pipelines
//! arrive with the rest of the image issue.

pub mod upscale;

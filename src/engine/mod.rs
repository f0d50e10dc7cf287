//! The inference engine: devices, model weights and the threads that run them.
//!
//! Owns the model registry (manifests, cache, pulls), device selection, and the CUDA kernels
//! compiled at run time. Model forward passes never run on the async runtime: each loaded model
//! gets its own worker thread fed by a bounded channel (text and embeddings so far; image and video
//! arrive with their issues). This module knows
//! nothing of HTTP or SQL.

pub mod cuda_kernels;
pub mod device;
pub mod embed;
pub mod image;
pub mod math;
pub mod registry;
pub mod text;
pub mod video;

pub use device::{DeviceError, DeviceInfo, DevicePreference};
pub use registry::{ModelRegistry, ModelStatus, RegistryError};

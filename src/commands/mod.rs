//! The subcommands that are programs of their own beside the server (the command line in
//! `cli.rs` parses their flags and prints what they return):
//! - [`bench_text`]: `adforge bench text`, streaming load over the OpenAI API against a running
//!   server (TTFT, inter-token latency, tokens/s);
//! - [`bench_image`]: `adforge bench image`, UNet step time and images/s per batch size, in
//!   process; [`bench_video`]: `adforge bench video`, encode fps per format against the ffmpeg
//!   command line, RIFE fps, peak memory;
//! - [`campaign`]: `adforge campaign ...`, the campaign loop over a server's HTTP API;
//! - [`render`]: `adforge render JOBS.jsonl`, a batch of jobs run by an in-process worker.

pub mod bench_image;
pub mod bench_text;
pub mod bench_video;
pub mod campaign;
pub mod render;

//! adforge: a server that generates advertising creatives (copy, images, video) with models it
//! loads and owns, plus the orchestration around them. One crate, one binary.
//!
//! Layout (see ARCHITECTURE.md for the full map and the invariants each module keeps):
//! - [`api`]: HTTP (axum). The only module that knows HTTP types.
//! - [`engine`]: devices, model weights, the model registry, CUDA kernels. No HTTP, no SQL.
//! - [`scheduler`]: pure scheduling policy (retry backoff now; batching later). No I/O.
//! - [`jobs`]: the job queue (embedded or Redis Streams), workers, leases, the reconciler.
//! - [`store`]: every SQL statement (SQLite by default, PostgreSQL by URL).
//! - [`auth`], [`config`], [`telemetry`]: keys, settings, logs and metrics.
//! - [`events`]: updates out (stored window, fan-out); [`webhooks`]: deliveries in (signatures).
//! - [`app`]: wiring the parts into the `serve` and `worker` roles.
//! - [`bench`]: `adforge bench`, load over HTTP against a running server; [`bench_image`] and
//!   [`bench_video`]: the image and video paths in process, beside their peers.

pub mod api;
pub mod app;
pub mod auth;
pub mod commands;
pub mod config;
pub mod engine;
pub mod events;
pub mod jobs;
pub mod media;
pub mod orchestrate;
pub mod scheduler;
pub mod secret;
pub mod store;
pub mod studio;
pub mod telemetry;
